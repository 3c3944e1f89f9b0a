import { describe, expect, it } from 'vitest';
import { groupMedian, type Days, type MeterDaily } from '../../services/inspection/detection/long-memory.ts';
import {
  IncrementalPeerMedians,
  MEDIAN_FEATURES,
} from '../../services/inspection/detection/peer-medians-incremental.ts';
import { prng } from '../helpers/prng.ts';

// The live engine keeps each peer group's daily medians member by member instead of sorting every
// member's days in the hour every group wants them. The promise: after any sequence of refreshes
// the medians are those groupMedian computes from the members as they are then, bit for bit. The
// attack: a recomputation by the other method after every refresh, over members whose days slide
// (the store's first whole day moves), with gaps, ties, repeated refreshes with the same values,
// members never refreshed, and group sizes from 3 peers to a whole campus.

function member(rand: () => number, firstDay: number, len: number): MeterDaily {
  const series = () =>
    Float64Array.from({ length: len }, () => {
      const u = rand();
      if (u < 0.1) return Number.NaN;
      return u < 0.2 ? 0.5 : u < 0.25 ? 0 : Math.round((rand() - 0.5) * 1e6) / 1e3;
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

function daysAt(firstDay: number, D: number): Days {
  return { k0: 0, D, firstDay, weekend: new Uint8Array(D), tFrom: 0, tTo: D, refStart: 0, refEnd: D };
}

const same = (a: number, b: number) => Object.is(a, b) || a === b;

describe('peer medians kept member by member', () => {
  it('equal groupMedian of the members as they are, after every refresh, for every size', () => {
    const rand = prng(1919);
    let judged = 0;
    for (const size of [3, 4, 9, 25, 33, 64, 200]) {
      const inc = new IncrementalPeerMedians(size);
      const members: (MeterDaily | undefined)[] = Array.from({ length: size }, () => undefined);
      let first = 5000;
      for (let step = 0; step < 3 * size; step++) {
        // The window slides a day now and then; a member refreshed now covers the current days.
        if (rand() < 0.1) first++;
        const m = Math.floor(rand() * size);
        const D = 30 + Math.floor(rand() * 3);
        // Now and then a refresh gives the very values it had (a quiet day): out, then in again.
        const cur =
          members[m] && rand() < 0.1 ? members[m] : member(rand, first + Math.floor(rand() * 2) - 1, D);
        inc.replace(members[m], cur);
        members[m] = cur;
        if (step % Math.max(1, size >> 3) !== 0) continue;
        const days = daysAt(first, 30);
        const got = inc.medians(days);
        for (const key of MEDIAN_FEATURES) {
          const want = groupMedian(members, days, key);
          for (let d = 0; d < days.D; d++) {
            expect(same(got[key][d]!, want[d]!), `size ${size} step ${step} ${key} day ${d}`).toBe(true);
            if (want[d] === want[d]) judged++;
          }
        }
      }
    }
    expect(judged).toBeGreaterThan(10_000);
  });

  it('drops a day no member covers any more, and refuses a value it does not hold', () => {
    const rand = prng(7);
    const inc = new IncrementalPeerMedians(4);
    const a = member(rand, 10, 5);
    const b = member(rand, 12, 5);
    inc.replace(undefined, a);
    inc.replace(undefined, b);
    expect(inc.dayCount).toBeGreaterThanOrEqual(6);
    inc.replace(a, undefined);
    inc.replace(b, undefined);
    expect(inc.dayCount).toBe(0);
    // Removing what was never added is a bookkeeping error, not a median quietly off by one value.
    expect(() => inc.replace(a, undefined)).toThrow(/peer medians/);
  });
});
