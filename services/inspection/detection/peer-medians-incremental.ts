import type { Days, MeterDaily } from './long-memory-types.ts';

/** The daily features whose peer-group median the long-memory tests subtract. */
export const MEDIAN_FEATURES = ['L', 'S', 'C', 'V', 'R', 'Y'] as const;
const FEATURES = 6;
export type MedianFeature = (typeof MEDIAN_FEATURES)[number];
export type Med = Record<MedianFeature, Float64Array>;

/** One absolute local day of a group: per feature, the members' known values, sorted. */
interface DayValues {
  /** Feature f's values at [f·size, f·size + n[f]), ascending. */
  vals: Float64Array;
  n: Int32Array;
  /** Values over all features (0: the day is dropped). */
  total: number;
}

/** A member's feature columns in MEDIAN_FEATURES order (a keyed lookup per value was most of the cost). */
function columns(m: MeterDaily): Float64Array[] {
  return [m.L, m.S, m.C, m.V, m.R, m.Y];
}

/**
 * A peer group's daily medians kept up to date member by member, instead of re-sorting every
 * day of every member when the medians are wanted (in the live engine every group wants them in
 * the same hour of the day, when the day turns: ~130 ms of one evaluation).
 *
 * Per absolute local day and feature the group keeps its members' known (non-NaN) values in
 * order; refreshing a member removes the values of its previous daily features and inserts the new
 * ones (a member's whole series moves when it is refreshed: its level is centred on its own
 * median over the retained days). The median of a day is then read from the middle of its values:
 * the same multiset as a sort of the members' values at that moment, so the same middle elements
 * and the same mean of the two (groupMedian's values, bit for bit; test/detection/peer-medians-incremental.test.ts).
 */
export class IncrementalPeerMedians {
  private readonly byDay = new Map<number, DayValues>();

  /** size: the group's member count (no day holds more values than that per feature). */
  constructor(private readonly size: number) {}

  /** A member's daily features replaced: `old` (undefined the first time) out, `cur` in. */
  replace(old: MeterDaily | undefined, cur: MeterDaily | undefined): void {
    // One walk over the days either covers, one day lookup per day for all features, and a
    // value that moved shifts only the values between its old and new place (a refresh moves a
    // member's value a little on most days): this runs for every meter refreshed in an hour.
    const oc = old && columns(old);
    const cc = cur && columns(cur);
    const of = old ? old.firstDay : 0;
    const cf = cur ? cur.firstDay : 0;
    const from = Math.min(old ? of : Infinity, cur ? cf : Infinity);
    const to = Math.max(old ? of + old.L.length : -Infinity, cur ? cf + cur.L.length : -Infinity);
    for (let abs = from; abs < to; abs++) {
      let day = this.byDay.get(abs);
      for (let f = 0; f < FEATURES; f++) {
        const o = oc?.[f];
        const c = cc?.[f];
        const ov = o && abs - of >= 0 && abs - of < o.length ? o[abs - of]! : Number.NaN;
        const nv = c && abs - cf >= 0 && abs - cf < c.length ? c[abs - cf]! : Number.NaN;
        // Unchanged (the same bits: 0 and −0 differ for a median's sign), or unknown in both.
        if (ov === nv ? ov !== 0 || 1 / ov === 1 / nv : ov !== ov && nv !== nv) continue;
        if (!day) {
          if (ov === ov) throw new Error(`peer medians: day ${abs} removed before it was added`);
          day = { vals: new Float64Array(FEATURES * this.size), n: new Int32Array(FEATURES), total: 0 };
          this.byDay.set(abs, day);
        }
        this.move(day, f, abs, ov, nv);
      }
      if (day && day.total === 0) this.byDay.delete(abs);
    }
  }

  /** The median per day of `days` (NaN for a day fewer than three members know), as groupMedian. */
  medians(days: Days): Med {
    const cols = MEDIAN_FEATURES.map(() => new Float64Array(days.D));
    // One lookup per day for all features (every group's medians are read in the hour a day
    // completes).
    for (let d = 0; d < days.D; d++) {
      const day = this.byDay.get(days.firstDay + d);
      for (let f = 0; f < FEATURES; f++) {
        const n = day ? day.n[f]! : 0;
        if (n < 3) {
          cols[f]![d] = Number.NaN;
          continue;
        }
        const at = f * this.size;
        const h = n >> 1;
        const v = day!.vals;
        cols[f]![d] = n % 2 ? v[at + h]! : (v[at + h - 1]! + v[at + h]!) / 2;
      }
    }
    const out = {} as Med;
    for (const [f, key] of MEDIAN_FEATURES.entries()) out[key] = cols[f]!;
    return out;
  }

  /** Days held (for the tests: a day no member covers any more is dropped). */
  get dayCount(): number {
    return this.byDay.size;
  }

  /** Feature f of a day: value ov out (NaN: none), nv in (NaN: none), the run kept in order. */
  private move(day: DayValues, f: number, abs: number, ov: number, nv: number): void {
    const v = day.vals;
    const at = f * this.size;
    let n = day.n[f]!;
    let i = n;
    if (ov === ov) {
      i = this.lowerBound(v, at, n, ov);
      if (i >= n || v[at + i] !== ov) throw new Error(`peer medians: value ${ov} of day ${abs} not held`);
      if (nv !== nv) {
        for (let k = at + i; k < at + n - 1; k++) v[k] = v[k + 1]!;
        day.n[f] = n - 1;
        day.total--;
        return;
      }
    } else {
      if (n >= this.size)
        throw new Error(`peer medians: more values on day ${abs} than the group has members`);
      // A free place at the end, moved down to where nv belongs as below.
      v[at + n] = Infinity;
      i = n;
      n++;
      day.n[f] = n;
      day.total++;
    }
    // Slide nv from place i to its place: up past smaller values, or down past larger ones.
    let k = at + i;
    while (k + 1 < at + n && v[k + 1]! < nv) {
      v[k] = v[k + 1]!;
      k++;
    }
    while (k > at && v[k - 1]! > nv) {
      v[k] = v[k - 1]!;
      k--;
    }
    v[k] = nv;
  }

  /** First index of the sorted run v[at, at + n) whose value is not below y. */
  private lowerBound(v: Float64Array, at: number, n: number, y: number): number {
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (v[at + mid]! < y) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
