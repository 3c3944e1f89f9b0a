import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startDesk, type Desk } from './desk-harness.ts';

/**
 * The planned-outage desk in headless Chromium against the whole back office on a fixed clock
 * (1 December 2026 08:00 in Shanghai): an operator plans in English (times typed in the campus
 * zone), sees no approve button; a supervisor approves in Chinese; the printable notice opens
 * without a login. The browser runs in UTC so that a time shown right is the page's doing.
 */

const T0 = Date.UTC(2026, 11, 1, 0, 0);

let desk: Desk;
const loginAs = (username: string, lang: 'zh' | 'en') => desk.openAs(username, lang, '#/outages', 'outages');

beforeAll(async () => {
  desk = await startDesk({
    name: 'outages-page',
    now: T0,
    staff: [
      ['op.zhao', 'operator'],
      ['sup.li', 'supervisor'],
    ],
  });
});

afterAll(async () => desk?.close());

afterEach(() => {
  expect(desk.errors.splice(0)).toEqual([]);
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
    expect(desk.bo.desk.outages.list()).toHaveLength(1);
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
    const anon = await desk.browser.newContext({ locale: 'zh-CN', timezoneId: 'UTC' });
    const notice = await anon.newPage();
    await notice.goto(`${desk.bo.url!}${href!}`);
    expect(await notice.locator('h1').textContent()).toBe('停电通知');
    expect(await notice.locator('table').textContent()).toContain('Dorm E1 main');
    expect(await notice.locator('table').textContent()).toContain('08:00');
    await anon.close();
    expect(desk.bo.desk.outages.get(1)).toMatchObject({ state: 'approved', decidedBy: 'sup.li' });
  });
});
