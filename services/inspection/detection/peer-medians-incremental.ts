import type { Days, MeterDaily } from './long-memory.ts';

/** The daily features whose peer-group median the long-memory tests subtract. */
export const MEDIAN_FEATURES = ['L', 'S', 'C', 'V', 'R', 'Y'] as const;
export type MedianFeature = (typeof MEDIAN_FEATURES)[number];
export type Med = Record<MedianFeature, Float64Array>;

/** One absolute local day of a group: per feature, the members' known values, sorted. */
interface DayValues {
  /** Feature f's values at [f·size, f·size + n[f]), ascending. */
  vals: Float64Array;
  n: Int32Array;
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
    if (old) this.apply(old, -1);
    if (cur) this.apply(cur, +1);
  }

  /** The median per day of `days` (NaN for a day fewer than three members know), as groupMedian. */
  medians(days: Days): Med {
    const out = {} as Med;
    for (const [f, key] of MEDIAN_FEATURES.entries()) {
      const med = new Float64Array(days.D);
      const at = f * this.size;
      for (let d = 0; d < days.D; d++) {
        const day = this.byDay.get(days.firstDay + d);
        const n = day ? day.n[f]! : 0;
        if (n < 3) {
          med[d] = Number.NaN;
          continue;
        }
        const h = n >> 1;
        const v = day!.vals;
        med[d] = n % 2 ? v[at + h]! : (v[at + h - 1]! + v[at + h]!) / 2;
      }
      out[key] = med;
    }
    return out;
  }

  /** Days held (for the tests: a day no member covers any more is dropped). */
  get dayCount(): number {
    return this.byDay.size;
  }

  private apply(m: MeterDaily, sign: 1 | -1): void {
    const size = this.size;
    for (const [f, key] of MEDIAN_FEATURES.entries()) {
      const col = m[key];
      const at = f * size;
      for (let i = 0; i < col.length; i++) {
        const y = col[i]!;
        if (y !== y) continue;
        const abs = m.firstDay + i;
        let day = this.byDay.get(abs);
        if (!day) {
          if (sign < 0) throw new Error(`peer medians: day ${abs} removed before it was added`);
          day = {
            vals: new Float64Array(MEDIAN_FEATURES.length * size),
            n: new Int32Array(MEDIAN_FEATURES.length),
          };
          this.byDay.set(abs, day);
        }
        const v = day.vals;
        const n = day.n[f]!;
        // First index whose value is not below y (binary search in the sorted run).
        let lo = 0;
        let hi = n;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (v[at + mid]! < y) lo = mid + 1;
          else hi = mid;
        }
        if (sign > 0) {
          if (n >= size)
            throw new Error(`peer medians: more values on day ${abs} than the group has members`);
          v.copyWithin(at + lo + 1, at + lo, at + n);
          v[at + lo] = y;
          day.n[f] = n + 1;
        } else {
          if (lo >= n || v[at + lo] !== y) throw new Error(`peer medians: value ${y} of day ${abs} not held`);
          v.copyWithin(at + lo, at + lo + 1, at + n);
          day.n[f] = n - 1;
          if (day.n.every((c) => c === 0)) this.byDay.delete(abs);
        }
      }
    }
  }
}
