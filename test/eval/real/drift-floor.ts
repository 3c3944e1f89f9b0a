// Where a meter drift of 1–3 % can be seen at all, measured on the real buildings (tuning half
// unless EVAL_HALF=test). Run: npx tsx test/eval/real/drift-floor.ts   (EVAL_SEEDS=n, default 12)
//
// eval:real finds every drift that moves its feeder's unexplained share by 0.25 % or more and none
// below 0.2 %. This prints why the rest stay unseen, by the two routes a drift could show:
//
// 1. The meter's own history (and its peers'): a clean building's daily energy, against the median
//    of the same weekday over the 8 weeks before (and minus the other buildings' median of the same,
//    so a vacation or a cold spell moves nobody), fitted with a ramp over the last 60 of 150 days at
//    weekly end dates through 2018. The root mean square of those clean ramps is how far a
//    building wanders by itself in 60 days: a 1–3 % drift has to beat it.
// 2. The feeder: the hourly node-loss fit of child-drift.ts with its thresholds off, on the drift
//    case's campuses and the clean case's (the campuses eval:real builds for the same seeds). Its
//    t (day-clustered) for the missed drifts against the best ramp t of the feeders nobody touched.
import { DEFAULT_CHILD_DRIFT } from '../../../services/inspection/detection/child-drift.ts';
import { DEFAULT_DRIFT } from '../../../services/inspection/detection/drift.ts';
import { detect } from '../../../services/inspection/detection/engine.ts';
import { buildCampus, campusInput, type Campus } from './campus.ts';
import { cleanCase, driftCase } from './cases.ts';
import { GRID_START, HOUR, half, loadRealData, type RealBuilding } from './data.ts';

const SEEDS = Number(process.env.EVAL_SEEDS ?? 12);
const HALF = process.env.EVAL_HALF === 'test' ? 'test' : 'tuning';
const RAMP_DAYS = 60;
const FIT_DAYS = 150;

const median = (xs: number[]): number => {
  const a = xs.filter((x) => x === x).sort((p, q) => p - q);
  return a.length ? a[a.length >> 1]! : Number.NaN;
};

/** Log of each whole UTC day's energy (NaN when an hour is missing). */
function dailyLog(b: RealBuilding): Float64Array {
  const days = Math.floor(b.electricity.length / 24);
  const out = new Float64Array(days).fill(Number.NaN);
  for (let d = 0; d < days; d++) {
    let s = 0;
    let ok = true;
    for (let h = 0; h < 24 && ok; h++) {
      const v = b.electricity[d * 24 + h]!;
      ok = v === v;
      s += v;
    }
    if (ok && s > 0) out[d] = Math.log(s);
  }
  return out;
}

/** Least-squares ramp (0 before `end − RAMP_DAYS`, 1 at the end) over the FIT_DAYS before `end`. */
export function rampOver(y: Float64Array, end: number): number {
  const ys: number[] = [];
  const zs: number[] = [];
  for (let d = end - FIT_DAYS; d < end; d++) {
    if (!(y[d]! === y[d]!)) continue;
    ys.push(y[d]!);
    zs.push(Math.max(0, d - (end - RAMP_DAYS)) / RAMP_DAYS);
  }
  const n = ys.length;
  const mz = zs.reduce((s, v) => s + v, 0) / n;
  const my = ys.reduce((s, v) => s + v, 0) / n;
  let zz = 0;
  let zy = 0;
  for (let i = 0; i < n; i++) {
    zz += (zs[i]! - mz) ** 2;
    zy += (zs[i]! - mz) * (ys[i]! - my);
  }
  return zy / zz;
}

function ownHistory(buildings: RealBuilding[]): void {
  const logs = buildings.map(dailyLog);
  const days = logs[0]!.length;
  // Against the same weekday of the 8 weeks before.
  const own = logs.map((o) => {
    const r = new Float64Array(days).fill(Number.NaN);
    for (let d = 56; d < days; d++)
      r[d] = o[d]! - median(Array.from({ length: 8 }, (_, w) => o[d - 7 * (w + 1)]!));
    return r;
  });
  const peer = own.map((r, i) =>
    r.map((v, d) => v - median(own.filter((_, j) => j !== i).map((x) => x[d]!))),
  );
  console.log(
    `1. A clean building's own ${RAMP_DAYS}-day ramp (rms over weekly end dates in 2018; a 1–3 % drift must beat it):`,
  );
  const rms = (y: Float64Array) => {
    const gs: number[] = [];
    for (let end = 365 + 30; end < days - 1; end += 7) gs.push(rampOver(y, end));
    return Math.sqrt(gs.reduce((s, g) => s + g * g, 0) / gs.length);
  };
  const rows = buildings.map((b, i) => ({ id: b.id, own: rms(own[i]!), peer: rms(peer[i]!) }));
  for (const r of rows)
    console.log(
      `   B${r.id}: own history ${(100 * r.own).toFixed(1)} %, against its peers ${(100 * r.peer).toFixed(1)} %`,
    );
  const least = Math.min(...rows.map((r) => Math.min(r.own, r.peer)));
  console.log(`   steadiest: ${(100 * least).toFixed(1)} % (largest drift in the cases: 3 %)`);
}

/** The campus eval:real builds for a seed and case (its `campus(ANY)`: two draws of the probe). */
function campusOf(
  data: ReturnType<typeof loadRealData>,
  pool: RealBuilding[],
  seed: number,
  sub: number,
): Campus {
  const s = seed * 1009 + sub * 7;
  const probe = buildCampus(data, pool, s, { feeders: 4, size: 8, endHour: 0 });
  const hourAt = (iso: string) => Math.round((Date.parse(iso) - GRID_START) / HOUR);
  const [a, b] = [hourAt('2018-02-01'), hourAt('2018-12-31')];
  probe.rand();
  const endHour = a + Math.floor(probe.rand() * ((b - a) / 24)) * 24;
  return buildCampus(data, pool, s, { feeders: 4, size: 8, endHour });
}

function feederFit(data: ReturnType<typeof loadRealData>, pool: RealBuilding[]): void {
  const minT = DEFAULT_CHILD_DRIFT.minT;
  // Thresholds off (this process only), so every feeder reports its best-fitting ramp's t.
  Object.assign(DEFAULT_CHILD_DRIFT, { minT: 0, maxStepLead: Number.POSITIVE_INFINITY, minDrift: 0 });
  Object.assign(DEFAULT_DRIFT, { minF: Number.POSITIVE_INFINITY });
  const drifts: { move: number; t: number; named: boolean }[] = [];
  const clean: number[] = [];
  for (let seed = 1; seed <= SEEDS; seed++)
    for (const [sub, make] of [
      [5, driftCase],
      [13, cleanCase],
    ] as const) {
      const c = campusOf(data, pool, seed, sub);
      const labels = make(c);
      const r = detect(campusInput(c, data).input);
      for (const f of c.feeders) {
        const x = r.findings.find((y) => y.type === 'meter-drift' && y.node === f.id);
        const t = Number(x?.evidence.figures?.tClusteredByDay ?? 0);
        const drifting = [...labels.drift.keys()].find((m) => m.startsWith(`${f.id}-`));
        if (drifting)
          drifts.push({
            move: labels.driftMove.get(drifting)!,
            t,
            named: x?.meter === drifting || x?.meter === f.id,
          });
        else clean.push(t);
      }
    }
  const sorted = [...clean].sort((a, b) => a - b);
  console.log(
    `2. The feeder's hourly fit, thresholds off: ${clean.length} untouched feeders' best ramp t from ` +
      `${sorted[0]!.toFixed(1)} to ${sorted.at(-1)!.toFixed(1)} (a drifting building meter reading low gives t > 0; the engine raises from |t| ${minT})`,
  );
  // t grows in proportion to the move (the fit's noise is the feeder meter's): where it reaches minT.
  const named = drifts.filter((d) => d.named && d.t > 0);
  const k = named.reduce((s, d) => s + d.t * d.move, 0) / named.reduce((s, d) => s + d.move * d.move, 0);
  console.log(
    `   t ≈ ${(k / 100).toFixed(1)} per 1 % of the feeder moved (fit through 0 over the ${named.length} drifts it names): ` +
      `t ${minT} at ${((100 * minT) / k).toFixed(2)} %, the untouched feeders' largest |t| at ${((100 * Math.max(...clean.map(Math.abs))) / k).toFixed(2)} %`,
  );
  for (const d of drifts.sort((a, b) => a.move - b.move))
    console.log(
      `   drift moving its feeder ${(100 * d.move).toFixed(2)} %: t ${d.t.toFixed(1)}${d.named ? '' : ' (another meter fits best)'}`,
    );
}

const data = loadRealData();
const pool = data.buildings.filter((b) => half(b.id) === HALF);
console.log(`drift-floor — ${HALF} half, ${pool.length} buildings, ${SEEDS} seeds`);
ownHistory(pool);
feederFit(data, pool);
