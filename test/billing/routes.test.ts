import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../../services/platform/http/app.ts';
import type { Actor } from '../../services/platform/auth/roles.ts';
import { BillRuns } from '../../services/money/billing/bill-run.ts';
import { billingRoutes } from '../../services/money/billing/routes.ts';
import { InvoiceChecks } from '../../services/money/billing/invoice-check.ts';
import { ManualReadings } from '../../services/metering/readings/manual.ts';
import { seededRandom } from '../../services/platform/seeded-random.ts';
import { readingsRoutes } from '../../services/metering/readings/routes.ts';
import { ServiceError } from '../../services/platform/errors.ts';
import { fixtureAccounts, fixtureSource, fixtureTariffs } from './fixture.ts';
import { backoffice, TZ } from './support.ts';

const actors: Record<string, Actor> = {
  fin: { id: 'fin.zhang', kind: 'user', roles: ['billing'] },
  sup: { id: 'sup.li', kind: 'user', roles: ['supervisor'] },
  clerk: { id: 'clerk.wang', kind: 'user', roles: ['clerk'] },
  chen: { id: 'reader.chen', kind: 'user', roles: ['reader'] },
  liu: { id: 'reader.liu', kind: 'user', roles: ['reader'] },
};

describe('billing and readings routes', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    const bo = backoffice();
    const source = fixtureSource();
    const billRuns = new BillRuns({ ...bo, tariffs: fixtureTariffs, source, timezone: TZ });
    const invoices = new InvoiceChecks({
      ...bo,
      source,
      timezone: TZ,
      supplyPoints: [
        {
          id: 'SP-W',
          utility: 'water',
          meter: 'W-LAUNDRY',
          billedMeters: [],
          contract: [{ effectiveFrom: '2024-01-01', components: [{ name: 'water', price: '4.30' }] }],
        },
      ],
    });
    const readings = new ManualReadings({
      ...bo,
      routes: [{ id: 'r1', meters: [{ meter: 'W-LAUNDRY', quantity: 'volume_m3' }] }],
      automatic: source,
      random: seededRandom(1),
    });
    app = await buildApi({
      auth: {
        authenticate: (token) => {
          const a = actors[token];
          if (!a) throw new ServiceError('UNAUTHENTICATED', 401, 'unknown token');
          return a;
        },
      },
      routes: [
        ...billingRoutes({
          billRuns,
          invoices,
          accounts: () => fixtureAccounts,
          tariffs: fixtureTariffs,
          timezone: TZ,
        }),
        ...readingsRoutes({ readings }),
      ],
    });
  });
  afterAll(() => app.close());

  const call = (who: string | undefined, method: 'GET' | 'POST', url: string, payload?: unknown) =>
    app.inject({
      method,
      url,
      payload: payload as object,
      headers: who ? { authorization: `Bearer ${who}` } : {},
    });

  it('makes a bill run and exports it; refuses without billing.export', async () => {
    expect((await call(undefined, 'POST', '/api/billing/runs', { period: '2026-11' })).statusCode).toBe(401);
    expect((await call('clerk', 'POST', '/api/billing/runs', { period: '2026-11' })).statusCode).toBe(403);
    const made = await call('fin', 'POST', '/api/billing/runs', { period: '2026-11' });
    expect(made.statusCode).toBe(201);
    const summary = made.json<{ id: string; totalFen: number; blocked: number }>();
    expect(summary).toMatchObject({ totalFen: 412_087, blocked: 1 });
    const csv = await call('sup', 'GET', `/api/billing/runs/${summary.id}/export?format=csv&list=payroll`);
    expect(csv.headers['content-type']).toContain('text/csv');
    expect(csv.body).toContain('P004211,H-12-301,Staff household 12-301,27694,276.94,');
    expect((await call('fin', 'GET', `/api/billing/runs/${summary.id}/verify`)).json()).toEqual({ ok: true });
    expect((await call('fin', 'GET', '/api/billing/runs/br-nope')).statusCode).toBe(404);
    // The quarter's disclosure needs a run for each of its months.
    const disclosure = await call('fin', 'GET', '/api/billing/disclosure?quarter=2026-Q4&format=csv&lang=en');
    expect(disclosure.statusCode).toBe(404);
    expect(disclosure.json<{ message: string }>().message).toContain('no bill run for 2026-10');
    expect((await call('fin', 'POST', '/api/billing/runs', { period: 'November' })).json()).toMatchObject({
      code: 'INVALID_PERIOD',
    });
  });

  it('checks an invoice with invoices.check only', async () => {
    const invoice = {
      supplyPoint: 'SP-W',
      invoiceNo: 'W-11',
      quantity: 73.5,
      amountFen: 31_605,
      elements: [{ name: 'water', amountFen: 31_605 }],
    };
    expect(
      (await call('clerk', 'POST', '/api/billing/invoice-checks', { period: '2026-11', invoice })).statusCode,
    ).toBe(403);
    const res = await call('fin', 'POST', '/api/billing/invoice-checks', { period: '2026-11', invoice });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ amount: { expectedFen: 31_605, differenceFen: 0 } });
  });

  it('readers enter readings under their own login', async () => {
    const round = await call('sup', 'POST', '/api/readings/rounds', {
      route: 'r1',
      dueAt: Date.parse('2026-11-30T02:00:00Z'),
      pool: ['reader.chen', 'reader.liu'],
    });
    expect(round.statusCode).toBe(201);
    const { id } = round.json<{ id: number }>();
    const body = { meter: 'W-LAUNDRY', value: 5073.5, readAt: Date.parse('2026-11-30T16:00:00Z') };
    expect((await call('clerk', 'POST', `/api/readings/rounds/${id}/readings`, body)).statusCode).toBe(403);
    expect((await call('chen', 'POST', `/api/readings/rounds/${id}/readings`, body)).json()).toMatchObject({
      alerts: [],
    });
    const second = await call('liu', 'POST', `/api/readings/rounds/${id}/readings`, { ...body, value: 5090 });
    expect(second.json<{ alerts: { kind: string }[] }>().alerts.map((a) => a.kind)).toEqual([
      'differs-from-automatic',
      'readers-disagree',
    ]);
  });
});
