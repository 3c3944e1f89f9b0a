import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildApi } from '../../../services/platform/http/app.ts';
import { BillRuns } from '../../../services/money/billing/bill-run.ts';
import { InvoiceChecks } from '../../../services/money/billing/invoice-check.ts';
import { billingRoutes } from '../../../services/money/billing/routes.ts';
import { tariffRoutes } from '../../../services/money/billing/tariff-routes.ts';
import { TariffStore } from '../../../services/money/billing/tariff-store.ts';
import { fixtureAccounts, fixtureSource, fixtureTariffInput } from '../../billing/fixture.ts';
import { TZ } from '../../billing/support.ts';
import { apiFixture, PASSWORD, takeOverAccount, type ApiFixture } from './support.ts';

/**
 * Tariff changes over HTTP, on the real users, independence links and audit log of the back office:
 * billing proposes, a second, independent supervisor approves, and only then does a bill run price
 * with it. The insider (one administrator with a gullible second one) makes a billing clerk and a
 * supervisor of their own, and resets a real supervisor's password: none of them can put a price
 * in force. The clock stands at 2026-11-01 08:00 in Shanghai (tempBackoffice).
 */
let f: ApiFixture;
let app: FastifyInstance;
let store: TariffStore;
const sessions: Record<string, string> = {};
const PW = 'chosen by the insider';

async function login(username: string, password = PASSWORD): Promise<void> {
  const res = await f.app.inject({ method: 'POST', url: '/api/session', payload: { username, password } });
  expect(res.statusCode, res.body).toBe(201);
  sessions[username] = res.json().token;
}

const as = (user: string, method: 'GET' | 'POST', url: string, payload?: object) =>
  app.inject({
    method,
    url,
    ...(method === 'POST' ? { payload: payload ?? {} } : {}),
    headers: { authorization: `Bearer ${sessions[user]}` },
  });

const refused = (res: LightMyRequestResponse, status: number, code: string) => {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.json().code).toBe(code);
};

/** The student room's electricity from a date at a price: one tariff version. */
const studentRoom = (effectiveFrom: string, price: string) => ({
  utility: 'electricity',
  customerTypes: ['student-room'],
  effectiveFrom,
  unit: 'kWh',
  components: [{ name: 'energy', price }],
});

/** The student room's line of a bill run made over HTTP for `period`. */
async function billStudentRoom(period: string) {
  const made = await as('fin.test', 'POST', '/api/billing/runs', { period });
  expect(made.statusCode, made.body).toBe(201);
  const run = (await as('fin.test', 'GET', `/api/billing/runs/${made.json().id}`)).json();
  const line = run.lines.find((l: { account: string }) => l.account === 'S-E1-101');
  return { id: run.id as string, line };
}

/** The insider's way to an account (support.ts), then a session for it here. */
async function takeOver(proposal: LightMyRequestResponse, username: string): Promise<void> {
  sessions[username] = await takeOverAccount(f, proposal, username, PW);
}

beforeAll(async () => {
  f = await apiFixture();
  store = new TariffStore({ db: f.db, audit: f.audit, clock: f.clock });
  expect(store.importInitial(fixtureTariffInput, 'test/billing/fixture.ts')).toBe(1);
  const source = fixtureSource();
  const billRuns = new BillRuns({
    db: f.db,
    audit: f.audit,
    tariffs: () => store.current(),
    source,
    timezone: TZ,
    clock: f.clock,
  });
  const invoices = new InvoiceChecks({ db: f.db, audit: f.audit, source, supplyPoints: [], timezone: TZ });
  app = await buildApi({
    auth: f.users,
    routes: [
      ...tariffRoutes(store),
      ...billingRoutes({
        billRuns,
        invoices,
        accounts: () => fixtureAccounts,
        tariffs: () => store.current(),
        timezone: TZ,
        clock: f.clock,
      }),
    ],
  });
  for (const [username, roles] of [
    ['fin.test', ['billing']],
    ['fin2.test', ['billing']],
    // Billing and supervisor at once: only the self-approval rule stops them.
    ['finlead.test', ['billing', 'supervisor']],
  ] as const) {
    await f.users.provisionUser({ username, displayName: username, roles, password: PASSWORD });
    await login(username);
  }
  for (const u of ['supervisor.test', 'clerk.test', 'supervisor2.test']) await login(u);
}, 60_000);
afterAll(async () => {
  await app.close();
  await f.close();
});

describe('tariff changes over HTTP', () => {
  let priceRise: number;
  let other: number;

  it('the first version is the imported table, audited as system:import', async () => {
    const res = await as('fin.test', 'GET', '/api/tariffs');
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({
      version: 1,
      requestedBy: 'system:import',
      approvedBy: 'system:import',
    });
    expect(res.json().table.tariffs).toHaveLength(fixtureTariffInput.tariffs.length);
    const entry = f.audit.query({ action: 'tariffs.import' })[0];
    expect(entry?.actor).toBe('system:import');
    // Imported once: a second start does not read the file into the store again.
    expect(store.importInitial(fixtureTariffInput, 'again')).toBeNull();
  });

  it('bad proposals are refused naming what is wrong, and only billing may propose', async () => {
    refused(
      await as('fin.test', 'POST', '/api/tariffs/proposals', {
        tariff: studentRoom('2026-11-20', '0.7x'),
        reason: 'price bureau 2026-31',
      }),
      422,
      'INVALID_TARIFF_TABLE',
    );
    const badType = await as('fin.test', 'POST', '/api/tariffs/proposals', {
      tariff: { ...studentRoom('2026-11-20', '0.70'), customerTypes: ['dormitory'] },
      reason: 'price bureau 2026-31',
    });
    refused(badType, 422, 'INVALID_TARIFF_TABLE');
    expect(badType.json().message).toContain('customerTypes');
    // Today (1 November) is in force already: a change reaches back into nothing billed.
    const past = await as('fin.test', 'POST', '/api/tariffs/proposals', {
      tariff: studentRoom('2026-11-01', '0.70'),
      reason: 'backdated',
    });
    refused(past, 422, 'TARIFF_CHANGE_IN_PAST');
    expect(past.json().message).toContain('electricity/student-room from 2026-11-01');
    const rewrite = await as('fin.test', 'POST', '/api/tariffs/proposals', {
      table: {
        ...fixtureTariffInput,
        tariffs: fixtureTariffInput.tariffs.map((t, i) =>
          i === 0 ? { ...t, components: [{ name: 'energy', price: '0.5' }] } : t,
        ),
      },
      reason: 'rewrite history',
    });
    refused(rewrite, 422, 'TARIFF_CHANGE_IN_PAST');
    expect(rewrite.json().message).toContain('from 2024-01-01');
    refused(
      await as('clerk.test', 'POST', '/api/tariffs/proposals', {
        tariff: studentRoom('2026-11-20', '0.70'),
        reason: 'not mine to propose',
      }),
      403,
      'FORBIDDEN',
    );
    expect((await as('fin.test', 'GET', '/api/tariffs/proposals')).json()).toEqual([]);
  });

  it('billing proposes; the proposer, or billing, cannot approve it; a pending or rejected proposal changes no bill', async () => {
    const res = await as('finlead.test', 'POST', '/api/tariffs/proposals', {
      tariff: studentRoom('2026-11-20', '0.70'),
      reason: 'price bureau notice 2026-31',
    });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({
      status: 'pending',
      baseVersion: 1,
      requestedBy: 'finlead.test',
      changes: ['electricity/student-room from 2026-11-20: added'],
    });
    priceRise = res.json().id;
    refused(
      await as('finlead.test', 'POST', `/api/tariffs/proposals/${priceRise}/approve`),
      403,
      'SELF_APPROVAL',
    );
    refused(await as('fin.test', 'POST', `/api/tariffs/proposals/${priceRise}/approve`), 403, 'FORBIDDEN');

    const cut = await as('fin2.test', 'POST', '/api/tariffs/proposals', {
      tariff: studentRoom('2026-11-18', '0.10'),
      reason: 'a cut nobody should approve',
    });
    expect(cut.statusCode, cut.body).toBe(201);
    const rejected = await as('supervisor.test', 'POST', `/api/tariffs/proposals/${cut.json().id}/reject`, {
      reason: 'no price bureau document',
    });
    expect(rejected.statusCode, rejected.body).toBe(200);
    expect(rejected.json()).toMatchObject({ status: 'rejected', decidedBy: 'supervisor.test' });
    refused(
      await as('supervisor2.test', 'POST', `/api/tariffs/proposals/${cut.json().id}/approve`),
      409,
      'TARIFF_PROPOSAL_DECIDED',
    );
    other = (
      await as('fin2.test', 'POST', '/api/tariffs/proposals', {
        tariff: studentRoom('2026-11-25', '0.65'),
        reason: 'made on version 1 too',
      })
    ).json().id;

    expect((await as('fin.test', 'GET', '/api/tariffs')).json().version).toBe(1);
    // 16–22 November: 7 days × 3.2 kWh = 22.4 kWh at ¥0.61 (version 1) = 1366.4 → 1366 fen. With
    // the pending rise it would be 4 days at 0.61 and 3 at 0.70; with the rejected cut, 0.10.
    const { line } = await billStudentRoom('2026-11-16..2026-11-23');
    expect(line.totalFen).toBe(1366);
    expect(line.prices.map((p: { effectiveFrom: string }) => p.effectiveFrom)).toEqual(['2026-11-16']);
  });

  it('a second, independent supervisor approves, and the next bill run prices with it', async () => {
    const ok = await as('supervisor.test', 'POST', `/api/tariffs/proposals/${priceRise}/approve`);
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json()).toMatchObject({
      version: 2,
      proposal: { status: 'approved', decidedBy: 'supervisor.test' },
    });
    const inForce = (await as('fin.test', 'GET', '/api/tariffs')).json();
    expect(inForce).toMatchObject({ version: 2, requestedBy: 'finlead.test', approvedBy: 'supervisor.test' });
    // 23–30 November: 7 × 3.2 + 3.3 = 25.7 kWh at ¥0.70 = 1799 fen (it was 1567.7 → 1568 at 0.61).
    const { line } = await billStudentRoom('2026-11-23..2026-12-01');
    expect(line.totalFen).toBe(1799);
    expect(line.prices.map((p: { effectiveFrom: string }) => p.effectiveFrom)).toEqual(['2026-11-20']);
    // Approving once is final, and the proposal made on version 1 alongside is now stale.
    refused(
      await as('supervisor2.test', 'POST', `/api/tariffs/proposals/${priceRise}/approve`),
      409,
      'TARIFF_PROPOSAL_DECIDED',
    );
    refused(
      await as('supervisor.test', 'POST', `/api/tariffs/proposals/${other}/approve`),
      409,
      'TARIFF_PROPOSAL_STALE',
    );
    expect(
      (await as('fin.test', 'GET', '/api/tariffs/proposals?status=stale'))
        .json()
        .map((p: { id: number }) => p.id),
    ).toEqual([other]);
    const versions = (await as('supervisor.test', 'GET', '/api/tariffs/versions')).json();
    expect(versions.map((v: { version: number }) => v.version)).toEqual([2, 1]);
    const actions = f.audit.query({ action: 'tariffs.' }).map((e) => `${e.action} ${e.actor}`);
    expect(actions).toContain('tariffs.propose finlead.test');
    expect(actions).toContain('tariffs.approve supervisor.test');
    expect(actions).toContain('tariffs.reject supervisor.test');
    expect(f.audit.verify().ok).toBe(true);
  });
});

describe('the insider: one administrator with a gullible second', () => {
  beforeAll(async () => {
    for (const [username, role] of [
      ['mal.billing', 'billing'],
      ['mal.supervisor', 'supervisor'],
    ] as const) {
      await takeOver(
        await f.call('admin', 'POST', '/api/users', { username, displayName: username, roles: [role] }),
        username,
      );
    }
    await takeOver(
      await f.call('admin', 'POST', '/api/users/supervisor2.test/password', { reason: 'forgot it' }),
      'supervisor2.test',
    );
  }, 60_000);

  it('their billing clerk proposes a cut; their supervisor and the supervisor they reset are refused; nothing changes', async () => {
    const cut = await as('mal.billing', 'POST', '/api/tariffs/proposals', {
      tariff: studentRoom('2026-11-28', '0.01'),
      reason: 'insider',
    });
    expect(cut.statusCode, cut.body).toBe(201);
    for (const sup of ['mal.supervisor', 'supervisor2.test'])
      refused(
        await as(sup, 'POST', `/api/tariffs/proposals/${cut.json().id}/approve`),
        403,
        'LINKED_ACCOUNTS',
      );
    expect((await as('fin.test', 'GET', '/api/tariffs')).json().version).toBe(2);
    expect(
      (await as('fin.test', 'GET', `/api/tariffs/proposals?status=pending`))
        .json()
        .map((p: { id: number }) => p.id),
    ).toEqual([cut.json().id]);
    // Their supervisor approving an honest proposal is no attack, but cannot approve their own clerk's.
    const honest = await as('fin.test', 'POST', '/api/tariffs/proposals', {
      tariff: studentRoom('2026-12-01', '0.72'),
      reason: 'price bureau notice 2026-40',
    });
    expect(honest.statusCode, honest.body).toBe(201);
    refused(
      await as('mal.billing', 'POST', `/api/tariffs/proposals/${honest.json().id}/approve`),
      403,
      'FORBIDDEN',
    );
  });
});
