import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { divRoundHalfUp, formatFen, isExactAtScale, toScaled } from '../../services/money/billing/money.ts';
import {
  charge,
  parseTariffTable,
  TARIFF_ERRORS,
  type ChargeRequest,
  type TariffTableInput,
} from '../../services/money/billing/tariffs.ts';
import { localTimeToUtc } from '../../services/metering/consumption/zone.ts';
import { codeOf } from '../helpers/refused.ts';

const TZ = 'Asia/Shanghai';
const local = (y: number, m: number, d: number, h = 0): number => localTimeToUtc(TZ, y, m, d, h);
const example = JSON.parse(
  readFileSync(new URL('../../services/money/billing/tariffs.example.json', import.meta.url), 'utf8'),
) as TariffTableInput;
const table = parseTariffTable(example);

const day = (y: number, m: number, d: number, quantity: number) => ({
  start: local(y, m, d),
  end: local(y, m, d + 1),
  quantity,
});
const amounts = (r: ReturnType<typeof charge>) =>
  Object.fromEntries(r.components.map((c) => [c.name, c.amountFen]));

describe('money', () => {
  it('reads decimals exactly and rounds half up', () => {
    expect(toScaled(1.0005, 3)).toBe(1001n); // 1.0005 * 1000 is 1000.4999… in floating point
    expect(toScaled(0.1 + 0.2, 3)).toBe(300n);
    expect(toScaled('0.5883', 5)).toBe(58_830n);
    expect(toScaled(1e-7, 3)).toBe(0n);
    expect(toScaled(2.5e3, 0)).toBe(2500n);
    expect(divRoundHalfUp(305n, 10n)).toBe(31n);
    expect(divRoundHalfUp(304n, 10n)).toBe(30n);
    expect(divRoundHalfUp(-305n, 10n)).toBe(-31n);
    expect(isExactAtScale(1.234, 3)).toBe(true);
    expect(isExactAtScale(1.2345, 3)).toBe(false);
    expect(formatFen(-1234)).toBe('-12.34');
    expect(formatFen(5)).toBe('0.05');
  });
});

describe('tariff table', () => {
  it('the example table parses', () => {
    expect(table.timezone).toBe(TZ);
    expect(table.versions.get('electricity/student-room')).toHaveLength(2);
  });

  it.each([
    ['a price with more than 5 decimals', { price: '0.123456' }],
    ['a price as a float', { price: 0.5 }],
    ['both price and tiers', { price: '0.5', tiers: [{ price: '0.5' }] }],
    [
      'tiers that do not increase',
      { tiers: [{ upTo: 200, price: '0.5' }, { upTo: 100, price: '0.6' }, { price: '0.7' }] },
    ],
    ['a last tier with a limit', { tiers: [{ upTo: 200, price: '0.5' }] }],
  ])('refuses %s', async (_what, component) => {
    const bad = {
      tariffs: [
        {
          utility: 'electricity',
          customerTypes: ['business'],
          effectiveFrom: '2024-01-01',
          unit: 'kWh',
          components: [{ name: 'energy', ...component }],
        },
      ],
    };
    expect(await codeOf(() => parseTariffTable(bad))).toBe('INVALID_TARIFF_TABLE');
  });

  it('refuses two versions effective the same day for one customer type', async () => {
    const v = example.tariffs[0]!;
    expect(
      await codeOf(() => parseTariffTable({ ...example, tariffs: [v, { ...v, customerTypes: ['public'] }] })),
    ).toBe('INVALID_TARIFF_TABLE');
  });

  it('every error code is described', () => {
    for (const [code, e] of Object.entries(TARIFF_ERRORS))
      expect(e.description.length, code).toBeGreaterThan(20);
  });
});

describe('charge', () => {
  it('charges a flat tariff exactly: 10.5 kWh at 0.588 = 617.4 fen → 617', () => {
    const r = charge(table, {
      utility: 'electricity',
      customerType: 'student-room',
      intervals: [day(2024, 3, 5, 10.5)],
    });
    expect(r.components).toEqual([{ name: 'energy', microFen: '617400000', amountFen: 617 }]);
    expect(r.totalFen).toBe(617);
    expect(r.quantityMilli).toBe(10_500);
  });

  it('rounds half up once per component: 0.5 kWh at 0.61 = 30.5 fen → 31 (not 30)', () => {
    const r = charge(table, {
      utility: 'electricity',
      customerType: 'student-room',
      intervals: [day(2024, 9, 5, 0.5)],
    });
    expect(r.components[0]).toEqual({ name: 'energy', microFen: '30500000', amountFen: 31 });
  });

  it('rounds the sum of a component over the charge, not each interval', () => {
    // Three intervals of 0.5 kWh at 0.61: 3 × 30.5 = 91.5 → 92 (per-interval rounding would give 93).
    const r = charge(table, {
      utility: 'electricity',
      customerType: 'student-room',
      intervals: [day(2024, 9, 5, 0.5), day(2024, 9, 6, 0.5), day(2024, 9, 7, 0.5)],
    });
    expect(r.totalFen).toBe(92);
  });

  it('charges each water component separately: water, water-resource fee, sewage-treatment fee', () => {
    // 12.345 m³: 1.92 → 2370.24 fen; 0.30 → 370.35; 1.70 → 2098.65.
    const r = charge(table, {
      utility: 'water',
      customerType: 'staff-household',
      intervals: [day(2024, 3, 5, 12.345)],
    });
    expect(amounts(r)).toEqual({ water: 2370, 'water-resource-fee': 370, 'sewage-treatment-fee': 2099 });
    expect(r.totalFen).toBe(4839);
  });

  it('charges block tiers by monthly consumption', () => {
    // 250 kWh: 200 × 52.83 + 50 × 57.83 = 10566 + 2891.5 = 13457.5 → 13458.
    const r = charge(table, {
      utility: 'electricity',
      customerType: 'staff-household',
      intervals: [day(2024, 3, 5, 100), day(2024, 3, 6, 150)],
    });
    expect(r.totalFen).toBe(13_458);
    expect(r.lines.map((l) => [l.tier, l.quantityMilli])).toEqual([
      [0, 100_000],
      [0, 100_000],
      [1, 50_000],
    ]);
  });

  it('counts prior usage of the month towards the tiers', () => {
    // 190 kWh already used: 10 × 52.83 + 200 × 57.83 + 40 × 82.83 = 528.3 + 11566 + 3313.2 = 15407.5 → 15408.
    const r = charge(table, {
      utility: 'electricity',
      customerType: 'staff-household',
      intervals: [day(2024, 3, 5, 250)],
      priorUsage: { '2024-03': 190 },
    });
    expect(r.totalFen).toBe(15_408);
    expect(r.usageByMonth).toEqual({ '2024-03': 250_000 });
  });

  it('starts the tiers again in a new month, splitting an interval at the month start', () => {
    // 31 Mar 12:00 → 1 Apr 12:00 local, 400 kWh: 200 kWh in each month, all in the first block.
    const r = charge(table, {
      utility: 'electricity',
      customerType: 'staff-household',
      intervals: [{ start: local(2024, 3, 31, 12), end: local(2024, 4, 1, 12), quantity: 400 }],
    });
    expect(r.usageByMonth).toEqual({ '2024-03': 200_000, '2024-04': 200_000 });
    expect(r.totalFen).toBe(400 * 52.83);
  });

  it('uses the tariff in force for each part of a period that spans a change', () => {
    // 30 Jun → 2 Jul, 48 kWh: 24 kWh at 0.588 (1411.2) and 24 kWh at 0.61 (1464) = 2875.2 → 2875.
    const r = charge(table, {
      utility: 'electricity',
      customerType: 'student-room',
      intervals: [{ start: local(2024, 6, 30), end: local(2024, 7, 2), quantity: 48 }],
    });
    expect(r.lines.map((l) => [l.effectiveFrom, l.quantityMilli, l.microFen])).toEqual([
      ['2024-01-01', 24_000, '1411200000'],
      ['2024-07-01', 24_000, '1464000000'],
    ]);
    expect(r.totalFen).toBe(2875);
  });

  it('splits an interval across a change in proportion to time, parts adding up exactly', () => {
    // 1 kWh over 3 hours, 1 h before the change: 333 Wh (rounded half up) and 667 Wh.
    const r = charge(table, {
      utility: 'electricity',
      customerType: 'student-room',
      intervals: [{ start: local(2024, 6, 30, 23), end: local(2024, 7, 1, 2), quantity: 1 }],
    });
    expect(r.lines.map((l) => l.quantityMilli)).toEqual([333, 667]);
  });

  it('refuses what it cannot price', async () => {
    const req: ChargeRequest = {
      utility: 'electricity',
      customerType: 'student-room',
      intervals: [day(2023, 12, 1, 1)],
    };
    expect(await codeOf(() => charge(table, req))).toBe('TARIFF_NOT_FOUND');
    expect(await codeOf(() => charge(table, { ...req, customerType: 'public', utility: 'heat' }))).toBe(
      'TARIFF_NOT_FOUND',
    );
    expect(await codeOf(() => charge(table, { ...req, intervals: [day(2024, 3, 1, -1)] }))).toBe(
      'INVALID_QUANTITY',
    );
    expect(await codeOf(() => charge(table, { ...req, intervals: [day(2024, 3, 1, Number.NaN)] }))).toBe(
      'INVALID_QUANTITY',
    );
    const empty = { start: local(2024, 3, 1), end: local(2024, 3, 1), quantity: 1 };
    expect(await codeOf(() => charge(table, { ...req, intervals: [empty] }))).toBe('INVALID_QUANTITY');
  });

  it('property: how a month is cut into intervals does not change the exact amount', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 60_000 }), { minLength: 1, maxLength: 20 }),
        fc.constantFrom('student-room' as const, 'staff-household' as const, 'business' as const),
        (wattHours, customerType) => {
          const split = charge(table, {
            utility: 'electricity',
            customerType,
            intervals: wattHours.map((wh, i) => day(2024, 5, i + 1, wh / 1000)),
          });
          const whole = charge(table, {
            utility: 'electricity',
            customerType,
            intervals: [
              {
                start: local(2024, 5, 1),
                end: local(2024, 5, 21),
                quantity: wattHours.reduce((a, b) => a + b, 0) / 1000,
              },
            ],
          });
          expect(split.components).toEqual(whole.components);
          expect(split.totalFen).toBe(split.components.reduce((a, c) => a + c.amountFen, 0));
          expect(Number.isSafeInteger(split.totalFen)).toBe(true);
          // The amount is the exact amount rounded half up.
          for (const c of split.components)
            expect(BigInt(c.amountFen)).toBe(divRoundHalfUp(BigInt(c.microFen), 1_000_000n));
        },
      ),
      { numRuns: 200 },
    );
  });
});
