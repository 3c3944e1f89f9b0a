import { describe, expect, it } from 'vitest';
import { computeIntervals } from '../../services/metering/consumption/consumption.ts';
import { stepBoundaries } from '../../services/metering/consumption/zone.ts';
import type { Installation } from '../../services/metering/storage.ts';
import { around } from '../../services/metering/vee/rules.ts';
import { prng } from '../helpers/prng.ts';

/**
 * VEE's daily check reads each day's register difference from the day's readings and two on each
 * side (`around`), not from the whole year's (which made a yearly bill run or report quadratic).
 * The difference must be the one computed from every reading: random years of readings with gaps
 * of minutes to days, register wraps and a meter exchange, every day compared.
 */

const TZ = 'Asia/Shanghai';
const DAY = 86_400_000;
const T0 = Date.UTC(2025, 11, 31, 16);

describe('a day’s register difference from the readings around it', () => {
  it('equals the one from every reading, on every day of random years', () => {
    for (let seed = 1; seed <= 12; seed++) {
      const rand = prng(seed);
      const exchangeAt = T0 + Math.floor(40 + rand() * 40) * DAY + Math.floor(rand() * DAY);
      const installations: Installation[] = [
        {
          meter: 'M',
          serial: 'old',
          installedAt: T0 - DAY,
          removedAt: exchangeAt,
          endRegister: 0,
          rolloverAt: 10_000,
        },
        { meter: 'M', serial: 'new', installedAt: exchangeAt, startRegister: 5, rolloverAt: 10_000 },
      ];
      const points: { meter: string; ts: number; value: number }[] = [];
      let ts = T0;
      let v = 9_000 * rand();
      while (ts < T0 + 120 * DAY) {
        // Mostly 15 minutes; now and then a gap of hours or days.
        const r = rand();
        ts +=
          r < 0.97
            ? 900_000
            : r < 0.995
              ? Math.floor(rand() * 12) * 3_600_000
              : Math.floor(rand() * 3 + 1) * DAY;
        if (ts >= exchangeAt && points.at(-1)!.ts < exchangeAt) v = 5;
        v = (v + rand() * 3) % 10_000;
        points.push({ meter: 'M', ts, value: v });
      }
      installations[0]!.endRegister = points.filter((p) => p.ts < exchangeAt).at(-1)!.value;
      const days = stepBoundaries(T0, T0 + 120 * DAY, '1d', TZ);
      for (let i = 1; i < days.length; i++) {
        const q = {
          meters: ['M'],
          quantity: 'energy_import_kwh' as const,
          from: days[i - 1]!,
          to: days[i - 1]! + 1,
          step: '1d' as const,
          timezone: TZ,
          installations,
        };
        const full = computeIntervals(points, q);
        const near = computeIntervals(
          around(points, days[i - 1]!, days[i]!, 2).map((p) => ({ meter: 'M', ts: p.ts, value: p.value })),
          q,
        );
        expect(near, `seed ${seed}, day ${i}`).toEqual(full);
      }
    }
  });
});
