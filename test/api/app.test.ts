import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../../services/platform/http/app.ts';
import { route } from '../../services/platform/http/route.ts';
import type { Actor } from '../../services/platform/auth/roles.ts';
import { ServiceError } from '../../services/platform/errors.ts';

const actors: Record<string, Actor> = {
  'tok-clerk': { id: 'wang.fang', kind: 'user', roles: ['clerk'] },
  'tok-reader': { id: 'zhao.lei', kind: 'user', roles: ['reader'] },
  'tok-billing': { id: 'token:billing-sync', kind: 'token', roles: ['billing'], scopes: ['billing.export'] },
};

let app: FastifyInstance;
beforeAll(async () => {
  app = await buildApi({
    auth: {
      authenticate: (token) => {
        const a = actors[token];
        if (!a) throw new ServiceError('UNAUTHENTICATED', 401, 'session expired or unknown');
        return a;
      },
    },
    routes: [
      (s) =>
        route(s, {
          method: 'POST',
          url: '/api/topups',
          summary: 'Record a top-up',
          permission: 'payments.record',
          body: z.object({ account: z.string().min(1), amountFen: z.number().int().positive() }).strict(),
          status: 201,
          handler: ({ body, actor }) => ({ ...body, by: actor.id }),
        }),
      (s) =>
        route(s, {
          method: 'GET',
          url: '/api/accounts/:id',
          summary: 'An account',
          permission: 'accounts.view',
          params: z.object({ id: z.string() }),
          handler: ({ params }) => ({ id: params.id }),
        }),
      (s) =>
        route(s, { method: 'GET', url: '/api/health', summary: 'Liveness', handler: () => ({ ok: true }) }),
    ],
  });
});
afterAll(() => app.close());

const post = (token: string | undefined, payload: unknown) =>
  app.inject({
    method: 'POST',
    url: '/api/topups',
    headers: token ? { authorization: `Bearer ${token}` } : {},
    payload: payload as object,
  });

describe('API authorization and validation', () => {
  it('401 without a session, naming what is missing', async () => {
    const res = await post(undefined, { account: 'A1', amountFen: 100 });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect((await post('tok-unknown', { account: 'A1', amountFen: 100 })).statusCode).toBe(401);
  });

  it('403 for a role without the permission: a reader cannot record a payment', async () => {
    const res = await post('tok-reader', { account: 'A1', amountFen: 100 });
    expect(res.statusCode).toBe(403);
    expect(res.json().message).toMatch(/zhao\.lei \(reader\) may not payments\.record/);
  });

  it('a scoped token has only its scopes, whatever its role could do', async () => {
    const res = await app.inject({
      method: 'GET',
      url: '/api/accounts/A1',
      headers: { authorization: 'Bearer tok-billing' },
    });
    expect(res.statusCode).toBe(403);
  });

  it('400 naming each bad field; 201 with the server-established actor', async () => {
    const bad = await post('tok-clerk', { account: '', amountFen: 1.5, extra: 1 });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toMatch(/body\.account/);
    expect(bad.json().message).toMatch(/body\.amountFen/);
    const ok = await post('tok-clerk', { account: 'A1', amountFen: 100 });
    expect(ok.statusCode).toBe(201);
    expect(ok.json()).toEqual({ account: 'A1', amountFen: 100, by: 'wang.fang' });
  });

  it('accepts the session cookie; public routes need none; OpenAPI lists the routes', async () => {
    const res = await app.inject({
      method: 'GET',
      url: '/api/accounts/A7',
      headers: { cookie: 'x=1; ce_session=tok-clerk' },
    });
    expect(res.json()).toEqual({ id: 'A7' });
    expect((await app.inject({ method: 'GET', url: '/api/health' })).json()).toEqual({ ok: true });
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/topups', '/api/accounts/{id}']));
    expect(
      doc.paths['/api/topups'].post.requestBody.content['application/json'].schema.properties.amountFen.type,
    ).toBe('integer');
  });
});
