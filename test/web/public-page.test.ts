import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../adapters/mqtt/embedded-broker.ts';
import { SqliteStore } from '../../adapters/sqlite/store.ts';
import { validateCampus } from '../../config/campus.ts';
import { createBackofficeServer, type RunningBackofficeServer } from '../../services/backoffice/server.ts';
import { demoCampus } from '../../simulators/campus/demo-campus.ts';
import { launchChromium } from '../helpers/chromium.ts';
import { testLogger } from '../helpers/logger.ts';

/**
 * The public window in headless Chromium on a phone (360 px), without logging in, in both
 * languages: an approved outage with its notice link, the prices in force, the fee standards and
 * the procedures with who decides; nothing wider than the screen but the tables' own scrollers.
 */

const T0 = Date.UTC(2026, 11, 1, 0, 0);
const HOUR = 3_600_000;

let dir: string;
let broker: EmbeddedBroker;
let store: SqliteStore;
let bo: RunningBackofficeServer;
let browser: Browser;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'public-page-'));
  broker = await startEmbeddedBroker();
  store = SqliteStore.open({ path: ':memory:' });
  const ports = Array.from({ length: 20 }, (_, i) => 20_000 + i);
  const campus = validateCampus(demoCampus({ ports, dataDir: dir, roomsPerFloorLine: 2 }), {
    file: join(dir, 'campus.yaml'),
    dir,
  });
  bo = await createBackofficeServer({
    ...{ campus, mqtt: { url: broker.url }, store, logger: testLogger(), clock: () => T0 },
    http: { host: '127.0.0.1', port: 0, secureCookie: false },
    scryptCost: 1024,
    detection: false,
  });
  const o = bo.desk.outages.plan(
    { id: 'op.zhao', kind: 'user', roles: ['operator'] },
    {
      utility: 'water',
      node: 'W-E-MASTER',
      startsAt: T0 + 48 * HOUR,
      endsAt: T0 + 50 * HOUR,
      reason: 'Main valve',
    },
  );
  bo.desk.outages.approve({ id: 'sup.li', kind: 'user', roles: ['supervisor'] }, o.id);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await bo?.stop();
  await store?.close();
  await broker?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('public window page', () => {
  for (const [lang, words] of [
    [
      'zh',
      {
        title: '公开栏',
        outages: '计划停电、停水、停暖',
        decides: '决定人',
        fee: '用电增容费',
        notice: '停水通知',
      },
    ],
    [
      'en',
      {
        title: 'public window',
        outages: 'Planned power, water and heating outages',
        decides: 'Decides',
        fee: 'Electricity capacity increase',
        notice: 'Water outage notice',
      },
    ],
  ] as const) {
    it(`shows outages, prices, fees and procedures on a phone without a login (${lang})`, async () => {
      const context = await browser.newContext({ viewport: { width: 360, height: 740 }, timezoneId: 'UTC' });
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      const res = await page.goto(`${bo.url!}/public/?lang=${lang}`);
      expect(res!.status()).toBe(200);
      expect(await page.locator('h1').textContent()).toContain(words.title);
      expect(await page.locator('#outages h2').textContent()).toBe(words.outages);
      expect(await page.locator('[data-outage]').count()).toBe(1);
      expect(await page.locator('[data-tariff]').count()).toBeGreaterThan(3);
      expect(await page.locator('[data-fee=capacity-electricity]').textContent()).toContain(words.fee);
      expect(await page.locator('[data-procedure=cut-off] summary').textContent()).toContain(words.decides);
      // Phone-first: the page itself never scrolls sideways.
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow).toBeLessThanOrEqual(0);
      await page.locator('[data-outage] a').first().click();
      await page.waitForURL(/notice/);
      expect(await page.locator('h1').textContent()).toBe(words.notice);
      expect(errors).toEqual([]);
      await context.close();
    });
  }

  it('switches language with its link', async () => {
    const context = await browser.newContext({ viewport: { width: 360, height: 740 } });
    const page = await context.newPage();
    await page.goto(`${bo.url!}/public/?lang=zh`);
    await page.locator('a.lang').click();
    await page.waitForURL(/lang=en/);
    expect(await page.locator('html').getAttribute('lang')).toBe('en');
    await context.close();
  });
});
