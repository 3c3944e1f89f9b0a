import type { NodeBalance } from './balance.ts';
import type { LongMemory } from './long-memory.ts';
import { clamp, type SlotStore } from './series.ts';

/**
 * Does the upstream meter agree that a child's lasting change is energy gone missing?
 *
 * Energy is conserved: when a building really uses less (a lab closed, a new chiller), its feeder
 * meter sees the same change and the node's unexplained energy stays where it was; when only its
 * meter registers less (a bypass, a tampered CT, a reversed or flattened day), the energy still
 * flows through the feeder and the unexplained energy rises by what the meter no longer shows.
 * Two checks, at the onset the long-memory test found:
 *
 * - level: the node's daily residual over the two weeks from the onset minus the `referenceDays`
 *   before it, against the child's daily shortfall (its energy over the pre-onset ratio to its
 *   peers) over the same days;
 * - shape (a change that keeps the daily total, Jokar h5/h6): the node's hourly residual, less its
 *   daily mean, regressed on the child's hourly deviation from its own daily profile, from each
 *   candidate onset of the scan on (the most significant one is kept).
 *
 * Each gives `ratio` (≈ 1: the feeder lost exactly what the meter no longer shows; ≈ 0: the feeder
 * saw the change too) and `power`, how many standard errors a ratio of 1 would be: a building of a
 * few percent of a noisy feeder cannot be judged (power < `MIN_POWER`) and keeps its own evidence.
 */

export interface FeederCheck {
  kind: 'level' | 'shape';
  /** Share of the meter's change that shows as unexplained energy at the node. */
  ratio: number;
  /** Standardised size of a ratio of 1 (how well the node's noise lets it be judged). */
  power: number;
  /** Unexplained energy per day at the node after the onset minus before (level check). */
  perDay?: number;
}

export const MIN_POWER = 2;
/** Power at which the node's verdict counts in full (between: in proportion, so no step). */
export const FULL_POWER = 6;
/** Days after a level onset over which the node's residual is compared with the reference. */
const AFTER_DAYS = 14;
/** Neighbouring days and hours are not independent: effective samples = samples / this. */
const DEPENDENCE = 2;

/** Sum of the node's residual over a local day scaled up for missing slots (NaN if < 75 % known). */
function dayResidual(res: Float64Array, k0: number, spd: number): number {
  let s = 0;
  let n = 0;
  for (let k = k0; k < k0 + spd; k++) {
    const r = res[k]!;
    if (r === r) {
      s += r;
      n++;
    }
  }
  return n >= 0.75 * spd ? (s * spd) / n : Number.NaN;
}

function dayEnergy(x: ArrayLike<number>, k0: number, spd: number): number {
  let s = 0;
  for (let k = k0; k < k0 + spd; k++) {
    const v = x[k]!;
    if (v !== v) return Number.NaN;
    s += v;
  }
  return s;
}

function meanSd(xs: number[]): { mean: number; sd: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const v = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, xs.length - 1);
  return { mean, sd: Math.sqrt(v) };
}

function levelCheck(
  store: SlotStore,
  b: NodeBalance,
  c: number,
  lm: LongMemory,
  referenceDays: number,
): FeederCheck | undefined {
  const t = lm.level;
  if (!t || t.shift >= 0) return undefined;
  const spd = store.slotsPerDay;
  const x = store.values[c]!;
  const before: number[] = [];
  const after: number[] = [];
  let short = 0;
  let shortDays = 0;
  const lost = 1 / Math.exp(t.shift) - 1;
  // Only the first days after the onset: the theft shows from its first day, and a later change
  // elsewhere under the node (another meter's theft) must not be credited to this one.
  const stop = Math.min(store.length, t.onsetSlot + AFTER_DAYS * spd);
  for (let k0 = Math.max(0, t.onsetSlot - referenceDays * spd); k0 + spd <= stop; k0 += spd) {
    const r = dayResidual(b.residual, k0, spd);
    if (r !== r) continue;
    if (k0 < t.onsetSlot) before.push(r);
    else {
      after.push(r);
      const e = dayEnergy(x, k0, spd);
      if (e === e) {
        short += e * lost;
        shortDays++;
      }
    }
  }
  if (before.length < 14 || after.length < 2 || shortDays < 2) return undefined;
  const perDayShort = short / shortDays;
  const a = meanSd(after);
  const r = meanSd(before);
  const se = r.sd * Math.sqrt(DEPENDENCE / after.length + DEPENDENCE / before.length) + 1e-9;
  const perDay = a.mean - r.mean;
  return { kind: 'level', ratio: perDay / perDayShort, power: perDayShort / se, perDay };
}

function shapeCheck(
  store: SlotStore,
  b: NodeBalance,
  c: number,
  lm: LongMemory,
  referenceDays: number,
  scanDays: number,
): FeederCheck | undefined {
  if (!lm.shape) return undefined;
  const spd = store.slotsPerDay;
  const x = store.values[c]!;
  const res = b.residual;
  const first = (spd - store.slotOfDay(0)) % spd;
  const days = Math.floor((store.length - first) / spd);
  const scan0 = Math.max(referenceDays, days - scanDays);
  // The child's profile (share of the day per slot) per day type over the reference days before
  // the scanned onsets: the meter's own onset may be an older, real change, so the node scans too.
  const prof = new Float64Array(2 * spd);
  const n = [0, 0];
  for (let d = scan0 - referenceDays; d < scan0; d++) {
    const k0 = first + d * spd;
    const e = dayEnergy(x, k0, spd);
    if (!(e > 0)) continue;
    const w = isWeekend(store, k0);
    n[w]!++;
    for (let j = 0; j < spd; j++) prof[w * spd + j] = prof[w * spd + j]! + x[k0 + j]! / e;
  }
  if (n[0]! < 5 || n[1]! < 2) return undefined;
  for (let i = 0; i < 2 * spd; i++) prof[i] = prof[i]! / n[i < spd ? 0 : 1]!;
  // Per day: Σ δρ, Σ δδ, Σ ρρ and the slot count, summed from the end back to each onset.
  const sdd = new Float64Array(days + 1);
  const sdr = new Float64Array(days + 1);
  const srr = new Float64Array(days + 1);
  const cnt = new Float64Array(days + 1);
  const rho = new Float64Array(spd);
  for (let d = days - 1; d >= scan0; d--) {
    sdd[d] = sdd[d + 1]!;
    sdr[d] = sdr[d + 1]!;
    srr[d] = srr[d + 1]!;
    cnt[d] = cnt[d + 1]!;
    const k0 = first + d * spd;
    const e = dayEnergy(x, k0, spd);
    if (!(e > 0)) continue;
    let rs = 0;
    let ok = true;
    for (let j = 0; j < spd; j++) {
      const r = res[k0 + j]!;
      if (r !== r) {
        ok = false;
        break;
      }
      rho[j] = r;
      rs += r;
    }
    if (!ok) continue;
    const w = isWeekend(store, k0);
    for (let j = 0; j < spd; j++) {
      const dv = prof[w * spd + j]! * e - x[k0 + j]!;
      const r = rho[j]! - rs / spd;
      sdd[d] = sdd[d]! + dv * dv;
      sdr[d] = sdr[d]! + dv * r;
      srr[d] = srr[d]! + r * r;
    }
    cnt[d] = cnt[d]! + spd;
  }
  let best: FeederCheck | undefined;
  let bestZ = -Infinity;
  for (let d = scan0; d <= days - 3; d++) {
    const m = cnt[d]!;
    if (m < 3 * spd || sdd[d]! <= 0) continue;
    const beta = sdr[d]! / sdd[d]!;
    const s2 = Math.max(0, srr[d]! - beta * sdr[d]!) / m;
    // Hours of a day share the weather and the occupants: count each day's hours as a few samples.
    const se = Math.sqrt((s2 / sdd[d]!) * DEPENDENCE * Math.sqrt(spd)) + 1e-12;
    if (beta / se > bestZ) {
      bestZ = beta / se;
      best = { kind: 'shape', ratio: beta, power: 1 / se };
    }
  }
  return best;
}

function isWeekend(store: SlotStore, k: number): 0 | 1 {
  const wd = store.weekdayOf(k);
  return wd === 0 || wd === 6 ? 1 : 0;
}

/**
 * Both checks that can judge at all (power ≥ MIN_POWER), the most confirming first. A real change
 * of level does not clear a meter whose day was also reversed: the most confirming one counts.
 */
export function feederChecks(
  store: SlotStore,
  b: NodeBalance,
  c: number,
  lm: LongMemory,
  referenceDays: number,
  scanDays: number,
): FeederCheck[] {
  return [levelCheck(store, b, c, lm, referenceDays), shapeCheck(store, b, c, lm, referenceDays, scanDays)]
    .filter((x): x is FeederCheck => x !== undefined && x.power >= MIN_POWER)
    .sort((p, q) => feederFactor(q) - feederFactor(p));
}

/**
 * How much the node's verdict weighs on the meter's own long-memory evidence: ×0.5 when the
 * feeder saw the same change (a real change of use), up to ×1.5 when it lost what the meter no
 * longer shows; 1 when it cannot judge, and in between as its power grows (no threshold to flip).
 */
export function feederFactor(check: FeederCheck | undefined): number {
  if (!check) return 1;
  const weight = clamp((check.power - MIN_POWER) / (FULL_POWER - MIN_POWER), 0, 1);
  return 1 + weight * (clamp(check.ratio, 0, 1) - 0.5);
}

/**
 * Evidence from the node alone, 0..1: the node lost about what the meter no longer shows (a ratio
 * near 1, many standard errors from 0): after the meter's own level drop (level check), or hour by
 * hour along its departure from its own profile (shape check). An honest meter's energy all
 * reaches its register, so the node cannot lose it, whatever the building's own use does. The
 * caller gates each on the meter's own lasting change of that kind.
 */
export function feederEvidence(check: FeederCheck | undefined): number {
  if (!check || check.ratio < 0.5 || check.ratio > 2) return 0;
  return clamp((check.ratio * check.power - 4) / 8, 0, 1);
}
