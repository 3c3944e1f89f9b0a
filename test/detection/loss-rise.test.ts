import { describe, expect, it } from 'vitest';
import { detectInput } from '../../services/inspection/detection/engine.ts';
import { DAY, HOUR, START, syntheticFeeder } from './synthetic-feeder.ts';

// One building of eight registers 3 % less from 100 days before the end (about 0.4 % of the
// feeder's energy), under a feeder meter with a 1 % hourly error: too small for the technical-loss
// band, which a year that contains the theft has also learned, but a step of the feeder's daily
// unexplained energy from its first day.
const DAYS = 240;
const onset = (DAYS - 100) * 24;
const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8];

function feeder(seed: number, theft: boolean, ended = Infinity, gapDays = 0, quietDays = 0) {
  const quiet = (DAYS - quietDays) * 24;
  const { input } = syntheticFeeder({
    seed,
    days: DAYS,
    buildings: 8,
    feederNoise: 0.01,
    ...(theft ? { edit: { B3: (x: number, h: number) => (h < onset || h >= ended ? x : 0.97 * x) } } : {}),
    // A vacation: every building uses 40 % of its usual over the last days (both meters see it).
    ...(quietDays > 0
      ? {
          use: Object.fromEntries(
            [1, 2, 3, 4, 5, 6, 7, 8].map((b) => [
              `B${b}`,
              (x: number, h: number) => (h >= quiet ? 0.4 * x : x),
            ]),
          ),
        }
      : {}),
  });
  // B5's readings of the last days not in yet (its concentrator's link down): the node is
  // uncomputable there.
  if (gapDays > 0) {
    const b5 = input.meters.get('B5')!;
    b5.register = b5.register.filter((r) => r.ts <= START + (DAYS - gapDays) * DAY);
  }
  return detectInput(input);
}

describe('a feeder whose daily unexplained energy rose and stays risen', () => {
  it('alerts on most such feeders (7 of 8 draws; 1 before the rise counted) and on no clean one', () => {
    let alerted = 0;
    for (const seed of SEEDS) {
      const res = feeder(seed, true);
      if (res.scores.find((s) => s.kind === 'node' && s.id === 'F')!.alert) alerted++;
      const clean = feeder(seed, false);
      expect(clean.scores.find((s) => s.kind === 'node' && s.id === 'F')!.alert, `clean seed ${seed}`).toBe(
        false,
      );
      expect(
        clean.findings.filter((f) => f.key.includes(':rise:')),
        `clean seed ${seed}`,
      ).toEqual([]);
    }
    expect(alerted).toBeGreaterThanOrEqual(6);
  });

  it('says since when, by how much and against what, with the suspects', () => {
    const rises = SEEDS.map((seed) =>
      feeder(seed, true).findings.find((f) => f.key.includes(':rise:')),
    ).filter((f) => f !== undefined);
    expect(rises.length).toBeGreaterThanOrEqual(4);
    for (const f of rises) {
      // The onset is found within two weeks of the theft's first day (the days are noisy).
      expect(Math.abs(f.since - (START + onset * HOUR))).toBeLessThanOrEqual(14 * DAY);
      expect(f.evidence.figures?.share).toBeGreaterThan(0.002);
      expect(f.evidence.seen! - f.evidence.expected!).toBeGreaterThan(0);
      expect(f.suspects?.length).toBeGreaterThan(0);
      expect(f.reason).toMatch(/unexplained energy at F up by .* since \d{4}-\d\d-\d\d/);
    }
  });

  it("still alerts when a meter's last days are not in (the node uncomputable there): 6 of 8, none before", () => {
    let alerted = 0;
    for (const seed of SEEDS) {
      const node = feeder(seed, true, Infinity, 9).scores.find((s) => s.kind === 'node' && s.id === 'F')!;
      if (node.alert) alerted++;
    }
    // As many as without the gap: the last week of days the node could be computed on judges.
    expect(alerted).toBeGreaterThanOrEqual(6);
  });

  it('keeps some of its weight through a quiet last week (a 3 % theft shrinks with the use)', () => {
    // A vacation's week brings the theft's daily loss down to 40 % of the rise: nearer the level
    // before than the risen one, yet no sure sign that it ended. The rise keeps a part of its weight
    // (the node's score is its rise's, "rising-loss") instead of none, and never more than without
    // the vacation (a rise that ended a month ago: the tests below).
    const node = (res: ReturnType<typeof feeder>) =>
      res.scores.find((s) => s.kind === 'node' && s.id === 'F')!;
    let kept = 0;
    for (const seed of SEEDS) {
      const quiet = node(feeder(seed, true, Infinity, 0, 7));
      if (quiet.reason.startsWith('rising-loss')) kept++;
      expect(quiet.score, `seed ${seed}`).toBeLessThanOrEqual(node(feeder(seed, true)).score + 1e-9);
    }
    // Measured: all 8 draws (6 before: the other two had dropped the rise for its low week).
    expect(kept).toBe(SEEDS.length);
  });

  it('does not raise a rise that ended a month ago: history, not a loss going on', () => {
    for (const seed of SEEDS) {
      const res = feeder(seed, true, (DAYS - 30) * 24);
      expect(res.scores.find((s) => s.kind === 'node' && s.id === 'F')!.alert, `seed ${seed}`).toBe(false);
      for (const f of res.findings.filter((x) => x.key.includes(':rise:')))
        expect(f.reason, `seed ${seed}`).not.toMatch(/ongoing/);
    }
  });

  it('keeps a rise that ended on record: from when to when, and about the energy lost', () => {
    const end = (DAYS - 30) * 24;
    let kept = 0;
    for (const seed of SEEDS) {
      const res = feeder(seed, true, end);
      const f = res.findings.find((x) => x.key.includes(':rise:'));
      if (!f) continue;
      kept++;
      expect(f.reason).toMatch(/was up by .* from \d{4}-\d\d-\d\d to \d{4}-\d\d-\d\d .*ended/);
      expect(Math.abs(f.since - (START + onset * HOUR))).toBeLessThanOrEqual(14 * DAY);
      expect(Math.abs(f.evidence.to - (START + end * HOUR))).toBeLessThanOrEqual(7 * DAY);
      // 3 % of B3's use over the theft's days, within a half.
      const b3 = syntheticFeeder({ seed, days: DAYS, buildings: 8, feederNoise: 0.01 }).truth.get('B3')!;
      let lost = 0;
      for (let h = onset; h < end; h++) lost += 0.03 * b3[h]!;
      expect(f.unexplained!, `seed ${seed}`).toBeGreaterThan(0.5 * lost);
      expect(f.unexplained!, `seed ${seed}`).toBeLessThan(1.5 * lost);
      expect(f.evidence.seen! - f.evidence.expected!).toBeCloseTo(f.unexplained!, 0);
    }
    // 5 of 8 draws (0 before: an ended rise left nothing behind); the rest are below 6 standard errors.
    expect(kept).toBeGreaterThanOrEqual(4);
  });
});
