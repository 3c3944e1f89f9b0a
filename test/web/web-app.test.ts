import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../helpers/chromium.ts';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../adapters/mqtt/embedded-broker.ts';
import { validateCampus, type LoadedCampus } from '../../config/campus.ts';
import { startGateway, type RunningGateway } from '../../gateway/gateway.ts';
import type { Actor, Role } from '../../services/platform/auth/roles.ts';
import { startBackoffice, type RunningBackoffice } from '../../services/backoffice/run.ts';
import type { Finding } from '../../services/inspection/detection/types.ts';
import { runIngest, type RunningIngest } from '../../services/metering/ingest/run.ts';
import { startLiveHub, type LiveHub } from '../../services/metering/live/hub.ts';
import { liveRoutes } from '../../services/metering/live/routes.ts';
import { webRoutes } from '../../services/backoffice/web/routes.ts';
import { demoScenario } from '../../simulators/scenario/demo.ts';
import { startScenario, type RunningScenario } from '../../simulators/scenario/live.ts';
import { testLogger } from '../helpers/logger.ts';
import { signIn } from '../helpers/sign-in.ts';
import { waitForValue as waitFor } from '../helpers/wait-for.ts';

/**
 * The web app in a real headless Chromium against the whole stack on loopback: a small simulated
 * campus (Modbus meters, no substations), its two gateways, an embedded broker, ingest into
 * SQLite, the live hub, and the back office serving the API and the app.
 */

const PASSWORD = 'correct horse battery staple';
const SHOTS = join(process.cwd(), 'test-results', 'screenshots');
const USERS: Record<Role, string> = {
  operator: 'op.zhang',
  inspector: 'insp.chen',
  reader: 'reader.liu',
  clerk: 'clerk.wang',
  supervisor: 'sup.li',
  billing: 'bill.zhao',
  admin: 'admin.zhou',
  finance: 'fin.qian',
  assistant: 'asst.sun',
  'heating-desk': 'desk.wu',
  maintenance: 'maint.sun',
  complaints: 'ts.liu',
};
const CUT_METER = 'E-E1-101';
const LOAD_METER = 'E-W1-102';
/** The second meter reader: a manual reading round always has two. */
const READER_2 = 'reader.sun';
/** The second administrator: user administration takes two. */
const ADMIN_2 = 'admin.wu';
/** A route of meters read by hand (invented for the test; the meters are the simulated ones). */
const READING_ROUTE = 'R-E1';
const ROUTE_METER = 'E-E1-102';

describe('web app in a browser', () => {
  const logger = testLogger();
  let dir: string;
  let broker: EmbeddedBroker;
  let running: RunningScenario;
  let campus: LoadedCampus;
  let ingest: RunningIngest;
  let hub: LiveHub;
  let bo: RunningBackoffice;
  const gateways: RunningGateway[] = [];
  let browser: Browser;
  const actors = {} as Record<Role, Actor>;
  let reader2: Actor;
  const contexts: BrowserContext[] = [];
  /** Uncaught errors in any page; each test ends with none. */
  const pageErrors: string[] = [];

  /** A fresh browser session (own cookies) logged in as `role`, on `hash`. */
  async function loginAs(role: Role, hash = '', viewport = { width: 1366, height: 768 }): Promise<Page> {
    const context = await browser.newContext({ viewport, locale: 'en-US', timezoneId: 'UTC' });
    contexts.push(context);
    const page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(`${role}: ${err.message}`));
    await signIn(page, bo.url!, USERS[role], PASSWORD);
    if (hash) await page.goto(`${bo.url!}/#/${hash}`);
    return page;
  }

  const shot = (page: Page, name: string) =>
    page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false });
  const navOf = (page: Page) =>
    page.$$eval('nav.app-nav a[data-nav]', (as) => as.map((a) => (a as HTMLElement).dataset.nav));

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    dir = mkdtempSync(join(tmpdir(), 'web-e2e-'));
    broker = await startEmbeddedBroker();
    const scenario = demoScenario({ floors: 1, roomsPerFloor: 2, households: 5, start: Date.now() });
    running = await startScenario(scenario, { dataDir: dir, host: '127.0.0.1', pollInterval: '1s' });
    campus = validateCampus(running.campus, { file: join(dir, 'campus.yaml'), dir });
    // One post-paid household (invented), so that a bill run has someone to bill.
    writeFileSync(
      join(dir, 'billing-accounts.yaml'),
      [
        'accounts:',
        '  - id: HH-E-H01',
        '    holder: Staff household E-H01 (invented)',
        '    customerType: staff-household',
        '    payrollCode: P000001',
        '    meters:',
        '      - { meter: E-E-H01, utility: electricity }',
        '',
      ].join('\n'),
    );
    ingest = await runIngest(campus, { url: broker.url }, { logger, shareGroup: null, protocolVersion: 4 });
    hub = await startLiveHub({
      campus,
      mqtt: { url: broker.url },
      store: ingest.store,
      logger,
      staleCheckMs: 1_000,
    });
    await hub.ready;
    bo = await startBackoffice({
      campus,
      mqtt: { url: broker.url },
      store: ingest.store,
      logger,
      http: { host: '127.0.0.1', port: 0, secureCookie: false },
      bootstrapAdmin: { username: USERS.admin, password: PASSWORD },
      scryptCost: 1024,
      readingRoutes: [
        {
          id: READING_ROUTE,
          name: 'Dorm E1, read by hand',
          meters: [{ meter: ROUTE_METER, quantity: 'energy_import_kwh' }],
        },
      ],
      extraRoutes: (s) => [
        webRoutes({ timezone: s.timezone }),
        ...liveRoutes({ hub, campus: s.campus, store: s.store, vee: s.vee }),
      ],
    });
    // After the back office made the command key pair: gateways take relay commands only with it.
    for (const site of campus.config.sites) {
      for (const g of site.gateways) {
        gateways.push(await startGateway({ campus, gatewayId: g.id, mqtt: { url: broker.url }, logger }));
      }
    }
    const ip = { ip: '127.0.0.1' };
    for (const role of Object.keys(USERS) as Role[]) {
      if (role !== 'admin') {
        await bo.users.provisionUser({
          username: USERS[role],
          displayName: USERS[role],
          roles: [role],
          password: PASSWORD,
        });
      }
      actors[role] = (await bo.users.login(USERS[role], PASSWORD, ip)).actor;
    }
    await bo.users.provisionUser({
      username: READER_2,
      displayName: READER_2,
      roles: ['reader'],
      password: PASSWORD,
    });
    reader2 = (await bo.users.login(READER_2, PASSWORD, ip)).actor;
    await bo.users.provisionUser({
      username: ADMIN_2,
      displayName: ADMIN_2,
      roles: ['admin'],
      password: PASSWORD,
    });
    bo.prepaid.openAccount(actors.clerk, {
      id: 'E1-101',
      customerType: 'student-room',
      holder: 'Room E1-101 (invented)',
      meters: [CUT_METER],
    });
    browser = await launchChromium();
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    for (const g of gateways) await g.stop();
    await bo?.stop();
    await hub?.stop();
    await ingest?.stop();
    await running?.stop();
    await broker?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  afterEach(() => {
    expect(pageErrors.splice(0)).toEqual([]);
  });

  // Every role of roles.ts (twelve) signs in and opens its pages: half a minute alone, more under load.
  it('shows each role only the pages and actions it may use', async () => {
    const expected: Record<Role, string[]> = {
      operator: [
        'overview',
        'live',
        'meter',
        'meters',
        'balance',
        'prepaid',
        'handover',
        'customers',
        'relay',
        'approvals',
        'schedules',
        'outages',
        'plans',
        'capacity',
        'reports',
        'audit',
        'health',
      ],
      inspector: [
        'overview',
        'live',
        'meter',
        'meters',
        'balance',
        'alerts',
        'readings',
        'relay',
        'schedules',
        'outages',
        'plans',
        'heating-spot',
        'complaints',
        'reports',
        'reconciliation',
        'audit',
        'health',
      ],
      reader: ['readings', 'audit'],
      clerk: [
        'live',
        'meter',
        'meters',
        'balance',
        'prepaid',
        'handover',
        'customers',
        'relay',
        'schedules',
        'outages',
        'capacity',
        'reports',
        'collection',
        'reconciliation',
        'audit',
        'health',
      ],
      supervisor: [
        'overview',
        'live',
        'meter',
        'meters',
        'balance',
        'alerts',
        'readings',
        'prepaid',
        'handover',
        'customers',
        'relay',
        'approvals',
        'policy',
        'schedules',
        'outages',
        'plans',
        'capacity',
        // Electric heating proposals wait for a supervisor's approval on the heating page.
        'heating',
        'heat-purchase',
        'complaints',
        'reports',
        'billing',
        'collection',
        'reconciliation',
        'audit',
        'health',
      ],
      billing: [
        'live',
        'meter',
        'meters',
        'balance',
        'prepaid',
        'customers',
        'outages',
        'plans',
        'capacity',
        'heating',
        'heat-purchase',
        'reports',
        'billing',
        'collection',
        'reconciliation',
        'audit',
        'health',
      ],
      admin: ['users', 'audit'],
      finance: ['collection', 'reconciliation', 'audit'],
      assistant: ['collection', 'reconciliation', 'audit'],
      'heating-desk': ['heating', 'audit'],
      maintenance: ['heating-orders', 'audit'],
      complaints: ['complaints', 'audit'],
    };
    const accountActions: Partial<Record<Role, string[]>> = {
      clerk: ['topup', 'refund', 'free-quota'],
      supervisor: ['verify-tariff'],
      operator: ['free-quota'],
      billing: [],
    };
    for (const role of Object.keys(expected) as Role[]) {
      const page = await loginAs(role);
      await page.waitForSelector('main#main > *');
      expect(await navOf(page), role).toEqual(expected[role]);
      if (role === 'reader') {
        // A reader may enter readings, and only that: no round lookup, no mismatch alerts.
        await page.waitForSelector('form[data-form=manual-reading]');
        expect(await page.locator('form[data-form=round-lookup], [data-section=mismatches]').count()).toBe(0);
      }
      if (role === 'admin') await page.waitForSelector('[data-section=users] [data-username]');
      if (accountActions[role]) {
        await page.goto(`${bo.url!}/#/prepaid/E1-101`);
        await page.waitForSelector('[data-account="E1-101"]');
        const actions = await page.$$eval('form.action-form', (fs) =>
          fs.map((f) => (f as HTMLElement).dataset.action),
        );
        expect(actions, role).toEqual(accountActions[role]);
        if (role === 'clerk') await shot(page, 'prepaid-account-clerk');
      }
      if (role === 'admin' || role === 'operator') {
        await page.goto(`${bo.url!}/#/audit`);
        await page.waitForSelector('[data-action=verify]');
        // Operators verify the chain and read the entries of their own actions (issue 24 item 5).
        await page.waitForSelector('form[data-form=audit-search]');
      }
      await page.context().close();
    }
  }, 180_000);

  it('updates a live value when the load changes, and marks each meter', async () => {
    const page = await loginAs('operator', 'live');
    const row = page.locator(`.node-row[data-meter="${LOAD_METER}"]`);
    await page.waitForSelector('.conn[data-conn=up]');
    await waitFor(
      'a positive power on screen',
      async () => Number(await row.locator('.power').getAttribute('data-value')) > 0,
    );
    expect(await row.getAttribute('data-status')).toBe('ok');
    expect(await row.locator('.status').textContent()).toBe('OK');
    await shot(page, 'live-1366x768');

    running.meter(LOAD_METER).setRelay(false);
    await waitFor(
      'zero power on screen',
      async () => (await row.locator('.power').getAttribute('data-value')) === '0',
    );
    expect(await row.locator('.power').textContent()).toBe('0 kW');

    // A phone shows the same tree, stacked.
    const phone = await loginAs('operator', 'live', { width: 390, height: 844 });
    await phone.waitForSelector(`.node-row[data-meter="${LOAD_METER}"][data-status]`);
    await shot(phone, 'live-phone');

    // The meter page charts the readings the meter has sent.
    await page.goto(`${bo.url!}/#/meter/${LOAD_METER}?q=power_kw&range=6h`);
    await page.waitForSelector('[data-chart=uplot] canvas');
    await shot(page, 'meter-chart');
  });

  it('draws the energy balance of a node with sub-meters', async () => {
    const page = await loginAs('operator', 'balance');
    // Without a node: a picker of the meters that have sub-meters.
    await page.waitForSelector('form[data-form=balance] select[name=node] option[value]:not([value=""])', {
      state: 'attached',
    });
    type Tree = { nodes: Record<string, { id: string; kind: string; children: string[] }> };
    const tree = (await page.evaluate(async () => (await fetch('/api/campus/tree')).json())) as Tree;
    const node = Object.values(tree.nodes).find(
      (n) => n.kind !== 'group' && n.children.some((c) => tree.nodes[c]?.kind === n.kind),
    );
    expect(node).toBeDefined();
    await page.goto(`${bo.url!}/#/balance/${encodeURIComponent(node!.id)}`);
    await page.waitForSelector('[data-section=balance-chart] [data-chart=uplot] canvas');
    await page.waitForSelector('[data-section=balance-loss] [data-chart=uplot] canvas');
    expect(
      await page.locator('[data-section=balance-chart] [data-children]').getAttribute('data-children'),
    ).toBe(node!.children.filter((c) => tree.nodes[c]?.kind === node!.kind).join(','));
    await page.waitForSelector('[data-section=balance-uncomputable] h2');
    await shot(page, 'balance');
  });

  it('takes an alert from the inbox through assigned, field-checked and confirmed', async () => {
    const page = await loginAs('inspector', 'alerts');
    await page.waitForSelector('.page-head h1');
    const now = Date.now();
    const points = (base: number): [number, number][] =>
      Array.from({ length: 48 }, (_, i) => [now - (48 - i) * 300_000, base + Math.sin(i / 4)]);
    const finding: Finding = {
      type: 'energy-balance',
      key: 'energy-balance:E-E1-MAIN',
      severity: 'high',
      node: 'E-E1-MAIN',
      score: 4.2,
      since: now - 3 * 3_600_000,
      reason: 'Dorm E1 main meter exceeds the sum of its rooms by 18 %',
      evidence: {
        from: now - 4 * 3_600_000,
        to: now,
        figures: { main_kwh: 12.5, rooms_kwh: 10.25, unexplained_kwh: 2.25, nights: 3 },
        series: [
          { meter: 'E-E1-MAIN', quantity: 'power_kw', points: points(3) },
          { meter: 'E-E1-102', quantity: 'power_kw', points: points(1.5) },
        ],
      },
      suspects: [
        { meter: 'E-E1-101', score: 0.2, reasons: ['load follows its peers'] },
        { meter: 'E-E1-102', score: 0.8, reasons: ['night load 3× its peers', 'power factor near 1'] },
      ],
      unexplained: 2.25,
    };
    bo.alerts.sync([finding], now);
    const id = bo.alerts.list({})[0]!.id;
    // The inbox learns of it from the alert stream, without a reload.
    await page.click(`[data-alert-link="${id}"]`);
    await page.waitForSelector('[data-section=suspects] [data-suspect]');
    const suspects = await page.$$eval('[data-suspect]', (rs) =>
      rs.map((r) => (r as HTMLElement).dataset.suspect),
    );
    expect(suspects).toEqual(['E-E1-102', 'E-E1-101']);
    await page.waitForSelector('[data-section=chart] canvas');
    // Figures no detector writes are shown under a generic label, never under their internal name.
    expect(await page.locator('[data-section=figures]').textContent()).not.toContain('unexplained_kwh');
    await shot(page, 'alert-detail');

    await page.click('form[data-action=assign] button[type=submit]');
    await page.waitForSelector('[data-field=assignee]');
    await page.fill('form[data-action=field-check] textarea', 'Found a resistive heater in room E1-102');
    await page.click('form[data-action=field-check] button[type=submit]');
    await page.fill('form[data-action=confirm] textarea', 'Heater removed; the student was informed');
    await page.click('form[data-action=confirm] button[type=submit]');
    await page.waitForSelector('.page-head [data-state=confirmed]');
    const alert = bo.alerts.get(id);
    expect(alert.state).toBe('confirmed');
    expect(alert.steps.map((s) => `${s.state} ${s.by}`)).toEqual([
      'open system:detection',
      `assigned ${USERS.inspector}`,
      `field-checked ${USERS.inspector}`,
      `confirmed ${USERS.inspector}`,
    ]);

    // A supervisor sees the alert but gets no action.
    const sup = await loginAs('supervisor', `alerts/${id}`);
    await sup.waitForSelector('[data-section=steps]');
    expect(await sup.locator('[data-section=actions]').count()).toBe(0);
  });

  it('cuts off a meter: an operator asks, a supervisor approves, the relay opens', async () => {
    const op = await loginAs('operator', `relay/${CUT_METER}`);
    await op.selectOption('form[data-form=relay-request] select[name=action]', 'open');
    await op.fill(
      'form[data-form=relay-request] input[name=reason]',
      'Unpaid balance; approved by the office',
    );
    await op.click('[data-action=request-relay]');
    await op.waitForSelector('.note-ok');
    const request = bo.control.list({ meter: CUT_METER })[0]!;
    expect(request).toMatchObject({ state: 'pending', requestedBy: USERS.operator, action: 'open' });
    // The requester cannot approve it.
    expect(await op.locator(`[data-request="${request.id}"] [data-action=approve]`).count()).toBe(0);
    // Cancelling takes a reason: a blank one is not sent, the box asks for it, the request stands.
    const mine = op.locator(`[data-request="${request.id}"]`);
    await mine.locator('[data-action=cancel]').click();
    await mine.locator('.note-error').waitFor();
    expect(bo.control.get(request.id).state).toBe('pending');

    const sup = await loginAs('supervisor', 'approvals');
    const row = sup.locator(`[data-section=relay] [data-request="${request.id}"]`);
    await row.waitFor();
    await shot(sup, 'approvals');
    await row.locator('[data-action=approve]').click();
    await waitFor('the relay opened', () => bo.control.get(request.id).state === 'done');
    expect(bo.control.get(request.id)).toMatchObject({ observed: 'open', decidedBy: USERS.supervisor });
    expect(running.meter(CUT_METER).relayClosed).toBe(false);

    // The operator's list follows the request to what the gateway read back.
    await op.waitForSelector(`[data-request="${request.id}"][data-state=done]`);
    await shot(op, 'relay-requests');
    // And the live page shows the meter with no power.
    await op.goto(`${bo.url!}/#/live`);
    const power = op.locator(`.node-row[data-meter="${CUT_METER}"] .power`);
    await waitFor(
      'zero power after the cut-off',
      async () => (await power.getAttribute('data-value')) === '0',
    );
  });

  it('switches the language, keeps it, and shows the other pages', async () => {
    const page = await loginAs('supervisor', 'health');
    await page.waitForSelector('[data-gateway]');
    await shot(page, 'health');
    expect(await page.locator('[data-nav=live]').textContent()).toBe('Live');
    await page.click('[data-lang=zh]');
    expect(await page.locator('[data-nav=live]').textContent()).toBe('实时监测');
    expect(await page.locator('h1').first().textContent()).toBe('网关、总线与表计');
    await page.reload();
    await page.waitForSelector('[data-nav=live]');
    expect(await page.locator('[data-nav=live]').textContent()).toBe('实时监测');
    await page.goto(`${bo.url!}/#/audit`);
    await page.waitForSelector('[data-seq]');
    await page.click('[data-action=verify]');
    await page.waitForSelector('[data-result=verify] .note-ok');
    await shot(page, 'audit-zh');
    await page.click('[data-lang=en]');
    expect(await page.locator('[data-nav=live]').textContent()).toBe('Live');
    await page.goto(`${bo.url!}/#/billing`);
    await page.waitForSelector('[data-section=invoices]');
    // Last month, in the campus zone: a whole period to bill (no post-paid accounts: an empty run).
    const [y, m] = new Intl.DateTimeFormat('en-CA', {
      timeZone: campus.config.campus.timezone,
      year: 'numeric',
      month: '2-digit',
    })
      .format(new Date())
      .split('-')
      .map(Number) as [number, number];
    const last = m === 1 ? `${y - 1}-12` : `${y}-${String(m - 1).padStart(2, '0')}`;
    await page.fill('form[data-form=bill-run] input[name=period]', last);
    await page.click('form[data-form=bill-run] button[type=submit]');
    await page.locator('[data-run], [data-section=runs] .note-error').first().waitFor();
    expect(
      await page.locator('[data-section=runs] .note-error').count(),
      (await page.locator('[data-section=runs]').textContent()) ?? '',
    ).toBe(0);
    await shot(page, 'billing');
    await page.goto(`${bo.url!}/#/alerts?all=1`);
    await page.waitForSelector('[data-alert]');
    await shot(page, 'alerts-inbox');
    await page.click('[data-action=logout]');
    await page.waitForSelector('form[data-form=login]');
    await shot(page, 'login');
  });

  it('user administration under four eyes: one administrator proposes, another approves and gets the one-time code, the user sets a password; the server refuses a reader who is a clerk', async () => {
    const page = await loginAs('admin', 'users');
    const create = page.locator('form[data-form=user-create]');
    await create.locator('input[name=username]').fill('clerk.ma');
    await create.locator('input[name=displayName]').fill('Ma (counter 2)');
    await create.locator('input[data-role=reader]').check();
    await create.locator('input[data-role=clerk]').check();
    await create.locator('button[type=submit]').click();
    const refused = create.locator('.note-error');
    await refused.waitFor();
    expect(await refused.textContent()).toContain('a meter reader must not also record payments');

    await create.locator('input[data-role=reader]').uncheck();
    await create.locator('button[type=submit]').click();
    await create.locator('.note-ok').waitFor();
    const pending = page.locator('[data-section=user-requests] [data-kind=create]');
    await pending.waitFor();
    // Nobody exists yet, and the proposer may only withdraw their own request.
    expect(bo.users.getUser('clerk.ma')).toBeNull();
    expect(await pending.locator('[data-action=approve-request]').count()).toBe(0);

    // The second administrator approves in their own browser and is shown the code, once.
    const page2 = await browser.newContext({ locale: 'en-US', timezoneId: 'UTC' }).then((c) => {
      contexts.push(c);
      return c.newPage();
    });
    await page2.goto(`${bo.url!}/`);
    await page2.fill('form[data-form=login] input[name=username]', ADMIN_2);
    await page2.fill('form[data-form=login] input[name=password]', PASSWORD);
    await page2.click('form[data-form=login] button[type=submit]');
    await page2.waitForSelector(`[data-user="${ADMIN_2}"]`, { state: 'attached' });
    await page2.goto(`${bo.url!}/#/users`);
    await page2
      .locator('[data-section=user-requests] [data-kind=create] [data-action=approve-request]')
      .click();
    const code = await page2.locator('[data-code-for="clerk.ma"] [data-code]').textContent();
    expect(code?.length).toBeGreaterThan(20);
    expect(bo.users.getUser('clerk.ma')).toMatchObject({ roles: ['clerk'], disabled: false });
    await shot(page2, 'users-approve');

    // The new clerk sets a password on the login page with the code and logs in.
    const newcomer = await browser.newContext({ locale: 'en-US', timezoneId: 'UTC' }).then((c) => {
      contexts.push(c);
      return c.newPage();
    });
    await newcomer.goto(`${bo.url!}/`);
    const redeem = newcomer.locator('form[data-form=redeem]');
    await redeem.locator('input[name=redeem-username]').fill('clerk.ma');
    await redeem.locator('input[name=code]').fill(code!);
    await redeem.locator('input[name=new-password]').fill('only ma knows this one');
    await redeem.locator('button[type=submit]').click();
    await redeem.locator('.note-ok').waitFor();
    expect((await bo.users.login('clerk.ma', 'only ma knows this one', { ip: '127.0.0.1' })).actor.id).toBe(
      'clerk.ma',
    );

    await page.reload();
    const row = page.locator('[data-section=users] [data-username="clerk.ma"]');
    await row.waitFor();
    expect(await row.getAttribute('data-roles')).toBe('clerk');
    // Made under four eyes: both administrators stay linked to the clerk (neither may be a second
    // person with it) until the clerk sets a password of their own; the page says so.
    expect((await row.getAttribute('data-linked'))?.split(',').sort()).toEqual([ADMIN_2, USERS.admin].sort());
    expect(await row.locator('[data-field=links]').textContent()).toContain(
      'until its holder sets a password of their own',
    );
    // Adding the reader role to a clerk later is refused the same way, with the reason.
    await row.locator('[data-action=manage]').click();
    await row.locator('input[data-role=reader]').check();
    await row.locator('[data-action=save-roles]').click();
    await row.locator('.note-error').waitFor();
    expect(await row.locator('.note-error').textContent()).toContain('must not also record payments');
    await row.locator('[data-action=disable]').click();
    await page.waitForSelector('[data-username="clerk.ma"][data-disabled=true]');
    expect(bo.users.getUser('clerk.ma')?.disabled).toBe(true);

    // A token for the billing export: proposed here, its secret shown once to the approver.
    const token = page.locator('form[data-form=token-create]');
    await token.locator('input[name=token-name]').fill('billing-export');
    await token.locator('input[data-role=billing]').check();
    await token.locator('input[data-scope="billing.export"]').check();
    await token.locator('button[type=submit]').click();
    await token.locator('.note-ok').waitFor();
    await page2.reload();
    await page2
      .locator('[data-section=user-requests] [data-kind=token] [data-action=approve-request]')
      .click();
    const secret = await page2.locator('[data-secret-for=billing-export] [data-secret]').textContent();
    expect(secret?.length).toBeGreaterThan(40);
    await page.reload();
    await page.waitForSelector('[data-section=tokens] [data-token=billing-export][data-state=active]');
    await shot(page, 'users-admin');
    const tokenRow = page.locator('[data-token=billing-export]');
    await tokenRow.locator('input[name=reason]').fill('export job moved');
    await tokenRow.locator('[data-action=revoke]').click();
    await page.waitForSelector('[data-token=billing-export][data-state=revoked]');
    await page.click('[data-lang=zh]');
    await page.waitForSelector('[data-section=users] [data-username="clerk.ma"]');
    expect(await page.locator('[data-nav=users]').textContent()).toBe('用户');
    await shot(page, 'users-admin-zh');
  });

  it('draws a reading round, takes a reader’s reading, and shows the readers disagreeing', async () => {
    const sup = await loginAs('supervisor', 'readings');
    const draw = sup.locator('form[data-form=draw-round]');
    await draw.locator('input[name=route]').fill(READING_ROUTE);
    await draw.locator('textarea[name=pool]').fill(`${USERS.reader}, ${READER_2}`);
    await draw.locator('button[type=submit]').click();
    const drawn = draw.locator('[data-round]');
    await drawn.waitFor();
    const round = Number(await drawn.getAttribute('data-round'));
    expect(bo.readings.round(round).readers.toSorted()).toEqual([USERS.reader, READER_2].toSorted());

    // The reader sees the round they were drawn for and picks the meter from it.
    const reader = await loginAs('reader', 'readings');
    const form = reader.locator('form[data-form=manual-reading]');
    await reader.locator(`[data-section=my-rounds] [data-fill="${round}:${ROUTE_METER}"]`).click();
    expect(await form.locator('input[name=round]').inputValue()).toBe(String(round));
    expect(await form.locator('input[name=meter]').inputValue()).toBe(ROUTE_METER);
    await form.locator('input[name=value]').fill('1234.5');
    await form.locator('[data-action=enter-reading]').click();
    await form.locator('.note-ok').waitFor();
    await reader.waitForSelector(`[data-section=mine] [data-reading="${round}:${ROUTE_METER}"]`);
    await shot(reader, 'readings-reader');
    expect(bo.readings.readings(round)).toMatchObject([
      { meter: ROUTE_METER, reader: USERS.reader, value: 1234.5 },
    ]);
    // A meter not on the route is refused with the server's reason.
    await form.locator('input[name=meter]').fill(LOAD_METER);
    await form.locator('input[name=value]').fill('1');
    await form.locator('[data-action=enter-reading]').click();
    await form.locator('.note-error').waitFor();
    expect(await form.locator('.note-error').textContent()).toContain(`not on route ${READING_ROUTE}`);

    // The second reader reads something else: a mismatch alert for the inspectors.
    await bo.readings.enter(reader2, { round, meter: ROUTE_METER, value: 1300, readAt: Date.now() });
    await sup.goto(`${bo.url!}/#/readings/${round}`);
    await sup.waitForSelector(`[data-round-id="${round}"]`);
    expect(await sup.locator('[data-section=round] [data-reading]').count()).toBe(2);
    await sup.waitForSelector(
      `[data-section=mismatches] [data-kind=readers-disagree][data-meter="${ROUTE_METER}"]`,
    );
    await shot(sup, 'readings-supervisor');
  });

  it('prints a clerk’s handover report with a top-up in it; operators record and confirm line operations', async () => {
    bo.prepaid.openAccount(actors.clerk, {
      id: 'E1-102',
      customerType: 'student-room',
      holder: 'Room E1-102 (invented)',
      meters: [ROUTE_METER],
    });
    bo.prepaid.verifyTariffType(actors.supervisor, 'E1-102');
    const clerk = await loginAs('clerk', 'prepaid/E1-102');
    const topup = clerk.locator('form[data-action=topup]');
    await topup.locator('input[name=amount]').fill('50');
    await topup.locator('select[name=method]').selectOption('cash');
    await topup.locator('input[name=reference]').fill('R-2026-000123');
    await topup.locator('button[type=submit]').click();
    await clerk.waitForSelector('[data-entry][data-type=topup]');

    await clerk.goto(`${bo.url!}/#/handover`);
    // A clerk prints the report and hands over; line operations are the operators'.
    expect(await clerk.locator('[data-section=lines]').count()).toBe(0);
    await clerk.click('[data-action=handover-report]');
    const report = clerk.locator(`[data-section=report][data-clerk="${USERS.clerk}"]`);
    await report.waitFor();
    const entry = report.locator('[data-entry][data-type=topup]');
    expect(await entry.count()).toBe(1);
    expect(await entry.textContent()).toContain('R-2026-000123');
    expect(await entry.textContent()).toContain('¥50.00');
    const cash = report.locator('[data-totals=method] [data-method=cash]');
    expect(await cash.getAttribute('data-count')).toBe('1');
    expect(await cash.getAttribute('data-fen')).toBe('5000');
    expect(await report.locator('[data-field=cash-net]').textContent()).toBe('¥50.00');
    await shot(clerk, 'handover-clerk');
    await clerk.click('[data-lang=zh]');
    await clerk.click('[data-action=handover-report]');
    await report.locator('[data-entry]').waitFor();
    expect(await clerk.locator('[data-nav=handover]').textContent()).toBe('交接班');
    expect(await report.locator('[data-totals=method] [data-method=cash] td').first().textContent()).toBe(
      '现金',
    );
    await shot(clerk, 'handover-clerk-zh');

    // An operator records a line cut; it is open at the shift handover; a supervisor confirms it.
    const op = await loginAs('operator', 'handover');
    const line = op.locator('form[data-form=line-operation]');
    await line.locator('input[name=line]').fill('E1-feeder-2');
    await line.locator('select[name=action]').selectOption('cut');
    await line.locator('input[name=reason]').fill('Cable repair in the E1 basement');
    await line.locator('[data-action=record-line]').click();
    const recorded = op.locator('[data-section=lines] [data-line-op][data-state=unconfirmed]');
    await recorded.waitFor();
    const lineOp = Number(await recorded.getAttribute('data-line-op'));
    // The operator who recorded it is offered no confirmation.
    expect(await recorded.locator('[data-action=confirm-line]').count()).toBe(0);
    const shift = op.locator('form[data-form=shift-handover]');
    await shift.locator('input[name=to]').fill(USERS.supervisor);
    await shift.locator('textarea[name=notes]').fill('Feeder 2 is cut for the cable repair.');
    await shift.locator('[data-action=shift-handover]').click();
    const handed = shift.locator('[data-handover] [data-open=line-operations]');
    await handed.waitFor();
    expect(await handed.textContent()).toContain(`#${lineOp}`);
    await shot(op, 'handover-operator');

    const sup = await loginAs('supervisor', 'handover');
    await sup.fill('form[data-form=line-lookup] input[name=line-op-id]', String(lineOp));
    await sup.click('form[data-form=line-lookup] button[type=submit]');
    await sup.locator(`[data-line-op="${lineOp}"] [data-action=confirm-line]`).click();
    await sup.waitForSelector(`[data-line-op="${lineOp}"][data-state=confirmed]`);
    expect(bo.control.lineOperation(lineOp)).toMatchObject({
      state: 'confirmed',
      confirmedBy: USERS.supervisor,
    });
  });

  it('lets a supervisor grant and revoke a standing approval for policy restores', async () => {
    const sup = await loginAs('supervisor', 'policy');
    const form = sup.locator('form[data-form=policy-grant]');
    // Restores only, of a meter no account holds: nothing the policy does changes.
    await form.locator('input[value=open]').uncheck();
    await form.locator('input[value=close]').check();
    await form.locator('input[name=meters]').fill('E-W1-101');
    await form.locator('input[name=reason]').fill('Restore as soon as paid, night shift');
    await form.locator('[data-action=grant]').click();
    await form.locator('.note-ok').waitFor();
    const grant = bo.control.activePolicyApprovals().at(-1)!;
    expect(grant).toMatchObject({
      scope: { actions: ['close'], meters: ['E-W1-101'] },
      grantedBy: USERS.supervisor,
    });
    const row = sup.locator(`[data-policy-approval="${grant.id}"]`);
    await row.waitFor();
    await shot(sup, 'policy-approvals');
    // Revoking takes a reason: a blank one is not sent, the box asks for it and the grant stands.
    await row.locator('[data-action=revoke]').click();
    await row.locator('.note-error').waitFor();
    expect(bo.control.activePolicyApprovals().some((g) => g.id === grant.id)).toBe(true);
    await row.locator('input[name=reason]').fill('Night shift staffed again');
    await row.locator('[data-action=revoke]').click();
    await row.waitFor({ state: 'detached' });
    expect(bo.control.activePolicyApprovals().some((g) => g.id === grant.id)).toBe(false);
  });

  it('marks the meters of a gateway gone quiet as stale', async () => {
    const page = await loginAs('operator', 'live');
    const row = page.locator(`.node-row[data-meter="${LOAD_METER}"]`);
    const east = page.locator('.node-row[data-meter="E-E2-101"]');
    await page.waitForSelector('.conn[data-conn=up]');
    const west = gateways.findIndex((g) => g.site === 'west');
    const [quiet] = gateways.splice(west, 1);
    await quiet!.stop();
    await page.waitForSelector(`.node-row[data-meter="${LOAD_METER}"][data-status=stale]`);
    expect(await row.locator('.status').textContent()).toMatch(/^Stale · \d{2}:\d{2}:\d{2}$/);
    expect(await row.evaluate((el) => getComputedStyle(el).backgroundColor)).not.toBe('rgba(0, 0, 0, 0)');
    // The other site's meters stay fresh.
    expect(await east.getAttribute('data-status')).toBe('ok');
    await shot(page, 'live-stale');
    await page.goto(`${bo.url!}/#/health`);
    await page.waitForSelector('[data-gateway]');
    await shot(page, 'health-one-gateway-quiet');
  });
});
