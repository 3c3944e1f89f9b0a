import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/chromium.ts';
import { PASSWORD, startStack, type Stack } from './support.ts';
import { signIn } from '../helpers/sign-in.ts';

/**
 * The business office's page for self-service and payments, in headless Chromium against the
 * whole back office: a clerk issues a customer's sign-in (the code shown once works), sees the
 * account's sign-ins, reconciles a day whose payment never reached the ledger and resolves the
 * mismatch with a note; an operator sees the queue but has no issue form nor resolve button.
 */

let s: Stack;
let browser: Browser;
const errors: string[] = [];

beforeAll(async () => {
  s = await startStack({ web: true });
  await s.openAccount('E3-301');
  browser = await launchChromium();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await s?.stop();
});

async function loginAs(user: string): Promise<Page> {
  const context = await browser.newContext({ locale: 'en-US', timezoneId: 'UTC' });
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(e.message));
  await signIn(page, s.url, user, PASSWORD);
  await page.goto(`${s.url}/#/customers`);
  await page.waitForSelector('[data-section=mismatches]');
  return page;
}

describe('the clerk’s self-service and payments page', () => {
  it('issues a sign-in whose code works, lists it, reconciles a day and resolves the mismatch', async () => {
    const page = await loginAs('clerk.wang');
    await page.fill('[data-form=issue-login] input[name=account]', 'E3-301');
    await page.fill('[data-form=issue-login] input[name=username]', 'stu.qian');
    await page.fill('[data-form=issue-login] input[name=email]', 'qian@example.edu');
    await page.click('[data-form=issue-login] button[type=submit]');
    const code = await page.getAttribute('[data-section=issue-login] [data-code]', 'data-code');
    expect(code).toMatch(/^\d{5}-\d{5}$/);
    const redeemed = await s.customer('', 'POST', '/api/self/redeem', {
      username: 'stu.qian',
      code,
      password: 'qian password',
    });
    expect(redeemed.status).toBe(200);

    await page.fill('[data-section=account-logins] input[name=account]', 'E3-301');
    await page.click('[data-section=account-logins] button[type=submit]');
    await page.waitForSelector('[data-login="stu.qian"]');

    // A payment whose notice was lost: the provider's statement has it, the ledger does not.
    const order = await s.bo.customers.payments.createOrder('customer:stu.qian', {
      account: 'E3-301',
      amountFen: 3000,
    });
    s.sim.deliverNotices = false;
    await s.sim.pay(order.orderNo);
    await page.fill('[data-form=reconcile] input[name=date]', '2026-12-01');
    await page.click('[data-form=reconcile] button[type=submit]');
    await page.waitForSelector('[data-mismatch][data-kind=missing]');
    await page.fill('[data-mismatch][data-kind=missing] input[name=note]', 'queried the provider: credited');
    await page.click('[data-mismatch][data-kind=missing] [data-action=resolve]');
    await page.waitForSelector('text=No open mismatch: reconcile');
    expect(s.bo.audit.query({ action: 'payment.mismatch-resolved' })[0]).toMatchObject({
      actor: 'clerk.wang',
      reason: 'queried the provider: credited',
    });
    expect(errors).toEqual([]);
  }, 60_000);

  it('an operator sees the queue and the notices, but may not issue sign-ins nor resolve', async () => {
    const page = await loginAs('op.sun');
    expect(await page.$('[data-section=issue-login]')).toBeNull();
    expect(await page.$('[data-form=reconcile]')).toBeNull();
    expect(await page.$('[data-action=resolve]')).toBeNull();
    expect(errors).toEqual([]);
  }, 60_000);
});
