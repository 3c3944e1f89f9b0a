// A digest of the live detector's findings and scores at every interval on the bench's campus,
// one line each, for comparing two versions of the engine (a change meant to move work, not
// results): run it before and after, then `diff` the two outputs. BENCH_DAYS (default 80: the
// store's weekly drop falls among the intervals), BENCH_INTERVALS (default 3 days).
// Run: npx tsx test/bench/detection-digests.ts > before.txt
import { createHash } from 'node:crypto';
import { createDetector } from '../../services/inspection/detection/engine.ts';
import { START, STEP, benchCampus } from './detection-campus.ts';

const DAYS = Number(process.env.BENCH_DAYS ?? 80);
const INTERVALS = Number(process.env.BENCH_INTERVALS ?? 3 * 96);
const campus = benchCampus(DAYS);
const detector = createDetector(campus.specs, { step: STEP, timezone: 'Asia/Shanghai', start: START });
const from = campus.instants - INTERVALS;
for (let j = 0; j < campus.instants; j++) {
  if (j > 0) campus.advance(j);
  detector.push(campus.at(j));
  if (j < from) continue;
  const r = detector.result();
  const digest = createHash('sha256')
    .update(JSON.stringify({ findings: r.findings, scores: r.scores }))
    .digest('hex');
  console.log(`${j - from} base ${detector.store.base} ${digest}`);
}
