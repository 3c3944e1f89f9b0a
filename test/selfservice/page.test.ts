import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/chromium.ts';
import { POLICY_SYSTEM_ACTOR } from '../../services/backoffice/policy-loop.ts';
import { localTimeToUtc } from '../../services/metering/consumption/zone.ts';
import { startStack, TZ, type Stack } from './support.ts';

/**
 * The customers' page in headless Chromium on a phone-sized screen, against the whole back office
 * and the simulated payment provider: set a password with the clerk's code, sign in, see the
 * balance, switch to English, top up and pay on the provider's page, see the money arrive.
 */

const SHOTS = join(process.cwd(), 'test-results', 'screenshots');
let s: Stack;
let browser: Browser;
const errors: string[] = [];

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  s = await startStack();
  await s.openAccount('E2-201');
  browser = await launchChromium();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await s?.stop();
});

async function phone(locale = 'zh-CN'): Promise<Page> {
  const context = await browser.newContext({
    viewport: { width: 390, height: 844 },
    locale,
    timezoneId: 'UTC',
    isMobile: true,
  });
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(e.message));
  return page;
}

describe('the self-service page on a phone', () => {
  it('first sign-in with the code, balance, English, a top-up paid at the provider', async () => {
    const issued = await s.staff('clerk.wang', 'POST', '/api/customer-logins', {
      account: 'E2-201',
      username: 'stu.lin',
    });
    const page = await phone();
    await page.goto(`${s.url}/self/`);
    await page.waitForSelector('#signin:not([hidden])');
    expect(await page.textContent('h1')).toBe('电费自助服务');
    await page.click('details summary');
    await page.fill('#redeem-form input[name=username]', 'stu.lin');
    await page.fill('#redeem-form input[name=code]', String(issued.body.code));
    await page.fill('#redeem-form input[name=password]', 'my own password');
    await page.click('#redeem-form button[type=submit]');
    await page.waitForFunction(() => document.getElementById('message')?.textContent?.includes('密码已设置'));

    await page.fill('#login-form input[name=username]', 'stu.lin');
    await page.fill('#login-form input[name=password]', 'my own password');
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#home:not([hidden])');
    expect(await page.textContent('#balance')).toBe('¥0.00');
    expect(await page.textContent('#who')).toContain('E2-201');
    expect(await page.textContent('#days')).toBe('余额已用完，请尽快充值');
    expect(await page.textContent('#tariff')).toMatch(/^电费: ¥0\.\d+\/kWh$/);
    // Nothing wider than the phone.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.screenshot({ path: join(SHOTS, 'self-home-zh.png'), fullPage: true });

    await page.click('#lang');
    expect(await page.textContent('h1')).toBe('Electricity self-service');
    await page.waitForFunction(
      () => document.getElementById('days')?.textContent === 'No credit left: please top up',
    );

    await page.click('[data-yuan="50"]');
    await page.click('#topup-form button[type=submit]');
    await page.waitForSelector('#pay-link');
    const [provider] = await Promise.all([page.waitForEvent('popup'), page.click('#pay-link')]);
    await provider.waitForSelector('#pay');
    await provider.click('#pay');
    await provider.waitForFunction(() => document.getElementById('status')?.textContent === 'paid');
    // The page asks every 2 s; the notice has credited the account by then.
    await page.waitForFunction(
      () => document.getElementById('balance')?.textContent === '¥50.00',
      undefined,
      { timeout: 15_000 },
    );
    expect(await page.textContent('#order')).toContain('¥50.00 credited.');
    expect(await page.$$eval('#entries li', (li) => li.map((x) => x.textContent))).toEqual([
      expect.stringMatching(/Top-up\s*\+50\.00$/),
    ]);
    await page.screenshot({ path: join(SHOTS, 'self-topup-en.png'), fullPage: true });
    expect(s.bo.prepaid.balance('E2-201')).toBe(5000);

    // Settings: where notices go, and a new password.
    await page.click('#settings summary');
    expect(await page.inputValue('#contact-form input[name=email]')).toBe('');
    await page.fill('#contact-form input[name=email]', 'lin@example.edu');
    await page.selectOption('#contact-form select[name=language]', 'en');
    await page.click('#contact-form button[type=submit]');
    await page.waitForFunction(() => document.getElementById('message')?.textContent === 'Saved.');
    expect(s.bo.customers.logins.contactsOf('E2-201')).toEqual([
      { username: 'stu.lin', account: 'E2-201', email: 'lin@example.edu', language: 'en' },
    ]);
    await page.fill('#password-form input[name=current]', 'my own password');
    await page.fill('#password-form input[name=password]', 'my newer password');
    await page.click('#password-form button[type=submit]');
    await page.waitForFunction(() =>
      document.getElementById('message')?.textContent?.startsWith('Password changed'),
    );
    expect(
      (
        await s.customer('', 'POST', '/api/self/login', {
          username: 'stu.lin',
          password: 'my newer password',
        })
      ).status,
    ).toBe(200);

    await page.click('#logout');
    await page.waitForSelector('#signin:not([hidden])');
    await page.reload();
    await page.waitForSelector('#signin:not([hidden])');
    expect(errors).toEqual([]);
  }, 60_000);

  it('a wrong amount and a wrong password are said on the page, nothing is ordered', async () => {
    await s.signUp('E2-201', 'stu.ma');
    // Three charged days, 3 kWh each: the charts have bars and the days left a rate.
    const day = (d: number) => localTimeToUtc(TZ, 2026, 11, d);
    const intervals = [28, 29, 30].map((d) => ({
      meter: 'm-E2-201',
      start: day(d),
      end: day(d + 1),
      value: 3,
      status: 'ok' as const,
    }));
    const debited = s.bo.prepaid.applyConsumption(POLICY_SYSTEM_ACTOR, 'E2-201', intervals).debited;
    const rate = Math.round(-debited.reduce((n, e) => n + e.amountFen, 0) / 3);
    const page = await phone('en-US');
    await page.goto(`${s.url}/self/`);
    await page.waitForSelector('#signin:not([hidden])');
    await page.fill('#login-form input[name=username]', 'stu.ma');
    await page.fill('#login-form input[name=password]', 'not my password');
    await page.click('#login-form button[type=submit]');
    await page.waitForFunction(
      () => document.getElementById('message')?.textContent === 'wrong sign-in name or password',
    );
    await page.fill('#login-form input[name=password]', 'correct horse battery staple');
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#home:not([hidden])');
    expect(await page.$$eval('#daily-chart rect', (r) => r.length)).toBe(3);
    expect(await page.$$eval('#monthly-chart rect', (r) => r.length)).toBe(1);
    const left = Math.floor(s.bo.prepaid.balance('E2-201') / rate);
    expect(await page.textContent('#days')).toBe(
      `About ${left} days left at your recent use (¥${(rate / 100).toFixed(2)} a day)`,
    );
    const orders = s.bo.customers.payments.orders().length;
    await page.fill('#topup-form input[name=yuan]', '1.234');
    await page.click('#topup-form button[type=submit]');
    await page.waitForFunction(
      () => document.getElementById('message')?.textContent === 'Enter a valid amount',
    );
    await page.fill('#topup-form input[name=yuan]', '0.50');
    await page.click('#topup-form button[type=submit]');
    await page.waitForFunction(() =>
      document
        .getElementById('message')
        ?.textContent?.startsWith('amountFen: a top-up is whole fen from 100'),
    );
    expect(s.bo.customers.payments.orders().length).toBe(orders);
    expect(errors).toEqual([]);
  }, 60_000);
});
