import type { NodeBalance } from './balance.ts';
import type { SlotStore } from './series.ts';

/**
 * Which child's shortfall the node's unexplained energy follows, day by day, since the loss began.
 *
 * Energy is conserved: what a meter stops registering (a factor, a bypassed circuit) still flows
 * through the feeder, so from the theft's first day the node's daily unexplained energy r(d) rises
 * by exactly the thief's shortfall against what it used to register, and moves with it (a factor
 * theft's shortfall is larger on working days). An honest building's departures from its usual
 * share (a vacation, a new lab, its own weather) reach its meter and the feeder alike: r does
 * not move with them. The window's suspect ranking compares against the last 28 days, which a
 * theft older than that is already inside; here:
 *
 * - the node's loss onset t: the largest standardised rise of r over the last `scanDays`, each
 *   candidate against the `referenceDays` before it;
 * - per child c, its daily shortfall δ_c(d) = X_c(d) − ratio_c(w) · P_c(d) over [t − 21 days,
 *   t + 21 days), with P_c the other children's energy that day and ratio_c(w) the child's share of
 *   it on the same weekday w over the 21 days before (seasons and vacations move P_c as well);
 * - r(d) regressed on δ_c(d) and the node's load (the technical loss grows with it): a thief has
 *   a slope of −1 (the node loses what the meter no longer shows), many standard errors from 0.
 */

export interface LossMatch {
  child: number;
  /** −slope of the node's daily residual on the child's shortfall (≈ 1 for the thief). */
  ratio: number;
  /** ratio / its standard error. */
  z: number;
  /** First slot of the node's loss onset day. */
  onsetSlot: number;
}

/**
 * Days after the onset that the fit reads: the theft shows from its first day, and a later change
 * elsewhere under the node (an honest building's new use, another theft) must not be credited to
 * this one.
 */
const AFTER_DAYS = 21;
/**
 * Days before the onset that the fit reads, and that the usual share is learned over: a
 * building's share of its feeder wanders with the season (a lab's summer, a hall's term), and
 * eight weeks of that wander weigh against the step at the onset as much as the step itself.
 */
const BEFORE_DAYS = 21;
/** Reference days a weekday needs for a share of its own (else the share of all days). */
const MIN_WEEKDAY_DAYS = 3;
/** Neighbouring days are not independent (weather, weeks): effective days = days / this. */
export const DEPENDENCE = 2;
/** Days a segment beside the largest rise needs before another rise in it (a share's weeks). */
const SEGMENT_MIN_DAYS = 21;

function dayValue(x: ArrayLike<number>, k0: number, spd: number, complete: boolean): number {
  let s = 0;
  let n = 0;
  for (let k = k0; k < k0 + spd; k++) {
    const v = x[k]!;
    if (v === v) {
      s += v;
      n++;
    } else if (complete) return Number.NaN;
  }
  return n >= 0.75 * spd ? (s * spd) / n : Number.NaN;
}

/**
 * The day of the largest standardised rise of ys over [tFrom, tTo], against `ref` days before;
 * only days of [lo, hi) are read (a segment between two rises), and the days before need
 * `minBefore` values (default half of `ref`).
 */
export function riseOnset(
  ys: Float64Array,
  tFrom: number,
  tTo: number,
  ref: number,
  lo = 0,
  hi = ys.length,
  minBefore = ref / 2,
): { t: number; z: number; before: number; after: number; sdBefore: number; nBefore: number } | undefined {
  let best:
    { t: number; z: number; before: number; after: number; sdBefore: number; nBefore: number } | undefined;
  let bestZ = 0;
  for (let t = Math.max(lo + minBefore, tFrom); t <= tTo; t++) {
    let sb = 0;
    let sb2 = 0;
    let nb = 0;
    for (let d = Math.max(lo, t - ref); d < t; d++) {
      const y = ys[d]!;
      if (y === y) {
        sb += y;
        sb2 += y * y;
        nb++;
      }
    }
    let sa = 0;
    let na = 0;
    for (let d = t; d < hi; d++) {
      const y = ys[d]!;
      if (y === y) {
        sa += y;
        na++;
      }
    }
    if (nb < minBefore || na < 3) continue;
    const mb = sb / nb;
    const vb = Math.max(sb2 / nb - mb * mb, 1e-12);
    const z = (sa / na - mb) / Math.sqrt(vb * (DEPENDENCE / na + DEPENDENCE / nb));
    if (z > bestZ) {
      bestZ = z;
      best = { t, z, before: mb, after: sa / na, sdBefore: Math.sqrt(vb), nBefore: nb };
    }
  }
  return best;
}

/** Least squares of y on [1, a, b]: b's coefficient and its standard error. */
function slopeOnB(y: number[], a: number[], b: number[]): { beta: number; se: number } | undefined {
  const n = y.length;
  if (n < 10) return undefined;
  const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / n;
  const my = mean(y);
  const ma = mean(a);
  const mb = mean(b);
  let saa = 0;
  let sbb = 0;
  let sab = 0;
  let say = 0;
  let sby = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i]! - ma;
    const db = b[i]! - mb;
    const dy = y[i]! - my;
    saa += da * da;
    sbb += db * db;
    sab += da * db;
    say += da * dy;
    sby += db * dy;
  }
  const det = saa * sbb - sab * sab;
  if (!(det > 1e-12 * saa * sbb) || sbb <= 0) return undefined;
  const ga = (sbb * say - sab * sby) / det;
  const beta = (saa * sby - sab * say) / det;
  let sse = 0;
  for (let i = 0; i < n; i++) {
    const e = y[i]! - my - ga * (a[i]! - ma) - beta * (b[i]! - mb);
    sse += e * e;
  }
  const s2 = sse / Math.max(1, n - 3);
  // Var(beta) = s² · saa / det; days are counted as n / DEPENDENCE samples.
  return { beta, se: Math.sqrt((s2 * saa * DEPENDENCE) / det) + 1e-12 };
}

/** A node's days (whole local days from the store's first) and the onset of its loss's largest rise. */
export interface LossOnset {
  /** First slot of day 0. */
  k0: number;
  /** Daily unexplained energy and throughput of the node. */
  r: Float64Array;
  up: Float64Array;
  onset: NonNullable<ReturnType<typeof riseOnset>>;
}

/**
 * The node's daily unexplained energy and its largest rise over the last `scanDays` (against the
 * `referenceDays` before): computed once, read by the loss match below and the loss rise
 * (loss-rise.ts).
 */
export function lossOnset(
  store: SlotStore,
  b: NodeBalance,
  referenceDays: number,
  scanDays: number,
): LossOnset | undefined {
  const spd = store.slotsPerDay;
  const k0 = (spd - store.slotOfDay(0)) % spd;
  const D = Math.floor((store.length - k0) / spd);
  if (D < referenceDays + 7) return undefined;
  const r = new Float64Array(D);
  const up = new Float64Array(D);
  for (let d = 0; d < D; d++) {
    const k = k0 + d * spd;
    r[d] = dayValue(b.residual, k, spd, false);
    up[d] = dayValue(b.up, k, spd, false);
  }
  const onset = riseOnset(r, Math.max(0, D - scanDays), D - 3, referenceDays);
  return onset ? { k0, r, up, onset } : undefined;
}

export function lossMatches(
  store: SlotStore,
  b: NodeBalance,
  referenceDays: number,
  scanDays: number,
): LossMatch[] {
  const lo = lossOnset(store, b, referenceDays, scanDays);
  return lo ? matchesAt(store, b, lo, referenceDays) : [];
}

/** A rise of the node's loss besides its largest one, and the days its match may read. */
export interface OtherRise {
  t: number;
  z: number;
  /** Days [from, to) of the segment it was found in (the largest rise's day bounds it). */
  from: number;
  to: number;
}

/**
 * A second thief under the same node: its rise is the node's loss stepping up again (or an earlier
 * step the larger one followed). The largest rise alone is scanned against the days before it,
 * which a later theft's days do not reach, and an earlier theft's days hold as a baseline, so each
 * side of the largest rise is scanned again on its own (binary segmentation, one level): after it,
 * against days after it only; before it, up to it only. Only a rise of `minZ` standard errors
 * counts: a noise rise would credit a child by chance.
 */
export function otherRises(
  lo: LossOnset,
  referenceDays: number,
  scanDays: number,
  minZ: number,
): OtherRise[] {
  const D = lo.r.length;
  const t1 = lo.onset.t;
  const out: OtherRise[] = [];
  const later = riseOnset(lo.r, t1 + SEGMENT_MIN_DAYS, D - 3, referenceDays, t1, D, SEGMENT_MIN_DAYS);
  if (later && later.z >= minZ) out.push({ t: later.t, z: later.z, from: t1, to: D });
  const earlier = riseOnset(lo.r, Math.max(0, D - scanDays), t1 - 3, referenceDays, 0, t1);
  if (earlier && earlier.z >= minZ) out.push({ t: earlier.t, z: earlier.z, from: 0, to: t1 });
  return out;
}

/**
 * Which child's shortfall the node's loss follows from the onset `lo` found (see the top), or from
 * another rise of it (`other`: only its segment's days are read).
 */
export function matchesAt(
  store: SlotStore,
  b: NodeBalance,
  lo: LossOnset,
  referenceDays: number,
  other?: OtherRise,
): LossMatch[] {
  const spd = store.slotsPerDay;
  const { k0, r, up } = lo;
  const t = other ? other.t : lo.onset.t;
  const D = other ? other.to : r.length;
  const X = b.children.map(() => new Float64Array(D));
  for (let d = 0; d < D; d++) {
    const k = k0 + d * spd;
    b.children.forEach((c, i) => (X[i]![d] = dayValue(store.values[c]!, k, spd, true)));
  }
  const from = Math.max(other?.from ?? 0, t - Math.min(referenceDays, BEFORE_DAYS));
  const weekday = Array.from({ length: D }, (_, d) => store.weekdayOf(k0 + d * spd));
  const all = new Float64Array(D);
  for (let d = 0; d < D; d++) for (const x of X) all[d] = all[d]! + x[d]!;
  const out: LossMatch[] = [];
  b.children.forEach((c, i) => {
    const x = X[i]!;
    // Its share of the other children's energy over the reference days, per weekday: a
    // building's week (a lab running weekends, offices that close) differs from its feeder's, and
    // one share for all days turns that week into a shortfall the loss does not follow.
    let own = 0;
    let rest = 0;
    const ownW = new Float64Array(7);
    const restW = new Float64Array(7);
    const daysW = new Int32Array(7);
    for (let d = from; d < t; d++) {
      const p = all[d]! - x[d]!;
      if (x[d] === x[d] && p === p) {
        own += x[d]!;
        rest += p;
        const w = weekday[d]!;
        ownW[w]! += x[d]!;
        restW[w]! += p;
        daysW[w]!++;
      }
    }
    if (!(rest > 0)) return;
    const shareW = Array.from({ length: 7 }, (_, w) =>
      daysW[w]! >= MIN_WEEKDAY_DAYS && restW[w]! > 0 ? ownW[w]! / restW[w]! : own / rest,
    );
    const ys: number[] = [];
    const load: number[] = [];
    const short: number[] = [];
    for (let d = from; d < Math.min(D, t + AFTER_DAYS); d++) {
      const p = all[d]! - x[d]!;
      if (x[d] !== x[d] || p !== p || r[d] !== r[d] || up[d] !== up[d]) continue;
      ys.push(r[d]!);
      load.push(up[d]!);
      short.push(x[d]! - shareW[weekday[d]!]! * p);
    }
    const fit = slopeOnB(ys, load, short);
    if (!fit) return;
    out.push({ child: c, ratio: -fit.beta, z: -fit.beta / fit.se, onsetSlot: k0 + t * spd });
  });
  return out;
}
