import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { StoredReading } from '../../services/metering/storage.ts';
import { local } from '../billing/support.ts';
import { startDesk, type Desk } from './desk-harness.ts';

/**
 * The heating pages in headless Chromium against the whole back office on the demo campus, each
 * role in both languages: the desk records a stop and dispatches it to two maintenance staff
 * (English); the first locks the valve with its seal (Chinese), the second signs (English); the
 * desk sees the unit registered stopped (Chinese); an inspector draws a spot-check list, verifies
 * it against its seed and records a finding (Chinese, then English); billing enters November's
 * heat bill for the east station and sees it agree with the primary meter (English), then reads
 * the check in Chinese. Screenshots at 1366×768 and 390×844.
 */

const NOW = local(2026, 12, 5, 10);
const H = 3_600_000;
const SHOTS = join(process.cwd(), 'test-results', 'screenshots');
let desk: Desk;

/** November hour by hour: the primary meter 90 kWh an hour, the two households 40 and 45. */
function november(): StoredReading[] {
  const out: StoredReading[] = [];
  const from = local(2026, 11, 1, 0);
  const to = local(2026, 12, 1, 1);
  for (const [meter, perHour] of [
    ['H-HX-E-PRI', 90],
    ['H-E-H01', 40],
    ['H-E-H02', 45],
  ] as const)
    for (let ts = from, i = 0; ts <= to; ts += H, i++)
      out.push({
        ...{ meter, ts, seq: i + 1, quality: 'good', site: 'east', gateway: 'gw-east', kind: 'heat' },
        values: { heat_kwh: 10_000 + perHour * i },
      });
  return out;
}

beforeAll(async () => {
  desk = await startDesk({
    name: 'heating-pages',
    now: NOW,
    staff: [
      ['desk.wu', 'heating-desk'],
      ['maint.sun', 'maintenance'],
      ['maint.ma', 'maintenance'],
      ['insp.chen', 'inspector'],
      ['bill.zhao', 'billing'],
      ['sup.li', 'supervisor'],
    ],
    readings: november(),
    edit: (raw) => {
      // The east heat-exchange station's primary meter, on the households' heat line.
      for (const site of raw.sites)
        for (const g of site.gateways ?? [])
          for (const b of g.buses ?? []) {
            const h1 = (b.meters ?? []).find((m) => m.id === 'H-E-H01');
            if (h1) b.meters!.push({ ...h1, id: 'H-HX-E-PRI', unitId: 180, account: undefined });
          }
      (raw as { billing?: unknown }).billing = {
        supplyPoints: [
          {
            ...{ id: 'HX-EAST', utility: 'heat', meter: 'H-HX-E-PRI', billedMeters: ['H-E-H01', 'H-E-H02'] },
            ...{ lossPercent: 6, thresholdPercent: 2 },
            contract: [{ effectiveFrom: '2026-10-01', components: [{ name: 'heat', price: '0.162' }] }],
            fixed: [{ name: 'capacity-charge', quantity: 1000, price: '1.5' }],
          },
        ],
      };
    },
  });
});

afterAll(async () => desk?.close());

afterEach(() => {
  expect(desk.errors.splice(0)).toEqual([]);
});

async function shots(page: Page, name: string) {
  for (const [w, h] of [
    [1366, 768],
    [390, 844],
  ] as const) {
    await page.setViewportSize({ width: w, height: h });
    await page.screenshot({ path: join(SHOTS, `${name}-${w}.png`), fullPage: true });
  }
}

describe('the heating pages', () => {
  it('carry a stop from the desk through two maintenance signatures to the stopped list', async () => {
    const clerk = await desk.openAs('desk.wu', 'en', '#/heating', 'heating-apply');
    await clerk.selectOption('form[data-form=heating-apply] select[name=kind]', 'stop');
    await clerk.fill('form[data-form=heating-apply] input[name=unit]', 'H-E-H03');
    await clerk.fill('form[data-form=heating-apply] input[name=applicant]', 'Li household');
    await clerk.fill('form[data-form=heating-apply] input[name=reason]', 'abroad for the winter');
    await clerk.click('form[data-form=heating-apply] button[type=submit]');
    await clerk.waitForSelector('[data-application="HA-1"][data-state=accepted]');
    await clerk.fill('[data-application="HA-1"] input[name=crew]', 'maint.sun, maint.ma');
    await clerk.click('[data-application="HA-1"] [data-action=dispatch]');
    await clerk.waitForSelector('[data-application="HA-1"][data-state=dispatched]');
    await shots(clerk, 'heating-desk-en');

    const first = await desk.openAs('maint.sun', 'zh', '#/heating-orders', 'heating-orders');
    // The back office's clock stands still here: locked just now, when it was dispatched.
    await first.fill('[data-order="WO-H-1"] input[name=minutes]', '0');
    await first.fill('[data-order="WO-H-1"] input[name=seal]', 'S-0042');
    await first.click('[data-order="WO-H-1"] [data-action=valve]');
    await first.waitForSelector('[data-order="WO-H-1"][data-state=valve-done]');
    expect(await first.locator('[data-order="WO-H-1"]').innerText()).toContain('已锁阀');
    // The one who locked it is offered no second signature.
    expect(await first.locator('[data-order="WO-H-1"] [data-action=sign]').count()).toBe(0);
    await shots(first, 'heating-orders-zh');

    const second = await desk.openAs('maint.ma', 'en', '#/heating-orders', 'heating-orders');
    await second.click('[data-order="WO-H-1"] [data-action=sign]');
    await second.waitForSelector('[data-order="WO-H-1"][data-state=stopped]');

    const back = await desk.openAs('desk.wu', 'zh', '#/heating', 'heating-applications');
    await back.waitForSelector('[data-stopped="H-E-H03"]');
    const row = await back.locator('[data-stopped="H-E-H03"]').innerText();
    expect(row).toContain('WO-H-1');
    expect(row).toContain('maint.sun, maint.ma');
    // Locked at 10:00 on 5 December, Beijing time: the page shows the campus zone, not the browser's UTC.
    expect(row).toContain('10:00');
    await shots(back, 'heating-desk-zh');
  });

  it('lets an inspector draw, verify and record a spot check, in both languages', async () => {
    for (const lang of ['zh', 'en'] as const) {
      const page = await desk.openAs('insp.chen', lang, '#/heating-spot', 'heating-spot');
      await page.fill('form[data-form=spot-draw] input[name=size]', '1');
      await page.click('form[data-form=spot-draw] button[type=submit]');
      await page.waitForSelector('[data-spot-check] [data-drawn="H-E-H03"]');
      const card = page.locator('[data-spot-check]').first();
      await card.locator('[data-action=verify]').click();
      await page.waitForSelector('[data-verify] .note-ok');
      await card.locator('select[name=outcome]').selectOption('locked-intact');
      await card.locator('[data-action=finding]').click();
      await expect
        .poll(() => card.locator('[data-drawn="H-E-H03"]').innerText())
        .toContain(lang === 'zh' ? '阀门锁闭完好' : 'Valve locked, seal intact');
      await shots(page, `heating-spot-${lang}`);
    }
  });

  it('checks the heat bill against the primary meter for billing, in both languages', async () => {
    const page = await desk.openAs('bill.zhao', 'en', '#/heat-purchase', 'heat-bill');
    const form = 'form[data-form=heat-bill]';
    await page.fill(`${form} input[name=month]`, '2026-11');
    await page.fill(`${form} input[name=billNo]`, 'HB-2026-11');
    // 30 days × 2 160 kWh = 64 800 kWh = 233.28 GJ; × ¥0.162 = ¥10 497.60; capacity ¥1 500.00.
    await page.fill(`${form} input[name=quantity]`, '233.28');
    await page.selectOption(`${form} select[name=unit]`, 'GJ');
    await page.fill(`${form} input[name=amount]`, '11997.60');
    await page.fill(`${form} input[data-element=heat]`, '10497.60');
    await page.fill(`${form} input[data-element=capacity-charge]`, '1500');
    await page.click(`${form} button[type=submit]`);
    await page.waitForSelector('[data-heat-bill="HB-2026-11"][data-flagged=false]');
    const row = await page.locator('[data-heat-bill="HB-2026-11"]').innerText();
    expect(row).toContain('64,800');
    expect(row).toContain('¥11997.60');
    await shots(page, 'heat-purchase-en');
    const zh = await desk.openAs('bill.zhao', 'zh', '#/heat-purchase', 'heat-checks');
    await zh.waitForSelector('[data-heat-bill="HB-2026-11"]');
    expect(await zh.locator('[data-heat-bill="HB-2026-11"]').innerText()).toContain('相符');
    await shots(zh, 'heat-purchase-zh');
  });

  it('electric heating: the desk proposes, a second over it is refused, a supervisor approves, the desk ends it, in both languages', async () => {
    const clerk = await desk.openAs('desk.wu', 'zh', '#/heating', 'heating-electric');
    const form = 'form[data-form=heating-electric]';
    const register = async (page: Page) => {
      await page.fill(`${form} input[name=meter]`, 'E-E-H03');
      await page.fill(`${form} input[name=applicant]`, '李家');
      await page.fill(`${form} input[name=reason]`, '电采暖电价 EH-2026-03');
      await page.click(`${form} button[type=submit]`);
    };
    await register(clerk);
    await clerk.waitForSelector('[data-electric="E-E-H03"][data-state=proposed]');
    const row = await clerk.locator('[data-electric="E-E-H03"]').innerText();
    expect(row).toContain('EH-1');
    expect(row).toContain('desk.wu');
    expect(row).toContain('待批准');
    // The desk may withdraw its proposal, not approve it: the page offers no approve button.
    expect(await clerk.locator('[data-electric="E-E-H03"] [data-action=approve-electric]').count()).toBe(0);
    expect(await clerk.locator('[data-electric="E-E-H03"] [data-action=withdraw-electric]').count()).toBe(1);
    // Recorded at 10:00 on 5 December, Beijing time: it takes effect then, shown in the campus zone.
    expect(row).toContain('10:00');
    expect(await clerk.locator('[data-section=heating-electric] h2').innerText()).toBe('登记电采暖的单元');
    // A second registration over the one in force is refused, in the reader's language.
    await register(clerk);
    await expect
      .poll(() => clerk.locator(`${form} .note-error`).innerText())
      .toContain('该单元在这段时间已登记电采暖');
    await shots(clerk, 'heating-electric-zh');

    // A supervisor approves it, in English.
    const sup = await desk.openAs('sup.li', 'en', '#/heating', 'heating-electric');
    await sup.waitForSelector('[data-electric="E-E-H03"][data-state=proposed]');
    expect(await sup.locator('[data-electric="E-E-H03"]').innerText()).toContain('Awaiting approval');
    await sup.fill('[data-electric="E-E-H03"] input[name=decisionReason]', 'contract EH-2026-03 seen');
    await sup.click('[data-electric="E-E-H03"] [data-action=approve-electric]');
    await sup.waitForSelector('[data-electric="E-E-H03"][data-state=approved]');
    const approved = await sup.locator('[data-electric="E-E-H03"]').innerText();
    expect(approved).toContain('sup.li');
    expect(approved).toContain('contract EH-2026-03 seen');
    await shots(sup, 'heating-electric-approved-en');

    const en = await desk.openAs('desk.wu', 'en', '#/heating', 'heating-electric');
    await en.waitForSelector('[data-electric="E-E-H03"][data-state=approved]');
    expect(await en.locator('[data-section=heating-electric] h2').innerText()).toBe(
      'Units registered as heated electrically',
    );
    // Ending takes a reason: a blank one is refused by the server and said in the card; nothing ends.
    await en.click('[data-electric="E-E-H03"] [data-action=end-electric]');
    await en.locator('[data-section=heating-electric] .note-error').waitFor();
    expect(await en.locator('[data-electric="E-E-H03"]').getAttribute('data-ended')).toBe('false');
    await en.fill('[data-electric="E-E-H03"] input[name=endReason]', 'moved to district heating');
    await en.click('[data-electric="E-E-H03"] [data-action=end-electric]');
    await en.waitForSelector('[data-electric="E-E-H03"][data-ended=true]');
    expect(await en.locator('[data-electric="E-E-H03"]').innerText()).toContain('moved to district heating');
    await shots(en, 'heating-electric-en');
  });

  it('records a certified area at the desk and computes the season for billing', async () => {
    const clerk = await desk.openAs('desk.wu', 'zh', '#/heating', 'heating-units');
    const form = 'form[data-form=heating-unit]';
    await clerk.fill(`${form} input[name=unit]`, 'H-E-H05');
    await clerk.fill(`${form} input[name=account]`, 'HH-E-H05');
    await clerk.fill(`${form} input[name=holder]`, '何家');
    await clerk.fill(`${form} input[name=validFrom]`, '2026-10-01');
    await clerk.fill(`${form} input[name=area]`, '82.5');
    await clerk.fill(`${form} input[name=certificate]`, 'HC-E-05');
    await clerk.fill(`${form} input[name=reason]`, '首次登记');
    await clerk.click(`${form} button[type=submit]`);
    await clerk.waitForSelector('[data-heating-unit="H-E-H05"]');
    expect(await clerk.locator('[data-heating-unit="H-E-H05"]').innerText()).toContain('82.50 m²');
    await shots(clerk, 'heating-units-zh');

    const billing = await desk.openAs('bill.zhao', 'en', '#/heating', 'heating-units');
    const season = 'form[data-form=heating-season]';
    await billing.fill(`${season} input[name=season]`, '2026-2027');
    await billing.fill(`${season} input[name=firstDay]`, '2026-11-15');
    await billing.fill(`${season} input[name=lastDay]`, '2027-03-15');
    await billing.fill(`${season} input[name=price]`, '24.50');
    await billing.click(`${season} button[type=submit]`);
    await billing.click('[data-season="2026-2027"] [data-action=bill]');
    // 82.50 m² × ¥24.50 = ¥2 021.25, the one unit certified.
    await billing.waitForSelector('[data-section=heating-units] .note-ok');
    expect(await billing.locator('[data-section=heating-units] .note-ok').innerText()).toBe(
      'br-heat-2026-2027: ¥2021.25',
    );
  });
});
