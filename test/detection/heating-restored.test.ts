import { describe, expect, it } from 'vitest';
import { heatingDetector } from '../../services/inspection/detection/heating.ts';
import type { DetectionInput } from '../../services/inspection/detection/types.ts';
import { mulberry32 } from '../../simulators/meters/random.ts';
import { officeBuildings, outdoorTemps } from './heating-buildings.ts';

const DAYS = 200;
const START = Date.UTC(2025, 6, 1); // July: summer into winter
const THEFT_FROM = 80;
const THEFT_TO = 180; // 20 days before the end, in the cold

/**
 * Ten buildings through a summer into winter. B1's meter registers 60 % of its use from day 80 to
 * day 180 (a theft given up, a meter mended), then all of it again: its night load steps back up
 * in the cold, as a heater switched on that day would make it. Its baselines (the weeks before)
 * hold the stretch of lower use; the onset scan allows for that stretch and finds no new response
 * to the cold beyond the level before it. A heater on the same day is still found.
 */
function campus(seed: number, o: { theft: boolean; heaterKwPerK: number }): DetectionInput {
  const rand = mulberry32(seed);
  const temp = outdoorTemps(DAYS * 24, rand, (day) => 22 - (20 * day) / DAYS);
  return officeBuildings({
    start: START,
    temp,
    rand,
    firstWeekday: 2, // 2025-07-01 is a Tuesday
    extra: (id, h, kw, cold, base) => {
      if (id !== 'B1') return kw;
      const day = h / 24;
      const use = kw + (day >= THEFT_TO ? o.heaterKwPerK * base * cold : 0);
      return o.theft && day >= THEFT_FROM && day < THEFT_TO ? 0.6 * use : use;
    },
  });
}

describe('electric heating: use restored after months of registering less is not a heater', () => {
  for (const seed of [1, 2, 3]) {
    it(`seed ${seed}: the restored meter is not raised; the same day's heater is`, () => {
      const restored = heatingDetector().run(campus(seed, { theft: true, heaterKwPerK: 0 }));
      const b1 = restored.scores.find((s) => s.id === 'B1')!;
      expect(b1.alert, b1.reason).toBe(false);
      expect(restored.findings.filter((f) => f.meter === 'B1')).toEqual([]);
      // A heater switched on at the same day, 3 % of the base load per K: found.
      const heater = heatingDetector().run(campus(seed, { theft: false, heaterKwPerK: 0.03 }));
      expect(heater.scores.find((s) => s.id === 'B1')!.alert).toBe(true);
    });
  }

  it('says why: the stretch of lower use, from when, left out', () => {
    const { scores } = heatingDetector().run(campus(1, { theft: true, heaterKwPerK: 0 }));
    expect(scores.find((s) => s.id === 'B1')!.reason).toMatch(
      /days of \d+ % lower use from \d{4}-\d\d-\d\d are left out/,
    );
  });
});
