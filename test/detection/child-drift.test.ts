import { describe, expect, it } from 'vitest';
import { detect } from '../../services/inspection/detection/engine.ts';
import { mulberry32 } from '../../simulators/meters/random.ts';
import { HOUR, START, syntheticFeeder } from './synthetic-feeder.ts';

const DAYS = 200;
const H = DAYS * 24;
const ONSET = H - 60 * 24;

/**
 * A feeder of eight buildings whose meters have 1 % noise per hour; B3's meter changes what it
 * registers from ONSET by `b3(x, h)`. The feeder meter measures the true sum plus 2 % loss.
 */
function feeder(seed: number, b3?: (x: number, h: number) => number) {
  const noise = mulberry32(seed + 100);
  const edit: Record<string, (x: number, h: number) => number> = {};
  for (let b = 1; b <= 8; b++)
    edit[`B${b}`] = (x, h) => {
      const seen = b === 3 && b3 && h >= ONSET ? b3(x, h) : x;
      return seen * (1 + 0.017 * (2 * noise() - 1));
    };
  return detect(syntheticFeeder({ seed, days: DAYS, buildings: 8, edit }).input);
}

// A current transformer ageing: B3 reads low by an error growing from 0 to 2 % over 60 days. The
// feeder's daily unexplained share moves by a quarter of a percent: within its day-to-day noise
// for the node's own ramp test, but the hourly loss follows B3's load times a ramp.
describe('a drifting meter under a feeder is raised as meter drift and named', () => {
  const ramp = (x: number, h: number) => x * (1 - (0.02 * (h - ONSET)) / (H - ONSET));
  const res = feeder(1, ramp);
  const drift = res.findings.find((f) => f.type === 'meter-drift');

  it('names B3 with its error, since when, and the energy it failed to register', () => {
    expect(drift).toBeDefined();
    expect(drift!.meter).toBe('B3');
    expect(drift!.node).toBe('F');
    const ev = drift!.evidence;
    expect(Number(ev.figures.driftAtEnd)).toBeGreaterThan(-0.03);
    expect(Number(ev.figures.driftAtEnd)).toBeLessThan(-0.012);
    // The ramp begins within two weeks of the true onset.
    expect(Math.abs(drift!.since - (START + ONSET * HOUR))).toBeLessThanOrEqual(14 * 86_400_000);
    expect(ev.model).toMatch(/ramp/);
    // Recomputed by another way: the true loads times the error, summed hour by hour.
    const truth = syntheticFeeder({ seed: 1, days: DAYS, buildings: 8 }).truth.get('B3')!;
    let missing = 0;
    for (let h = ONSET; h < H; h++) missing += truth[h]! - ramp(truth[h]!, h);
    const found = Number(ev.figures.energyNotRegistered);
    expect(found).toBeGreaterThan(0.6 * missing);
    expect(found).toBeLessThan(1.4 * missing);
    expect(ev.expected! - ev.seen!).toBeCloseTo(found, 0);
    // Data for a chart: the error the feeder sees day by day, and the fitted ramp.
    const quantities = ev.series!.map((s) => s.quantity);
    expect(quantities).toContain('daily_relative_error_seen_by_node');
    expect(quantities).toContain('daily_relative_error_fitted_ramp');
    // The node's daily unexplained share too, which the alert page charts for a drift.
    const share = ev.series!.find((s) => s.quantity === 'daily_unexplained_share')!;
    expect(share.meter).toBe('F');
    expect(share.points.at(-1)![1]).toBeGreaterThan(share.points[0]![1]);
    expect(ev.series![0]!.points.length).toBeGreaterThan(100);
  });

  it('is not raised as theft: no loss alert at the feeder, B3 not alerting', () => {
    expect(res.findings.some((f) => f.type === 'energy-balance' && !f.key.includes(':negative:'))).toBe(
      false,
    );
    expect(res.scores.find((s) => s.id === 'B3')!.alert).toBe(false);
  });
});

describe('a theft is a step, not a drift', () => {
  it('B3 registering 90 % from one day on is no meter drift', () => {
    const res = feeder(1, (x) => 0.9 * x);
    expect(res.findings.filter((f) => f.type === 'meter-drift')).toEqual([]);
    expect(res.findings.some((f) => f.type === 'energy-balance' || f.meter === 'B3')).toBe(true);
  });
});

describe('clean feeders raise no drift', () => {
  it.each([1, 2, 3, 4])('seed %i', (seed) => {
    const res = feeder(seed);
    expect(res.findings.filter((f) => f.type === 'meter-drift')).toEqual([]);
  });
});
