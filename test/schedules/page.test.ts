import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../adapters/mqtt/embedded-broker.ts';
import { SqliteStore } from '../../adapters/sqlite/store.ts';
import { validateCampus } from '../../config/campus.ts';
import { startBackoffice, type RunningBackoffice } from '../../services/backoffice/run.ts';
import { webRoutes } from '../../services/backoffice/web/routes.ts';
import { launchChromium } from '../helpers/chromium.ts';
import { testLogger } from '../helpers/logger.ts';
import { signIn } from '../helpers/sign-in.ts';

/**
 * The dorm power page in headless Chromium against the back office: a clerk proposes the
 * schedule as the campus file holds it, does not get to approve it, a supervisor approves it;
 * the page says so in English and in Chinese.
 */

const PASSWORD = 'correct horse battery staple';

function rawCampus(dir: string) {
  return {
    campus: { name: 'Test campus (invented)', timezone: 'Asia/Shanghai' },
    dataDir: dir,
    schedules: [
      {
        id: 'dorm-night',
        name: 'Dorm E1 lights-out',
        rooms: { meters: ['E-R1', 'E-R2'] },
        off: '23:00',
        on: '06:30',
        holidays: ['2026-10-01'],
        effectiveFrom: '2026-09-01',
      },
    ],
    powerLimits: { byCustomerType: { 'student-room': { kw: 1.5 } } },
    sites: [
      {
        id: 'east',
        gateways: [
          {
            id: 'gw-e1',
            buses: [
              {
                id: 'floor1',
                type: 'rtu-over-tcp',
                host: '127.0.0.1',
                port: 1,
                meters: ['E-R1', 'E-R2'].map((id, i) => ({
                  id,
                  kind: 'electricity',
                  profile: 'hiking-dds238-2',
                  unitId: i + 1,
                })),
              },
            ],
          },
        ],
      },
    ],
  };
}

describe('dorm power page', () => {
  let dir: string;
  let broker: EmbeddedBroker;
  let store: SqliteStore;
  let bo: RunningBackoffice;
  let browser: Browser;
  const errors: string[] = [];

  async function loginAs(username: string): Promise<Page> {
    const context = await browser.newContext({
      locale: 'en-US',
      timezoneId: 'UTC',
      viewport: { width: 420, height: 900 },
    });
    const page = await context.newPage();
    page.on('pageerror', (err) => errors.push(`${username}: ${err.message}`));
    await signIn(page, bo.url!, username, PASSWORD);
    await page.goto(`${bo.url!}/#/schedules`);
    await page.waitForSelector('[data-schedule=dorm-night]');
    return page;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sched-page-'));
    broker = await startEmbeddedBroker();
    store = SqliteStore.open({ path: ':memory:' });
    const campus = validateCampus(rawCampus(dir), { file: join(dir, 'campus.yaml'), dir });
    bo = await startBackoffice({
      campus,
      mqtt: { url: broker.url },
      store,
      logger: testLogger(),
      http: { host: '127.0.0.1', port: 0, secureCookie: false },
      bootstrapAdmin: { username: 'admin.zhou', password: PASSWORD },
      scryptCost: 1024,
      detection: false,
      extraRoutes: (s) => [webRoutes({ timezone: s.timezone })],
    });
    for (const [username, role] of [
      ['clerk.wang', 'clerk'],
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

  it('a clerk proposes the schedule, may not approve it, a supervisor approves it', async () => {
    const clerk = await loginAs('clerk.wang');
    const card = clerk.locator('[data-schedule=dorm-night]');
    expect(await card.locator('.badge').textContent()).toBe('Not approved: does nothing');
    expect(await card.textContent()).toContain('No lights-out on: 2026-10-01');
    // No reason: refused on the page, nothing proposed.
    await card.locator('[data-action=propose]').click();
    await card.locator('.note-error').waitFor();
    expect(bo.dormPower.proposals.list()).toEqual([]);
    await card.locator('input').fill('autumn term, per the dorm rules');
    await card.locator('[data-action=propose]').click();
    await clerk.waitForSelector('[data-schedule=dorm-night] >> text=Awaiting approval');
    expect(await clerk.locator('[data-schedule=dorm-night] [data-action=approve]').count()).toBe(0);
    await clerk.context().close();

    const sup = await loginAs('sup.li');
    await sup.locator('[data-schedule=dorm-night] [data-action=approve]').click();
    await sup.waitForSelector('[data-schedule=dorm-night] >> text=Approved');
    expect(await sup.locator('[data-schedule=dorm-night]').textContent()).toContain('approved by sup.li');
    expect(await sup.locator('[data-section=power-limits] .badge').textContent()).toBe(
      'Not approved: does nothing',
    );
    await sup.click('[data-lang=zh]');
    await sup.waitForSelector('h1 >> text=宿舍用电：熄灯时间表与功率限制');
    expect(await sup.locator('[data-schedule=dorm-night] .badge').textContent()).toBe('已审批');
    await sup.context().close();
    const [p] = bo.dormPower.proposals.list();
    expect(p).toMatchObject({ proposedBy: 'clerk.wang', decidedBy: 'sup.li', state: 'approved' });
  });
});
