import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../../../services/platform/http/app.ts';
import { ROLES, type Actor } from '../../../services/platform/auth/roles.ts';
import { IdParams } from '../../../services/platform/http/schemas.ts';
import { collectionRoutes } from '../../../services/money/collection/routes.ts';
import { reconciliationRoutes } from '../../../services/money/reconciliation/routes.ts';
import { tariffRoutes } from '../../../services/money/billing/tariff-routes.ts';
import { billingRoutes } from '../../../services/money/billing/routes.ts';
import { readingsRoutes } from '../../../services/metering/readings/routes.ts';
import { veeRoutes } from '../../../services/metering/vee/routes.ts';
import { publicFixture } from '../../public/support.ts';

/**
 * The `:id` of a request, approval or record is one schema (IdParams) on every route that takes
 * one. These routes each had their own copy ('a positive whole number', without the safe-integer
 * bound); now a malformed id is refused the same way everywhere: 400 INVALID_REQUEST naming
 * `params.id`, before any service is reached. The services here are empty objects on purpose: a
 * request that got past the params check would call them and fail with a 500, not a 400.
 */

const BAD_IDS = ['0', '01', '-1', '1e3', '1.0', 'abc', '%201', '9007199254740992', '12345678901234567'];

describe('IdParams', () => {
  it('takes positive whole numbers up to the largest safe integer, as numbers', () => {
    expect(IdParams.parse({ id: '1' })).toEqual({ id: 1 });
    expect(IdParams.parse({ id: '9007199254740991' })).toEqual({ id: Number.MAX_SAFE_INTEGER });
  });

  it.each(BAD_IDS.map((id) => decodeURIComponent(id)))('refuses %j with a message naming the id', (id) => {
    const r = IdParams.safeParse({ id });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.message).toMatch(/^id is a |too big|less than or equal/i);
  });

  it('refuses any other path parameter', () => {
    expect(IdParams.safeParse({ id: '1', other: 'x' }).success).toBe(false);
  });
});

describe('routes that take a record id refuse a malformed one the same way', () => {
  let app: FastifyInstance;
  // Every role at once: the permission check passes, so what answers is the params check.
  const everyone: Actor = { id: 'test.all-roles', kind: 'user', roles: ROLES };
  const none = {} as never;

  beforeAll(async () => {
    app = await buildApi({
      auth: { authenticate: () => everyone },
      routes: [
        ...collectionRoutes(none),
        ...reconciliationRoutes(none),
        ...tariffRoutes(none),
        ...billingRoutes(none),
        ...readingsRoutes({ readings: none }),
        ...veeRoutes(none),
      ],
    });
  });
  afterAll(() => app.close());

  const ROUTES: { method: 'GET' | 'POST'; url: (id: string) => string; payload?: object }[] = [
    { method: 'POST', url: (id) => `/api/collection/payments/${id}/reversal`, payload: { reason: 'typo' } },
    { method: 'GET', url: (id) => `/api/reconciliation/reports/${id}` },
    { method: 'POST', url: (id) => `/api/tariffs/proposals/${id}/approve` },
    { method: 'GET', url: (id) => `/api/billing/invoice-checks/${id}` },
    { method: 'GET', url: (id) => `/api/readings/rounds/${id}` },
    { method: 'POST', url: (id) => `/api/vee/exchanges/${id}/decision`, payload: { approve: true } },
  ];

  it.each(ROUTES.map((r) => [r.method, r.url(':id'), r] as const))('%s %s', async (_m, _u, r) => {
    for (const id of BAD_IDS) {
      const res = await app.inject({
        method: r.method,
        url: r.url(id),
        headers: { authorization: 'Bearer any' },
        ...(r.method === 'POST' ? { payload: r.payload ?? {} } : {}),
      });
      expect(res.statusCode, `${id}: ${res.body}`).toBe(400);
      expect(res.json().code).toBe('INVALID_REQUEST');
      expect(res.json().message, id).toMatch(/^params\.id: /);
    }
  });
});

describe('the public outage notice takes the same id', () => {
  it('refuses a malformed id; a well-formed one is looked up (none is published here: 404)', async () => {
    const f = await publicFixture();
    const get = (url: string) => f.app.inject({ method: 'GET', url });
    const none = await get('/public/outages/1/notice/E-E1-MAIN?lang=en');
    expect(none.statusCode).toBe(404);
    expect(none.json().code).toBe('NOTICE_NOT_FOUND');
    for (const id of BAD_IDS) {
      const res = await get(`/public/outages/${id}/notice/E-E1-MAIN?lang=en`);
      expect(res.statusCode, `${id}: ${res.body}`).toBe(400);
      expect(res.json().message, id).toMatch(/^params\.id: /);
    }
    // Past the 10 digits the route's own copy took, but a valid id: looked up, not refused.
    expect((await get('/public/outages/12345678901/notice/E-E1-MAIN?lang=en')).json().code).toBe(
      'NOTICE_NOT_FOUND',
    );
  });
});
