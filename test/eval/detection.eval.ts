// Evaluation of the detection engine on synthetic campuses with labelled theft.
// Run: npx tsx test/eval/detection.eval.ts   (EVAL_SEEDS=n for more scenarios, default 4)
//
// Each scenario: a transformer, 3 feeders, 9 building mains, 12 room (or staff-household) meters
// per building; 35 days at a 1 h step starting mid-December, so the evaluation week (the last 7
// days) contains the start of the winter vacation (every dorm room drops to ~15 %). In about 60 %
// of the buildings one random room steals from a random day of the evaluation week on, with one of
// the six attacks of Jokar, Arianpoo & Leung (2016) applied to its rendered consumption (the
// building main still measures the truth). Benign confounders on other rooms: a room vacated (a
// real step down, seen upstream too), communication gaps (error readings and lost messages) and
// prepaid relay cut-offs.
import { detectInput, type EngineResult } from '../../services/inspection/detection/engine.ts';
import type { DetectionInput } from '../../services/inspection/detection/types.ts';
import { parseScenario, type ScenarioInput } from '../../simulators/scenario/schema.ts';
import {
  ATTACKS,
  DAY,
  HOUR,
  campusInput,
  jokar,
  mulberry32,
  renderInput,
  transformConsumption,
  type AttackType,
} from '../detection/support.ts';

const SEEDS = Number(process.env.EVAL_SEEDS ?? 4);
const DAYS = 35;
const WINDOW_DAYS = 7;
const STEP = HOUR;

interface Label {
  meter: string;
  building: string;
  attack?: AttackType;
  onset?: number;
  confounder?: string;
}

interface Case {
  input: DetectionInput;
  labels: Map<string, Label>;
  thiefOf: Map<string, string>;
  windowStart: number;
}

async function buildCase(seed: number): Promise<Case> {
  const rand = mulberry32(seed * 7919 + 13);
  const base = campusInput({
    seed,
    start: '2026-12-15T00:00:00+08:00',
    feeders: 3,
    buildingsPerFeeder: 3,
    roomsPerBuilding: 12,
    householdsEvery: 3,
  });
  const rooms = base.nodes.filter((n) => n.kind === 'unit' && n.utility === 'electricity');
  const buildings = base.nodes.filter((n) => n.kind === 'building');
  const start = Date.parse('2026-12-15T00:00:00+08:00');
  const windowStart = start + (DAYS - WINDOW_DAYS) * DAY;
  const labels = new Map<string, Label>(
    rooms.map((r) => [`E-${r.id}`, { meter: `E-${r.id}`, building: `E-${r.parent!}` }]),
  );
  const thiefOf = new Map<string, string>();
  const injections: NonNullable<ScenarioInput['injections']> = [];
  // Communication gaps and relay cut-offs go into the scenario itself.
  for (const r of rooms) {
    const u = rand();
    const label = labels.get(`E-${r.id}`)!;
    if (u < 0.1) {
      const from = DAYS - WINDOW_DAYS - 3 + Math.floor(rand() * (WINDOW_DAYS + 2));
      const hours = 4 + Math.floor(rand() * 30);
      injections.push({
        type: 'comm-fault',
        node: r.id,
        from: `+${from}d${Math.floor(rand() * 24)}h`,
        to: `+${from}d${hours + 24}h`,
        render: rand() < 0.5 ? 'error' : 'missing',
      });
      label.confounder = 'comm-gap';
    } else if (u < 0.14) {
      const from = DAYS - WINDOW_DAYS + Math.floor(rand() * 5);
      r.cut = [{ from: `+${from}d`, to: `+${from + 1 + Math.floor(rand() * 2)}d` }];
      label.confounder = 'relay-cut';
    }
  }
  const scenario = parseScenario({ ...base, injections });
  const { input } = await renderInput(scenario, { days: DAYS, stepMs: STEP, physicsStep: 15 * 60_000 });

  // Legitimate step changes: the room really uses less (and so does everything upstream).
  for (const r of rooms) {
    const label = labels.get(`E-${r.id}`)!;
    if (label.confounder || rand() >= 0.1) continue;
    const from = windowStart + Math.floor(rand() * 5) * DAY;
    const keep = 0.1 + 0.4 * rand();
    transformConsumption(
      input,
      label.meter,
      (x) => x.map((v) => v * keep),
      { from, to: Infinity },
      {
        step: STEP,
        alsoUpstream: true,
      },
    );
    label.confounder = 'vacated';
  }
  // Thieves: one room in about 60 % of the buildings.
  let a = seed;
  for (const b of buildings) {
    if (rand() >= 0.6) continue;
    const candidates = rooms.filter((r) => r.parent === b.id && !labels.get(`E-${r.id}`)!.confounder);
    const victim = candidates[Math.floor(rand() * candidates.length)];
    if (!victim) continue;
    const attack = ATTACKS[a++ % ATTACKS.length]!;
    const onset = windowStart + Math.floor(rand() * 3) * DAY;
    const label = labels.get(`E-${victim.id}`)!;
    label.attack = attack;
    label.onset = onset;
    thiefOf.set(`E-${b.id}`, label.meter);
    transformConsumption(
      input,
      label.meter,
      jokar(attack, rand),
      { from: onset, to: Infinity },
      { step: STEP },
    );
  }
  return { input, labels, thiefOf, windowStart };
}

/** Area under the ROC curve (Mann–Whitney, ties count half). */
function auc(pos: number[], neg: number[]): number {
  if (pos.length === 0 || neg.length === 0) return Number.NaN;
  let s = 0;
  for (const p of pos) for (const n of neg) s += p > n ? 1 : p === n ? 0.5 : 0;
  return s / (pos.length * neg.length);
}

const pct = (x: number) => (Number.isNaN(x) ? '  n/a' : `${(100 * x).toFixed(1).padStart(5)} %`);

const t0 = performance.now();
const meterRows: { score: number; label: Label }[] = [];
const nodeRows: { score: number; thief: boolean }[] = [];
let thiefFirst = 0;
let thiefTop3 = 0;
let thiefNodes = 0;
const cases: Case[] = [];
const results: EngineResult[] = [];
let detectMs = 0;
for (let s = 1; s <= SEEDS; s++) {
  const c = await buildCase(s);
  cases.push(c);
  const t = performance.now();
  const r = detectInput(c.input);
  detectMs += performance.now() - t;
  results.push(r);
  const score = new Map(r.scores.map((x) => [`${x.kind}:${x.id}`, x.score]));
  for (const label of c.labels.values()) meterRows.push({ score: score.get(`meter:${label.meter}`)!, label });
  for (const b of r.balances) {
    if (!/^E-B\d/.test(b.id)) continue;
    const thief = c.thiefOf.get(b.id);
    nodeRows.push({ score: score.get(`node:${b.id}`)!, thief: thief !== undefined });
    if (thief) {
      thiefNodes++;
      const ranked = r.suspects.get(b.id)!;
      if (ranked[0]?.meter === thief) thiefFirst++;
      if (ranked.slice(0, 3).some((x) => x.meter === thief)) thiefTop3++;
    }
  }
}

const neg = meterRows.filter((r) => !r.label.attack).map((r) => r.score);
const pos = meterRows.filter((r) => r.label.attack);
const negSorted = [...neg].sort((x, y) => x - y);
const thr5 = negSorted[Math.floor(0.95 * negSorted.length)]!;
const recall = (rows: typeof pos) => rows.filter((r) => r.score > thr5).length / rows.length;
const ranked = [...meterRows].sort((x, y) => y.score - x.score);
const precisionAt = (k: number) => ranked.slice(0, k).filter((r) => r.label.attack).length / k;

// Time to detect: re-run on the data up to onset + d hours until the thief's score passes thr5.
const delays: number[] = [];
let undetected = 0;
for (const [i, c] of cases.entries()) {
  void results[i];
  for (const label of c.labels.values()) {
    if (!label.attack || label.onset === undefined) continue;
    let found: number | undefined;
    for (const h of [6, 12, 24, 48, 72, 96, 144]) {
      const to = label.onset + h * HOUR;
      if (to > c.input.to) break;
      const r = detectInput({ ...c.input, to });
      const s = r.scores.find((x) => x.kind === 'meter' && x.id === label.meter)!;
      if (s.score > thr5) {
        found = h;
        break;
      }
    }
    if (found === undefined) undetected++;
    else delays.push(found);
  }
}
delays.sort((x, y) => x - y);

console.log(
  `detection eval: ${SEEDS} scenarios, ${meterRows.length} room meters (${pos.length} thieves), ` +
    `${DAYS} days at ${STEP / 60_000} min, evaluation window ${WINDOW_DAYS} days; detect ${(detectMs / SEEDS).toFixed(0)} ms per scenario`,
);
console.log(
  `confounders: ${['vacated', 'comm-gap', 'relay-cut'].map((k) => `${k} ${meterRows.filter((r) => r.label.confounder === k).length}`).join(', ')}, winter vacation from day 31 for every dorm room`,
);
console.log(
  `per-meter AUC overall          ${pct(
    auc(
      pos.map((r) => r.score),
      neg,
    ),
  )}   (aim ≥ 97 %)`,
);
for (const a of ATTACKS) {
  const rows = pos.filter((r) => r.label.attack === a);
  console.log(
    `  ${a}: AUC ${pct(
      auc(
        rows.map((r) => r.score),
        neg,
      ),
    )}   recall@5%FP ${pct(recall(rows))}   (n = ${rows.length})`,
  );
}
for (const k of ['vacated', 'comm-gap', 'relay-cut']) {
  const rows = meterRows.filter((r) => r.label.confounder === k);
  console.log(
    `  confounder ${k.padEnd(9)} above the 5 %-FP threshold: ${rows.filter((r) => r.score > thr5).length} of ${rows.length}`,
  );
}
console.log(`recall at 5 % false positives  ${pct(recall(pos))}   (aim ≥ 85 %)`);
console.log(
  `precision at k=${pos.length} (number of thieves) ${pct(precisionAt(pos.length))};  at k=10 ${pct(precisionAt(10))}`,
);
console.log(
  `time to detect (at the 5 %-FP threshold): median ${delays[delays.length >> 1] ?? 'n/a'} h, ` +
    `90th pct ${delays[Math.floor(0.9 * delays.length)] ?? 'n/a'} h; not detected within 6 days: ${undetected} of ${pos.length}`,
);
const nPos = nodeRows.filter((r) => r.thief).map((r) => r.score);
const nNeg = nodeRows.filter((r) => !r.thief).map((r) => r.score);
console.log(
  `building (node) AUC            ${pct(auc(nPos, nNeg))}   (aim ≥ 98 %; ${nPos.length} with a thief, ${nNeg.length} clean)`,
);
console.log(
  `thief ranked first             ${pct(thiefFirst / thiefNodes)}   top 3 ${pct(thiefTop3 / thiefNodes)}   (aim ≥ 85 %)`,
);
console.log(`total ${((performance.now() - t0) / 1000).toFixed(1)} s`);
if (process.env.EVAL_DEBUG) {
  for (const [i, c] of cases.entries()) {
    const r = results[i]!;
    for (const label of c.labels.values()) {
      if (!label.attack && !label.confounder) continue;
      const s = r.scores.find((x) => x.id === label.meter)!;
      const a = r.anomalies.find((x) => x.id === label.meter)!;
      console.log(
        i,
        label.meter,
        label.attack ?? label.confounder,
        s.score.toFixed(3),
        JSON.stringify(a.features),
        s.reason.slice(0, 200),
      );
    }
    for (const b of r.balances)
      if (c.thiefOf.has(b.id))
        console.log(
          b.id,
          c.thiefOf.get(b.id),
          b.evidence.toFixed(2),
          JSON.stringify(b.window),
          r.suspects
            .get(b.id)!
            .slice(0, 3)
            .map(
              (x) =>
                `${x.meter} ${x.score.toFixed(2)} c${x.corr.toFixed(2)} g${x.gain.toFixed(2)} s${x.share.toFixed(2)}`,
            )
            .join(' | '),
        );
  }
}
if (process.env.EVAL_TOP) {
  for (const r of ranked.slice(0, Number(process.env.EVAL_TOP)))
    console.log(r.score.toFixed(3), r.label.meter, r.label.attack ?? r.label.confounder ?? '-');
}
