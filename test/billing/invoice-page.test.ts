import { rmSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { webRoutes } from '../../services/backoffice/web/routes.ts';
import { BillRuns } from '../../services/money/billing/bill-run.ts';
import { InvoiceChecks } from '../../services/money/billing/invoice-check.ts';
import { billingRoutes } from '../../services/money/billing/routes.ts';
import { sessionRoutes } from '../../services/platform/auth/session-routes.ts';
import { Users } from '../../services/platform/auth/users.ts';
import { buildApi } from '../../services/platform/http/app.ts';
import { tempBackoffice } from '../audit/helpers.ts';
import { PASSWORD, TEST_SCRYPT_COST } from '../auth/setup.ts';
import { fixtureAccounts, fixtureTariffs } from './fixture.ts';
import { MemoryValidatedSource, TZ } from './support.ts';
import { signIn } from '../helpers/sign-in.ts';

/**
 * The billing page in a real headless Chromium (issue 23, item 5): billing staff type the
 * utility's invoice (supply point, period, quantity, charge elements in yuan), the page sends it
 * in integer fen, and shows whether it agrees with the campus's meters or why it is flagged.
 */

const CHROMIUM = '/usr/bin/chromium';

describe('entering a utility invoice on the billing page', () => {
  let app: FastifyInstance;
  let url: string;
  let browser: Browser;
  let page: Page;
  let dir: string;

  beforeAll(async () => {
    const t = tempBackoffice();
    dir = t.dir;
    const users = new Users({ db: t.db, audit: t.audit, clock: t.clock, scryptCost: TEST_SCRYPT_COST });
    await users.bootstrapAdmin('admin', PASSWORD);
    await users.provisionUser({
      username: 'bill.test',
      displayName: 'Billing',
      roles: ['billing'],
      password: PASSWORD,
    });
    // 100 kWh a day in December at the supply contract's 0.50 yuan: 1,550.00 yuan expected.
    const src = new MemoryValidatedSource();
    src.setDays('E-M', 'energy_import_kwh', [2026, 12, 1], Array(31).fill(100), 1000);
    const invoices = new InvoiceChecks({
      ...t,
      source: src,
      timezone: TZ,
      supplyPoints: [
        {
          id: 'SP-M',
          utility: 'electricity',
          meter: 'E-M',
          billedMeters: ['E-M'],
          lossPercent: 0,
          contract: [{ effectiveFrom: '2024-01-01', components: [{ name: 'energy', price: '0.50' }] }],
        },
      ],
    });
    const billRuns = new BillRuns({ ...t, tariffs: fixtureTariffs, source: src, timezone: TZ });
    app = await buildApi({
      auth: users,
      routes: [
        ...sessionRoutes({ users, secureCookie: false }),
        ...billingRoutes({
          billRuns,
          invoices,
          accounts: () => fixtureAccounts,
          tariffs: fixtureTariffs,
          timezone: TZ,
        }),
        webRoutes({ timezone: TZ }),
      ],
    });
    url = await app.listen({ port: 0, host: '127.0.0.1' });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu'],
    });
    page = await (await browser.newContext({ locale: 'en-US', timezoneId: 'UTC' })).newPage();
    await signIn(page, url, 'bill.test', PASSWORD, { lang: 'en' });
    await page.goto(`${url}/#/billing`);
    await page.waitForSelector('form[data-form=invoice-check]');
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function enter(no: string, lines: string) {
    const form = page.locator('form[data-form=invoice-check]');
    await form.locator('input[name=period]').fill('2026-12');
    await form.locator('input[name=supplyPoint]').fill('SP-M');
    await form.locator('input[name=invoiceNo]').fill(no);
    await form.locator('input[name=quantity]').fill('3100');
    await form.locator('textarea[name=elements]').fill(lines);
    await form.locator('button[type=submit]').click();
    return form.locator('[aria-live] .note').first();
  }

  it('an invoice that matches agrees; one exactly 3.00 % above is flagged with its reason; a bad line is named', async () => {
    expect(await (await enter('PWR-1', 'energy, 1550.00, 3100')).textContent()).toContain(
      'Invoice PWR-1 agrees with the campus meters (threshold 3 %, at or beyond is flagged).',
    );
    const flagged = await (await enter('PWR-2', 'energy, 1596.50, 3100')).textContent();
    expect(flagged).toContain('Invoice PWR-2 is flagged');
    expect(flagged).toContain('amount differs from the expected 155000 fen by 3 %');
    await page.waitForSelector('tr[data-check] >> text=PWR-2');
    expect(await page.locator('tr.flagged').count()).toBe(1);
    expect(await (await enter('PWR-3', 'energy 1550')).textContent()).toContain(
      'Line 1: expected “name, amount in yuan[, quantity]”',
    );
  }, 60_000);
});
