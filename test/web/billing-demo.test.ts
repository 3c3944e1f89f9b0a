import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { seedDemoRulebook, demoRulebookCampus } from '../../services/backoffice/demo-seed/index.ts';
import type { StoredReading } from '../../services/metering/storage.ts';
import { local } from '../billing/support.ts';
import { startDesk, type Desk } from './desk-harness.ts';

/**
 * The demo's half month of the rulebook (issue 14 item 5, issue 24 item 3), seeded by the demo's
 * own module on the demo campus at a fixed clock, 6 December 2026 10:00 in Shanghai, after twelve
 * days of readings: every post-paid household draws 1 kWh an hour in a four-step pattern (24 kWh a day),
 * the canteen 8 kWh an hour (192 kWh a day), and the east incomer what they draw and 2 % more
 * (318.24 kWh a day: the supply point's billed meters here are these, its loss allowance 3 %). The first
 * three full days (25–28 November) are billed, notices issued and paid in full, in part or not at
 * all; the second half of November is reconciled; complaints and tips are on the desk. Then billing
 * staff do the rest by clicking: run 28 November – 6 December, download its lines, and enter the
 * power company's invoice for the east supply point (8 days × 318.24 kWh = 2,545.92 kWh at ¥0.62 =
 * ¥1,578.47), which agrees with the campus's meters (1.96 % unexplained, within the 3 % allowed).
 */

const NOW = local(2026, 12, 6, 10);
const START = NOW - 12 * 86_400_000;
const Q = 15 * 60_000;
const SHOTS = join(process.cwd(), 'test-results', 'screenshots');
/** Quarter-hour increments in a four-step pattern (never a flat line, which VEE rejects): 1 kWh an hour × scale. */
const PATTERN = [0.2, 0.3, 0.24, 0.26];
const SCALE: Record<string, number> = { 'E-E-CANTEEN': 8, 'E-E-SUB1-IN': 13.26 };
const METERS = ['E-E-H01', 'E-E-H02', 'E-E-H04', 'E-E-H05', 'E-E-H06', 'E-E-CANTEEN', 'E-E-SUB1-IN'];
let desk: Desk;
let seeded: string[];

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  const readings: StoredReading[] = [];
  for (const meter of METERS) {
    // In hundredths of a kWh, so that the register is exact whatever the number of steps.
    let centi = 100_000;
    for (let ts = START, seq = 0; ts <= NOW; ts += Q, seq++) {
      readings.push({
        ...{ meter, ts, seq, quality: 'good', site: 'east', gateway: 'gw-east', kind: 'electricity' },
        values: { energy_import_kwh: centi / 100 },
      });
      centi += Math.round(PATTERN[seq % 4]! * (SCALE[meter] ?? 1) * 100);
    }
  }
  desk = await startDesk({
    name: 'billing-demo',
    now: NOW,
    staff: [
      ['bill.zhou', 'billing'],
      ['demo.complaints', 'complaints'],
      ['sup.chen', 'supervisor'],
      ['demo.inspector', 'inspector'],
    ],
    readings,
    edit: (raw) => Object.assign(raw, demoRulebookCampus()),
  });
  seeded = await seedDemoRulebook(desk.bo, { start: START, now: NOW });
});

afterAll(async () => desk?.close());

afterEach(() => {
  expect(desk.errors.splice(0)).toEqual([]);
});

describe("the demo's half month of the rulebook", () => {
  it('bills the first days, issues notices paid in full, in part and not at all, and reconciles the half month', () => {
    const c = desk.bo.collection.collection;
    const [table] = c.feeTables();
    expect(table).toMatchObject({ period: '2026-11-25..2026-11-28', confirmed: true });
    const fees = c.feeTable(table!.id).accounts;
    // 3 days × 24 kWh for each household, 3 × 192 kWh for the canteen, each priced by its tariff.
    const run = c.runOf(table!.id);
    for (const a of fees) {
      const lines = run.lines.filter((l) => l.account === a.account);
      expect(lines.map((l) => l.quantityMilli)).toEqual([a.account === 'BIZ-E-CANTEEN' ? 576_000 : 72_000]);
      expect(a.feeFen).toBe(lines.reduce((s, l) => s + l.totalFen, 0));
    }
    // The two with a payroll code are deducted from salary; the others get a notice.
    expect(
      c
        .payrollList(table!.id)
        .map((p: { account: string }) => p.account)
        .sort(),
    ).toEqual(['HH-E-H01', 'HH-E-H02']);
    const notices = Object.fromEntries(c.notices(table!.id, NOW).map((n) => [n.account, n]));
    expect(Object.keys(notices).sort()).toEqual(['BIZ-E-CANTEEN', 'HH-E-H04', 'HH-E-H05', 'HH-E-H06']);
    expect(notices['BIZ-E-CANTEEN']!.outstandingFen).toBe(0);
    expect(notices['HH-E-H04']!.outstandingFen).toBe(0);
    const part = notices['HH-E-H05']!;
    expect(part.paidPrincipalFen).toBe(Math.floor(part.feeFen / 2));
    expect(part.daysOverdue).toBeGreaterThan(0);
    const none = notices['HH-E-H06']!;
    expect([none.paidPrincipalFen, none.daysOverdue > 0]).toEqual([0, true]);
    expect(desk.bo.audit.query({ action: 'collection.remind' }).map((e) => e.subject)).toHaveLength(1);

    const r = desk.bo.collection.reconciliation;
    const [report] = r.reports('2026-11-H2');
    // Takings: the three post-paid payments (the prepaid demo rooms are not opened here).
    const paid = notices['BIZ-E-CANTEEN']!.feeFen + notices['HH-E-H04']!.feeFen + part.paidPrincipalFen;
    expect(report!.figures.takings.totalFen).toBe(paid);
    expect(report!.figures.differences.map((d) => [d.key, d.differenceFen])).toEqual([['method:cash', 500]]);
    expect(report!.signatures.map((s) => [s.step, s.signedBy])).toEqual([['clerk', 'demo.clerk']]);
    expect(report!.nextStep).toBe('assistant');
    expect(seeded.join('\n')).toContain('2026-11-28..2026-12-06 is ready to bill');
  });

  it('puts complaints and tips on the desk, one of them anonymous and one by email', () => {
    const desk2 = { id: 'demo.complaints', kind: 'user' as const, roles: ['complaints' as const] };
    const cases = desk.bo.complaints.complaints.list(desk2);
    expect(cases.map((c) => [c.channel, c.anonymous, c.state])).toEqual([
      ['email', true, 'open'],
      ['hotline', false, 'closed'],
      ['box', false, 'assigned'],
      ['hotline', true, 'assigned'],
    ]);
    expect(cases[0]!.summary).toBe('举报：西区食堂后面水表被人动过');
    expect(desk.bo.complaints.complaints.tipster(desk2, cases[0]!.number)).toMatchObject({
      name: '赵同学',
      email: 'zhao.tongxue@student.campus.example',
    });
  });

  for (const lang of ['en', 'zh'] as const)
    it(`billing staff run the rest, download it and check the power company's invoice by clicking (${lang})`, async () => {
      const page = await desk.openAs('bill.zhou', lang, '#/billing', 'runs');
      await page.setViewportSize({ width: 1366, height: 768 });
      const runRow = page.locator('tr[data-run]').filter({ hasText: '2026-11-28..2026-12-06' });
      if (lang === 'en') {
        await page.fill('form[data-form=bill-run] input[name=period]', '2026-11-28..2026-12-06');
        await page.click('form[data-form=bill-run] button[type=submit]');
        await runRow.waitFor();
      }
      expect(await runRow.count()).toBe(1);
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        runRow.locator('a.export').first().click(),
      ]);
      const csv = readFileSync((await download.path())!, 'utf8');
      // Eight days of each post-paid meter: 192 kWh a household, 1,536 kWh the canteen, nothing blocked.
      for (const account of ['HH-E-H01', 'HH-E-H04', 'HH-E-H06', 'BIZ-E-CANTEEN'])
        expect(csv).toContain(account);
      expect(csv).toMatch(/,1536(\.0+)?,/);
      expect(csv).toMatch(/,192(\.0+)?,/);
      expect(csv).not.toContain('blocked');

      const form = page.locator('form[data-form=invoice-check]');
      await form.locator('input[name=period]').fill('2026-11-28..2026-12-06');
      await form.locator('input[name=supplyPoint]').fill('SP-EAST-POWER');
      await form.locator('input[name=invoiceNo]').fill(`GD-2026-12-${lang}`);
      await form.locator('input[name=quantity]').fill('2545.92');
      await form.locator('textarea[name=elements]').fill('energy, 1578.47, 2545.92');
      await form.locator('button[type=submit]').click();
      await page
        .getByText(
          lang === 'en'
            ? `Invoice GD-2026-12-${lang} agrees with the campus meters`
            : `发票 GD-2026-12-${lang} 与校内计量一致`,
        )
        .waitFor();
      await page.screenshot({ path: join(SHOTS, `billing-demo-${lang}-1366.png`), fullPage: true });
    });
});
