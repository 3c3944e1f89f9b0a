import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { StoredReading } from '../../services/metering/storage.ts';
import type { Actor } from '../../services/platform/auth/roles.ts';
import { demoCampus } from '../../simulators/campus/demo-campus.ts';
import { startDesk, type Desk } from './desk-harness.ts';

/**
 * The operator's live tree, health page and line-operation queue in headless Chromium against the
 * whole back office on the demo campus, on a clock the test moves: an outage on Dorm E2 (renamed
 * "Building 2", beside "Building 10") is planned and approved on 1 December, then the clock goes
 * to 3 December 09:00 in Shanghai, inside its window. Every meter has a fresh reading then except
 * the ones each check is about; gateway status and device health are published on the broker as
 * a gateway would. Figures are worked by hand below.
 */

const T0 = Date.UTC(2026, 11, 1, 0, 0); // 1 Dec 08:00 Shanghai
const OUTAGE_FROM = Date.UTC(2026, 11, 3, 0, 0); // 3 Dec 08:00 Shanghai
const OUTAGE_TO = Date.UTC(2026, 11, 3, 4, 0);
const T1 = Date.UTC(2026, 11, 3, 1, 0); // 3 Dec 09:00 Shanghai, inside the window
const MIDNIGHT = Date.UTC(2026, 11, 2, 16, 0); // 3 Dec 00:00 Shanghai
const FRESH = T1 - 5_000;
const SHOTS = join(process.cwd(), 'test-results', 'screenshots');

type Kind = 'electricity' | 'water' | 'heat';

/** One reading per meter at FRESH, overridden per meter; energy also at local midnight for `today`. */
function readingsFor(
  meters: { id: string; kind: Kind; site: string; gateway: string }[],
  special: Record<string, Partial<StoredReading>>,
): StoredReading[] {
  const base: Record<Kind, Record<string, number>> = {
    electricity: { power_kw: 1, energy_import_kwh: 100, voltage_v: 230, current_a: 4.3 },
    water: { flow_m3h: 0.5, volume_m3: 50 },
    heat: { heat_kwh: 1000, flow_m3h: 0.2, supply_c: 60, return_c: 45 },
  };
  const out: StoredReading[] = [];
  let seq = 1;
  for (const m of meters) {
    const s = special[m.id];
    const values = { ...base[m.kind], ...(s?.values ?? {}) };
    const register =
      m.kind === 'electricity' ? 'energy_import_kwh' : m.kind === 'water' ? 'volume_m3' : 'heat_kwh';
    const dayStart = m.id === 'H-E-H01' ? 1000 : values[register]!;
    out.push({
      ...{ meter: m.id, site: m.site, gateway: m.gateway, kind: m.kind, seq: seq++ },
      ts: MIDNIGHT + 60_000,
      quality: 'good',
      values: { [register]: m.id === 'E-E1-101' ? 100 : dayStart },
    });
    out.push({
      ...{ meter: m.id, site: m.site, gateway: m.gateway, kind: m.kind, seq: seq++ },
      ts: FRESH,
      quality: 'good',
      ...s,
      values,
      ...(s?.quality === 'error' ? { values: {} } : {}),
    } as StoredReading);
  }
  return out;
}

let desk: Desk;
const clock = { now: T1 };
const user = (id: string, ...roles: Actor['roles']): Actor => ({ id, kind: 'user', roles });

/** The demo campus's meters as the harness builds it (two rooms a floor line). */
function demoMeters(): { id: string; kind: Kind; site: string; gateway: string }[] {
  const raw = demoCampus({
    ports: Array.from({ length: 20 }, (_, i) => 20_000 + i),
    dataDir: '/tmp',
    roomsPerFloorLine: 2,
  });
  const out: { id: string; kind: Kind; site: string; gateway: string }[] = [];
  for (const site of raw.sites)
    for (const g of site.gateways ?? [])
      for (const b of g.buses ?? [])
        for (const m of b.meters ?? [])
          out.push({ id: m.id, kind: m.kind as Kind, site: site.id, gateway: g.id });
  return out;
}

const SPECIAL: Record<string, Partial<StoredReading>> = {
  'E-E-SUB1-IN': { values: { power_kw: 30, energy_import_kwh: 5000, voltage_v: 231, current_a: 43 } },
  'E-E1-101': { values: { power_kw: 1, energy_import_kwh: 102.5, voltage_v: 229, current_a: 4.4 } },
  'E-E1-102': { values: { power_kw: 1.5, energy_import_kwh: 100, voltage_v: 229, current_a: 6.5 } },
  'E-E1-201': { values: { power_kw: 0.5, energy_import_kwh: 100, voltage_v: 229, current_a: 2.2 } },
  'E-E1-202': { quality: 'error', error: { code: 'MODBUS_TIMEOUT', message: 'no answer in 1000 ms' } },
  'H-E-H01': { values: { heat_kwh: 1000 + 1000 / 3.6 } },
  'W-E-MASTER': { values: { flow_m3h: 2 } },
  'W-E1': { values: { flow_m3h: 0.5 } },
  'W-E2': { values: { flow_m3h: 0.7 } },
  'W-E3': { values: { flow_m3h: 0.25 } },
  // E2's meters fell silent an hour before the check: the planned outage explains it.
  ...Object.fromEntries(
    ['E-E2-MAIN', 'E-E2-101', 'E-E2-102', 'E-E2-201', 'E-E2-202'].map((id) => [id, { ts: T1 - 3_600_000 }]),
  ),
};

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  desk = await startDesk({
    name: 'live-page',
    // The harness reads `now` at every tick of its clock: the test moves it.
    get now() {
      return clock.now;
    },
    staff: [
      ['op.zhao', 'operator'],
      ['op.qian', 'operator'],
      ['sup.li', 'supervisor'],
    ],
    readings: readingsFor(demoMeters(), SPECIAL),
    edit: (raw) => {
      for (const site of raw.sites)
        for (const g of site.gateways ?? [])
          for (const b of g.buses ?? [])
            for (const m of b.meters ?? []) {
              if (m.id === 'E-E1-MAIN') m.name = 'Building 10';
              if (m.id === 'E-E2-MAIN') m.name = 'Building 2';
            }
    },
  });
  // The hub seeded at T1 (so "today" is 3 December). The outage was planned and approved on
  // 1 December, two days ahead: the clock goes back there for it, then into its window.
  clock.now = T0;
  const o = desk.bo.desk.outages.plan(user('op.zhao', 'operator'), {
    ...{ utility: 'electricity', node: 'E-E2-MAIN', reason: 'Busbar replacement' },
    ...{ startsAt: OUTAGE_FROM, endsAt: OUTAGE_TO },
  });
  desk.bo.desk.outages.approve(user('sup.li', 'supervisor'), o.id);
  clock.now = T1;
  desk.bo.hub.checkStale();
  await desk.bo.hub.settled();
  // The gateways as they would report: the west one has gone offline; on the east one a room
  // meter's polling is paused, two residential meters fail now and then, and E2's line is paused
  // (in the outage).
  const client = await mqtt.connectAsync(desk.brokerUrl);
  const status = (site: string, gateway: string, state: 'online' | 'offline') =>
    client.publishAsync(
      `campus/v1/${site}/${gateway}/status`,
      JSON.stringify({ gateway, state, ts: T1 - 60_000, meters: 10 }),
      { retain: true, qos: 1 },
    );
  const health = (device: string, h: Record<string, unknown>) =>
    client.publishAsync(
      `campus/v1/east/gw-east/device/${device}/health`,
      JSON.stringify({
        ...{ device, ts: T1 - 10_000, breaker: 'closed', latencyMs: 40, polls: 100, errors: 0, errorRate: 0 },
        lastError: null,
        ...h,
      }),
      { retain: true, qos: 1 },
    );
  const timeout = { code: 'MODBUS_TIMEOUT', message: 'no answer in 1000 ms' };
  await status('east', 'gw-east', 'online');
  await status('west', 'gw-west', 'offline');
  await health('E1-line1.2', {
    breaker: 'open',
    pausedUntil: T1 + 300_000,
    errors: 5,
    errorRate: 1,
    lastError: timeout,
  });
  await health('E1-line1.1', {});
  await health('east-residential.10', { errors: 2, errorRate: 0.1, lastError: timeout });
  await health('east-residential.2', { errors: 5, errorRate: 0.25, lastError: timeout });
  await health('E2-line1.1', {
    breaker: 'open',
    pausedUntil: T1 + 300_000,
    errors: 9,
    errorRate: 1,
    lastError: timeout,
  });
  await client.endAsync();
  await waitFor(
    () =>
      desk.bo.hub.health().devices.length === 5 && desk.bo.hub.health().gateways.every((g) => g.ts !== null),
  );
}, 120_000);

afterAll(async () => desk?.close());

afterEach(() => {
  expect(desk.errors.splice(0)).toEqual([]);
});

async function waitFor(cond: () => boolean, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Nothing the page meant to leave out printed as "null" or "undefined". */
async function noStrayWords(page: Page): Promise<void> {
  expect(await page.locator('main').textContent()).not.toMatch(/\b(null|undefined|NaN)\b/);
}

async function noOverflow(page: Page): Promise<void> {
  await noStrayWords(page);
  const widths = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    client: document.documentElement.clientWidth,
  }));
  expect(widths.scroll).toBeLessThanOrEqual(widths.client);
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  // What the operator sees first, without scrolling.
  await page.screenshot({ path: join(SHOTS, `${name}-screen.png`) });
}

const row = (page: Page, meter: string) => page.locator(`.node-row[data-meter="${meter}"]`);

describe('the live tree', () => {
  it('in English: electricity first, a column per quantity with its unit, totals of what adds up, natural order', async () => {
    const page = await desk.openAs('op.zhao', 'en', '#/live', 'live');
    await page.setViewportSize({ width: 1366, height: 768 });
    await page.waitForSelector('.node-row[data-meter="E-E1-101"][data-status=ok]');
    expect(
      await page
        .locator('[data-utility]')
        .evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.utility)),
    ).toEqual(['electricity', 'water', 'heat']);
    const heads = async (u: string) =>
      page.locator(`[data-utility=${u}] [data-site=east] .tree-head span`).allTextContents();
    expect(await heads('electricity')).toEqual([
      'Name',
      'Power (kW)',
      'Today (kWh)',
      'Voltage (V)',
      'Current (A)',
      'Status',
    ]);
    expect(await heads('water')).toEqual(['Name', 'Flow (m³/h)', 'Today (m³)', 'Register (m³)', 'Status']);
    expect(await heads('heat')).toEqual([
      'Name',
      'Flow (m³/h)',
      'Today (GJ)',
      'Supply (°C)',
      'Return (°C)',
      'Status',
    ]);

    // Natural order under the incomer: "Building 2" before "Building 10".
    const under = await page
      .locator('li[data-node="E-E-SUB1-IN"] > details > ul > li')
      .evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.node));
    expect(under.slice(0, 2)).toEqual(['E-E2-MAIN', 'E-E1-MAIN']);

    // Building 10's rooms: 1 + 1.5 + 0.5 kW fresh, one room not answering (left out, said so).
    const b10 = row(page, 'E-E1-MAIN');
    const sum = b10.locator('.power .sum');
    expect(Number(await sum.getAttribute('data-value'))).toBeCloseTo(3, 9);
    expect(await sum.getAttribute('data-missing')).toBe('1');
    expect(await sum.textContent()).toBe('Σ 3 kW (1 missing)');
    // Its own meter reads 1 kW (the base reading): a loss or a meter to look at, side by side.
    expect(await b10.locator('.power .own').textContent()).toBe('1 kW');
    // Voltage and current never add up.
    expect(await b10.locator('.voltage .sum, .current .sum').count()).toBe(0);
    expect(await row(page, 'E-E1-202').getAttribute('data-status')).toBe('error');
    expect(await row(page, 'E-E1-202').locator('.status').textContent()).toBe('Error: No answer in time');
    // Today: 102.5 − 100 kWh since local midnight; heat 1000/3.6 kWh = 1 GJ.
    expect(await row(page, 'E-E1-101').locator('.today .own').textContent()).toBe('2.5 kWh');
    expect(Number(await row(page, 'H-E-H01').locator('.today').getAttribute('data-value'))).toBeCloseTo(1, 6);
    expect(await row(page, 'H-E-H01').locator('.today .own').textContent()).toBe('1 GJ');
    // Water: the master's three meters, 0.5 + 0.7 + 0.25 m³/h.
    expect(
      Number(await row(page, 'W-E-MASTER').locator('.flow .sum').getAttribute('data-value')),
    ).toBeCloseTo(1.45, 9);
    expect(await row(page, 'W-E-MASTER').locator('.flow .sum').getAttribute('data-missing')).toBe('0');
    // The site's electricity is its incomer: 30 kW.
    const site = page.locator('[data-utility=electricity] [data-site=east] h3 [data-sum=power]');
    expect(await site.textContent()).toBe('Power Σ 30 kW');

    // The outage's meters: marked, not failing, and their silence not counted as missing.
    for (const id of ['E-E2-MAIN', 'E-E2-101', 'E-E2-202']) {
      expect(await row(page, id).getAttribute('data-status')).toBe('outage');
      expect(await row(page, id).locator('.status').textContent()).toBe('Planned outage #1');
    }
    expect(await row(page, 'E-E2-MAIN').locator('.power .sum').getAttribute('data-missing')).toBe('0');
    expect(await page.locator('[data-count=outage]').textContent()).toBe('Planned outage 5');
    expect(await page.locator('[data-count=error]').textContent()).toBe('Error 1');
    await noOverflow(page);
    await shot(page, 'live-1366-en');
    await page.setViewportSize({ width: 390, height: 844 });
    await noOverflow(page);
    // The name stays on screen on a phone.
    const box = await row(page, 'E-E1-101').locator('.node-name').boundingBox();
    expect(box!.x).toBeGreaterThanOrEqual(0);
    expect(box!.x + box!.width).toBeLessThanOrEqual(390);
    await shot(page, 'live-390-en');
    await page.context().close();
  });

  it("in Chinese: the same tree in the operator's words", async () => {
    const page = await desk.openAs('op.qian', 'zh', '#/live', 'live');
    await page.setViewportSize({ width: 1366, height: 768 });
    await page.waitForSelector('.node-row[data-meter="E-E1-101"][data-status=ok]');
    expect(await page.locator('[data-utility] > h2').allTextContents()).toEqual(['电力', '供水', '供热']);
    expect(
      await page.locator('[data-utility=electricity] [data-site=east] .tree-head span').allTextContents(),
    ).toEqual(['名称', '功率 (kW)', '今日 (kWh)', '电压 (V)', '电流 (A)', '状态']);
    expect(await row(page, 'E-E2-101').locator('.status').textContent()).toBe('计划停供 #1');
    expect(await row(page, 'E-E1-202').locator('.status').textContent()).toBe('故障: 应答超时');
    expect(await row(page, 'E-E1-MAIN').locator('.power .sum').textContent()).toBe('Σ 3 kW (缺 1 块)');
    await shot(page, 'live-1366-zh');
    await page.setViewportSize({ width: 390, height: 844 });
    await noOverflow(page);
    await shot(page, 'live-390-zh');
    await page.context().close();
  });
});

describe('the health page', () => {
  it('in English: a summary, failing first in natural order, polling paused until when and why, the outage apart', async () => {
    const page = await desk.openAs('op.zhao', 'en', '#/health', 'health-summary');
    await page.setViewportSize({ width: 1366, height: 768 });
    expect(await page.locator('[data-tile=gateways] strong').textContent()).toBe('1 online · 1 down');
    expect(await page.locator('[data-tile=paused] strong').textContent()).toBe('1');
    expect(await page.locator('[data-tile=meters] [data-count=outage]').textContent()).toBe(
      'Planned outage 5',
    );
    expect(await page.locator('[data-tile=meters] [data-count=error]').textContent()).toBe('Not answering 1');
    const failing = page.locator('[data-section=health-failing] tbody tr');
    expect(await failing.evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.device))).toEqual([
      'E1-line1.2',
      'E1-line2.2',
      'east-residential.2',
      'east-residential.10',
    ]);
    const paused = page.locator('[data-section=health-failing] tr[data-device="E1-line1.2"]');
    expect(await paused.locator('.hs-polling').textContent()).toBe(
      'Polling paused until 2026-12-03 09:05:00',
    );
    expect(await paused.textContent()).toContain('No answer in time');
    expect(await paused.locator('[data-code]').getAttribute('title')).toBe(
      'MODBUS_TIMEOUT: no answer in 1000 ms',
    );
    expect(await page.locator('[data-section=health-failing]').textContent()).not.toMatch(/breaker/i);
    // The outage's meters are listed apart, as such, with their paused line.
    const outage = page.locator('[data-section=health-outage] tbody tr');
    expect(await outage.count()).toBe(5);
    expect(await outage.first().locator('.hs-state').textContent()).toBe('Planned outage #1');
    // Gateways: the offline one first.
    expect(
      await page.locator('[data-section=health-gateways] tbody tr').first().getAttribute('data-gateway'),
    ).toBe('gw-west');
    // Buses: the ones with failing meters first, in natural order.
    const buses = await page
      .locator('[data-section=health-buses] tbody tr')
      .evaluateAll((els) => els.slice(0, 3).map((e) => (e as HTMLElement).dataset.bus));
    expect(buses).toEqual(['gw-east/E1-line1', 'gw-east/E1-line2', 'gw-east/east-residential']);
    await noOverflow(page);
    await shot(page, 'health-1366-en');
    await page.setViewportSize({ width: 390, height: 844 });
    await noOverflow(page);
    // Cards: the meter's name is the card's first line, on screen.
    const key = await paused.locator('td.key').boundingBox();
    expect(key!.x + key!.width).toBeLessThanOrEqual(390);
    await shot(page, 'health-390-en');
    await page.context().close();
  });

  it('in Chinese: 轮询已暂停 with until when', async () => {
    const page = await desk.openAs('op.qian', 'zh', '#/health', 'health-summary');
    await page.setViewportSize({ width: 1366, height: 768 });
    const paused = page.locator('[data-section=health-failing] tr[data-device="E1-line1.2"]');
    expect(await paused.locator('.hs-polling').textContent()).toBe('轮询已暂停，至 2026-12-03 09:05:00');
    expect(await paused.locator('[data-code]').textContent()).toBe('应答超时');
    expect(await page.locator('[data-tile=paused] .hs-label').textContent()).toBe('轮询已暂停');
    expect(
      await page.locator('[data-section=health-outage] tbody tr').first().locator('.hs-state').textContent(),
    ).toBe('计划停供 #1');
    await shot(page, 'health-1366-zh');
    await page.setViewportSize({ width: 390, height: 844 });
    await noOverflow(page);
    await shot(page, 'health-390-zh');
    await page.context().close();
  });
});

describe('line operations waiting for a second person', () => {
  it('a colleague confirms in one click; the recorder sees no button, and the server refuses them anyway', async () => {
    const op = desk.bo.control.recordLineOperation(user('op.zhao', 'operator'), {
      ...{ line: 'E1 feeder 3', action: 'cut', reason: 'Cable fault at the east riser' },
      at: T1 - 600_000,
    });
    const own = await desk.openAs('op.zhao', 'en', '#/approvals', 'lines');
    const mine = own.locator(`[data-line-op="${op.id}"]`);
    await mine.waitFor();
    expect(await mine.locator('[data-action=confirm-line]').count()).toBe(0);
    expect(await mine.textContent()).toContain('Recorded by you');
    // Past the page, straight at the API: still refused.
    const res = await own.request.post(`${desk.bo.url!}/api/line-operations/${op.id}/confirm`, {
      data: {},
      headers: { origin: desk.bo.url! },
    });
    expect(res.status()).toBe(403);
    expect(((await res.json()) as { code: string }).code).toBe('SELF_APPROVAL');
    await own.context().close();

    const other = await desk.openAs('op.qian', 'zh', '#/approvals', 'lines');
    const r = other.locator(`[data-line-op="${op.id}"]`);
    expect(await r.textContent()).toContain('E1 feeder 3');
    expect(await r.textContent()).toContain('停电');
    // A dispute needs its note: nothing is sent without one.
    await r.locator('[data-action=dispute-line]').click();
    expect(await r.locator('.note-error').textContent()).toBe('请在备注中写明问题。');
    expect(desk.bo.control.lineOperation(op.id).state).toBe('unconfirmed');
    await other.setViewportSize({ width: 390, height: 844 });
    await noOverflow(other);
    await shot(other, 'approvals-lines-390-zh');
    await r.locator('[data-action=confirm-line]').click();
    await other.locator('[data-section=lines]').getByText('没有等待第二人确认的线路操作。').waitFor();
    expect(desk.bo.control.lineOperation(op.id)).toMatchObject({
      state: 'confirmed',
      confirmedBy: 'op.qian',
    });
    await other.context().close();
  });
});

describe('after the outage', () => {
  it('the health page lists no outage section, and the silent meters as silent', async () => {
    clock.now = OUTAGE_TO + 31 * 60_000;
    desk.bo.hub.checkStale();
    const page = await desk.openAs('op.zhao', 'zh', '#/health', 'health-summary');
    expect(await page.locator('[data-section=health-outage]').count()).toBe(0);
    expect(await page.locator('[data-tile=meters] [data-count=outage]').textContent()).toBe('计划停供 0');
    expect(
      await page
        .locator('[data-section=health-failing] tr[data-meter="E-E2-101"]')
        .getAttribute('data-state'),
    ).toBe('stale');
    await noStrayWords(page);
    await page.context().close();
  });
});
