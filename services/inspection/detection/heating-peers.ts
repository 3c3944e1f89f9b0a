/**
 * The median of a meter's peers, day by day, without recomputing it for every meter.
 *
 * The heating statistics compare each meter's day with the median of the same day over its peers
 * (the group less the meter itself), for every meter and every past window of its history: sorting
 * the peers' values per meter per day made most of the detector's time. Here each day's values of
 * a whole group are sorted once; the median without one member is read off the sorted values by
 * skipping that member's place, which is the same number the median of the others gives.
 */
export class PeerDays {
  private readonly byDay = new Map<number, Float64Array>();

  /** `members`: each member's value per day (a member without a value on a day is not counted). */
  constructor(members: Iterable<ReadonlyMap<number, number>>) {
    const lists = new Map<number, number[]>();
    for (const values of members)
      for (const [day, v] of values) (lists.get(day) ?? lists.set(day, []).get(day)!).push(v);
    for (const [day, xs] of lists) this.byDay.set(day, Float64Array.from(xs).sort());
  }

  /**
   * Median of the day's values less one value equal to `own` (the member asking: undefined when
   * it has none that day), or `fallback` when fewer than `min` values remain.
   */
  medianWithout(day: number, own: number | undefined, min: number, fallback: number): number {
    const s = this.byDay.get(day);
    if (!s) return fallback;
    const skip = own === undefined ? -1 : indexOf(s, own);
    const n = skip < 0 ? s.length : s.length - 1;
    if (n < min || n === 0) return fallback;
    // The i-th of the others is the i-th value, or the next one from the skipped place on.
    const h = n >> 1;
    const upper = skip >= 0 && h >= skip ? s[h + 1]! : s[h]!;
    if (n % 2) return upper;
    const lower = skip >= 0 && h - 1 >= skip ? s[h]! : s[h - 1]!;
    return (lower + upper) / 2;
  }
}

/** Index of a value equal to x in ascending s (binary search), or −1. */
function indexOf(s: Float64Array, x: number): number {
  let lo = 0;
  let hi = s.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (s[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo < s.length && s[lo] === x ? lo : -1;
}

/** First index of rows (ascending by day) whose day is at least `day`. */
export function firstDayAtLeast(rows: readonly { day: number }[], day: number): number {
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (rows[mid]!.day < day) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
