import { rmSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { webRoutes } from '../../services/backoffice/web/routes.ts';
import { BillRuns } from '../../services/money/billing/bill-run.ts';
import { InvoiceChecks } from '../../services/money/billing/invoice-check.ts';
import { billingRoutes } from '../../services/money/billing/routes.ts';
import { tariffRoutes } from '../../services/money/billing/tariff-routes.ts';
import { TariffStore } from '../../services/money/billing/tariff-store.ts';
import { sessionRoutes } from '../../services/platform/auth/session-routes.ts';
import { Users } from '../../services/platform/auth/users.ts';
import { buildApi } from '../../services/platform/http/app.ts';
import { tempBackoffice } from '../audit/helpers.ts';
import { PASSWORD, TEST_SCRYPT_COST } from '../auth/setup.ts';
import { fixtureAccounts, fixtureSource, fixtureTariffInput } from './fixture.ts';
import { TZ } from './support.ts';
import { signIn } from '../helpers/sign-in.ts';

/**
 * The tariffs on the billing page in a real headless Chromium: billing proposes a new price, sees
 * it waiting and cannot approve it; a supervisor approves it, and the page shows version 2 in
 * force. The clock stands at 2026-11-01 (tempBackoffice).
 */

const CHROMIUM = '/usr/bin/chromium';

describe('the tariffs on the billing page', () => {
  let app: FastifyInstance;
  let url: string;
  let browser: Browser;
  let dir: string;
  let store: TariffStore;

  async function loggedIn(username: string): Promise<Page> {
    const page = await (await browser.newContext({ locale: 'en-US', timezoneId: 'UTC' })).newPage();
    await signIn(page, url, username, PASSWORD, { lang: 'en' });
    await page.goto(`${url}/#/billing`);
    await page.waitForSelector('section[data-section=tariffs] [data-version]');
    return page;
  }

  beforeAll(async () => {
    const t = tempBackoffice();
    dir = t.dir;
    const users = new Users({ db: t.db, audit: t.audit, clock: t.clock, scryptCost: TEST_SCRYPT_COST });
    await users.bootstrapAdmin('admin', PASSWORD);
    for (const [username, role] of [
      ['fin.test', 'billing'],
      ['sup.test', 'supervisor'],
    ] as const)
      await users.provisionUser({ username, displayName: username, roles: [role], password: PASSWORD });
    store = new TariffStore({ db: t.db, audit: t.audit, clock: t.clock });
    store.importInitial(fixtureTariffInput, 'fixture');
    const source = fixtureSource();
    app = await buildApi({
      auth: users,
      routes: [
        ...sessionRoutes({ users, secureCookie: false }),
        ...tariffRoutes(store),
        ...billingRoutes({
          billRuns: new BillRuns({ ...t, tariffs: () => store.current(), source, timezone: TZ }),
          invoices: new InvoiceChecks({ ...t, source, timezone: TZ, supplyPoints: [] }),
          accounts: () => fixtureAccounts,
          tariffs: () => store.current(),
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
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('billing proposes (a bad line is named), cannot approve it; a supervisor approves and version 2 is in force', async () => {
    const fin = await loggedIn('fin.test');
    expect(await fin.locator('[data-version]').textContent()).toContain('In force: version 1');
    const form = fin.locator('form[data-form=tariff-propose]');
    await form.locator('select[name=utility]').selectOption('electricity');
    await form.locator('input[name=customerTypes]').fill('student-room');
    await form.locator('input[name=effectiveFrom]').fill('2026-11-20');
    await form.locator('select[name=unit]').selectOption('kWh');
    await form.locator('textarea[name=components]').fill('energy');
    await form.locator('input[name=reason]').fill('price bureau notice 2026-31');
    await form.locator('button[type=submit]').click();
    expect(await form.locator('[aria-live] .note').first().textContent()).toContain('Line 1: expected');
    await form.locator('textarea[name=components]').fill('energy, 0.70');
    await form.locator('button[type=submit]').click();
    await fin.waitForSelector('tr[data-proposal="1"][data-status=pending]');
    expect(await fin.locator('tr[data-proposal="1"]').textContent()).toContain(
      // The server's code line "electricity/student-room from 2026-11-20: added" in the reader's words.
      'Electricity, Student room, from 2026-11-20: added',
    );
    // The proposer sees only "withdraw", never "approve".
    expect(await fin.locator('tr[data-proposal="1"] button[data-action=approve]').count()).toBe(0);
    expect(store.currentVersion()).toBe(1);

    const sup = await loggedIn('sup.test');
    await sup.locator('tr[data-proposal="1"] button[data-action=approve]').click();
    await sup.waitForSelector('[data-version="2"]');
    expect(await sup.locator('[data-version]').textContent()).toContain(
      'In force: version 2, proposed by fin.test, approved by sup.test',
    );
    expect(await sup.locator('tr[data-proposal="1"]').getAttribute('data-status')).toBe('approved');
    expect(store.currentVersion()).toBe(2);
  }, 60_000);
});
