import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { CollectionSettingsSchema } from '../../config/schemas/collection.ts';
import { webRoutes } from '../../services/backoffice/web/routes.ts';
import { BillRuns } from '../../services/money/billing/bill-run.ts';
import { parsePeriod } from '../../services/money/billing/period.ts';
import { Collection } from '../../services/money/collection/collection.ts';
import { collectionRoutes } from '../../services/money/collection/routes.ts';
import { Reconciliation } from '../../services/money/reconciliation/reconciliation.ts';
import { reconciliationRoutes } from '../../services/money/reconciliation/routes.ts';
import { AuditLog } from '../../services/platform/audit/audit-log.ts';
import { sessionRoutes } from '../../services/platform/auth/session-routes.ts';
import type { Actor, Role } from '../../services/platform/auth/roles.ts';
import { Users } from '../../services/platform/auth/users.ts';
import { openBackofficeDb } from '../../services/platform/db.ts';
import { buildApi } from '../../services/platform/http/app.ts';
import { PASSWORD, TEST_SCRYPT_COST } from '../auth/setup.ts';
import { fixtureAccounts, fixtureSource, fixtureTariffs } from '../billing/fixture.ts';
import { local, TZ } from '../billing/support.ts';
import { launchChromium } from '../helpers/chromium.ts';
import { signIn } from '../helpers/sign-in.ts';

/**
 * The collection and reconciliation pages' server for browser tests: a real SQLite file, the
 * billing fixture's November 2026 bill run, the collection and reconciliation services with their
 * routes, sessions and the web app. Sessions run on the real clock; the services on `time.now`,
 * which a test moves across objection periods and due dates.
 */

export const PEOPLE: Record<string, Role[]> = {
  'bill.zhao': ['billing'],
  'clerk.wang': ['clerk'],
  'sup.li': ['supervisor'],
  'fin.qian': ['finance'],
  'asst.sun': ['assistant'],
  'insp.chen': ['inspector'],
};

/** The API alone (no browser): for route tests with app.inject and for the pages' server. */
export async function moneyApi() {
  const dir = mkdtempSync(join(tmpdir(), 'campus-money-web-'));
  const db = openBackofficeDb(join(dir, 'backoffice.sqlite'));
  const time = { now: local(2026, 12, 2, 9) };
  const clock = () => time.now;
  const audit = new AuditLog(db, clock);
  const users = new Users({ db, audit, clock: Date.now, scryptCost: TEST_SCRYPT_COST });
  for (const [username, roles] of Object.entries(PEOPLE))
    await users.provisionUser({ username, displayName: username, roles, password: PASSWORD });
  const runs = new BillRuns({
    db,
    audit,
    clock,
    tariffs: fixtureTariffs,
    source: fixtureSource(),
    timezone: TZ,
  });
  const billing: Actor = { id: 'bill.zhao', kind: 'user', roles: ['billing'] };
  const run = await runs.run(billing, { period: parsePeriod('2026-11', TZ), accounts: fixtureAccounts });
  const collection = new Collection({
    ...{ db, audit, clock, timezone: TZ, runs },
    settings: CollectionSettingsSchema.parse({}),
  });
  const reconciliation = new Reconciliation({ db, audit, clock, timezone: TZ });
  const app = await buildApi({
    auth: users,
    routes: [
      ...sessionRoutes({ users, secureCookie: false }),
      ...collectionRoutes(collection),
      ...reconciliationRoutes(reconciliation),
      webRoutes({ timezone: TZ }),
    ],
  });
  const login = async (username: string) => (await users.login(username, PASSWORD, { ip: '10.0.0.9' })).token;
  return { dir, db, audit, time, users, runs, run, collection, reconciliation, app, login };
}

export async function moneyPagesServer() {
  const { dir, db, app, ...rest } = await moneyApi();
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  const browser: Browser = await launchChromium();
  const pageErrors: string[] = [];

  /** A fresh browser context logged in as `username`, the app in `lang`, on `hash`. */
  async function pageAs(username: string, lang: 'zh' | 'en', hash: string): Promise<Page> {
    const page = await (await browser.newContext({ locale: lang === 'zh' ? 'zh-CN' : 'en-US' })).newPage();
    page.on('pageerror', (e) => pageErrors.push(`${username}: ${e.message}`));
    await signIn(page, url, username, PASSWORD, { lang });
    await page.goto(`${url}/${hash}`);
    return page;
  }

  return {
    ...{ ...rest, db, app, url, browser, pageErrors, pageAs },
    async close() {
      await browser.close();
      await app.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
