import { describe, expect, it } from 'vitest';
import { heatingDetector } from '../../services/inspection/detection/heating.ts';
import type { DetectionInput } from '../../services/inspection/detection/types.ts';
import { mulberry32 } from '../../simulators/meters/random.ts';
import { officeBuildings, outdoorTemps } from './heating-buildings.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const START = Date.UTC(2025, 8, 1); // September: autumn into winter
const DAYS = 180;
const ONSET_DAY = 140; // 40 days before the end: older than the 14 + 14 days the daily test looks at

/**
 * Ten buildings on one feeder through an autumn into winter, hourly. Each has its own size, office
 * hours and noise; B2 always answered the cold (its own heating's pumps: 3 % of its night load per
 * K); B1 gets a heater on a thermostat from ONSET_DAY, drawing by the hourly cold day and night.
 */
function campus(heaterKwPerK: number): DetectionInput {
  const rand = mulberry32(3);
  const temp = outdoorTemps(DAYS * 24, rand, (day) => 16 - (14 * day) / DAYS);
  return officeBuildings({
    start: START,
    temp,
    rand,
    firstWeekday: 1, // 2025-09-01 is a Monday
    extra: (id, h, kw, cold, base) => {
      if (id === 'B2') return kw + 0.03 * base * cold;
      if (id === 'B1' && h >= ONSET_DAY * 24) return kw + heaterKwPerK * base * cold;
      return kw;
    },
  });
}

describe("electric heating against the building's own response to the cold", () => {
  it('finds a heater left on since weeks ago, with its onset, and not the building that always answered the cold', () => {
    // 2 % of B1's night load per K of cold: about 10 % more at night by the end.
    const { findings, scores } = heatingDetector().run(campus(0.02));
    const alerted = scores.filter((s) => s.alert).map((s) => s.id);
    expect(alerted).toEqual(['B1']);
    const f = findings.find((x) => x.meter === 'B1')!;
    expect(f.evidence.figures.model).toMatch(/night base load/);
    expect(Math.abs(f.since - (START + ONSET_DAY * DAY))).toBeLessThanOrEqual(7 * DAY);
    expect(f.reason).toMatch(/night load in proportion to the cold/);
    // The energy it reports is the heater's, within a third.
    const truth = campus(0.02);
    let heater = 0;
    const b1 = truth.meters.get('B1')!.register;
    const plain = campus(0).meters.get('B1')!.register;
    const fromIdx = Math.round((f.since - START) / HOUR);
    heater = b1.at(-1)!.value - b1[fromIdx]!.value - (plain.at(-1)!.value - plain[fromIdx]!.value);
    expect(Number(f.evidence.figures.extraKwh)).toBeGreaterThan(0.67 * heater);
    expect(Number(f.evidence.figures.extraKwh)).toBeLessThan(1.33 * heater);
  });

  it('raises nothing on the same campus without the heater', () => {
    const { scores } = heatingDetector().run(campus(0));
    expect(scores.filter((s) => s.alert)).toEqual([]);
  });
});
