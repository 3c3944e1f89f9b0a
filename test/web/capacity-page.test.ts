import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { StoredReading } from '../../services/metering/storage.ts';
import { local } from '../billing/support.ts';
import { startDesk, type Desk } from './desk-harness.ts';

/**
 * Capacity increases in headless Chromium against the whole back office: the east incomer
 * (rated 400 kW in the campus file here) drew 200 kW for ten days with one quarter hour at
 * 320 kW. A clerk records the canteen's +50 kVA in English; an operator reviews it and sees the
 * chart of daily peaks; two supervisors approve in Chinese; the public page lists the outcome.
 */

const NOW = local(2026, 12, 1, 8);
const Q = 15 * 60_000;
let desk: Desk;
const loginAs = (username: string, lang: 'zh' | 'en') =>
  desk.openAs(username, lang, '#/capacity', 'capacity');

beforeAll(async () => {
  const readings: StoredReading[] = [];
  let kwh = 10_000;
  for (let ts = NOW - 10 * 86_400_000, seq = 0; ts <= NOW; ts += Q, seq++) {
    readings.push({
      ...{
        meter: 'E-E-SUB1-IN',
        ts,
        seq,
        quality: 'good',
        site: 'east',
        gateway: 'gw-east',
        kind: 'electricity',
      },
      values: { energy_import_kwh: kwh },
    });
    kwh += ts + Q === NOW - 3 * 86_400_000 ? 80 : 50;
  }

  desk = await startDesk({
    name: 'capacity-page',
    now: NOW,
    staff: [
      ['clerk.wang', 'clerk'],
      ['op.zhao', 'operator'],
      ['sup.li', 'supervisor'],
      ['sup.zhao', 'supervisor'],
    ],
    readings,
    edit: (raw) => {
      for (const site of raw.sites)
        for (const g of site.gateways ?? [])
          for (const b of g.buses ?? [])
            for (const m of b.meters ?? []) if (m.id === 'E-E-SUB1-IN') m.maxPowerKw = 400;
    },
  });
});

afterAll(async () => desk?.close());

afterEach(() => {
  expect(desk.errors.splice(0)).toEqual([]);
});

describe('capacity page', () => {
  it('recorded in English, reviewed with its chart, approved by two supervisors in Chinese, public', async () => {
    const clerk = await loginAs('clerk.wang', 'en');
    await clerk.fill('input[name=meter]', 'E-E-CANTEEN');
    await clerk.fill('input[name=applicant]', 'East canteen');
    await clerk.fill('input[name=increase]', '50');
    await clerk.fill('input[name=reason]', 'New ovens');
    await clerk.click('form[data-form=apply-capacity] button[type=submit]');
    await clerk.waitForSelector('[data-capacity="1"][data-state=applied]');
    expect(await clerk.locator('[data-capacity="1"] [data-state]').textContent()).toBe('Awaiting review');
    await clerk.context().close();

    const op = await loginAs('op.zhao', 'en');
    await op.fill('[data-capacity="1"] input[name=note]', 'single-line diagram checked');
    await op.click('[data-capacity="1"] [data-action=review]');
    await op.waitForSelector('[data-review="1"] [data-chart=uplot]');
    const text = await op.locator('[data-review="1"] p').textContent();
    expect(text).toContain('Peak, last year: 320');
    expect(text).toContain('Headroom: 80');
    expect(text).toContain('Fits: yes');
    expect(text).toContain('Fee: ¥10000.00');
    await op.context().close();

    for (const [who, state] of [
      ['sup.li', '已一人批准'],
      ['sup.zhao', '已批准'],
    ] as const) {
      const sup = await loginAs(who, 'zh');
      expect(await sup.locator('h1').textContent()).toBe('增容审批');
      await sup.click('[data-capacity="1"] [data-action=approve]');
      await sup.waitForSelector(`[data-capacity="1"] [data-state] >> text=${state}`);
      await sup.context().close();
    }

    const anon = await desk.browser.newContext({ viewport: { width: 360, height: 740 } });
    const pub = await anon.newPage();
    await pub.goto(`${desk.bo.url!}/public/?lang=zh`);
    expect(await pub.locator('[data-capacity="1"]').textContent()).toContain('已批准');
    expect(await pub.locator('#capacity').textContent()).not.toContain('East canteen');
    await anon.close();
  });
});
