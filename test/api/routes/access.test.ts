import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiFixture, type ApiFixture } from './support.ts';

let f: ApiFixture;
beforeAll(async () => {
  f = await apiFixture();
});
afterAll(() => f.close());

interface Operation {
  method: string;
  path: string;
  /** With `{param}` filled in. */
  url: string;
  secured: boolean;
}

/** Every operation the OpenAPI document lists, so a new route is covered without touching this file. */
async function operations(): Promise<Operation[]> {
  const doc = (await f.app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
    paths: Record<string, Record<string, { security?: unknown[] }>>;
  };
  return Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({
      method: method.toUpperCase(),
      path,
      url: path.replace(/\{[^}]+\}/g, '1'),
      secured: (op.security?.length ?? 0) > 0,
    })),
  );
}

// The one-time code proves who redeems it: the user has no session yet.
const PUBLIC = ['POST /api/session', 'DELETE /api/session', 'POST /api/password/redeem'];

describe('authentication on every route', () => {
  it('answers 401 without a session on every route but login and logout', async () => {
    const ops = await operations();
    expect(ops.length).toBeGreaterThan(40);
    expect(
      ops
        .filter((o) => !o.secured)
        .map((o) => `${o.method} ${o.path}`)
        .sort(),
    ).toEqual([...PUBLIC].sort());
    for (const o of ops.filter((x) => x.secured)) {
      const payload = o.method === 'GET' ? undefined : {};
      const anonymous = await f.app.inject({ method: o.method as 'GET', url: o.url, payload });
      expect(anonymous.statusCode, `${o.method} ${o.url}`).toBe(401);
      expect(anonymous.json()).toMatchObject({ code: 'UNAUTHENTICATED' });
      const forged = await f.app.inject({
        method: o.method as 'GET',
        url: o.url,
        payload,
        headers: { authorization: 'Bearer not-a-session', cookie: 'ce_session=nor-this' },
      });
      expect(forged.statusCode, `${o.method} ${o.url} with a made-up token`).toBe(401);
    }
  });
});

describe('roles', () => {
  it('refuses a reader recording a payment, before looking at the account', async () => {
    const res = await f.call('reader', 'POST', '/api/topups', {
      account: 'NO-SUCH',
      amountFen: 100,
      method: 'cash',
      reference: 'R-1',
    });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ code: 'FORBIDDEN' });
    expect(res.json().message).toMatch(/reader\.test \(reader\) may not payments\.record/);
  });

  it('refuses an operator approving a relay request and a clerk managing users', async () => {
    const req = await f.call('operator', 'POST', '/api/relay-requests', {
      meter: 'E-301',
      action: 'open',
      reason: 'arrears',
    });
    expect(req.statusCode).toBe(201);
    const approve = await f.call('operator2', 'POST', `/api/relay-requests/${req.json().id}/approve`, {});
    expect(approve.statusCode).toBe(403);
    expect(approve.json().message).toMatch(/may not relay\.approve/);
    expect(f.sent).toHaveLength(0);

    expect((await f.call('clerk', 'GET', '/api/users')).statusCode).toBe(403);
    const create = await f.call('clerk', 'POST', '/api/users', {
      username: 'mallory',
      displayName: 'Mallory',
      roles: ['supervisor'],
      password: 'long enough password',
    });
    expect(create.statusCode).toBe(403);
    expect(f.users.getUser('mallory')).toBeNull();
  });

  it('refuses an administrator every approval and every movement of money', async () => {
    const approvals = (await operations()).filter(
      (o) =>
        o.method === 'POST' &&
        /\/(approve|reject|confirm|dispute|verify-tariff|revoke)$|^\/api\/(policy-approvals|topups|refunds|corrections|free-quota)$/.test(
          o.path,
        ) &&
        !o.path.startsWith('/api/tokens') &&
        // User administration's own four eyes: administrators approve each other (users.test.ts).
        !o.path.startsWith('/api/user-requests'),
    );
    expect(approvals.length).toBeGreaterThanOrEqual(15);
    for (const o of approvals) {
      const res = await f.call('admin', 'POST', o.url, {});
      expect(res.statusCode, `${o.method} ${o.url}`).toBe(403);
      expect(res.json().code).toBe('FORBIDDEN');
    }
  });

  it('lets any logged-in person see who they are, and no role lets a client claim another', async () => {
    const me = await f.call('clerk', 'GET', '/api/me', undefined, { 'x-roles': 'supervisor' });
    expect(me.json()).toEqual({
      actor: { id: 'clerk.test', kind: 'user', roles: ['clerk'] },
      displayName: 'Test clerk',
    });
  });
});

describe('validation', () => {
  it('400 naming each bad field: fractional fen, an unknown field, a non-numeric id', async () => {
    const bad = await f.call('clerk', 'POST', '/api/topups', {
      account: 'A 1',
      amountFen: 12.5,
      method: 'cash',
      reference: 'R-2',
      discountFen: 10,
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('INVALID_REQUEST');
    expect(bad.json().message).toMatch(/body\.account/);
    expect(bad.json().message).toMatch(/body\.amountFen/);
    expect(bad.json().message).toMatch(/discountFen/);

    for (const amountFen of [0, -100, 1e12, '100']) {
      const res = await f.call('clerk', 'POST', '/api/topups', {
        account: 'A1',
        amountFen,
        method: 'cash',
        reference: 'R-3',
      });
      expect(res.statusCode, String(amountFen)).toBe(400);
    }
    for (const id of ['abc', '0', '-1', '1.5', '01', '1e3']) {
      const res = await f.call('supervisor', 'POST', `/api/refunds/${id}/approve`);
      expect(res.statusCode, id).toBe(400);
      expect(res.json().message).toMatch(/params\.id/);
    }
    const unknown = await f.call('supervisor', 'POST', '/api/refunds/999/approve');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().code).toBe('REQUEST_NOT_FOUND');
  });
});
