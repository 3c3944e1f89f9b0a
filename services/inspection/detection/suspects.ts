import type { NodeBalance } from './balance.ts';
import type { MeterAnomaly } from './meter-anomalies.ts';
import { FLAG, changePoint, clamp, correlation, median, type SlotStore } from './series.ts';
import type { Suspect } from './types.ts';

/**
 * Which of a node's downstream meters explains its unexplained loss. For each child meter c over
 * the window [from, end) (the loss episode, or the evaluation window):
 *
 *   deficit_c(k) = s · expected_c(k) − x_c(k)   (s: the peers' level ratio, e.g. a vacation)
 *
 * - correlation of deficit_c with the node's residual: a thief's deficit *is* the residual (shape
 *   attacks); or, negative, the meter's registered use moving with the residual (a partial bypass
 *   registers a share of what it takes, the rest shows as loss);
 * - reconstruction gain: how much closer to its own baseline the meter gets if the whole residual
 *   is given back to it, (‖x − s·e‖² − ‖x + r − s·e‖²) / ‖x − s·e‖²: ≈ 1 for the thief, < 0 for
 *   an honest meter, ≈ 0 when the node balances;
 * - share: Σ deficit / Σ residual (a bypass explains all of a loss, a tap none);
 * - level drop, shape change and variability collapse vs own history and peers (meter-anomalies);
 * - timing: the meter's change point against the loss onset;
 * - a stopped or backwards register in the window.
 */

export interface SuspectDetail extends Suspect {
  index: number;
  corr: number;
  gain: number;
  dayGain: number;
  share: number;
}

export function rankSuspects(
  store: SlotStore,
  b: NodeBalance,
  anomalies: readonly MeterAnomaly[],
  window: { from: number; end: number; onset?: number },
): SuspectDetail[] {
  const { from, end } = window;
  const res = b.residual;
  const kids = b.children;
  const spd = store.slotsPerDay;
  // Local days of the window: day d covers slots [dayStart(d), dayStart(d + 1)) ∩ [from, end).
  const off = store.slotOfDay(from);
  const dayStart = (d: number) => Math.max(from, from + d * spd - off);
  const days = Math.floor((end - 1 - from + off) / spd) + 1;
  // The peers' level per local day (a vacation starting mid-window moves everybody at once).
  const level = new Float64Array(Math.max(1, days)).fill(1);
  const ratios: number[] = [];
  for (let d = 0; d < days; d++) {
    ratios.length = 0;
    const k0 = dayStart(d);
    const k1 = Math.min(end, dayStart(d + 1));
    for (const c of kids) {
      const a = anomalies[c]!;
      const ex = a.expected;
      const j0 = a.expectedFrom;
      const x = store.values[c]!;
      let sx = 0;
      let se = 0;
      for (let k = k0; k < k1; k++) {
        const j = k - j0;
        const e = j >= 0 && j < ex.length ? ex[j]! : Number.NaN;
        const xv = x[k]!;
        if (xv === xv && e === e) {
          sx += xv;
          se += e;
        }
      }
      if (se > 0) ratios.push(sx / se);
    }
    if (ratios.length >= 3) level[d] = median(ratios);
  }
  let resSum = 0;
  for (let k = from; k < end; k++) if (res[k]! === res[k]!) resSum += res[k]!;
  const explained = explainedShares(store, kids, res, b.up, from, end);
  const out: SuspectDetail[] = [];
  const deficit = new Float64Array(end - from);
  const resW = res.subarray(from, end);
  const dayD = new Float64Array(Math.max(1, days));
  const dayR = new Float64Array(Math.max(1, days));
  for (const c of kids) {
    const a = anomalies[c]!;
    const ex = a.expected;
    const j0 = a.expectedFrom;
    const x = store.values[c]!;
    const flags = store.flags[c]!;
    let e0 = 0;
    let e1 = 0;
    let dSum = 0;
    let stoppedOrBack = 0;
    dayD.fill(0);
    dayR.fill(0);
    for (let dd = 0; dd < days; dd++) {
      const lv = level[dd]!;
      const k1 = Math.min(end, dayStart(dd + 1));
      for (let k = dayStart(dd); k < k1; k++) {
        const j = k - j0;
        const e = j >= 0 && j < ex.length ? ex[j]! : Number.NaN;
        const xv = x[k]!;
        const r = res[k]!;
        const fl = flags[k]!;
        if (xv !== xv || e !== e || (fl & FLAG.relayOpen) !== 0) {
          deficit[k - from] = Number.NaN;
          continue;
        }
        const d = lv * e - xv;
        deficit[k - from] = d;
        if (r === r) {
          e0 += d * d;
          e1 += (d - r) * (d - r);
          dSum += d;
          dayD[dd] = dayD[dd]! + d;
          dayR[dd] = dayR[dd]! + r;
        }
        if ((fl & FLAG.decrease) !== 0) stoppedOrBack = 1;
      }
    }
    for (const run of a.stopped) if (run.first < end && run.end > from) stoppedOrBack = 1;
    let f0 = 0;
    let f1 = 0;
    for (let d = 0; d < days; d++) {
      f0 += dayD[d]! ** 2;
      f1 += (dayD[d]! - dayR[d]!) ** 2;
    }
    const corr = correlation(resW, deficit);
    const gain = e0 > 0 ? (e0 - e1) / e0 : 0;
    const dayGain = f0 > 0 ? (f0 - f1) / f0 : 0;
    const share = resSum > 0 ? dSum / resSum : 0;
    let timing = 0;
    if (window.onset !== undefined) {
      const cp = changePoint(
        deficit.map((v) => -v),
        spd >> 2,
      );
      if (cp && cp.shift < 0) timing = Math.exp(-Math.abs(cp.at + from - window.onset) / spd);
    }
    const expl = explained.get(c) ?? 0;
    const score =
      0.15 * clamp(expl, 0, 1) +
      0.35 * clamp(corr === corr ? Math.abs(corr) : 0, 0, 1) +
      0.25 * clamp(gain, 0, 1) +
      0.3 * clamp(dayGain, 0, 1) +
      0.1 * timing +
      0.5 * stoppedOrBack +
      0.05 * clamp(a.score / 3, 0, 1);
    const reasons: string[] = [];
    if (stoppedOrBack) reasons.push('register stopped or ran backwards in the loss period');
    if (corr === corr && corr > 0.3)
      reasons.push(`its deficit follows the unexplained loss (r = ${corr.toFixed(2)})`);
    if (corr === corr && corr < -0.3)
      reasons.push(
        `what it registers moves with the unexplained loss (r = ${(-corr).toFixed(2)}): partial bypass`,
      );
    if (gain > 0.2 || dayGain > 0.2)
      reasons.push(
        `adding the loss back restores its usual profile (hourly ${gain.toFixed(2)}, daily ${dayGain.toFixed(2)})`,
      );
    if (share > 0.3 && share < 3 && corr > 0.2)
      reasons.push(`its deficit is ${(100 * share).toFixed(0)} % of the unexplained energy`);
    if (a.features.drop > 1)
      reasons.push(`level ${(100 * (1 - a.peerRatio)).toFixed(0)} % below own baseline and peers`);
    if (a.features.shape > 1) reasons.push('daily shape changed (flattened, scrambled or shifted)');
    if (a.features.zeros > 1) reasons.push('unusual zero-consumption periods');
    if (timing > 0.5) reasons.push('its change point matches the loss onset');
    if (expl > 0.3)
      reasons.push(
        `the loss follows its registered use: ${(100 * expl).toFixed(0)} % of the unexplained energy`,
      );
    if (reasons.length === 0) reasons.push('no specific evidence');
    out.push({ meter: store.topology.ids[c]!, index: c, score, reasons, corr, gain, dayGain, share });
  }
  return out.sort((p, q) => q.score - p.score);
}

/**
 * The share of the node's unexplained energy over [from, end) that each child explains when the
 * hourly residual is regressed on all children at once with non-negative weights (and a free
 * constant): a meter that registers a fixed share of what it takes leaves a loss proportional to
 * its own registered use, hour by hour, and it alone gets the weight. (The node's load as a free
 * regressor, for the band's misfit, made it worse on real feeders: it is nearly the children's
 * sum.) Coordinate descent on the
 * normal equations (children × children), so a node costs O(slots · children²).
 */
export function explainedShares(
  store: SlotStore,
  kids: readonly number[],
  res: Float64Array,
  up: Float64Array,
  from: number,
  end: number,
): Map<number, number> {
  const C = kids.length;
  const out = new Map<number, number>();
  if (C === 0) return out;
  // Columns: the children, then the constant.
  const P = C + 1;
  const G = new Float64Array(P * P);
  const b = new Float64Array(P);
  const row = new Float64Array(P);
  let n = 0;
  let resSum = 0;
  for (let k = from; k < end; k++) {
    const r = res[k]!;
    if (r !== r) continue;
    let ok = true;
    for (let i = 0; i < C; i++) {
      const x = store.values[kids[i]!]![k]!;
      if (x !== x) {
        ok = false;
        break;
      }
      row[i] = x;
    }
    if (!ok || up[k]! !== up[k]!) continue;
    row[C] = 1;
    n++;
    resSum += r;
    // The upper triangle only, mirrored below: a product is the same either way round, so each
    // entry sums the very same terms (this ran for every slot of the window, every hour).
    for (let i = 0; i < P; i++) {
      b[i] = b[i]! + row[i]! * r;
      for (let j = i; j < P; j++) G[i * P + j] = G[i * P + j]! + row[i]! * row[j]!;
    }
  }
  for (let i = 0; i < P; i++) for (let j = 0; j < i; j++) G[i * P + j] = G[j * P + i]!;
  if (n < 2 * P || resSum <= 0) return out;
  const w = new Float64Array(P);
  for (let sweep = 0; sweep < 100; sweep++) {
    let moved = 0;
    for (let i = 0; i < P; i++) {
      const gii = G[i * P + i]!;
      if (gii <= 0) continue;
      let g = b[i]!;
      for (let j = 0; j < P; j++) if (j !== i) g -= G[i * P + j]! * w[j]!;
      // Weights on meters are ≥ 0 (a meter cannot explain a loss by registering more); the
      // constant is free.
      const next = i >= C ? g / gii : Math.max(0, g / gii);
      moved = Math.max(moved, Math.abs(next - w[i]!) * Math.sqrt(gii));
      w[i] = next;
    }
    if (moved < 1e-9 * Math.sqrt(G[C * P + C]!)) break;
  }
  for (let i = 0; i < C; i++) {
    // The energy its weight accounts for: w · Σ x over the regression's slots.
    out.set(kids[i]!, (w[i]! * G[i * P + C]!) / resSum);
  }
  return out;
}
