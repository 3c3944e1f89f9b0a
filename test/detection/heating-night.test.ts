import { describe, expect, it } from 'vitest';
import { heatingDetector } from '../../services/inspection/detection/heating.ts';
import type { DetectionInput } from '../../services/inspection/detection/types.ts';
import { mulberry32 } from '../../simulators/meters/random.ts';
import { officeBuildings, outdoorTemps } from './heating-buildings.ts';

const START = Date.UTC(2025, 8, 1); // September: autumn into winter
const DAYS = 180;
const ONSET_DAY = 160; // 20 days before the end

/**
 * Ten office buildings through an autumn into winter, hourly; B1 gets a small heater on a
 * thermostat from ONSET_DAY (0.2 % of its base load per K of cold: about 3 % more at night by the
 * end, under 2 % of its days).
 */
function campus(heaterKwPerK: number, seed: number): DetectionInput {
  const rand = mulberry32(seed);
  const temp = outdoorTemps(DAYS * 24, rand, (day) => 16 - (14 * day) / DAYS);
  return officeBuildings({
    start: START,
    temp,
    rand,
    firstWeekday: 1, // 2025-09-01 is a Monday
    extra: (id, h, kw, cold, base) =>
      id === 'B1' && h >= ONSET_DAY * 24 ? kw + heaterKwPerK * base * cold : kw,
  });
}

describe('the night statistics pooled', () => {
  it('find a heater that neither the recent nights nor the onset scan alone is sure of', () => {
    for (const seed of [3, 4, 5]) {
      const input = campus(0.002, seed);
      const { findings, scores } = heatingDetector().run(input);
      expect(scores.filter((s) => s.alert).map((s) => s.id)).toEqual(['B1']);
      const f = findings.find((x) => x.meter === 'B1')!;
      expect(f.evidence.figures.model).toMatch(/pooled/);
      expect(Number(f.evidence.figures.nightZ)).toBeGreaterThan(0);
      expect(f.evidence.figures.onsetZ).toBeDefined();
      // Without the pooled judgement (its alert level out of reach) the same heater goes unseen:
      // the day's response is too small a share of the day, the scan alone too unsure.
      const alone = heatingDetector({ degreeDay: { nightMinZ: 1e9 } }).run(input);
      expect(alone.scores.find((s) => s.id === 'B1')!.alert).toBe(false);
    }
  });

  it('raises nothing on the same campuses without the heater', () => {
    for (const seed of [3, 4, 5])
      expect(
        heatingDetector()
          .run(campus(0, seed))
          .scores.filter((s) => s.alert),
      ).toEqual([]);
  });
});

describe('a meter with a day missing from the recent fortnight', () => {
  it('is still judged, and its heater found', () => {
    const whole = campus(0.01, 3);
    const b1 = whole.meters.get('B1')!;
    // A communication gap of a day and a half, five days before the end: no register sample.
    const end = whole.to;
    const gapFrom = end - 5 * 86_400_000;
    const gapTo = gapFrom + 36 * 3_600_000;
    const meters = new Map(whole.meters);
    meters.set('B1', { ...b1, register: b1.register.filter((s) => s.ts <= gapFrom || s.ts >= gapTo) });
    const input = { ...whole, meters };
    const { scores } = heatingDetector().run(input);
    const s = scores.find((x) => x.id === 'B1')!;
    expect(s.reason).not.toMatch(/too few whole days/);
    expect(scores.filter((x) => x.alert).map((x) => x.id)).toEqual(['B1']);
  });
});
