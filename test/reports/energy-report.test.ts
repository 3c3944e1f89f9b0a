import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../adapters/sqlite/store.ts';
import { energyReport, type ReportSources } from '../../services/money/reports/energy-report.ts';
import { parsePeriod } from '../../services/money/reports/period.ts';
import { SettledIntervals } from '../../services/money/reports/settled-intervals.ts';
import { parseScope, type CustomerMeter } from '../../services/money/reports/scope.ts';
import { ServiceError } from '../../services/platform/errors.ts';
import { at, hourlyReadings, smallTree, TARIFFS, TZ, whOfDays, whPerHour } from './report-fixture.ts';

const CUSTOMERS: Record<string, CustomerMeter> = {
  R1: { type: 'student-room', postPaid: false },
  R2: { type: 'student-room', postPaid: false },
  H1: { type: 'staff-household', postPaid: false },
};

const stores: SqliteStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
});

async function sources(
  readings: Parameters<SqliteStore['writeReadings']>[0],
  now: number,
): Promise<ReportSources> {
  const store = SqliteStore.open({ path: ':memory:' });
  stores.push(store);
  await store.writeReadings(readings);
  return {
    tree: smallTree(),
    store,
    tariffs: TARIFFS,
    customerOf: (m) => CUSTOMERS[m],
    heatUnit: 'kWh',
    clock: () => now,
  };
}

/** Exact fen, half up, of Wh × a price in yuan/kWh written with at most 5 decimals: micro-fen summed, rounded once. */
function fenOf(parts: readonly [wh: number, price: string][]): number {
  let micro = 0n;
  for (const [wh, price] of parts) {
    const [i, f = ''] = price.split('.');
    const milliFen = BigInt(i! + f.padEnd(5, '0'));
    micro += BigInt(wh) * milliFen;
  }
  return Number((2n * micro + 1_000_000n) / 2_000_000n);
}

const NOW = at(2026, 12, 3, 9);

describe('energy reports (issue 15 item 3)', () => {
  it('a month of a building: consumption per day from the top meter, cost of its rooms with the tariff change of the 16th, recomputed by hand', async () => {
    const src = await sources(hourlyReadings([2026, 9, 30], [2026, 12, 1]), NOW);
    const r = await energyReport(
      src,
      parseScope('building:B', src.tree),
      parsePeriod('month', '2026-11', TZ),
    );
    expect(r.utilities.map((u) => u.utility)).toEqual(['electricity']);
    const e = r.utilities[0]!;
    // Consumption is the building meter's, not the building plus its rooms.
    expect(e.meters).toEqual(['B']);
    expect(e.rows).toHaveLength(30);
    const day5 = whOfDays('B', 2026, 11, 5, 5);
    expect(e.rows[4]!.value).toBe(day5 / 1000);
    expect(e.total.value).toBe(whOfDays('B', 2026, 11, 1, 30) / 1000);
    expect(e.total.gaps).toBe(0);

    // Cost: the two student rooms, 0.588 yuan/kWh to the 15th and 0.61 from the 16th, one
    // rounding per meter over the month (as a bill run rounds), recomputed from the formula.
    const roomFen = (m: string) =>
      fenOf([
        [whOfDays(m, 2026, 11, 1, 15), '0.588'],
        [whOfDays(m, 2026, 11, 16, 30), '0.61'],
      ]);
    expect(e.total.costFen).toBe(roomFen('R1') + roomFen('R2'));
    expect(e.rows.reduce((a, row) => a + row.costFen, 0)).toBe(e.total.costFen);
    // A day before the change is priced at the old price, a day after at the new (±1 fen per meter of rounding).
    const dayFen = (d: number, price: string) =>
      fenOf([[whOfDays('R1', 2026, 11, d, d), price]]) + fenOf([[whOfDays('R2', 2026, 11, d, d), price]]);
    expect(Math.abs(e.rows[14]!.costFen - dayFen(15, '0.588'))).toBeLessThanOrEqual(2);
    expect(Math.abs(e.rows[15]!.costFen - dayFen(16, '0.61'))).toBeLessThanOrEqual(2);
    expect(e.rows[15]!.costFen).not.toBe(dayFen(16, '0.588'));

    // October is complete: the change against it is the difference of the two hand sums.
    const oct = whOfDays('B', 2026, 10, 1, 31);
    expect(e.previous.value).toBe(oct / 1000);
    expect(e.vsPrevious.value).toBeCloseTo((whOfDays('B', 2026, 11, 1, 30) - oct) / 1000, 6);
    expect(e.vsPrevious.percent).toBe(Math.round(((whOfDays('B', 2026, 11, 1, 30) - oct) / oct) * 1000) / 10);
  });

  it('no data is not zero: a year earlier without readings is null, and so is its change', async () => {
    const src = await sources(hourlyReadings([2026, 10, 31], [2026, 12, 1]), NOW);
    const r = await energyReport(src, { kind: 'campus' }, parsePeriod('month', '2026-11', TZ));
    const e = r.utilities[0]!;
    // Campus: the top meters are the building and the household, not the rooms below the building.
    expect(e.meters).toEqual(['B', 'H1']);
    expect(e.lastYear.value).toBeNull();
    expect(e.lastYear.costFen).toBe(0);
    expect(e.vsLastYear).toEqual({ value: null, percent: null, costFen: null, costPercent: null });
    // October has only its last day: the previous month is known in part, its gaps counted.
    expect(e.previous.value).toBe(
      (whOfDays('B', 2026, 10, 31, 31) + whOfDays('H1', 2026, 10, 31, 31)) / 1000,
    );
    expect(e.previous.gaps).toBe(2 * 30);
  });

  it('a meter offline for a day: that day is a gap, left out of the sum and of the cost, and counted', async () => {
    const off = (m: string, ts: number) =>
      m === 'R1' && ts > at(2026, 11, 10, 1) && ts < at(2026, 11, 11, 23);
    const src = await sources(hourlyReadings([2026, 10, 31], [2026, 12, 1], off), NOW);
    const r = await energyReport(
      src,
      parseScope('type:student-room', src.tree),
      parsePeriod('month', '2026-11', TZ),
    );
    const e = r.utilities[0]!;
    expect(e.meters).toEqual(['R1', 'R2']);
    // Days 10 and 11 have no R1 reading within 6 h of their boundaries (11th at 00:00 and 12th at 00:00 … ).
    const gapDays = e.rows
      .filter((row) => row.gaps > 0)
      .map((row) => new Date(row.start + 8 * 3_600_000).getUTCDate());
    expect(gapDays).toEqual([10, 11]);
    expect(e.total.gaps).toBe(2);
    const r2Only = e.rows[9]!.value;
    expect(r2Only).toBe(whOfDays('R2', 2026, 11, 10, 10) / 1000);
    expect(e.total.unpricedIntervals).toBe(2);
  });

  it("a day report counts the month's earlier use towards tiers: it agrees with that day in the month report", async () => {
    const src = await sources(hourlyReadings([2026, 10, 31], [2026, 12, 1]), NOW);
    const month = await energyReport(
      src,
      parseScope('building:B', src.tree),
      parsePeriod('month', '2026-11', TZ),
    );
    const dayOfMonth = (
      await energyReport(
        src,
        parseScope('type:staff-household', src.tree),
        parsePeriod('month', '2026-11', TZ),
      )
    ).utilities[0]!.rows[19]!;
    const day = (
      await energyReport(
        src,
        parseScope('type:staff-household', src.tree),
        parsePeriod('day', '2026-11-20', TZ),
      )
    ).utilities[0]!;
    expect(day.rows).toHaveLength(24);
    expect(day.rows[13]!.value).toBe(whPerHour('H1', 2026, 11, 20, 13) / 1000);
    // By the 20th H1 used more than 400 kWh this month: the day is priced at the third block.
    expect(whOfDays('H1', 2026, 11, 1, 19)).toBeGreaterThan(400_000);
    expect(day.total.costFen).toBe(fenOf([[whOfDays('H1', 2026, 11, 20, 20), '0.8283']]));
    expect(Math.abs(day.total.costFen - dayOfMonth.costFen)).toBeLessThanOrEqual(1);
    expect(month.utilities[0]!.total.costFen).toBeGreaterThan(0);
  });

  it('a year: months summed from days, days merged between price cuts priced as one charge per meter, the same again from remembered days', async () => {
    const src = await sources(hourlyReadings([2026, 9, 30], [2026, 12, 1]), NOW);
    const plain = await energyReport(
      src,
      parseScope('building:B', src.tree),
      parsePeriod('year', '2026', TZ),
    );
    const e = plain.utilities[0]!;
    expect(e.rows).toHaveLength(12);
    expect(e.rows[9]!.value).toBe(whOfDays('B', 2026, 10, 1, 31) / 1000);
    expect(e.rows[11]!.value).toBeNull();
    const roomFen = (m: string) =>
      fenOf([
        [whOfDays(m, 2026, 9, 30, 30) + whOfDays(m, 2026, 10, 1, 31) + whOfDays(m, 2026, 11, 1, 15), '0.588'],
        [whOfDays(m, 2026, 11, 16, 30), '0.61'],
      ]);
    expect(e.total.costFen).toBe(roomFen('R1') + roomFen('R2'));
    // Readings begin on 30 September: that day is September's only one.
    expect(e.rows[8]!.value).toBe(whOfDays('B', 2026, 9, 30, 30) / 1000);
    expect(e.rows[8]!.gaps).toBe(29);
    expect(e.rows[8]!.costFen + e.rows[9]!.costFen + e.rows[10]!.costFen).toBe(e.total.costFen);
    // The previous year has no readings: no data, not zero, and both comparisons say so.
    expect(e.previous.value).toBeNull();
    expect(e.vsLastYear.value).toBeNull();

    const cache = new SettledIntervals(src.store);
    const first = await energyReport(
      { ...src, intervals: cache },
      parseScope('building:B', src.tree),
      parsePeriod('year', '2026', TZ),
    );
    const again = await energyReport(
      { ...src, intervals: cache },
      parseScope('building:B', src.tree),
      parsePeriod('year', '2026', TZ),
    );
    expect(first).toEqual(plain);
    expect(again).toEqual(plain);
  });

  it('heat in GJ when the campus file says so, converted exactly from kWh', async () => {
    // H1 is a heat meter here: its register is heat_kwh.
    const readings = hourlyReadings([2026, 10, 31], [2026, 12, 1]).map((r) =>
      r.meter === 'H1'
        ? { ...r, kind: 'heat' as const, values: { heat_kwh: r.values.energy_import_kwh! } }
        : r,
    );
    const src = await sources(readings, NOW);
    src.tree.nodes.H1!.kind = 'heat';
    const r = await energyReport(
      { ...src, heatUnit: 'GJ' },
      { kind: 'campus' },
      parsePeriod('month', '2026-11', TZ),
    );
    const h = r.utilities.find((u) => u.utility === 'heat')!;
    expect(h.unit).toBe('GJ');
    const wh = whOfDays('H1', 2026, 11, 1, 30);
    // 1 kWh = 0.0036 GJ: Wh × 36 / 10,000 is milli-GJ.
    expect(h.total.value).toBe(Math.round((wh * 36) / 10_000) / 1000);
    // No heat tariff for staff households: the meter is left unpriced, with why.
    expect(h.unpriced).toEqual([{ meter: 'H1', reason: expect.stringContaining('no heat tariff') }]);
  });

  it('refuses a period or scope that does not exist, naming it', () => {
    const tree = smallTree();
    for (const [kind, date] of [
      ['day', '2026-02-30'],
      ['month', '2026-13'],
      ['month', '2026-1'],
      ['year', '26'],
    ] as const) {
      expect(() => parsePeriod(kind, date, TZ)).toThrow(ServiceError);
      expect(() => parsePeriod(kind, date, TZ)).toThrow(date);
    }
    expect(() => parseScope('building:R1', tree)).toThrow('no building R1');
    expect(() => parseScope('type:students', tree)).toThrow('no customer type students');
    expect(() => parseScope('everything', tree)).toThrow('write campus');
  });
});
