import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../adapters/mqtt/embedded-broker.ts';
import { SqliteStore } from '../../adapters/sqlite/store.ts';
import { validateCampus } from '../../config/campus.ts';
import { overviewRoutes } from '../../services/backoffice/overview/routes.ts';
import { startBackoffice, type RunningBackoffice } from '../../services/backoffice/run.ts';
import { webRoutes } from '../../services/backoffice/web/routes.ts';
import type { Finding } from '../../services/inspection/detection/types.ts';
import { startLiveHub, type LiveHub } from '../../services/metering/live/hub.ts';
import { campusTree } from '../../services/metering/live/tree.ts';
import { launchChromium } from '../helpers/chromium.ts';
import { testLogger } from '../helpers/logger.ts';
import { registers } from './register-readings.ts';
import { smallCampus, smallMeter } from './small-campus.ts';
import { signIn } from '../helpers/sign-in.ts';

/**
 * The overview in headless Chromium against the back office on a fixed clock, over readings
 * written into a real SQLite store with figures worked by hand: building E-B1 (rooms E-R1, E-R2
 * below it) and a water meter. Asia/Shanghai; "now" is 2026-12-02 10:07 local (a Wednesday), so
 * today so far is 00:00–10:00 local = 40 quarter hours, last week is Wednesday 2026-11-25.
 *
 * Today: E-B1 4 kWh a quarter (160 kWh, but one quarter at 09:00 has 8 kWh: 164 kWh, peak 32 kW),
 * rooms 1.5 and 2 kWh a quarter (loss 0.5 of 4 = 12.5 % over complete quarters). Last week E-B1
 * 2 kWh a quarter: 80 kWh, +105 %. Water W-B1 0.25 m³ a quarter today, 0.5 last week: 10 vs 20 m³.
 */

const PASSWORD = 'correct horse battery staple';
const SHOTS = join(process.cwd(), 'test-results', 'screenshots');
const Q = 15 * 60_000;
/** 2026-12-02 00:00 in Shanghai. */
const MIDNIGHT = Date.UTC(2026, 11, 1, 16, 0);
const NOW = MIDNIGHT + 10 * 3_600_000 + 7 * 60_000;
const WEEK = 7 * 86_400_000;

function rawCampus(dir: string) {
  return smallCampus(dir, [
    { ...smallMeter('E-B1', 1), name: 'Building One' },
    smallMeter('E-R1', 2, 'E-B1'),
    smallMeter('E-R2', 3, 'E-B1'),
    smallMeter('W-B1', 4, undefined, { kind: 'water', profile: 'generic-water-meter' }),
  ]);
}

function balanceFinding(): Finding {
  return {
    type: 'energy-balance',
    key: 'energy-balance:E-B1:test',
    severity: 'high',
    node: 'E-B1',
    score: 1,
    since: MIDNIGHT,
    reason: 'unexplained loss at E-B1',
    evidence: { from: MIDNIGHT, to: NOW, figures: { unexplained: 20, share: 0.125 } },
    unexplained: 20,
  };
}

describe('overview page', () => {
  let dir: string;
  let broker: EmbeddedBroker;
  let store: SqliteStore;
  let hub: LiveHub;
  let bo: RunningBackoffice;
  let browser: Browser;
  const errors: string[] = [];

  async function loginAs(
    username: string,
    viewport = { width: 1366, height: 768 },
    lang = 'en',
  ): Promise<Page> {
    const context = await browser.newContext({
      locale: lang === 'zh' ? 'zh-CN' : 'en-US',
      timezoneId: 'UTC',
      viewport,
    });
    const page = await context.newPage();
    page.on('pageerror', (err) => errors.push(`${username}: ${err.message}`));
    await signIn(page, bo.url!, username, PASSWORD);
    return page;
  }

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    dir = mkdtempSync(join(tmpdir(), 'overview-page-'));
    broker = await startEmbeddedBroker();
    store = SqliteStore.open({ path: ':memory:' });
    const end = MIDNIGHT + 40 * Q;
    const peakAt = MIDNIGHT + 36 * Q;
    await store.writeReadings([
      // Last week: from the day before (yesterday's figures) to the same hour.
      ...registers('E-B1', 'electricity', MIDNIGHT - WEEK - 86_400_000, end - WEEK, () => 2, 1),
      ...registers('E-B1', 'electricity', MIDNIGHT - 86_400_000, end, (t) => (t === peakAt ? 8 : 4), 10_000),
      ...registers('E-R1', 'electricity', MIDNIGHT - 86_400_000, end, () => 1.5, 1),
      ...registers('E-R2', 'electricity', MIDNIGHT - 86_400_000, end, () => 2, 1),
      ...registers('W-B1', 'water', MIDNIGHT - WEEK - 86_400_000, end - WEEK, () => 0.5, 1),
      ...registers('W-B1', 'water', MIDNIGHT - 86_400_000, end, () => 0.25, 10_000),
    ]);
    const campus = validateCampus(rawCampus(dir), { file: join(dir, 'campus.yaml'), dir });
    const clock = () => NOW;
    hub = await startLiveHub({ campus, mqtt: { url: broker.url }, store, logger: testLogger(), clock });
    bo = await startBackoffice({
      campus,
      mqtt: { url: broker.url },
      store,
      clock,
      logger: testLogger(),
      http: { host: '127.0.0.1', port: 0, secureCookie: false },
      bootstrapAdmin: { username: 'admin.zhou', password: PASSWORD },
      scryptCost: 1024,
      detection: false,
      extraRoutes: (s) => [
        webRoutes({ timezone: s.timezone }),
        ...overviewRoutes({ ...s, tree: campusTree(s.campus), hub, clock, pushMs: 60_000 }),
      ],
    });
    for (const [username, role] of [
      ['sup.li', 'supervisor'],
      ['op.zhang', 'operator'],
      ['clerk.wang', 'clerk'],
    ] as const)
      await bo.users.provisionUser({ username, displayName: username, roles: [role], password: PASSWORD });
    bo.alerts.sync([balanceFinding()], NOW);
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await bo?.stop();
    await hub?.stop();
    await store?.close();
    await broker?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  afterEach(() => {
    expect(errors.splice(0)).toEqual([]);
  });

  it('computes the figures on the server from interval consumption', async () => {
    const token = await bo.users.login('sup.li', PASSWORD, { ip: '127.0.0.1' });
    const res = await fetch(`${bo.url!}/api/overview`, {
      headers: { authorization: `Bearer ${token.token}` },
    });
    expect(res.status).toBe(200);
    const o = await res.json();
    expect(o.window.from).toBe(MIDNIGHT);
    expect(o.window.to).toBe(MIDNIGHT + 40 * Q);
    const el = o.utilities.find((u: { kind: string }) => u.kind === 'electricity');
    expect(el.meters).toEqual(['E-B1']);
    expect(el.today).toEqual({ value: 164, gaps: 0 });
    expect(el.lastWeek).toEqual({ value: 80, gaps: 0 });
    expect(el.yesterday).toEqual({ value: 384, gaps: 0 });
    expect(el.weekBeforeYesterday).toEqual({ value: 192, gaps: 0 });
    const water = o.utilities.find((u: { kind: string }) => u.kind === 'water');
    expect(water.today).toEqual({ value: 10, gaps: 0 });
    expect(water.lastWeek).toEqual({ value: 20, gaps: 0 });
    expect(o.peak).toMatchObject({ kw: 32, at: MIDNIGHT + 36 * Q, lastWeekKw: 8, yesterdayKw: 16 });
    // The last 24 h: 96 quarters, node 4 a quarter (one at 8), rooms 3.5 → (388 − 336) / 388.
    const loss = o.losses.find((l: { node: string }) => l.node === 'E-B1');
    expect(loss).toMatchObject({ upstream: 388, downstream: 336, gaps: 0, alert: 1 });
    expect(loss.lossPercent).toBeCloseTo((100 * 52) / 388, 2);
    expect(o.alerts).toEqual({ total: 1, byType: { 'energy-balance': 1 } });
    expect(o.approvals).toEqual({ relay: 0, prepaid: 0, lines: 0 });
    // Meters without a reading now are failing (stale): the hub's seed is hours old at NOW.
    expect(o.failing.meters.map((m: { meter: string }) => m.meter)).toEqual(['E-B1', 'E-R1', 'E-R2', 'W-B1']);
  });

  it('an operator gets no alert figures (not theirs to see), and a clerk does not land on the overview', async () => {
    const op = await bo.users.login('op.zhang', PASSWORD, { ip: '127.0.0.1' });
    const o = await (
      await fetch(`${bo.url!}/api/overview`, { headers: { authorization: `Bearer ${op.token}` } })
    ).json();
    expect(o.alerts).toBeUndefined();
    expect(o.approvals).toEqual({ relay: 0, prepaid: 0, lines: 0 });
    const page = await loginAs('op.zhang');
    await page.waitForSelector('[data-overview=ready]');
    expect(page.url()).toContain('#/overview');
    expect(await page.locator('[data-section=alerts]').count()).toBe(0);
    await page.context().close();
    const clerk = await loginAs('clerk.wang');
    await clerk.waitForFunction(() => window.location.hash.length > 2);
    expect(clerk.url()).not.toContain('#/overview');
    expect(await clerk.locator('nav [data-nav=overview]').count()).toBe(0);
    await clerk.context().close();
  });

  it('a supervisor lands on it; every number links to its page; it updates live; no overflow on a phone', async () => {
    const page = await loginAs('sup.li');
    await page.waitForSelector('[data-overview=ready]');
    expect(page.url()).toContain('#/overview');
    const today = page.locator('[data-figure=today-electricity]');
    expect(await today.textContent()).toBe('164 kWh');
    expect(await today.getAttribute('href')).toBe('#/live');
    expect(await page.locator('[data-utility=electricity] .delta').first().textContent()).toBe('+105 %');
    expect(await page.locator('[data-figure=peak]').textContent()).toBe('32 kW');
    const row = page.locator('[data-loss=E-B1]');
    expect(await row.getAttribute('data-above')).toBe('yes');
    expect(await row.locator('.loss').textContent()).toBe('13.4 %');
    expect(await row.locator('[data-loss-alert]').getAttribute('href')).toBe('#/alerts/1');
    expect(await page.locator('[data-figure=alerts-energy-balance]').getAttribute('href')).toBe(
      '#/alerts?type=energy-balance',
    );
    await page.waitForSelector('.live-state[data-live=up]');
    await page.screenshot({ path: join(SHOTS, 'overview-supervisor-1366.png'), fullPage: true });
    // A new alert reaches the open page through the stream, without a reload.
    bo.alerts.sync(
      [
        balanceFinding(),
        {
          ...balanceFinding(),
          type: 'illegal-load',
          key: 'illegal-load:E-R1',
          node: undefined,
          meter: 'E-R1',
        } as Finding,
      ],
      NOW,
    );
    await page.waitForSelector('[data-figure=alerts-illegal-load]');
    await page.locator('[data-building=E-B1] a').click();
    await page.waitForFunction(() => window.location.hash === '#/meter/E-B1');
    await page.context().close();

    const phone = await loginAs('sup.li', { width: 390, height: 844 }, 'zh');
    await phone.locator('button[data-lang=zh]').click();
    await phone.waitForSelector('[data-overview=ready]');
    expect(await phone.locator('h1').first().textContent()).toBe('校园能耗总览');
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await phone.screenshot({ path: join(SHOTS, 'overview-supervisor-390-zh.png'), fullPage: true });
    await phone.context().close();
  });
});
