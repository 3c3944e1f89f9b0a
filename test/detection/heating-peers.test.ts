import { describe, expect, it } from 'vitest';
import { firstDayAtLeast, PeerDays } from '../../services/inspection/detection/heating-peers.ts';
import { mulberry32 } from '../../simulators/meters/random.ts';

/** The median the heating statistics took before: the others' values of the day, sorted. */
function naiveMedian(values: number[]): number {
  const a = [...values].sort((p, q) => p - q);
  const h = a.length >> 1;
  return a.length % 2 ? a[h]! : (a[h - 1]! + a[h]!) / 2;
}

describe("a group's day medians without the meter asking", () => {
  it('equal the median of the other members, with ties, missing days and small groups', () => {
    const rand = mulberry32(5);
    for (let trial = 0; trial < 200; trial++) {
      const size = 1 + Math.floor(rand() * 9);
      // Values on a coarse grid so that members tie; each member misses some days.
      const members = Array.from({ length: size }, () => {
        const m = new Map<number, number>();
        for (let day = 0; day < 20; day++) if (rand() > 0.2) m.set(day, Math.round(rand() * 6) / 2 - 1);
        return m;
      });
      const group = new PeerDays(members);
      members.forEach((own, i) => {
        for (let day = 0; day < 20; day++) {
          const others = members.filter((_, j) => j !== i).flatMap((m) => (m.has(day) ? [m.get(day)!] : []));
          const expected = others.length >= 3 ? naiveMedian(others) : 0;
          expect(group.medianWithout(day, own.get(day), 3, 0)).toBe(expected);
        }
      });
    }
  });

  it('a value asked for without a member of its own is the median of all', () => {
    const group = new PeerDays([new Map([[1, 4]]), new Map([[1, 1]]), new Map([[1, 2]]), new Map([[1, 10]])]);
    expect(group.medianWithout(1, undefined, 3, 0)).toBe(3);
    expect(group.medianWithout(1, 10, 3, 0)).toBe(2);
    expect(group.medianWithout(1, 10, 4, -1)).toBe(-1);
    expect(group.medianWithout(2, undefined, 3, 0)).toBe(0);
  });

  it('finds the first row of a day by bisection', () => {
    const rows = [3, 5, 6, 9].map((day) => ({ day }));
    expect([0, 3, 4, 5, 7, 9, 10].map((d) => firstDayAtLeast(rows, d))).toEqual([0, 0, 1, 1, 3, 3, 4]);
  });
});
