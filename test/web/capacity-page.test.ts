import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../adapters/mqtt/embedded-broker.ts';
import { SqliteStore } from '../../adapters/sqlite/store.ts';
import { validateCampus } from '../../config/campus.ts';
import { createBackofficeServer, type RunningBackofficeServer } from '../../services/backoffice/server.ts';
import type { StoredReading } from '../../services/metering/storage.ts';
import { demoCampus } from '../../simulators/campus/demo-campus.ts';
import { local } from '../billing/support.ts';
import { launchChromium } from '../helpers/chromium.ts';
import { testLogger } from '../helpers/logger.ts';

/**
 * Capacity increases in headless Chromium against the whole back office: the east incomer
 * (rated 400 kW in the campus file here) drew 200 kW for ten days with one quarter hour at
 * 320 kW. A clerk records the canteen's +50 kVA in English; an operator reviews it and sees the
 * chart of daily peaks; two supervisors approve in Chinese; the public page lists the outcome.
 */

const PASSWORD = 'correct horse battery staple';
const NOW = local(2026, 12, 1, 8);
const Q = 15 * 60_000;
let dir: string;
let broker: EmbeddedBroker;
let store: SqliteStore;
let bo: RunningBackofficeServer;
let browser: Browser;
const errors: string[] = [];

async function loginAs(username: string, lang: 'zh' | 'en'): Promise<Page> {
  const context = await browser.newContext({
    locale: lang === 'zh' ? 'zh-CN' : 'en-US',
    timezoneId: 'UTC',
    viewport: { width: 420, height: 900 },
  });
  const page = await context.newPage();
  page.on('pageerror', (err) => errors.push(`${username}: ${err.message}`));
  await page.goto(`${bo.url!}/`);
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', PASSWORD);
  await page.click('form[data-form=login] button[type=submit]');
  await page.waitForSelector(`[data-user="${username}"]`, { state: 'attached' });
  await page.goto(`${bo.url!}/#/capacity`);
  await page.waitForSelector('[data-section=capacity]');
  return page;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'capacity-page-'));
  broker = await startEmbeddedBroker();
  store = SqliteStore.open({ path: ':memory:' });
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
  await store.writeReadings(readings);
  const ports = Array.from({ length: 20 }, (_, i) => 20_000 + i);
  const raw = demoCampus({ ports, dataDir: dir, roomsPerFloorLine: 2 });
  for (const site of raw.sites)
    for (const g of site.gateways ?? [])
      for (const b of g.buses ?? [])
        for (const m of b.meters ?? []) if (m.id === 'E-E-SUB1-IN') m.maxPowerKw = 400;
  const campus = validateCampus(raw, { file: join(dir, 'campus.yaml'), dir });
  bo = await createBackofficeServer({
    ...{ campus, mqtt: { url: broker.url }, store, logger: testLogger(), clock: () => NOW },
    http: { host: '127.0.0.1', port: 0, secureCookie: false },
    bootstrapAdmin: { username: 'admin.zhou', password: PASSWORD },
    scryptCost: 1024,
    detection: false,
  });
  for (const [username, role] of [
    ['clerk.wang', 'clerk'],
    ['op.zhao', 'operator'],
    ['sup.li', 'supervisor'],
    ['sup.zhao', 'supervisor'],
  ] as const)
    await bo.users.provisionUser({ username, displayName: username, roles: [role], password: PASSWORD });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await bo?.stop();
  await store?.close();
  await broker?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

afterEach(() => {
  expect(errors.splice(0)).toEqual([]);
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

    const anon = await browser.newContext({ viewport: { width: 360, height: 740 } });
    const pub = await anon.newPage();
    await pub.goto(`${bo.url!}/public/?lang=zh`);
    expect(await pub.locator('[data-capacity="1"]').textContent()).toContain('已批准');
    expect(await pub.locator('#capacity').textContent()).not.toContain('East canteen');
    await anon.close();
  });
});
