/**
 * Binary searches over points sorted by time (`ts`, ascending; equal times allowed), as readings,
 * register spans and trusted values are kept: the consumption between two instants and VEE's rules
 * find their bracketing readings with these instead of each keeping its own copy of the loop.
 */

/** Index of the first point with `ts >= t`; `points.length` when there is none. */
export function indexAtOrAfter(points: readonly { ts: number }[], t: number): number {
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (points[mid]!.ts < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first point with `ts > t`; `points.length` when there is none. */
export function indexAfter(points: readonly { ts: number }[], t: number): number {
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (points[mid]!.ts <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
