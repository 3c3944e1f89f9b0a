import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../../services/platform/auth/roles.ts';
import { startDesk, type Desk } from './desk-harness.ts';

/**
 * Issue 24 item 5 in Chromium on the whole back office: the audit page reads as sentences (who,
 * what, on what, why, amounts in yuan, campus time), pages and filters through the server, shows
 * the chain check's result, and a clerk sees the entries of their own actions only.
 */

// 01:00 on 2 December in Asia/Shanghai, still 1 December in UTC: a date filter in the wrong zone fails.
const NOW = Date.UTC(2026, 11, 1, 17, 0);
const SHOTS = join(process.cwd(), 'test-results', 'screenshots');
const clerk: Actor = { id: 'clerk.wang', kind: 'user', roles: ['clerk'] };
const supervisor: Actor = { id: 'sup.li', kind: 'user', roles: ['supervisor'] };

interface Row {
  seq: string;
  action: string;
  actor: string;
  text: string;
}

const rows = (page: Page): Promise<Row[]> =>
  page.$$eval('[data-section=entries] tr[data-seq]', (trs) =>
    trs.map((tr) => {
      const { seq, action, actor } = (tr as HTMLElement).dataset;
      return { seq: seq!, action: action!, actor: actor!, text: (tr as HTMLElement).innerText };
    }),
  );

describe('the audit page', () => {
  let desk: Desk;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    desk = await startDesk({
      name: 'audit-page',
      now: NOW,
      staff: [
        ['clerk.wang', 'clerk'],
        ['sup.li', 'supervisor'],
      ],
    });
    const p = desk.bo.prepaid;
    p.openAccount(clerk, {
      id: 'ROOM-A101',
      customerType: 'student-room',
      holder: '王小明',
      meters: ['M-A101'],
    });
    p.verifyTariffType(supervisor, 'ROOM-A101');
    for (let i = 0; i < 60; i++)
      p.topUp(clerk, { account: 'ROOM-A101', amountFen: 5_050, method: 'cash', reference: `R-${i}` });
    p.requestRefund(clerk, { account: 'ROOM-A101', amountFen: 1_000, method: 'cash', reason: '搬离宿舍' });
  }, 120_000);

  afterAll(async () => {
    await desk?.close();
  });

  it('reads as who did what, on what, why, in yuan and campus time, 50 a page, in Chinese', async () => {
    const page = await desk.openAs('sup.li', 'zh', '#/audit', 'entries');
    await page.setViewportSize({ width: 1366, height: 768 });
    const total = desk.bo.audit.search({}).total;
    expect(total).toBeGreaterThan(60);
    expect(await page.locator('[data-pager=audit] [data-total]').first().innerText()).toBe(
      `第 1–50 条，共 ${total} 条`,
    );
    const first = await rows(page);
    expect(first).toHaveLength(50);
    const refund = first.find((r) => r.action === 'refund.request')!;
    expect(refund.text).toContain('申请退费');
    expect(refund.text).toContain('退费申请 #1');
    expect(refund.text).toContain('搬离宿舍');
    expect(refund.text).toContain('金额 ¥10.00');
    expect(refund.text).toContain('2026-12-02 01:00:00');
    const sale = first.find((r) => r.action === 'ledger.topup')!;
    expect(sale.text).toMatch(/clerk\.wang\s+售电\s+账户 ROOM-A101/);
    expect(sale.text).toContain('金额 ¥50.50');
    expect(sale.text).toMatch(/余额 ¥[\d.]+ → ¥[\d.]+/);
    // The entry as recorded is there, folded: no JSON on the page until someone opens it.
    expect(await page.locator('main').innerText()).not.toContain('amountFen');
    await page.locator('tr[data-action="refund.request"] details summary').click();
    expect(await page.locator('tr[data-action="refund.request"] details pre').innerText()).toContain(
      '"amountFen": 1000',
    );
    await page.screenshot({ path: join(SHOTS, 'audit-zh-1366.png') });

    await page.locator('[data-action=older]').first().click();
    await page.waitForFunction(() => location.hash.includes('offset=50'));
    await page.waitForSelector('[data-section=entries] [data-total]');
    await expect.poll(async () => (await rows(page))[0]?.seq).toBe(String(Number(first.at(-1)!.seq) - 1));

    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: join(SHOTS, 'audit-zh-390.png') });
    await page.context().close();
  });

  it('filters by actor, action and campus-zone dates on the server, and shows the chain check', async () => {
    const page = await desk.openAs('sup.li', 'zh', '#/audit', 'entries');
    const form = page.locator('form[data-form=audit-search]');
    await form.locator('input[name=actor]').fill('clerk.wang');
    await form.locator('select[name=action]').selectOption('ledger.topup');
    expect(await form.locator('select[name=action] option:checked').innerText()).toBe('售电');
    await form.locator('button[type=submit]').click();
    await page.waitForFunction(() => location.hash.includes('action=ledger.topup'));
    await page.waitForSelector('[data-section=entries] [data-total="60"]');
    expect(new Set((await rows(page)).map((r) => `${r.actor} ${r.action}`))).toEqual(
      new Set(['clerk.wang ledger.topup']),
    );

    // The day before in the campus zone has nothing; the day itself has every entry.
    await page.goto(`${desk.bo.url!}/#/audit?to=2026-12-01`);
    await page.waitForSelector('[data-section=entries] .note:has-text("没有符合条件的记录")');
    await page.goto(`${desk.bo.url!}/#/audit?from=2026-12-02&to=2026-12-02`);
    await page.waitForSelector(`[data-section=entries] [data-total="${desk.bo.audit.search({}).total}"]`);

    await page.click('[data-action=verify]');
    const head = desk.bo.audit.head()!;
    await expect
      .poll(() => page.locator('[data-result=verify]').innerText())
      .toMatch(new RegExp(`^哈希链完整：共 ${head.seq} 条，链头第 ${head.seq} 条，校验于 `));
    await page.context().close();
  });

  it('shows a clerk the entries of their own actions, and no actor filter', async () => {
    const page = await desk.openAs('clerk.wang', 'en', '#/audit', 'entries');
    expect(await page.locator('[data-section=entries]').innerText()).toContain(
      'You see the entries of your own actions.',
    );
    expect(await page.locator('input[name=actor]').count()).toBe(0);
    const own = await rows(page);
    expect(own.length).toBe(50);
    expect(new Set(own.map((r) => r.actor))).toEqual(new Set(['clerk.wang']));
    expect(own.some((r) => r.action === 'account.verify-tariff')).toBe(false);
    const sale = own.find((r) => r.action === 'ledger.topup')!;
    expect(sale.text).toContain('Sold electricity (top-up)');
    expect(sale.text).toContain('amount ¥50.50');
    // Typing another person's name into the address bar gets the server's refusal, not their entries.
    await page.goto(`${desk.bo.url!}/#/audit?actor=sup.li`);
    await page.waitForSelector('main .note-error, main [role=alert]');
    expect(await page.locator('tr[data-actor="sup.li"]').count()).toBe(0);
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${desk.bo.url!}/#/audit`);
    await page.waitForSelector('[data-section=entries] [data-total]');
    await page.screenshot({ path: join(SHOTS, 'audit-clerk-en-390.png') });
    await page.context().close();
    expect(desk.errors).toEqual([]);
  });
});
