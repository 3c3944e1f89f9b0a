import { describe, expect, it } from 'vitest';
import { groupMedian, type Days, type MeterDaily } from '../../services/inspection/detection/long-memory.ts';
import { prng } from '../helpers/prng.ts';

// The peers' medians are the live detector's largest cost at the day's turn (every group at
// once), so they are taken with an insertion sort on typed arrays. The promise: the very values
// of a full sort of each day's known peer values (the same middle element, the same mean of the
// two middle ones), so no long-memory statistic moves. The attack: a recomputation by a different
// method (a comparator sort of a plain array) over members with gaps, other first days, shorter
// series, repeated values and every group size the engine meets (3 peers to a whole campus).

function member(rand: () => number, firstDay: number, len: number): MeterDaily {
  const series = () =>
    Float64Array.from({ length: len }, () => {
      const u = rand();
      if (u < 0.1) return Number.NaN;
      // Repeated values (ties) as well as spread ones.
      return u < 0.2 ? 0.5 : Math.round((rand() - 0.5) * 1e6) / 1e3;
    });
  return {
    firstDay,
    X: series(),
    L: series(),
    S: series(),
    C: series(),
    V: series(),
    vMid: 0,
    R: series(),
    Y: series(),
  };
}

function reference(members: readonly (MeterDaily | undefined)[], days: Days, key: 'L' | 'R'): number[] {
  const out: number[] = [];
  for (let d = 0; d < days.D; d++) {
    const xs: number[] = [];
    for (const p of members) {
      if (!p) continue;
      const i = days.firstDay + d - p.firstDay;
      const y = i >= 0 && i < p[key].length ? p[key][i]! : Number.NaN;
      if (y === y) xs.push(y);
    }
    xs.sort((a, b) => a - b);
    const h = xs.length >> 1;
    out.push(xs.length < 3 ? Number.NaN : xs.length % 2 ? xs[h]! : (xs[h - 1]! + xs[h]!) / 2);
  }
  return out;
}

describe('peer group medians', () => {
  it('equal a full sort’s median for every day, group size, gap and offset', () => {
    const rand = prng(19);
    let judged = 0;
    for (const size of [3, 4, 7, 24, 25, 32, 33, 64, 65, 200]) {
      for (let rep = 0; rep < 5; rep++) {
        const D = 40 + Math.floor(rand() * 30);
        const days: Days = {
          k0: 0,
          D,
          firstDay: 1000,
          weekend: new Uint8Array(D),
          tFrom: 0,
          tTo: D,
          refStart: 0,
          refEnd: D,
        };
        const members = Array.from({ length: size }, () =>
          // Some peers not refreshed yet (undefined), some starting a day or two off, some shorter.
          rand() < 0.05
            ? undefined
            : member(rand, 1000 + Math.floor(rand() * 5) - 2, D - Math.floor(rand() * 3)),
        );
        for (const key of ['L', 'R'] as const) {
          const got = Array.from(groupMedian(members, days, key));
          const want = reference(members, days, key);
          for (let d = 0; d < D; d++) {
            expect(Object.is(got[d], want[d]) || got[d] === want[d], `size ${size} day ${d}`).toBe(true);
            if (want[d] === want[d]) judged++;
          }
        }
      }
    }
    // The comparison covered real medians, not only days left out.
    expect(judged).toBeGreaterThan(4000);
  });

  it('leaves out a day fewer than three peers have', () => {
    const days: Days = {
      k0: 0,
      D: 2,
      firstDay: 0,
      weekend: new Uint8Array(2),
      tFrom: 0,
      tTo: 2,
      refStart: 0,
      refEnd: 2,
    };
    const at = (l: number[]): MeterDaily => ({ ...member(prng(1), 0, 2), L: Float64Array.from(l) });
    const med = groupMedian([at([1, 1]), at([2, Number.NaN]), at([4, Number.NaN]), undefined], days, 'L');
    expect(med[0]).toBe(2);
    expect(Number.isNaN(med[1])).toBe(true);
  });
});
