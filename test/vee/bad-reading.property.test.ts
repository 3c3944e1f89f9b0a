import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BillRuns } from '../../services/money/billing/bill-run.ts';
import { parsePeriod } from '../../services/money/billing/period.ts';
import { parseTariffTable } from '../../services/money/billing/tariffs.ts';
import { billing } from '../billing/support.ts';
import { fixtureTariffInput } from '../billing/fixture.ts';
import { build, type CaseInput, type ExplicitReading } from './harness.ts';

/**
 * Item 2 of issue 23 as a property: insert any one bad reading (a dip below the reading before
 * it, or a jump above the reading after it; added between two readings or replacing one) into a
 * clean series, and no bill changes by more than the intervals the bad reading touches could
 * hold; nothing is estimated (the intervals across it are kept); the reading is named.
 *
 * The series is two local days of a staff household read every 15 min (plus a fixed offset, so
 * boundaries are interpolated), billed through VEE and a real bill run with the tiered tariff.
 */

const TZ = 'Asia/Shanghai';
const METER = 'E-H-1';
const START = Date.parse('2026-10-31T22:00+08:00');
const N = 4 * 52 + 1; // to 2026-11-03 02:00
const STEP = 15 * 60_000;
const PERIOD = '2026-11-01..2026-11-03';
const MAX_PRICE_FEN_PER_KWH = 84.83; // the dearest tier of the staff-household tariff
const tariffs = parseTariffTable(fixtureTariffInput);

interface Series {
  offsetMs: number;
  increments: number[];
}

function clean(s: Series): { ts: number; value: number }[] {
  let v = 4000;
  return Array.from({ length: N }, (_, i) => {
    // + (i mod 7) Wh: a clean series never repeats one value 6 times (a flat line, which VEE fails).
    if (i > 0) v += s.increments[i - 1]! + (i % 7) / 1000;
    return { ts: START + s.offsetMs + i * STEP, value: Math.round(v * 1000) / 1000 };
  });
}

async function bill(points: { ts: number; value: number }[]) {
  const input: CaseInput = {
    description: 'property',
    timezone: TZ,
    now: '2026-11-04T12:00+08:00',
    meters: { [METER]: 'electricity' },
    readings: points.map((p): ExplicitReading => ({
      meter: METER,
      ts: new Date(p.ts).toISOString(),
      values: { energy_import_kwh: p.value },
    })),
    query: { meter: METER, quantity: 'energy_import_kwh', from: '', to: '', step: '15m' },
  };
  const built = await build(input);
  try {
    const runs = new BillRuns({ db: built.db, audit: built.audit, tariffs, source: built.vee, timezone: TZ });
    const run = await runs.run(billing, {
      period: parsePeriod(PERIOD, TZ),
      accounts: [
        {
          id: 'H-1',
          holder: 'Household 1',
          customerType: 'staff-household',
          meters: [{ meter: METER, utility: 'electricity' }],
        },
      ],
    });
    const quarter = await built.vee.intervals({
      meter: METER,
      quantity: 'energy_import_kwh',
      from: START,
      to: START + N * STEP,
      step: '15m',
    });
    return { run, quarter };
  } finally {
    await built.close();
  }
}

const series = fc.record({
  offsetMs: fc.integer({ min: 0, max: 14 * 60 }).map((s) => s * 1000),
  increments: fc.array(
    fc.integer({ min: 20, max: 600 }).map((wh) => wh / 1000),
    { minLength: N - 1, maxLength: N - 1 },
  ),
});
const badOne = fc.record({
  at: fc.integer({ min: 1, max: N - 3 }),
  mode: fc.constantFrom('insert', 'replace'),
  direction: fc.constantFrom('dip', 'jump'),
  byWh: fc.integer({ min: 1, max: 50_000 }),
});

describe('one bad reading in a clean series', () => {
  it('changes no bill by more than the intervals it touches, estimates nothing and is named', async () => {
    await fc.assert(
      fc.asyncProperty(series, badOne, async (s, bad) => {
        const good = clean(s);
        const base = await bill(good);
        const prev = good[bad.at - 1]!;
        const next = good[bad.at + 1]!;
        const around =
          bad.mode === 'insert' ? { before: good[bad.at]!, after: next } : { before: prev, after: next };
        const value =
          bad.direction === 'dip'
            ? around.before.value - bad.byWh / 1000
            : around.after.value + bad.byWh / 1000;
        const dirtyPoints =
          bad.mode === 'insert'
            ? [
                ...good.slice(0, bad.at + 1),
                { ts: good[bad.at]!.ts + STEP / 2, value },
                ...good.slice(bad.at + 1),
              ]
            : good.map((p, i) => (i === bad.at ? { ts: p.ts, value } : p));
        const dirty = await bill(dirtyPoints);

        const [b] = base.run.lines;
        const [d] = dirty.run.lines;
        expect(base.run.blocked).toEqual([]);
        expect(dirty.run.blocked).toEqual([]);
        // The intervals the bad reading touches: those overlapping its good neighbours' span.
        const touched = dirty.quarter.filter((i) => i.end > around.before.ts && i.start < around.after.ts);
        const touchedKwh = touched.reduce((a, i) => a + (i.value ?? 0), 0);
        expect(Math.abs(d!.quantityMilli - b!.quantityMilli)).toBeLessThanOrEqual(
          Math.ceil(touchedKwh * 1000) + 2,
        );
        expect(Math.abs(d!.totalFen - b!.totalFen)).toBeLessThanOrEqual(
          Math.ceil(touchedKwh * MAX_PRICE_FEN_PER_KWH) + 2,
        );
        expect(d!.estimatedMilli).toBe(0);
        expect(touched.some((i) => i.flags.some((f) => f.rule === 'bad-reading'))).toBe(true);
        expect(touched.every((i) => i.source === 'actual')).toBe(true);
      }),
      { numRuns: 20, seed: 2326 },
    );
  }, 120_000);
});
