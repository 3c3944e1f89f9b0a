import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../adapters/mqtt/embedded-broker.ts';
import { SqliteStore } from '../../adapters/sqlite/store.ts';
import { validateCampus } from '../../config/campus.ts';
import { createBackofficeServer, type RunningBackofficeServer } from '../../services/backoffice/server.ts';
import { demoCampus } from '../../simulators/campus/demo-campus.ts';
import { launchChromium } from '../helpers/chromium.ts';
import { testLogger } from '../helpers/logger.ts';

/**
 * The planned-outage desk in headless Chromium against the whole back office on a fixed clock
 * (1 December 2026 08:00 in Shanghai): an operator plans in English (times typed in the campus
 * zone), sees no approve button; a supervisor approves in Chinese; the printable notice opens
 * without a login. The browser runs in UTC so that a time shown right is the page's doing.
 */

const PASSWORD = 'correct horse battery staple';
const T0 = Date.UTC(2026, 11, 1, 0, 0);

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
  await page.goto(`${bo.url!}/#/outages`);
  await page.waitForSelector('[data-section=outages]');
  return page;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'outages-page-'));
  broker = await startEmbeddedBroker();
  store = SqliteStore.open({ path: ':memory:' });
  const ports = Array.from({ length: 20 }, (_, i) => 20_000 + i);
  const campus = validateCampus(demoCampus({ ports, dataDir: dir, roomsPerFloorLine: 2 }), {
    file: join(dir, 'campus.yaml'),
    dir,
  });
  bo = await createBackofficeServer({
    campus,
    mqtt: { url: broker.url },
    store,
    logger: testLogger(),
    clock: () => T0,
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

describe('planned outages page', () => {
  it('an operator plans in English; a supervisor approves in Chinese; the notice prints without a login', async () => {
    const op = await loginAs('op.zhao', 'en');
    expect(await op.locator('h1').textContent()).toBe('Planned outages');
    await op.selectOption('select[name=utility]', 'electricity');
    await op.fill('input[name=node]', 'E-E1-MAIN');
    await op.fill('input[name=startsAt]', '2026-12-03T08:00');
    await op.fill('input[name=endsAt]', '2026-12-03T12:00');
    await op.fill('input[name=reason]', 'Busbar replacement');
    await op.click('form[data-form=plan-outage] button[type=submit]');
    const row = op.locator('[data-outage="1"]');
    await row.waitFor();
    expect(await row.locator('[data-phase]').textContent()).toBe('Awaiting approval');
    // Shown in the campus zone although the browser runs in UTC.
    expect(await row.textContent()).toContain('2026-12-03 08:00:00 – 2026-12-03 12:00:00');
    expect(await row.textContent()).toContain('1 buildings, 4 rooms/units, 4 accounts');
    expect(await row.locator('[data-action=approve]').count()).toBe(0);
    // Too little notice: refused with the server's reason, nothing planned.
    await op.fill('input[name=startsAt]', '2026-12-01T12:00');
    await op.fill('input[name=endsAt]', '2026-12-01T14:00');
    await op.click('form[data-form=plan-outage] button[type=submit]');
    await op.locator('.note-error').waitFor();
    expect(await op.locator('.note-error').textContent()).toContain('minNoticeHours');
    expect(bo.desk.outages.list()).toHaveLength(1);
    await op.context().close();

    const sup = await loginAs('sup.li', 'zh');
    expect(await sup.locator('h1').textContent()).toBe('计划停电/停水');
    const r = sup.locator('[data-outage="1"]');
    expect(await r.locator('[data-phase]').textContent()).toBe('待审批');
    await r.locator('[data-action=approve]').click();
    await sup.waitForSelector('[data-outage="1"] [data-phase=announced]');
    expect(await sup.locator('[data-outage="1"] [data-phase]').textContent()).toBe('已公告');
    const href = await sup.locator('[data-outage="1"] [data-notice="E-E1-MAIN:zh"]').getAttribute('href');
    await sup.context().close();

    // The printable notice, as anyone opens it.
    const anon = await browser.newContext({ locale: 'zh-CN', timezoneId: 'UTC' });
    const notice = await anon.newPage();
    await notice.goto(`${bo.url!}${href!}`);
    expect(await notice.locator('h1').textContent()).toBe('停电通知');
    expect(await notice.locator('table').textContent()).toContain('Dorm E1 main');
    expect(await notice.locator('table').textContent()).toContain('08:00');
    await anon.close();
    expect(bo.desk.outages.get(1)).toMatchObject({ state: 'approved', decidedBy: 'sup.li' });
  });
});
