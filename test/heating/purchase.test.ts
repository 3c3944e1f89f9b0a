import { describe, expect, it } from 'vitest';
import { InvoiceChecks, type SupplyPointInput } from '../../services/money/billing/invoice-check.ts';
import { billedKwh, HeatPurchase } from '../../services/money/heating/purchase.ts';
import { backoffice, billing, clerk, MemoryValidatedSource, TZ } from '../billing/support.ts';

/**
 * Heat purchase: the supplier's monthly heat bill for the east heat-exchange station checked
 * against the station's primary heat meter like the power company's invoice. December 2026, 31
 * days: the primary meter counts 2 000 kWh a day (62 000 kWh), the two households below it 1 000
 * and 900 kWh a day (58 900 kWh), so the station and pipes lose 3 100 kWh, 5.00 %, the agreed loss.
 * The agreement: ¥0.162 per kWh of heat and a capacity charge of 1 000 kW × ¥1.50 a month; bills
 * within 2 % pass.
 */

const STATION: SupplyPointInput = {
  id: 'HX-EAST',
  utility: 'heat',
  meter: 'H-HX-E-PRI',
  billedMeters: ['H-E-H01', 'H-E-H02'],
  lossPercent: 5,
  thresholdPercent: 2,
  contract: [{ effectiveFrom: '2026-10-01', components: [{ name: 'heat', price: '0.162' }] }],
  fixed: [{ name: 'capacity-charge', quantity: 1_000, price: '1.5' }],
};

function fixture() {
  const b = backoffice();
  const source = new MemoryValidatedSource()
    .setDays('H-HX-E-PRI', 'heat_kwh', [2026, 12, 1], Array(31).fill(2_000), 100_000)
    .setDays('H-E-H01', 'heat_kwh', [2026, 12, 1], Array(31).fill(1_000))
    .setDays('H-E-H02', 'heat_kwh', [2026, 12, 1], Array(31).fill(900));
  const invoices = new InvoiceChecks({ ...b, source, supplyPoints: [STATION], timezone: TZ });
  const purchase = new HeatPurchase({ invoices, audit: b.audit, supplyPoints: [STATION], timezone: TZ });
  return { ...b, purchase };
}

const bill = (extra: object = {}) => ({
  ...{ station: 'HX-EAST', month: '2026-12', billNo: 'HB-2026-12', quantity: 223.2, unit: 'GJ' },
  amountFen: 1_154_400,
  elements: [
    { name: 'heat', quantity: 223.2, amountFen: 1_004_400 },
    { name: 'capacity-charge', amountFen: 150_000 },
  ],
  ...extra,
});

describe('the heat bill checked against the station’s primary meter', () => {
  it('passes a bill that agrees, GJ converted to kWh', async () => {
    const f = fixture();
    // 223.2 GJ × 1 000 000 / 3 600 = 62 000 kWh exactly.
    expect(billedKwh(223.2, 'GJ')).toBe(62_000);
    expect(billedKwh(1, 'GJ')).toBe(277.778);
    expect(billedKwh(62, 'MWh')).toBe(62_000);
    const c = await f.purchase.check(billing, bill());
    expect(c).toMatchObject({
      billed: { quantity: 223.2, unit: 'GJ' },
      mainMeter: { meter: 'H-HX-E-PRI', quantity: 62_000, daysMissing: 0 },
      internal: { meters: 2, quantity: 58_900 },
      quantity: { invoiced: 62_000, metered: 62_000, difference: 0, flagged: false },
      amount: { billedFen: 1_154_400, expectedFen: 1_154_400, differenceFen: 0, flagged: false },
      loss: { gap: 3_100, gapPercent: 5, lossSource: 'configured', unexplained: 0, flagged: false },
      flagged: false,
      reasons: [],
    });
    expect(f.audit.query({ subject: `invoice-check:${c.id}` }).map((e) => e.action)).toEqual([
      'invoice.check',
      'heat-purchase.bill',
    ]);
    expect(f.purchase.checks().map((x) => x.invoiceNo)).toEqual(['HB-2026-12']);
  });

  it('names each difference of a bill beyond the agreed tolerance', async () => {
    const f = fixture();
    // 230 GJ = 63 888.889 kWh, 3.05 % above the meter; the heat priced on it too.
    const c = await f.purchase.check(
      billing,
      bill({
        billNo: 'HB-2026-12-B',
        quantity: 230,
        amountFen: 1_185_000,
        elements: [
          { name: 'heat', quantity: 230, amountFen: 1_035_000 },
          { name: 'capacity-charge', amountFen: 150_000 },
        ],
      }),
    );
    expect(c.quantity).toMatchObject({
      invoiced: 63_888.889,
      difference: 1_888.889,
      differencePercent: 3.05,
      flagged: true,
    });
    expect(c.elements).toEqual([
      expect.objectContaining({
        name: 'heat',
        billedFen: 1_035_000,
        expectedFen: 1_004_400,
        differenceFen: 30_600,
        flagged: true,
      }),
      expect.objectContaining({ name: 'capacity-charge', differenceFen: 0, flagged: false }),
    ]);
    expect(c.reasons).toEqual([
      'invoiced quantity differs from the main meter by 3.05 %',
      'element heat: billed 1035000 fen, expected 1004400 fen (3.05 %)',
      'amount differs from the expected 1154400 fen by 2.65 %',
    ]);
  });

  it('refuses a bill that is not one, and records nothing', async () => {
    const f = fixture();
    const count = () => f.db.prepare('SELECT COUNT(*) FROM utility_invoice_checks').pluck().get();
    await expect(f.purchase.check(billing, bill({ station: 'SP-EAST-10KV' }))).rejects.toMatchObject({
      code: 'INVALID_HEAT_BILL',
      message: expect.stringContaining('not a heat-exchange station'),
    });
    await expect(f.purchase.check(billing, bill({ month: 'Dec 2026' }))).rejects.toMatchObject({
      code: 'INVALID_HEAT_BILL',
      message: expect.stringContaining('YYYY-MM'),
    });
    await expect(f.purchase.check(billing, bill({ amountFen: 1 }))).rejects.toMatchObject({
      code: 'INVALID_INVOICE',
    });
    await expect(f.purchase.check(clerk, bill())).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await f.purchase.check(billing, bill());
    await expect(f.purchase.check(billing, bill())).rejects.toMatchObject({ code: 'DUPLICATE_INVOICE' });
    expect(count()).toBe(1);
  });
});
