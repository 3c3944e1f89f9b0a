import { describe, expect, it } from 'vitest';
import { detectInput } from '../../services/inspection/detection/engine.ts';
import { lossOnset, matchesAt, otherRises } from '../../services/inspection/detection/loss-match.ts';
import { DAY, START, syntheticFeeder } from './synthetic-feeder.ts';

/**
 * Two thieves under one feeder (the real-data case: Jokar thefts on 15 % of the buildings put two
 * on a feeder of eight about as often as not). B1 registers 60 % from day 100; B5, a smaller
 * building, 75 % from day 160. The node's loss steps up twice; its largest rise is B1's, and the
 * match at that rise credits B1 alone (B5 had not started). The second step is found by scanning
 * the days after the first rise on their own, and the loss from there follows B5's shortfall.
 */
const DAYS = 200;
const FIRST = 100;
const SECOND = 160;
const iso = (day: number) => new Date(START + day * DAY).toISOString().slice(0, 10);

/** Two thieves' feeder of one draw: the second rise found and matched, and the engine's word on B5. */
function secondThief(seed: number): { found: boolean; credited: boolean } {
  const f = syntheticFeeder({
    seed,
    days: DAYS,
    buildings: 8,
    sizes: [2, 1, 1, 1, 1, 1, 1, 1],
    edit: {
      B1: (x, h) => (h >= FIRST * 24 ? 0.6 * x : x),
      B5: (x, h) => (h >= SECOND * 24 ? 0.75 * x : x),
    },
    feederNoise: 0.01,
  });
  const res = detectInput(f.input);
  const node = res.balances.find((b) => b.id === 'F')!;
  const id = (c: number) => res.store.topology.ids[c]!;
  const lo = lossOnset(res.store, node, 56, 150)!;
  // The largest rise is B1's, and its match credits B1 (B5 had not started).
  expect(Math.abs(lo.onset.t - FIRST)).toBeLessThanOrEqual(3);
  const top = matchesAt(res.store, node, lo, 56).reduce((a, b) => (b.z > a.z ? b : a));
  expect(id(top.child)).toBe('B1');
  const later = otherRises(lo, 56, 150, 4).find((o) => o.t > lo.onset.t);
  let found = false;
  if (later && Math.abs(later.t - SECOND) <= 1) {
    const second = matchesAt(res.store, node, lo, 56, later);
    const b5 = second.find((m) => id(m.child) === 'B5')!;
    found = b5.z > 4 && b5.ratio > 0.5 && b5.ratio < 1.5 && second.every((m) => m === b5 || m.z < b5.z / 2);
  }
  // The engine credits B5 with that match: its reason names the second rise's day (± 1: local days).
  const reason = res.scores.find((s) => s.kind === 'meter' && s.id === 'B5')!.reason;
  const since = /the loss follows its shortfall/.test(reason)
    ? /since (\d{4}-\d\d-\d\d)/.exec(reason)?.[1]
    : undefined;
  const credited = since !== undefined && [SECOND - 1, SECOND, SECOND + 1].map(iso).includes(since);
  return { found, credited };
}

describe('loss match: a second thief under the same feeder', () => {
  it('the second rise is found and its loss follows the second thief in most draws', () => {
    const draws = [1, 2, 3, 4, 5, 6].map(secondThief);
    // Measured: 4 of 6 (in draws 1 and 6 the second rise stays under 4 standard errors: B1's
    // shortfall moves with the season, so the days before B5's onset are not level); before the
    // second rise was looked for, B5 was credited in none.
    expect(draws.filter((d) => d.found).length).toBeGreaterThanOrEqual(4);
    expect(draws.filter((d) => d.credited).length).toBeGreaterThanOrEqual(4);
  });

  for (const seed of [5, 6, 7, 8, 9, 10]) {
    it(`seed ${seed}: one thief only: another rise, if any, credits no honest meter`, () => {
      const f = syntheticFeeder({
        seed,
        days: DAYS,
        buildings: 8,
        edit: { B3: (x, h) => (h >= FIRST * 24 ? 0.7 * x : x) },
        feederNoise: 0.01,
      });
      const res = detectInput(f.input);
      const node = res.balances.find((b) => b.id === 'F')!;
      const id = (c: number) => res.store.topology.ids[c]!;
      const lo = lossOnset(res.store, node, 56, 150)!;
      for (const o of otherRises(lo, 56, 150, 4))
        for (const m of matchesAt(res.store, node, lo, 56, o))
          if (id(m.child) !== 'B3') expect(m.z, `${id(m.child)} at day ${o.t}`).toBeLessThan(2);
      for (const s of res.scores)
        if (s.kind === 'meter' && s.id !== 'B3') expect(s.alert, `${s.id}: ${s.reason}`).toBe(false);
    });
  }
});
