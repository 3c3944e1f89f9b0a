import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../../services/platform/auth/roles.ts';
import { local } from '../billing/support.ts';
import { moneyPagesServer } from './money-pages-server.ts';

/**
 * The reconciliation page in headless Chromium, one step per role: finance enters the bank and
 * cash records, the inspector the inspection list, the clerk prepares the report, explains the
 * difference it names and signs (Chinese), the assistant and the supervisor sign in turn; the
 * supervisor sees no sign button before the assistant has signed.
 */

const H = '2026-12-H2';
const as = (id: string, ...roles: Actor['roles']): Actor => ({ id, kind: 'user', roles });

describe('half-monthly reconciliation page', () => {
  let s: Awaited<ReturnType<typeof moneyPagesServer>>;
  beforeAll(async () => {
    s = await moneyPagesServer();
    // Post-paid payments in the half month, recorded through the service as the clerk would.
    const t = s.collection.publish(as('bill.zhao', 'billing'), { run: s.run.id });
    s.time.now = t.objectionsUntil;
    s.collection.confirm(as('bill.zhao', 'billing'), t.id);
    s.time.now = local(2026, 12, 22, 10);
    const clerk = as('clerk.wang', 'clerk');
    s.collection.pay(clerk, {
      notice: '2026-11-0003',
      account: 'V-LAUNDRY',
      period: '2026-11',
      method: 'cash',
      amountFen: 20_000,
      reference: 'RC-1',
    });
    s.collection.pay(clerk, {
      notice: '2026-11-0001',
      account: 'B-CAFE',
      period: '2026-11',
      method: 'transfer',
      amountFen: 327_627,
      reference: 'BK-CAFE',
    });
    s.time.now = local(2027, 1, 2, 9);
  }, 60_000);
  afterAll(async () => {
    await s?.close();
  });

  const show = async (page: Awaited<ReturnType<typeof s.pageAs>>) => {
    await page.fill('form[data-form=half] input[name=half]', H);
    await page.click('form[data-form=half] button[type=submit]');
    await page.waitForSelector('[data-section=records]');
  };

  it('finance enters the cash and bank records', async () => {
    const page = await s.pageAs('fin.qian', 'en', '#/reconciliation');
    await show(page);
    const form = page.locator('form[data-form=finance-record]');
    for (const [method, yuan, ref] of [
      ['cash', '199.00', 'DEP-1222'],
      ['transfer', '3276.27', 'STMT-12'],
    ] as const) {
      await form.locator('select[name=method]').selectOption(method);
      await form.locator('input[name=amount]').fill(yuan);
      await form.locator('input[name=reference]').fill(ref);
      await form.locator('button[type=submit]').click();
      await page.waitForSelector(`[data-section=records] >> text=${ref}`);
    }
    expect(await page.locator('form[data-form=prepare]').count()).toBe(0);
    await page.context().close();
  }, 60_000);

  it('the inspector enters the inspection list', async () => {
    const page = await s.pageAs('insp.chen', 'en', '#/reconciliation');
    await show(page);
    const form = page.locator('form[data-form=inspection-item]');
    for (const [notice, yuan] of [
      ['2026-11-0003', '200.00'],
      ['2026-11-0001', '3276.27'],
    ]) {
      await form.locator('input[name=notice]').fill(notice!);
      await form.locator('input[name=amount]').fill(yuan!);
      await form.locator('button[type=submit]').click();
      await page.waitForSelector(`[data-section=records] >> text=${notice}`);
    }
    await page.context().close();
  }, 60_000);

  it('the clerk prepares the report, cannot sign it unexplained, explains the difference and signs (Chinese)', async () => {
    const page = await s.pageAs('clerk.wang', 'zh', '#/reconciliation');
    await show(page);
    await page.click('form[data-form=prepare] button[type=submit]');
    const report = page.locator('[data-report][data-version="1"]');
    await report.waitFor();
    expect(await report.locator('tr[data-method=cash]').textContent()).toContain('¥1.00');
    const diff = report.locator('tr[data-difference="method:cash"]');
    expect(await diff.textContent()).toContain('¥1.00');
    expect(await diff.locator('[data-action=explain]').count()).toBe(1);
    await report.locator('[data-action=sign]').click();
    await page.waitForSelector('[data-report] .note-error');
    expect(await page.locator('[data-report] .note-error').textContent()).toContain('method:cash');
    await diff.locator('input[name=text]').fill('一张解款单未入账');
    await diff.locator('[data-action=explain]').click();
    await page.waitForSelector('tr[data-difference="method:cash"] >> text=一张解款单未入账');
    await page.locator('[data-report] [data-action=sign]').click();
    await page.waitForSelector('li[data-step=clerk] >> text=clerk.wang');
    await page.context().close();
  }, 60_000);

  it('the supervisor waits for the assistant; the assistant signs, then the supervisor', async () => {
    const sup = await s.pageAs('sup.li', 'en', '#/reconciliation');
    await show(sup);
    await sup.waitForSelector('li[data-step=clerk] >> text=clerk.wang');
    expect(await sup.locator('[data-action=sign]').count()).toBe(0);
    await sup.context().close();

    const asst = await s.pageAs('asst.sun', 'zh', '#/reconciliation');
    await show(asst);
    await asst.click('[data-action=sign]');
    await asst.waitForSelector('li[data-step=assistant] >> text=asst.sun');
    await asst.context().close();

    const sup2 = await s.pageAs('sup.li', 'en', '#/reconciliation');
    await show(sup2);
    await sup2.click('[data-action=sign]');
    await sup2.waitForSelector('li[data-step=supervisor] >> text=sup.li');
    expect(await sup2.locator('[data-action=sign], [data-action=explain]').count()).toBe(0);
    await sup2.context().close();
    const [r] = s.reconciliation.reports(H);
    expect(r!.signatures.map((x) => x.signedBy)).toEqual(['clerk.wang', 'asst.sun', 'sup.li']);
    expect(s.pageErrors).toEqual([]);
  }, 90_000);
});
