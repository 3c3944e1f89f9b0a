import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { indexAfter, indexAtOrAfter } from '../../services/metering/sorted-points.ts';

/**
 * The bisections consumption and VEE find their bracketing readings with, against a linear scan
 * (a recomputation by another method) over sorted times with repeats, empty lists and instants
 * before, between, on and after the points.
 */
const sortedPoints = fc
  .array(fc.integer({ min: -50, max: 50 }), { maxLength: 40 })
  .map((ts) => ts.sort((a, b) => a - b).map((t) => ({ ts: t, value: t * 2 })));

describe('sorted points', () => {
  it('indexAtOrAfter is the first point at or after t, indexAfter the first after it', () => {
    fc.assert(
      fc.property(sortedPoints, fc.integer({ min: -60, max: 60 }), (points, t) => {
        const firstAtOrAfter = points.findIndex((p) => p.ts >= t);
        const firstAfter = points.findIndex((p) => p.ts > t);
        expect(indexAtOrAfter(points, t)).toBe(firstAtOrAfter < 0 ? points.length : firstAtOrAfter);
        expect(indexAfter(points, t)).toBe(firstAfter < 0 ? points.length : firstAfter);
      }),
      { numRuns: 2000 },
    );
  });

  it('on repeated times: at-or-after finds the first of them, after skips them all', () => {
    const points = [1, 3, 3, 3, 7].map((ts) => ({ ts }));
    expect(indexAtOrAfter(points, 3)).toBe(1);
    expect(indexAfter(points, 3)).toBe(4);
    expect(indexAtOrAfter([], 3)).toBe(0);
    expect(indexAfter(points, 9)).toBe(5);
  });
});
