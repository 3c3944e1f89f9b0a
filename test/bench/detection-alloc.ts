// Where the live detector's closing hours allocate: the bench's campus (detection-campus.ts), a
// year pushed, then each new interval's result() under V8's sampling heap profiler; prints the
// functions that allocated most over the measured intervals (what a closing hour leaves for the
// collector: every object kept until the next closing hour is promoted, and a major collection
// follows from those).
// Run: npx tsx test/bench/detection-alloc.ts   (BENCH_DAYS, BENCH_WARMUP, BENCH_INTERVALS, PROFILE_TOP;
// PROFILE_ONLY=n: only the n-th measured interval, e.g. 49, the one before the bench's weekly drop)
import { Session } from 'node:inspector/promises';
import { benchCampus, primedDetector } from './detection-campus.ts';

interface HeapNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: HeapNode[];
}

const DAYS = Number(process.env.BENCH_DAYS ?? 365);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 24);
const INTERVALS = Number(process.env.BENCH_INTERVALS ?? 96);
const TOP = Number(process.env.PROFILE_TOP ?? 25);
const ONLY = process.env.PROFILE_ONLY === undefined ? -1 : Number(process.env.PROFILE_ONLY);
const campus = benchCampus(DAYS);
const detector = primedDetector(campus);
for (let j = campus.instants; j < campus.instants + WARMUP; j++) {
  campus.advance(j);
  detector.push(campus.at(j));
  detector.result();
}

const session = new Session();
session.connect();
// Every object sampled (interval 1 KiB on average), kept or not: what each part allocates.
const sample = () =>
  session.post('HeapProfiler.startSampling', {
    samplingInterval: 1024,
    includeObjectsCollectedByMajorGC: true,
    // PROFILE_SURVIVORS=1: only what outlived the young generation (what a major collection reclaims).
    includeObjectsCollectedByMinorGC: !process.env.PROFILE_SURVIVORS,
  });
if (ONLY < 0) await sample();
const closingHours = { n: 0 };
for (let i = 0; i < INTERVALS; i++) {
  const j = campus.instants + WARMUP + i;
  campus.advance(j);
  const v = detector.store.version;
  detector.push(campus.at(j));
  if (i === ONLY) await sample();
  detector.result();
  if (detector.store.version !== v) closingHours.n++;
  if (i === ONLY) break;
}
// One interval: its figures are per interval, whatever it closed.
if (ONLY >= 0) closingHours.n = 1;
const { profile } = (await session.post('HeapProfiler.stopSampling')) as unknown as {
  profile: { head: HeapNode };
};
session.disconnect();

const self = new Map<string, number>();
const walk = (n: HeapNode, stack: string) => {
  const f = n.callFrame;
  const name = `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-1)[0] || '(native)'}:${f.lineNumber + 1}`;
  const key = `${name}  <- ${stack}`;
  if (n.selfSize > 0) self.set(key, (self.get(key) ?? 0) + n.selfSize);
  for (const c of n.children) walk(c, name);
};
walk(profile.head, '');
const total = [...self.values()].reduce((s, x) => s + x, 0);
console.log(
  ONLY >= 0
    ? `detection allocation: interval ${ONLY} alone, ${(total / 2 ** 20).toFixed(1)} MiB sampled; by allocating function (and its caller), MiB:`
    : `detection allocation: ${INTERVALS} intervals (${closingHours.n} closing an hour), ${(total / 2 ** 20 / closingHours.n).toFixed(1)} MiB sampled per closing hour; by allocating function (and its caller), MiB per closing hour:`,
);
for (const [k, b] of [...self].sort((a, b) => b[1] - a[1]).slice(0, TOP))
  console.log(`  ${(b / 2 ** 20 / closingHours.n).toFixed(2).padStart(6)}  ${k}`);
