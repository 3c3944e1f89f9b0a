import { beforeAll, describe, expect, it } from 'vitest';
import { loadProfiles } from '../../config/profiles.ts';
import {
  atOrBeyond,
  InvoiceChecks,
  type SupplyPointInput,
} from '../../services/money/billing/invoice-check.ts';
import { parsePeriod } from '../../services/money/billing/period.ts';
import { ServiceError } from '../../services/platform/errors.ts';
import type { CumulativeQuantity, StoredReading } from '../../services/metering/storage.ts';
import { renderScenario, type RenderResult } from '../../simulators/scenario/render.ts';
import { byMeter, memoryWriter, smallScenario } from '../scenario/support.ts';
import { backoffice, billing, clerk, MemoryValidatedSource, TZ } from './support.ts';

const DAY = 86_400_000;
const STEP = 3_600_000;

/**
 * VEE as a test sees it for a clean render: readings fall on every hour, so each local day's
 * consumption is the register at the next midnight minus the one at this midnight.
 */
function sourceFromReadings(readings: readonly StoredReading[], from: number, days: number) {
  const src = new MemoryValidatedSource();
  const start = new Date(from + 8 * 3_600_000);
  const first: [number, number, number] = [
    start.getUTCFullYear(),
    start.getUTCMonth() + 1,
    start.getUTCDate(),
  ];
  for (const [meter, list] of byMeter(readings)) {
    const quantity: CumulativeQuantity = list[0]!.kind === 'water' ? 'volume_m3' : 'energy_import_kwh';
    const at = new Map(list.map((r) => [r.ts, r.values[quantity]]));
    const regs = Array.from({ length: days + 1 }, (_, d) => at.get(from + d * DAY));
    if (regs.some((v) => v === undefined)) continue;
    const values = regs.slice(1).map((v, d) => Math.round((v! - regs[d]!) * 1000) / 1000);
    src.setDays(meter, quantity, first, values, regs[0]!);
  }
  return src;
}

/** The utility's prices to the campus: energy per kWh and a basic charge per contracted kVA a month. */
const supply = (extra: Partial<SupplyPointInput> = {}): SupplyPointInput => ({
  id: 'SP-EAST-10KV',
  utility: 'electricity',
  meter: 'E-IN',
  billedMeters: ['E-R1', 'E-R2', 'E-R3'],
  contract: [{ effectiveFrom: '2024-01-01', components: [{ name: 'energy', price: '0.6734' }] }],
  fixed: [{ name: 'basic-charge', quantity: 10, price: '38' }],
  ...extra,
});

describe('utility invoice check on a simulated month with a tap on the feeder', () => {
  const period = parsePeriod('2026-12', TZ);
  let result: RenderResult;
  let src: MemoryValidatedSource;
  let truth: { main: number; loss: number; tap: number; rooms: number; utilityMeter: number };

  beforeAll(async () => {
    // 100 W tapped off the feeder below the building's main meter, all month.
    const scenario = smallScenario({ injections: [{ type: 'tap', node: 'F1', kw: 0.1, from: '+0h' }] });
    expect(scenario.start).toBe(period.from);
    const writer = memoryWriter();
    result = await renderScenario(scenario, {
      from: period.from,
      to: period.to,
      stepMs: STEP,
      writer,
      profiles: loadProfiles(),
    });
    src = sourceFromReadings(writer.readings, period.from, 31);
    const elec = Object.values(result.nodes).filter((n) => n.utility === 'electricity');
    truth = {
      main: result.nodes.supply!.totals.registered,
      utilityMeter: result.nodes.supply!.totals.true,
      loss: elec.reduce((s, n) => s + n.totals.loss, 0),
      tap: elec.reduce((s, n) => s + n.totals.tap, 0),
      rooms: ['R1', 'R2', 'R3'].reduce((s, id) => s + result.nodes[id]!.totals.registered, 0),
    };
  });

  it('reports the technical-loss share and the unexplained rest, which is the tap, and flags it', async () => {
    // The ground truth: the main meter = the rooms + technical loss (transformer, feeder) + the tap.
    expect(truth.main - truth.rooms - truth.loss - truth.tap).toBeCloseTo(0, 1);
    const lossPercent = Math.round((truth.loss / truth.main) * 10_000) / 100;
    const checks = new InvoiceChecks({
      ...backoffice(),
      source: src,
      supplyPoints: [supply({ lossPercent })],
      timezone: TZ,
    });
    // The utility bills what its own meter registered, at its prices: energy 0.6734 yuan/kWh and
    // the basic charge 10 kVA × 38 yuan = 380 yuan = 38000 fen.
    const invoicedKwh = Math.round(truth.utilityMeter);
    const energyFen = Math.round(invoicedKwh * 67.34);
    const check = await checks.check(billing, {
      period,
      invoice: {
        supplyPoint: 'SP-EAST-10KV',
        invoiceNo: 'PWR-2026-12-0042',
        quantity: invoicedKwh,
        amountFen: energyFen + 38_000,
        elements: [
          { name: 'energy', quantity: invoicedKwh, amountFen: energyFen },
          { name: 'basic-charge', quantity: 10, amountFen: 38_000 },
        ],
      },
    });
    console.log(
      `simulated month: main ${check.mainMeter.quantity} kWh, internal ${check.internal.quantity} kWh, ` +
        `loss ${check.loss.expectedLoss} kWh (${check.loss.lossPercent} %), unexplained ${check.loss.unexplained} kWh ` +
        `(${check.loss.unexplainedPercent} %); truth: tap ${truth.tap.toFixed(3)} kWh, loss ${truth.loss.toFixed(3)} kWh`,
    );
    expect(check.mainMeter.quantity).toBeCloseTo(truth.main, 1);
    expect(check.internal.quantity).toBeCloseTo(truth.rooms, 1);
    expect(check.loss.lossSource).toBe('configured');
    // What is left after the configured loss is the tap, to within the loss % rounding (0.005 %
    // of the main meter) and register resolution.
    expect(Math.abs(check.loss.unexplained - truth.tap)).toBeLessThan(0.0001 * truth.main + 0.1);
    expect(check.loss.unexplainedPercent).toBeCloseTo((truth.tap / truth.main) * 100, 1);
    expect(check.loss.unexplainedPercent!).toBeGreaterThan(3);
    expect(check.loss.flagged).toBe(true);
    expect(check.flagged).toBe(true);
    expect(check.reasons.join('\n')).toMatch(/not explained by the internal meters/);
    // The utility's figures themselves agree with the main meter within the threshold.
    expect(check.quantity.flagged).toBe(false);
    expect(check.elements.find((e) => e.name === 'basic-charge')).toMatchObject({
      billedFen: 38_000,
      expectedFen: 38_000,
      flagged: false,
    });
    expect(check.elements.find((e) => e.name === 'energy')!.flagged).toBe(false);
    expect(checks.get(check.id)).toEqual(check);
  });

  it('flags an element billed beyond the threshold and one the campus does not expect', async () => {
    const bo = backoffice();
    const checks = new InvoiceChecks({
      ...bo,
      source: src,
      supplyPoints: [supply({ lossPercent: 0 })],
      timezone: TZ,
    });
    const invoicedKwh = Math.round(truth.utilityMeter);
    const energyFen = Math.round(invoicedKwh * 67.34);
    const check = await checks.check(billing, {
      period,
      invoice: {
        supplyPoint: 'SP-EAST-10KV',
        invoiceNo: 'PWR-2026-12-0043',
        quantity: invoicedKwh,
        amountFen: energyFen + 50_000 + 1200,
        elements: [
          { name: 'energy', amountFen: energyFen },
          // Billed for 630 kVA-equivalent of basic charge: 500 yuan instead of 380.
          { name: 'basic-charge', amountFen: 50_000 },
          { name: 'meter-rental', amountFen: 1200 },
        ],
      },
    });
    expect(check.elements.map((e) => [e.name, e.flagged])).toEqual([
      ['energy', false],
      ['basic-charge', true],
      ['meter-rental', true],
    ]);
    expect(check.elements[1]).toMatchObject({ differenceFen: 12_000, differencePercent: 31.58 });
    const [entry] = bo.audit.query({ action: 'invoice.check' });
    expect(entry).toMatchObject({ actor: 'fin.zhang', subject: `invoice-check:${check.id}` });
    expect(entry!.reason).toContain('basic-charge');
  });

  it('learns the loss % from earlier unflagged months when none is configured', async () => {
    const checks = new InvoiceChecks({
      ...backoffice(),
      source: src,
      supplyPoints: [supply()],
      timezone: TZ,
    });
    const enter = (invoiceNo: string, p = period) =>
      checks.check(billing, {
        period: p,
        invoice: {
          supplyPoint: 'SP-EAST-10KV',
          invoiceNo,
          quantity: 1,
          amountFen: 1,
          elements: [{ name: 'energy', amountFen: 1 }],
        },
      });
    const first = await enter('A');
    expect(first.loss.lossSource).toBe('none');
    // With nothing learned, the whole gap is unexplained and flagged: it is not learned from.
    expect(first.loss.flagged).toBe(true);
    const second = await enter('B');
    expect(second.loss.lossSource).toBe('none');
  });

  it('refuses an invoice whose elements do not add up, a repeated invoice, and a clerk', async () => {
    const checks = new InvoiceChecks({
      ...backoffice(),
      source: src,
      supplyPoints: [supply()],
      timezone: TZ,
    });
    const invoice = {
      supplyPoint: 'SP-EAST-10KV',
      invoiceNo: 'X-1',
      quantity: 10,
      amountFen: 100,
      elements: [{ name: 'energy', amountFen: 99 }],
    };
    const codeOf = (p: Promise<unknown>) =>
      p.then(
        () => 'resolved',
        (e: unknown) => (e as ServiceError).code,
      );
    expect(await codeOf(checks.check(billing, { period, invoice }))).toBe('INVALID_INVOICE');
    const ok = { ...invoice, elements: [{ name: 'energy', amountFen: 100 }] };
    await checks.check(billing, { period, invoice: ok });
    expect(await codeOf(checks.check(billing, { period, invoice: ok }))).toBe('DUPLICATE_INVOICE');
    expect(await codeOf(checks.check(clerk, { period, invoice: ok }))).toBe('FORBIDDEN');
    expect(await codeOf(checks.check(billing, { period, invoice: { ...ok, supplyPoint: 'NOPE' } }))).toBe(
      'UNKNOWN_SUPPLY_POINT',
    );
  });
});

describe('learned loss', () => {
  it('uses the median gap of earlier months whose loss was not flagged', async () => {
    const src = new MemoryValidatedSource();
    // Main meter 100 a day; internal meter 97 a day in November and 96 in December, 90 in January.
    src.setDays('M', 'energy_import_kwh', [2026, 11, 1], Array(92).fill(100));
    src.setDays(
      'I',
      'energy_import_kwh',
      [2026, 11, 1],
      [...Array(30).fill(97), ...Array(31).fill(96), ...Array(31).fill(90)],
    );
    const checks = new InvoiceChecks({
      ...backoffice(),
      source: src,
      supplyPoints: [
        {
          id: 'SP',
          utility: 'electricity',
          meter: 'M',
          billedMeters: ['I'],
          contract: [{ effectiveFrom: '2024-01-01', components: [{ name: 'energy', price: '1' }] }],
          lossPercent: undefined,
          thresholdPercent: 5,
        },
      ],
      timezone: TZ,
    });
    const enter = (no: string, month: string, kwh: number) =>
      checks.check(billing, {
        period: parsePeriod(month, TZ),
        invoice: {
          supplyPoint: 'SP',
          invoiceNo: no,
          quantity: kwh,
          amountFen: kwh * 100,
          elements: [{ name: 'energy', amountFen: kwh * 100 }],
        },
      });
    const nov = await enter('N', '2026-11', 3000);
    expect(nov.loss).toMatchObject({ lossSource: 'none', gapPercent: 3, flagged: false });
    const dec = await enter('D', '2026-12', 3100);
    // Learned from November: 3 %; December's gap is 4 %: 1 % unexplained, within 5 %.
    expect(dec.loss).toMatchObject({
      lossSource: 'learned',
      lossPercent: 3,
      gapPercent: 4,
      unexplainedPercent: 1,
    });
    const jan = await enter('J', '2027-01', 3100);
    // Median of 3 % and 4 % = 3.5 %; January's gap is 10 %: 6.5 % unexplained, flagged.
    expect(jan.loss).toMatchObject({
      lossSource: 'learned',
      lossPercent: 3.5,
      gapPercent: 10,
      flagged: true,
    });
    expect(jan.loss.unexplainedPercent).toBe(6.5);
  });
});

describe('the invoice threshold at its boundary (|invoiced − expected| ≥ 3 % of expected, exactly)', () => {
  const period = parsePeriod('2026-12', TZ);
  // 100 kWh a day for 31 days at 0.50 yuan: 155,000 fen expected; 3 % of it is 4,650 fen.
  const src = new MemoryValidatedSource();
  src.setDays('E-M', 'energy_import_kwh', [2026, 12, 1], Array(31).fill(100), 1000);
  const point: SupplyPointInput = {
    id: 'SP-M',
    utility: 'electricity',
    meter: 'E-M',
    billedMeters: ['E-M'],
    lossPercent: 0,
    contract: [{ effectiveFrom: '2024-01-01', components: [{ name: 'energy', price: '0.50' }] }],
  };
  const check = async (amountFen: number, no: string) => {
    const checks = new InvoiceChecks({ ...backoffice(), source: src, supplyPoints: [point], timezone: TZ });
    return checks.check(billing, {
      period,
      invoice: {
        supplyPoint: 'SP-M',
        invoiceNo: no,
        quantity: 3100,
        amountFen,
        elements: [{ name: 'energy', amountFen }],
      },
    });
  };

  it('flags exactly 3.00 % above or below, and not one fen inside it', async () => {
    expect((await check(159_650, 'up-at')).amount).toMatchObject({ differencePercent: 3, flagged: true });
    expect((await check(159_649, 'up-in')).amount.flagged).toBe(false);
    expect((await check(150_350, 'down-at')).amount).toMatchObject({ differencePercent: -3, flagged: true });
    expect((await check(150_351, 'down-in')).flagged).toBe(false);
  });

  it('compares exactly, not on the rounded percentage', () => {
    // 2.996 % rounds to 3.00 % for display but is inside the threshold.
    expect(atOrBeyond(2996n, 100_000n, 3)).toBe(false);
    expect(atOrBeyond(3000n, 100_000n, 3)).toBe(true);
    expect(atOrBeyond(-3000n, 100_000n, 3)).toBe(true);
    expect(atOrBeyond(1n, 0n, 3)).toBe(true);
    expect(atOrBeyond(0n, 0n, 3)).toBe(false);
    expect(atOrBeyond(2500n, 100_000n, 2.5)).toBe(true);
  });
});
