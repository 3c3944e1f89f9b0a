import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiFixture, PASSWORD, type ApiFixture } from './support.ts';

let f: ApiFixture;
beforeAll(async () => {
  f = await apiFixture();
});
afterAll(() => f.close());

const login = (username: string, password = PASSWORD) =>
  f.app.inject({ method: 'POST', url: '/api/session', payload: { username, password } });

/** Proposed by `admin`, approved by `admin2`: the approval's body (code or token secret). */
async function approved(proposal: { statusCode: number; json: () => { id: number } }) {
  expect(proposal.statusCode).toBe(202);
  const res = await f.call('admin2', 'POST', `/api/user-requests/${proposal.json().id}/approve`, {});
  expect(res.statusCode).toBe(200);
  return res.json() as {
    request: { state: string };
    oneTimeCode?: { username: string; code: string };
    token?: { token: string; info: { scopes: string[] } };
  };
}

describe('user management', () => {
  it('one administrator proposes a user, another approves; the user sets the password with a one-time code, never returned to the proposer or audited', async () => {
    const proposal = await f.call('admin', 'POST', '/api/users', {
      username: 'new.clerk',
      displayName: 'New Clerk',
      roles: ['clerk'],
    });
    expect(proposal.json()).toMatchObject({ kind: 'create', state: 'pending', requestedBy: 'admin' });
    expect(f.users.getUser('new.clerk')).toBeNull();
    const own = await f.call('admin', 'POST', `/api/user-requests/${proposal.json().id}/approve`, {});
    expect(own.statusCode).toBe(403);
    expect(own.json().code).toBe('SELF_APPROVAL');
    const { oneTimeCode } = await approved(proposal);
    expect(oneTimeCode!.username).toBe('new.clerk');
    const redeem = await f.app.inject({
      method: 'POST',
      url: '/api/password/redeem',
      payload: { username: 'new.clerk', code: oneTimeCode!.code, password: 'a fine first password' },
    });
    expect(redeem.statusCode).toBe(204);
    expect((await login('new.clerk', 'a fine first password')).statusCode).toBe(201);
    const list = await f.call('admin', 'GET', '/api/users');
    expect(list.json().map((u: { username: string }) => u.username)).toContain('new.clerk');
    expect(list.body).not.toMatch(/scrypt|hash/i);
    const audited = JSON.stringify(f.audit.query({ subject: 'user:new.clerk' }));
    expect(audited).not.toContain('a fine first password');
    expect(audited).not.toContain(oneTimeCode!.code);
  });

  it('refuses incompatible duties (409) and changing one’s own roles (403)', async () => {
    const both = await f.call('admin', 'PUT', '/api/users/reader.test/roles', { roles: ['reader', 'clerk'] });
    expect(both.statusCode).toBe(409);
    expect(both.json().code).toBe('INCOMPATIBLE_DUTIES');
    const own = await f.call('admin', 'PUT', '/api/users/admin/roles', { roles: ['admin', 'billing'] });
    expect(own.statusCode).toBe(403);
    expect(own.json().code).toBe('SELF_ROLE_CHANGE');
    const unknownRole = await f.call('admin', 'PUT', '/api/users/reader.test/roles', { roles: ['root'] });
    expect(unknownRole.statusCode).toBe(400);
  });

  it('a role taken away takes effect on the next request; disabling ends the sessions; enabling needs a second administrator', async () => {
    const before = await f.call('inspector', 'GET', '/api/audit?limit=1');
    expect(before.statusCode).toBe(200);
    const changed = await f.call('admin', 'PUT', '/api/users/inspector.test/roles', {
      roles: [],
      reason: 'moved off inspection',
    });
    expect(changed.json().roles).toEqual([]);
    expect((await f.call('inspector', 'GET', '/api/audit?limit=1')).statusCode).toBe(403);

    const disabled = await f.call('admin', 'POST', '/api/users/operator2.test/disable', { reason: 'left' });
    expect(disabled.json().disabled).toBe(true);
    expect((await f.call('operator2', 'GET', '/api/me')).statusCode).toBe(401);
    expect((await login('operator2.test')).statusCode).toBe(401);
    const enable = await f.call('admin', 'POST', '/api/users/operator2.test/enable', {});
    expect(enable.json()).toMatchObject({ kind: 'enable', state: 'pending' });
    expect((await login('operator2.test')).statusCode).toBe(401);
    await approved({ statusCode: 202, json: () => enable.json() });
    expect((await login('operator2.test')).statusCode).toBe(201);
  });

  it('a password reset is proposed and approved; the old password stops working; the code goes to the approver', async () => {
    const res = await f.call('admin', 'POST', '/api/users/clerk2.test/password', { reason: 'forgot it' });
    expect(res.body).not.toMatch(/code/);
    expect((await f.call('clerk2', 'GET', '/api/me')).statusCode).toBe(200);
    const { oneTimeCode } = await approved(res);
    expect((await f.call('clerk2', 'GET', '/api/me')).statusCode).toBe(401);
    expect((await login('clerk2.test')).statusCode).toBe(401);
    const redeem = await f.app.inject({
      method: 'POST',
      url: '/api/password/redeem',
      payload: { username: 'clerk2.test', code: oneTimeCode!.code, password: 'only the clerk knows' },
    });
    expect(redeem.statusCode).toBe(204);
    expect((await login('clerk2.test', 'only the clerk knows')).statusCode).toBe(201);
  });
});

describe('API tokens', () => {
  it('a token is proposed and approved, acts only within its scopes, may never hold an approval, and stops when revoked', async () => {
    const refused = await f.call('admin', 'POST', '/api/tokens', {
      name: 'kiosk',
      roles: ['supervisor'],
      scopes: ['refunds.approve'],
    });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().code).toBe('SCOPE_NOT_ALLOWED');

    const proposed = await f.call('admin', 'POST', '/api/tokens', {
      name: 'audit-export',
      roles: ['billing'],
      scopes: ['audit.view'],
    });
    expect(proposed.body).not.toContain('cet_');
    const { token, info } = (await approved(proposed)).token!;
    expect(info.scopes).toEqual(['audit.view']);
    const auth = { authorization: `Bearer ${token}` };
    expect((await f.app.inject({ method: 'GET', url: '/api/audit?limit=5', headers: auth })).statusCode).toBe(
      200,
    );
    // Billing may verify the chain, but this token was not given that scope.
    expect(
      (await f.app.inject({ method: 'POST', url: '/api/audit/verify', headers: auth, payload: {} }))
        .statusCode,
    ).toBe(403);
    const tokens = await f.call('admin', 'GET', '/api/tokens');
    expect(tokens.body).not.toContain(token);

    expect(
      (await f.call('admin', 'POST', '/api/tokens/audit-export/revoke', { reason: 'rotated' })).statusCode,
    ).toBe(204);
    const after = await f.app.inject({ method: 'GET', url: '/api/audit?limit=5', headers: auth });
    expect(after.statusCode).toBe(401);
    expect(after.json().code).toBe('TOKEN_REVOKED');
  });
});
