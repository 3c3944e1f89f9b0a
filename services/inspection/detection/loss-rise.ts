/**
 * A node's loss rise (issue 19): a theft too small for the technical-loss band still steps the
 * node's daily unexplained energy up from its first day. Found here, weighed as the node's
 * evidence, and written as its own finding where no band episode is going on (engine.ts).
 */
import type { NodeBalance } from './balance.ts';
import { balanceEvidence } from './evidence.ts';
import { DEPENDENCE, type LossOnset } from './loss-match.ts';
import { clamp, type SlotStore } from './series.ts';
import type { Finding } from './types.ts';

/**
 * The node's loss rise: the largest standardised rise of its daily unexplained energy over the
 * scan (loss-match.ts lossOnset), and how large it is. A theft too small
 * for the technical-loss band (a tenth of one building's use is a fraction of a per cent of a
 * feeder's) still moves the daily unexplained energy from its first day and for as long as it
 * lasts: a step, where the band, learned over a year that contains it, has absorbed part of it.
 */
export interface LossRise {
  /** First slot of the onset day. */
  onsetSlot: number;
  /** The rise in units of its standard error (neighbouring days counted as dependent). */
  z: number;
  /** Mean daily unexplained energy before and since the onset, and mean daily throughput since. */
  before: number;
  after: number;
  /**
   * Mean daily unexplained energy over the last week of computable days (a rise that has ended is
   * history), and how far above the level before the onset it is, in standard errors of its mean.
   */
  lastWeek: number;
  lastWeekZ: number;
  throughput: number;
  days: number;
  /**
   * Where the risen days ended before the last week (the day after which the energy stayed
   * lowest against the risen stretch): the stretch's mean, its days and its rise in standard
   * errors against the days before the onset, and the mean since it ended. Undefined where the
   * energy is still as risen at the end.
   */
  ended?: {
    slot: number;
    during: number;
    days: number;
    z: number;
    afterEnd: number;
    /** How far the days since the end stand below the risen stretch, in standard errors. */
    dropZ: number;
    throughput: number;
  };
}

/** A rise whose days since its end stand this many standard errors below it has ended. */
const ENDED_SURE_Z = 2;
/** Fewest days a risen stretch that ended must have lasted to be kept on record. */
const ENDED_MIN_DAYS = 14;

/** Sum and count of the known (not NaN) values of x over days [from, to), in day order. */
function known(x: Float64Array, from: number, to: number): { sum: number; n: number } {
  let sum = 0;
  let n = 0;
  for (let d = from; d < to; d++)
    if (x[d]! === x[d]!) {
      sum += x[d]!;
      n++;
    }
  return { sum, n };
}

/** The rise at the onset `lo` found: its size against the throughput, and its last week. */
export function lossRise(lo: LossOnset, slotsPerDay: number): LossRise {
  const { r, up, k0, onset: rise } = lo;
  const D = r.length;
  const { sum: through, n } = known(up, rise.t, D);
  // The last week of days the node could be computed on: a meter without data for the last days
  // (its link down, its data not yet in) leaves the node uncomputable there, which says nothing
  // of whether the rise has ended, so the days before the gap judge it.
  let week = 0;
  let w = 0;
  for (let d = D - 1; d >= rise.t && w < 7; d--)
    if (r[d]! === r[d]!) {
      week += r[d]!;
      w++;
    }
  return {
    ...endedStretch(lo, slotsPerDay),
    onsetSlot: k0 + rise.t * slotsPerDay,
    z: rise.z,
    before: rise.before,
    after: rise.after,
    lastWeek: w > 0 ? week / w : Number.NaN,
    lastWeekZ:
      w > 0 ? (week / w - rise.before) / Math.sqrt((rise.sdBefore ** 2 * DEPENDENCE) / w) : Number.NaN,
    throughput: n > 0 ? through / n : Number.NaN,
    days: D - rise.t,
  };
}

/**
 * The end of the rise found at the onset, if it ended: the day e (the stretch [t, e) at least
 * ENDED_MIN_DAYS, e at least a week before the end) where the mean of [t, e) stands furthest above
 * the mean of [e, D) in standard errors; kept where [e, D) is back below half the rise.
 */
function endedStretch(lo: LossOnset, slotsPerDay: number): Pick<LossRise, 'ended'> {
  const { r, up, k0, onset: rise } = lo;
  const D = r.length;
  const t = rise.t;
  const vb = rise.sdBefore ** 2;
  let best: { e: number; z: number; during: number; after: number; nd: number } | undefined;
  for (let e = t + ENDED_MIN_DAYS; e <= D - 7; e++) {
    const { sum: sd, n: nd } = known(r, t, e);
    const { sum: sa, n: na } = known(r, e, D);
    if (nd < ENDED_MIN_DAYS / 2 || na < 3) continue;
    const z = (sd / nd - sa / na) / Math.sqrt(vb * (DEPENDENCE / nd + DEPENDENCE / na) + 1e-12);
    if (!best || z > best.z) best = { e, z, during: sd / nd, after: sa / na, nd };
  }
  if (!best || !(best.after - rise.before < 0.5 * (best.during - rise.before))) return {};
  const { sum: through, n } = known(up, t, best.e);
  return {
    ended: {
      slot: k0 + best.e * slotsPerDay,
      during: best.during,
      days: best.e - t,
      z:
        (best.during - rise.before) /
        Math.sqrt(vb * (DEPENDENCE / best.nd + DEPENDENCE / rise.nBefore) + 1e-12),
      afterEnd: best.after,
      dropZ: best.z,
      throughput: n > 0 ? through / n : Number.NaN,
    },
  };
}

/**
 * A node's loss rise as evidence: 0.5 (the node alert) at `minZ` standard errors, in proportion
 * below (a graded suspicion, for ranking) and up to 1 at twice; nothing where the rise is under
 * `minShare` of the throughput (a meter's own class of error, a calibration), the energy fell, or
 * the last week is back to less than half the rise and not clearly above the level before it.
 */
export function riseEvidence(
  rise: LossRise | undefined,
  cfg: { minZ: number; minShare: number },
): { rise: LossRise; evidence: number } | undefined {
  if (!rise || !(rise.after > rise.before) || !(rise.throughput > 0)) return undefined;
  if ((rise.after - rise.before) / rise.throughput < cfg.minShare) return undefined;
  const going = stillRisen(rise);
  if (going <= 0) return undefined;
  return { rise, evidence: clamp((0.5 * rise.z) / cfg.minZ, 0, 1) * going };
}

/**
 * Is the rise still going on? 1 where the last week stands nearer the risen level than the level
 * before, or clearly above the level before; else how much likelier "still risen" is than "back
 * to before" given the last week's mean, as a weight that falls smoothly to 0: a small rise's
 * week is noisy (a quarter of a per cent of a feeder's daily energy is within a week's wander),
 * and a hard cut there dropped thefts still going on whose last week happened to be low. One that
 * ended weeks ago has its last week far below the risen level: weight near 0, and history.
 */
function stillRisen(rise: LossRise): number {
  const L = rise.lastWeek;
  if (!(L === L)) return 0;
  if (L - rise.before >= 0.5 * (rise.after - rise.before) || rise.lastWeekZ >= 2) return 1;
  // The risen days surely ended (the days since stand well below them): history.
  if (rise.ended && rise.ended.dropZ >= ENDED_SURE_Z) return 0;
  // Standard error of the week's mean, as lastWeekZ measures it.
  const se = rise.lastWeekZ > 0 ? (L - rise.before) / rise.lastWeekZ : Number.NaN;
  if (!(se > 0)) return 0;
  const dRisen = (rise.after - L) / se;
  const dBefore = (L - rise.before) / se;
  const p = 1 / (1 + Math.exp((dRisen * dRisen - dBefore * dBefore) / 2));
  return Math.min(1, 2 * p);
}

/**
 * A rise that ended, kept on record: as strong as an alerting rise (`minZ` standard errors against
 * the days before, at least `minShare` of the throughput), over at least two weeks. Not a loss
 * going on (no evidence for the node now), but energy the inspectors may still recover.
 */
export function endedRiseOnRecord(
  rise: LossRise | undefined,
  cfg: { minZ: number; minShare: number },
): (LossRise & { ended: NonNullable<LossRise['ended']> }) | undefined {
  const e = rise?.ended;
  if (!rise || !e || !(e.throughput > 0)) return undefined;
  if (e.z < cfg.minZ || (e.during - rise.before) / e.throughput < cfg.minShare) return undefined;
  return { ...rise, ended: e };
}

/** The finding of a rise that ended (endedRiseOnRecord): history, with its energy. */
export function endedRiseFinding(
  b: NodeBalance,
  rise: LossRise & { ended: NonNullable<LossRise['ended']> },
  store: SlotStore,
  unit: string,
): Finding {
  const since = store.slotStart(rise.onsetSlot);
  const to = store.slotStart(rise.ended.slot);
  const perDay = rise.ended.during - rise.before;
  const share = perDay / rise.ended.throughput;
  const day = (ts: number) => new Date(ts).toISOString().slice(0, 10);
  const f: Finding = {
    type: 'energy-balance',
    key: `energy-balance:${b.id}:rise:${since}`,
    severity: 'low',
    node: b.id,
    score: Math.min(1, share * 5),
    since,
    reason:
      `unexplained energy at ${b.id} was up by ${perDay.toFixed(1)} ${unit} a day (${(100 * share).toFixed(2)} % of throughput) ` +
      `from ${day(since)} to ${day(to)} (${rise.ended.days} days, about ${(perDay * rise.ended.days).toFixed(0)} ${unit}; ` +
      `${rise.ended.z.toFixed(1)} standard errors against the days before), back to ${(rise.ended.afterEnd - rise.before).toFixed(1)} ${unit} a day since: ` +
      'ended (a meter that registered less over those days, mended since?)',
    evidence: {
      from: since,
      to,
      figures: {
        model: 'daily unexplained energy: a step at the day of its largest rise, and back at its end',
        lossPerDayBefore: round(rise.before),
        lossPerDaySince: round(rise.ended.during),
        share: round(share),
        z: round(rise.ended.z),
        daysSince: rise.ended.days,
      },
    },
    unexplained: perDay * rise.ended.days,
  };
  balanceEvidence(f, store, b, unit);
  // Expected: the node's unexplained energy as it was before the rise, over the risen days.
  f.evidence.model = `daily unexplained energy of ${b.id} (its meter − Σ the meters below − technical-loss band) before the onset, against the risen days until they ended`;
  f.evidence.expected = round((f.evidence.seen ?? 0) - perDay * rise.ended.days);
  return f;
}

/** The finding of a node whose daily unexplained energy rose and stays risen. */
export function riseFinding(
  b: NodeBalance,
  rise: LossRise,
  evidence: number,
  ranked: readonly { meter: string; score: number; reasons: string[] }[],
  store: SlotStore,
  unit: string,
): Finding {
  const since = store.slotStart(rise.onsetSlot);
  const perDay = rise.after - rise.before;
  const share = perDay / rise.throughput;
  const top1 = ranked[0];
  const f: Finding = {
    type: 'energy-balance',
    key: `energy-balance:${b.id}:rise:${since}`,
    severity: share > 0.03 ? 'medium' : 'low',
    node: b.id,
    score: evidence + Math.min(1, share * 5),
    since,
    reason:
      `unexplained energy at ${b.id} up by ${perDay.toFixed(1)} ${unit} a day (${(100 * share).toFixed(2)} % of throughput) ` +
      `since ${new Date(since).toISOString().slice(0, 10)}, ${rise.z.toFixed(1)} standard errors against the days before, ongoing: ` +
      'a loss too small for the technical-loss band (a meter registering less since that day?)' +
      (top1 ? `; first suspect ${top1.meter}` : ''),
    evidence: {
      from: since,
      to: store.slotStart(store.length),
      figures: {
        model: 'daily unexplained energy: a step at the day of its largest rise',
        lossPerDayBefore: round(rise.before),
        lossPerDaySince: round(rise.after),
        share: round(share),
        z: round(rise.z),
        daysSince: rise.days,
      },
    },
    unexplained: perDay * rise.days,
    suspects: ranked.slice(0, 5).map(({ meter, score, reasons }) => ({ meter, score, reasons })),
  };
  balanceEvidence(f, store, b, unit);
  // Expected: the node's unexplained energy as it was before the rise (the band has absorbed
  // part of a loss this old), so seen − expected is the rise itself.
  f.evidence.model = `daily unexplained energy of ${b.id} (its meter − Σ the meters below − technical-loss band) before the onset, against since (a step at the day of the largest rise)`;
  f.evidence.expected = round((f.evidence.seen ?? 0) - perDay * rise.days);
  return f;
}

const round = (x: number): number => Math.round(x * 1e4) / 1e4;
