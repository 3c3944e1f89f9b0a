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
 * The annual plans page in headless Chromium against the whole back office (real VEE over SQLite
 * readings: W-E1 used 30 m³ in November 2026; the clock stands at 1 December): an operator
 * proposes in English, a supervisor approves in Chinese and sees 30 of a 35 m³ plan used, past
 * the 80 % warning.
 */

const PASSWORD = 'correct horse battery staple';
const NOW = local(2026, 12, 1, 8);
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
  await page.goto(`${bo.url!}/#/plans/2026`);
  await page.waitForSelector('[data-section=plans]');
  return page;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'plans-page-'));
  broker = await startEmbeddedBroker();
  store = SqliteStore.open({ path: ':memory:' });
  const readings: StoredReading[] = [];
  const from = local(2026, 11, 1);
  for (let ts = from, seq = 0; ts <= local(2026, 12, 1); ts += 15 * 60_000, seq++)
    readings.push({
      ...{ meter: 'W-E1', ts, seq, quality: 'good', site: 'east', gateway: 'gw-east', kind: 'water' },
      values: { volume_m3: 5000 + (ts - from) / 86_400_000 },
    });
  await store.writeReadings(readings);
  const ports = Array.from({ length: 20 }, (_, i) => 20_000 + i);
  const campus = validateCampus(demoCampus({ ports, dataDir: dir, roomsPerFloorLine: 2 }), {
    file: join(dir, 'campus.yaml'),
    dir,
  });
  bo = await createBackofficeServer({
    ...{ campus, mqtt: { url: broker.url }, store, logger: testLogger(), clock: () => NOW },
    http: { host: '127.0.0.1', port: 0, secureCookie: false },
    bootstrapAdmin: { username: 'admin.zhou', password: PASSWORD },
    scryptCost: 1024,
    detection: false,
  });
  for (const [username, role] of [
    ['op.zhao', 'operator'],
    ['sup.li', 'supervisor'],
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

describe('annual plans page', () => {
  it('an operator proposes in English; a supervisor approves in Chinese and sees the 80 % warning', async () => {
    const op = await loginAs('op.zhao', 'en');
    expect(await op.locator('h1').textContent()).toBe('Annual water plans 2026');
    await op.fill('input[name=unit]', 'dorm-e1');
    await op.fill('input[name=name]', 'Dorm E1');
    await op.fill('input[name=meters]', 'W-E1');
    await op.fill('input[name=quantity]', '35');
    await op.click('form[data-form=propose-plan] button[type=submit]');
    const row = op.locator('[data-plan="1"]');
    await row.waitFor();
    expect(await row.textContent()).toContain('Awaiting approval');
    expect(await row.locator('[data-action=approve]').count()).toBe(0);
    // A meter of another utility: the server's reason, nothing proposed.
    await op.fill('input[name=meters]', 'E-E1-101');
    await op.click('form[data-form=propose-plan] button[type=submit]');
    await op.locator('.note-error').waitFor();
    expect(await op.locator('.note-error').textContent()).toContain('E-E1-101');
    await op.context().close();

    const sup = await loginAs('sup.li', 'zh');
    expect(await sup.locator('h1').textContent()).toBe('年度用水计划 2026');
    await sup.locator('[data-plan="1"] [data-action=approve]').click();
    await sup.waitForSelector('[data-plan="1"][data-state=approved]');
    const r = sup.locator('[data-plan="1"]');
    expect(await r.textContent()).toContain('已批准');
    // 30 of 35 m³: 85.71 %, past the first warning.
    expect(await r.textContent()).toContain('85.71 %');
    expect(await r.locator('[data-level]').getAttribute('data-level')).toBe('80');
    await sup.context().close();
  });
});
