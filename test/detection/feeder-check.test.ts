import { describe, expect, it } from 'vitest';
import { detect } from '../../services/inspection/detection/engine.ts';
import { syntheticFeeder } from './synthetic-feeder.ts';

const DAYS = 200;
const ONSET = 140 * 24; // 60 days before the end: long inside any 28-day baseline

// As `campus-energy detect` runs: the balance over all the data, so the feeder's unexplained energy
// before each onset is known.
describe('the upstream meter tells a theft from a real change of use', () => {
  const f = syntheticFeeder({
    seed: 11,
    days: DAYS,
    buildings: 8,
    // B3's meter registers 60 % of what it takes; B5 really uses 60 % (a floor closed) from 20
    // days earlier, so its later weeks carry B3's loss. (Two changes on the same day would both be
    // credited with the feeder's loss: the check is per meter, at its own onset.)
    edit: { B3: (x, h) => (h >= ONSET ? 0.6 * x : x) },
    use: { B5: (x, h) => (h >= ONSET - 20 * 24 ? 0.6 * x : x) },
  });
  const res = detect(f.input);
  const score = (id: string) => res.scores.find((s) => s.kind === 'meter' && s.id === id)!;
  const lasting = (id: string) => res.findings.find((x) => x.type === 'meter-drop' && x.meter === id);

  it('both drops are lasting changes against the peers, but only the one the feeder lost alerts', () => {
    const thief = lasting('B3');
    expect(thief).toBeDefined();
    const fig = thief!.evidence.figures;
    expect(fig.upstreamCheck).toBe('level');
    // The feeder lost about what the meter no longer shows.
    expect(Number(fig.upstreamShare)).toBeGreaterThan(0.7);
    expect(Number(fig.upstreamShare)).toBeLessThan(1.3);
    expect(thief!.reason).toMatch(/upstream meter lost \d+ % of that change/);
    expect(score('B3').alert).toBe(true);
    // B5's feeder saw the same drop: a real change of use, weighed down, not raised.
    const honest = lasting('B5');
    if (honest) expect(honest.reason).toMatch(/upstream meter saw the change too/);
    expect(score('B5').score).toBeLessThan(score('B3').score / 2);
    expect(score('B5').alert).toBe(false);
  });
});

describe('a reversed day (Jokar h6) is confirmed by the feeder hour by hour', () => {
  // The truth first, to reverse it (the same seed gives the same loads).
  const b4 = syntheticFeeder({ seed: 5, days: DAYS, buildings: 8 }).truth.get('B4')!;
  const f = syntheticFeeder({
    seed: 5,
    days: DAYS,
    buildings: 8,
    edit: { B4: (x, h) => (h >= ONSET ? b4[Math.floor(h / 24) * 24 + 23 - (h % 24)]! : x) },
  });
  const res = detect(f.input);
  const score = (id: string) => res.scores.find((s) => s.kind === 'meter' && s.id === id)!;

  it('raises the meter whose daily energy is right but whose hours the feeder does not match', () => {
    const thief = res.findings.find((x) => x.type === 'meter-drop' && x.meter === 'B4');
    expect(thief).toBeDefined();
    expect(thief!.evidence.figures.upstreamCheck).toBe('shape');
    expect(Number(thief!.evidence.figures.upstreamShare)).toBeGreaterThan(0.7);
    expect(Number(thief!.evidence.figures.upstreamShare)).toBeLessThan(1.3);
    expect(score('B4').alert).toBe(true);
    for (const id of ['B1', 'B2', 'B3', 'B5', 'B6', 'B7', 'B8'])
      expect(score(id).score, id).toBeLessThan(score('B4').score / 2);
  });
});
