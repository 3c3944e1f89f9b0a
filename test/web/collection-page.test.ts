import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { local } from '../billing/support.ts';
import { moneyPagesServer } from './money-pages-server.ts';

/**
 * The collection page in headless Chromium, each role its own step: billing publishes the fee
 * table (English), the clerk records an objection (Chinese), the supervisor upholds it, billing
 * confirms and prints the notices, the clerk takes a payment and is refused one for another
 * period, reminds an overdue notice and asks for a waiver, which the supervisor approves.
 */

describe('post-paid collection page', () => {
  let s: Awaited<ReturnType<typeof moneyPagesServer>>;
  beforeAll(async () => {
    s = await moneyPagesServer();
  }, 60_000);
  afterAll(async () => {
    await s?.close();
  });

  it('billing publishes the run for objections', async () => {
    const page = await s.pageAs('bill.zhao', 'en', '#/collection');
    await page.fill('form[data-form=publish-fee-table] input[name=run]', s.run.id);
    await page.click('form[data-form=publish-fee-table] button[type=submit]');
    const table = page.locator(`[data-fee-table="ft-${s.run.id}"]`);
    await table.waitFor();
    expect(await table.textContent()).toContain('Open for objections');
    expect(await table.locator('tr[data-account="B-CAFE"]').textContent()).toContain('¥3276.27');
    await page.context().close();
  }, 60_000);

  it('the clerk records an objection, in Chinese', async () => {
    const page = await s.pageAs('clerk.wang', 'zh', '#/collection');
    const form = page.locator('form[data-form=objection]');
    await form.locator('input[name=account]').fill('S-E1-101');
    await form.locator('input[name=text]').fill('宿舍 11 月 10–14 日无人');
    await form.locator('button[type=submit]').click();
    await page.waitForSelector('tr[data-objection]');
    expect(await page.locator('[data-fee-table]').textContent()).toContain('异议期中');
    expect(await page.locator('tr[data-objection]').textContent()).toContain('待处理');
    // A clerk has no confirm button and no decision controls.
    expect(await page.locator('[data-action=confirm], [data-action=uphold]').count()).toBe(0);
    await page.context().close();
  }, 60_000);

  it('the supervisor upholds it with an amount; billing confirms and prints a notice per door', async () => {
    s.time.now = local(2026, 12, 10, 9);
    const sup = await s.pageAs('sup.li', 'en', '#/collection');
    const row = sup.locator('tr[data-objection]');
    await row.locator('input[name=amount]').fill('55.00');
    await row.locator('input[name=reason]').fill('on-site check confirmed');
    await row.locator('[data-action=uphold]').click();
    await sup.waitForSelector('tr[data-objection] >> text=Upheld: ¥55.00');
    await sup.context().close();

    const bill = await s.pageAs('bill.zhao', 'en', '#/collection');
    await bill.click('[data-action=confirm]');
    await bill.waitForSelector('[data-link=notices]');
    expect(await bill.locator('[data-fee-table]').textContent()).toContain('Confirmed: notices issued');
    const html = await (
      await bill.request.get(`${s.url}/api/collection/fee-tables/ft-${s.run.id}/notices/print?lang=zh`)
    ).text();
    expect(html.match(/<section class="notice"/g)).toHaveLength(3);
    expect(html).toContain('<span data-fen="5500">55.00</span>');
    expect(html).toContain('签收人');
    const csv = await (
      await bill.request.get(`${s.url}/api/collection/fee-tables/ft-${s.run.id}/payroll?format=csv`)
    ).text();
    expect(csv).toContain('P004211,H-12-301,Staff household 12-301,2026-11,27694,0,27694,276.94');
    await bill.context().close();
  }, 60_000);

  it('the clerk takes a partial payment, is refused another period, reminds, asks for a waiver; the supervisor approves', async () => {
    s.time.now = local(2026, 12, 20, 10);
    const clerk = await s.pageAs('clerk.wang', 'en', '#/collection');
    const form = clerk.locator('form[data-form=collection-payment]');
    const pay = async (period: string, yuan: string, receipt: string) => {
      await form.locator('input[name=notice]').fill('2026-11-0003');
      await form.locator('input[name=account]').fill('V-LAUNDRY');
      await form.locator('input[name=period]').fill(period);
      await form.locator('select[name=method]').selectOption('cash');
      await form.locator('input[name=amount]').fill(yuan);
      await form.locator('input[name=reference]').fill(receipt);
      await form.locator('button[type=submit]').click();
      return form.locator('[data-result=payment] .note').first();
    };
    expect(await (await pay('2026-12', '100.00', 'RC-0001')).textContent()).toContain(
      'is for 2026-11, not 2026-12',
    );
    expect(s.collection.notice('2026-11-0003').paidPrincipalFen).toBe(0);
    const ok = await pay('2026-11', '200.00', 'RC-0002');
    await clerk.waitForSelector('[data-result=payment] .note-ok');
    expect(await ok.textContent()).toContain('¥200.00 to the fee');
    expect(s.collection.notice('2026-11-0003').principalDueFen).toBe(31_009);
    await clerk.context().close();

    // Overdue (due 9 January), reminded, then past the grace days.
    s.time.now = local(2027, 1, 12, 10);
    const c2 = await s.pageAs('clerk.wang', 'en', '#/collection');
    await c2.locator('tr[data-notice="2026-11-0001"] [data-action=remind]').click();
    await c2.waitForSelector('tr[data-notice="2026-11-0001"] td:nth-child(7) >> text=1');
    await c2.context().close();
    s.time.now = local(2027, 2, 3, 12);
    const c3 = await s.pageAs('clerk.wang', 'en', '#/collection');
    const cafe = c3.locator('tr[data-notice="2026-11-0001"]');
    expect(await cafe.textContent()).toContain('¥16.38');
    await cafe.locator('input[name=reason]').fill('kitchen closed for repairs');
    await cafe.locator('[data-action=waive]').click();
    await c3.waitForSelector('tr[data-waiver]');
    expect(await c3.locator('tr[data-waiver]').textContent()).toContain('Waits for a supervisor');
    await c3.context().close();

    const sup = await s.pageAs('sup.li', 'zh', '#/collection');
    await sup.locator('tr[data-waiver] [data-action=approve]').click();
    await sup.waitForSelector('[data-section=waivers] >> text=没有待审批的减免。');
    expect(s.collection.notice('2026-11-0001').penaltyDueFen).toBe(0);
    await sup.context().close();
  }, 90_000);

  it('a payment recorded by mistake: the clerk asks to reverse it, the supervisor approves', async () => {
    const clerk = await s.pageAs('clerk.wang', 'en', '#/collection');
    const form = clerk.locator('form[data-form=collection-payment]');
    await form.locator('input[name=notice]').fill('2026-11-0002');
    await form.locator('input[name=account]').fill('S-E1-101');
    await form.locator('input[name=period]').fill('2026-11');
    await form.locator('input[name=amount]').fill('1.00');
    await form.locator('input[name=reference]').fill('RC-0009');
    await form.locator('button[type=submit]').click();
    await clerk.waitForSelector('[data-action=ask-reversal]');
    await clerk.fill('input[name=reversal-reason]', 'receipt RC-0009 voided: wrong door');
    await clerk.click('[data-action=ask-reversal]');
    await clerk.waitForSelector('[data-section=reversals] tr[data-reversal]');
    expect(await clerk.locator('[data-section=reversals] tr[data-reversal]').textContent()).toContain(
      'Waits for a supervisor',
    );
    await clerk.context().close();
    expect(s.collection.notice('2026-11-0002').paidPrincipalFen).toBe(100);

    const sup = await s.pageAs('sup.li', 'zh', '#/collection');
    await sup.locator('[data-section=reversals] [data-action=approve]').click();
    await sup.waitForSelector('[data-section=reversals] >> text=没有待审批的冲销。');
    expect(s.collection.notice('2026-11-0002').paidPrincipalFen).toBe(0);
    await sup.context().close();
    expect(s.pageErrors).toEqual([]);
  }, 90_000);
});
