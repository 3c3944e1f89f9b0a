import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseBillingAccounts } from '../../services/money/billing/accounts.ts';
import { BillRuns, mergeDays, type BillRun } from '../../services/money/billing/bill-run.ts';
import { charge, tariffVersions, type ChargeInterval } from '../../services/money/billing/tariffs.ts';
import {
  billRunCsv,
  exportRun,
  paymentNotices,
  payrollCsv,
  payrollDeductions,
} from '../../services/money/billing/export.ts';
import { parsePeriod } from '../../services/money/billing/period.ts';
import { ServiceError } from '../../services/platform/errors.ts';
import { days, fixtureAccounts, fixtureRun, fixtureSource, fixtureTariffs } from './fixture.ts';
import { backoffice, billing, clerk, local, TZ } from './support.ts';

const line = (run: BillRun, meter: string) => run.lines.find((l) => l.meter === meter)!;
const fen = (run: BillRun, meter: string) =>
  Object.fromEntries(line(run, meter).components.map((c) => [c.name, c.amountFen]));

describe('a month of bills for the fixture campus, to the fen', () => {
  it('student room: the price changes on 16 November; the half fen rounds up', async () => {
    const { run } = await fixtureRun();
    const l = line(run, 'E-E1-101');
    // 1–15 Nov: 15 × 3.2 = 48.0 kWh at 0.588 yuan = 58.8 fen/kWh → 48.0 × 58.8 = 2822.4 fen
    // 16–30 Nov: 14 × 3.2 + 3.3 = 48.1 kWh at 0.61 yuan = 61 fen/kWh → 48.1 × 61 = 2934.1 fen
    // energy = 2822.4 + 2934.1 = 5756.5 fen → rounded half up once: 5757 fen (banker's: 5756)
    expect(fen(run, 'E-E1-101')).toEqual({ energy: 5757 });
    expect(l.totalFen).toBe(5757);
    expect(l.quantityMilli).toBe(96_100);
    // Opening 1520.4, closing 1520.4 + 96.1 = 1616.5; the register agrees with the interval sum.
    expect(l.opening).toBe(1520.4);
    expect(l.closing).toBe(1616.5);
    expect(l.registerDifferenceMilli).toBe(0);
    // Day 10 estimated: 3.2 / 96.1 = 0.03330 → 0.0333.
    expect(l.estimatedMilli).toBe(3200);
    expect(l.estimatedShare).toBe(0.0333);
    expect(l.flags).toEqual([{ rule: 'gap', severity: 'fail', days: 1 }]);
  });

  it('staff household: tiers count the whole month across the tariff change', async () => {
    const { run } = await fixtureRun();
    // 1–15 Nov, old tiers: 225 kWh → 200 × 52.83 = 10566 fen, 25 × 57.83 = 1445.75 fen
    // 16–30 Nov, new tiers, 225 kWh already used: 180 kWh → 175 × 59.83 = 10470.25 fen (to 400),
    //   5 × 84.83 = 424.15 fen (above 400)
    // energy = 10566 + 1445.75 + 10470.25 + 424.15 = 22906.15 fen → 22906 fen
    expect(fen(run, 'E-H-12-301')).toEqual({ energy: 22906 });
    expect(line(run, 'E-H-12-301').flags).toEqual([{ rule: 'rollover', severity: 'info', days: 1 }]);
    // Water 0.4 m³ a day: 6 m³ before the change, 6 m³ after.
    // water: 6 × 192 + 6 × 206 = 1152 + 1236 = 2388 fen
    // water-resource-fee: 12 × 30 = 360 fen; sewage-treatment-fee: 12 × 170 = 2040 fen
    expect(fen(run, 'W-H-12-301')).toEqual({
      water: 2388,
      'water-resource-fee': 360,
      'sewage-treatment-fee': 2040,
    });
    expect(line(run, 'W-H-12-301').totalFen).toBe(4788);
    expect(line(run, 'W-H-12-301').unit).toBe('m3');
  });

  it('business: two components, each rounded once', async () => {
    const { run } = await fixtureRun();
    // 30 × 120.5 = 3615 kWh
    // energy: 3615 × 85.63 = 309552.45 fen → 309552; campus-network-fee: 3615 × 5 = 18075 fen
    expect(fen(run, 'E-CAFE-01')).toEqual({ energy: 309_552, 'campus-network-fee': 18_075 });
    expect(line(run, 'E-CAFE-01').totalFen).toBe(327_627);
  });

  it('vendor water: water price, water-resource fee and sewage-treatment fee', async () => {
    const { run } = await fixtureRun();
    // 30 × 2.45 = 73.5 m³
    // water: 73.5 × 430 = 31605 fen; resource: 73.5 × 30 = 2205 fen; sewage: 73.5 × 234 = 17199 fen
    expect(fen(run, 'W-LAUNDRY')).toEqual({
      water: 31_605,
      'water-resource-fee': 2205,
      'sewage-treatment-fee': 17_199,
    });
    expect(line(run, 'W-LAUNDRY').totalFen).toBe(51_009);
  });

  it('refuses to bill a failed actual interval: the meter is blocked and reported, the rest billed', async () => {
    const { run } = await fixtureRun();
    expect(run.lines.map((l) => l.meter)).not.toContain('E-CAFE-02');
    expect(run.blocked).toHaveLength(1);
    const b = run.blocked[0]!;
    expect(b).toMatchObject({ account: 'B-CAFE', meter: 'E-CAFE-02', utility: 'electricity' });
    expect(b.days).toHaveLength(1);
    expect(b.days[0]!.problem).toContain('spike');
    expect(b.days[0]!.start).toBe(Date.parse('2026-11-07T00:00:00+08:00'));
    // 5757 + 22906 + 4788 + 327627 + 51009 = 412087 fen
    expect(run.totalFen).toBe(412_087);
  });

  it('blocks a missing day and a day without a value', async () => {
    const src = fixtureSource();
    src.setDays('E-GAP', 'energy_import_kwh', [2026, 11, 1], days(29, 1)); // 30 November missing
    src.setDays('E-NULL', 'energy_import_kwh', [2026, 11, 1], [...days(29, 1), null]);
    const bo = backoffice();
    const runs = new BillRuns({ ...bo, tariffs: fixtureTariffs, source: src, timezone: TZ });
    const run = await runs.run(billing, {
      period: parsePeriod('2026-11', TZ),
      accounts: parseBillingAccounts({
        accounts: [
          {
            id: 'S-X',
            holder: 'x',
            customerType: 'student-room',
            meters: [
              { meter: 'E-GAP', utility: 'electricity' },
              { meter: 'E-NULL', utility: 'electricity' },
            ],
          },
        ],
      }),
    });
    expect(run.lines).toEqual([]);
    expect(run.blocked.map((b) => [b.meter, b.days.map((d) => d.problem)])).toEqual([
      ['E-GAP', ['no validated interval for this day']],
      ['E-NULL', ['no value: neither measured nor estimable']],
    ]);
  });

  it('records the run with who made it and the pinned VEE versions, audited with a digest of the lines', async () => {
    const { run, runs, src, audit, db } = await fixtureRun();
    expect(run.createdBy).toBe('fin.zhang');
    expect(src.pins).toHaveLength(1);
    expect(src.pins[0]!.billRun).toBe(run.id);
    // Five billed meters × 30 days; the blocked meter is not pinned.
    expect(src.pins[0]!.intervals).toHaveLength(150);
    expect(src.pins[0]!.intervals.every((iv) => iv.meter !== 'E-CAFE-02')).toBe(true);
    expect(line(run, 'E-E1-101').versions).toHaveLength(30);
    expect(line(run, 'E-E1-101').versions[9]).toBe(2);

    expect(runs.get(run.id)).toEqual(run);
    expect(runs.list()).toEqual([
      expect.objectContaining({ id: run.id, meters: 5, blocked: 1, totalFen: 412_087 }),
    ]);
    const [entry] = audit.query({ subject: `bill-run:${run.id}` });
    expect(entry).toMatchObject({ actor: 'fin.zhang', action: 'billing.run' });
    expect(entry!.after).toMatchObject({ totalFen: 412_087, digest: run.digest, blocked: ['E-CAFE-02'] });
    expect(audit.verify().ok).toBe(true);

    expect(runs.verify(run.id)).toEqual({ ok: true });
    db.prepare(
      'UPDATE bill_run_lines SET line = replace(line, \'"totalFen":5757\', \'"totalFen":5000\')',
    ).run();
    expect(runs.verify(run.id).ok).toBe(false);
  });

  it('refuses someone without billing.export, before reading anything', async () => {
    const src = fixtureSource();
    const runs = new BillRuns({ ...backoffice(), tariffs: fixtureTariffs, source: src, timezone: TZ });
    const err = await runs
      .run(clerk, { period: parsePeriod('2026-11', TZ), accounts: fixtureAccounts })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceError);
    expect((err as ServiceError).code).toBe('FORBIDDEN');
    expect(src.reads).toBe(0);
  });

  it('a period that starts mid-month counts the month so far towards the tiers', async () => {
    const src = fixtureSource();
    const runs = new BillRuns({ ...backoffice(), tariffs: fixtureTariffs, source: src, timezone: TZ });
    const run = await runs.run(billing, {
      period: parsePeriod('2026-11-16..2026-12-01', TZ),
      accounts: [fixtureAccounts[1]!],
    });
    // 225 kWh already used in November; 180 kWh now: 175 × 59.83 + 5 × 84.83 = 10470.25 + 424.15
    // = 10894.4 fen → 10894
    expect(fen(run, 'E-H-12-301')).toEqual({ energy: 10_894 });
    // Water: 15 × 0.4 = 6 m³ → 6 × 206 = 1236; 6 × 30 = 180; 6 × 170 = 1020.
    expect(line(run, 'W-H-12-301').totalFen).toBe(1236 + 180 + 1020);
  });
});

describe('exports', () => {
  it('CSV: fen as integers with a yuan column; blocked meters listed with their reasons', async () => {
    const { run } = await fixtureRun();
    const csv = billRunCsv(run);
    const rows = csv.trim().split('\n');
    expect(rows).toHaveLength(1 + 5 + 1);
    const header = rows[0]!.split(',');
    const room = rows.find((r) => r.includes(',E-E1-101,'))!.split(',');
    expect(room[header.indexOf('energy (fen)')]).toBe('5757');
    expect(room[header.indexOf('total (fen)')]).toBe('5757');
    expect(room[header.indexOf('total (yuan)')]).toBe('57.57');
    expect(room[header.indexOf('consumption')]).toBe('96.100');
    expect(room[header.indexOf('from (Asia/Shanghai)')]).toBe('2026-11-01 00:00');
    const water = rows.find((r) => r.includes(',W-LAUNDRY,'))!.split(',');
    expect(water[header.indexOf('sewage-treatment-fee (fen)')]).toBe('17199');
    expect(water[header.indexOf('total (yuan)')]).toBe('510.09');
    const blocked = rows.find((r) => r.includes(',E-CAFE-02,'))!;
    expect(blocked).toContain('blocked');
    expect(blocked).toContain('2026-11-07: failed spike');
  });

  it('splits into the payroll-deduction list and the payment-notice list', async () => {
    const { run } = await fixtureRun();
    // 22906 + 4788 = 27694 fen
    expect(payrollDeductions(run).map((a) => [a.account, a.payrollCode, a.totalFen])).toEqual([
      ['H-12-301', 'P004211', 27_694],
    ]);
    expect(paymentNotices(run).map((a) => [a.account, a.totalFen, a.blockedMeters])).toEqual([
      ['S-E1-101', 5757, []],
      ['B-CAFE', 327_627, ['E-CAFE-02']],
      ['V-LAUNDRY', 51_009, []],
    ]);
    expect(payrollCsv(run)).toContain('P004211,H-12-301,Staff household 12-301,27694,276.94,');
    const json = JSON.parse(exportRun(run, 'json', 'notices')) as { accounts: { account: string }[] };
    expect(json.accounts.map((a) => a.account)).toEqual(['S-E1-101', 'B-CAFE', 'V-LAUNDRY']);
    expect((JSON.parse(exportRun(run, 'json')) as BillRun).totalFen).toBe(412_087);
  });

  it('CSV text cells cannot become spreadsheet formulas', async () => {
    const src = fixtureSource();
    const runs = new BillRuns({ ...backoffice(), tariffs: fixtureTariffs, source: src, timezone: TZ });
    const run = await runs.run(billing, {
      period: parsePeriod('2026-11', TZ),
      accounts: [{ ...fixtureAccounts[0]!, holder: '=HYPERLINK("http://x","y")' }],
    });
    expect(billRunCsv(run)).toContain(`"'=HYPERLINK(""http://x"",""y"")"`);
  });
});

describe('accounts file and periods', () => {
  it('refuses a meter in two accounts', () => {
    const e = (() => {
      try {
        parseBillingAccounts({
          accounts: [
            { id: 'A', holder: 'a', customerType: 'business', meters: [{ meter: 'M', utility: 'water' }] },
            { id: 'B', holder: 'b', customerType: 'business', meters: [{ meter: 'M', utility: 'water' }] },
          ],
        });
      } catch (err) {
        return err as ServiceError;
      }
    })();
    expect(e?.code).toBe('INVALID_ACCOUNTS');
    expect(e?.message).toContain('meter M is in accounts A and B');
  });

  it('reads months, quarters and dates in the campus zone', () => {
    expect(parsePeriod('2026-11', TZ)).toEqual({
      label: '2026-11',
      from: Date.parse('2026-11-01T00:00:00+08:00'),
      to: Date.parse('2026-12-01T00:00:00+08:00'),
    });
    expect(parsePeriod('2026-Q4', TZ).to).toBe(Date.parse('2027-01-01T00:00:00+08:00'));
    expect(() => parsePeriod('2026-13', TZ)).toThrow(/not a month/);
    expect(() => parsePeriod('2026-11-31..2026-12-01', TZ)).toThrow(/does not exist/);
  });
});

describe('pricing merged days', () => {
  it('gives exactly the amounts of pricing each day on its own (tiers, price changes, month starts)', () => {
    // 20 October to 10 December: two month starts and the 16 November price changes inside.
    const bounds = Array.from({ length: 52 }, (_, i) => local(2026, 10, 20 + i));
    const pairs = [
      ['electricity', 'student-room'],
      ['electricity', 'staff-household'],
      ['electricity', 'business'],
      ['water', 'staff-household'],
      ['water', 'vendor'],
    ] as const;
    fc.assert(
      fc.property(
        fc.constantFrom(...pairs),
        fc.array(fc.integer({ min: 0, max: 40_000 }), { minLength: 51, maxLength: 51 }),
        fc.integer({ min: 0, max: 300_000 }),
        fc.integer({ min: 0, max: 50 }),
        ([utility, customerType], milli, prior, skip) => {
          // Some days missing (as if blocked elsewhere): merging must not bridge a hole.
          const days: ChargeInterval[] = milli
            .map((q, i) => ({ start: bounds[i]!, end: bounds[i + 1]!, quantity: q / 1000 }))
            .filter((_, i) => i !== skip);
          const cuts = [
            ...tariffVersions(fixtureTariffs, utility, customerType).map((v) => v.from),
            local(2026, 11, 1),
            local(2026, 12, 1),
          ].sort((a, b) => a - b);
          const request = { utility, customerType, priorUsage: { '2026-10': prior / 1000 } };
          const daily = charge(fixtureTariffs, { ...request, intervals: days });
          const merged = charge(fixtureTariffs, { ...request, intervals: mergeDays(days, cuts) });
          expect(merged.components).toEqual(daily.components);
          expect(merged.quantityMilli).toBe(daily.quantityMilli);
          expect(merged.usageByMonth).toEqual(daily.usageByMonth);
        },
      ),
      { numRuns: 200 },
    );
  });
});
