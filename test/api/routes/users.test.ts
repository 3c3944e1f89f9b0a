import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiFixture, PASSWORD, type ApiFixture } from './support.ts';

let f: ApiFixture;
beforeAll(async () => {
  f = await apiFixture();
});
afterAll(() => f.close());

const login = (username: string, password = PASSWORD) =>
  f.app.inject({ method: 'POST', url: '/api/session', payload: { username, password } });

describe('user management', () => {
  it('an administrator creates a user, who can log in; the password is never returned or audited', async () => {
    const res = await f.call('admin', 'POST', '/api/users', {
      username: 'new.clerk',
      displayName: 'New Clerk',
      roles: ['clerk'],
      password: 'a fine first password',
    });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ username: 'new.clerk', roles: ['clerk'], disabled: false });
    expect(res.body).not.toMatch(/password|hash/i);
    expect((await login('new.clerk', 'a fine first password')).statusCode).toBe(201);
    const list = await f.call('admin', 'GET', '/api/users');
    expect(list.json().map((u: { username: string }) => u.username)).toContain('new.clerk');
    expect(list.body).not.toMatch(/scrypt|hash/i);
    expect(JSON.stringify(f.audit.query({ subject: 'user:new.clerk' }))).not.toContain(
      'a fine first password',
    );
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

  it('a role taken away takes effect on the next request; disabling ends the sessions', async () => {
    const before = await f.call('inspector', 'GET', '/api/audit?limit=1');
    expect(before.statusCode).toBe(200);
    const changed = await f.call('admin', 'PUT', '/api/users/inspector.test/roles', {
      roles: ['reader'],
      reason: 'moved to the reading team',
    });
    expect(changed.json().roles).toEqual(['reader']);
    expect((await f.call('inspector', 'GET', '/api/audit?limit=1')).statusCode).toBe(403);

    const disabled = await f.call('admin', 'POST', '/api/users/operator2.test/disable', { reason: 'left' });
    expect(disabled.json().disabled).toBe(true);
    expect((await f.call('operator2', 'GET', '/api/me')).statusCode).toBe(401);
    expect((await login('operator2.test')).statusCode).toBe(401);
    expect((await f.call('admin', 'POST', '/api/users/operator2.test/enable')).json().disabled).toBe(false);
    expect((await login('operator2.test')).statusCode).toBe(201);
  });

  it('an administrator resets a password, which ends the user’s sessions', async () => {
    const res = await f.call('admin', 'POST', '/api/users/clerk2.test/password', {
      password: 'reset by the admin desk',
    });
    expect(res.statusCode).toBe(204);
    expect((await f.call('clerk2', 'GET', '/api/me')).statusCode).toBe(401);
    expect((await login('clerk2.test', 'reset by the admin desk')).statusCode).toBe(201);
  });
});

describe('API tokens', () => {
  it('a token acts only within its scopes, may never hold an approval, and stops when revoked', async () => {
    const refused = await f.call('admin', 'POST', '/api/tokens', {
      name: 'kiosk',
      roles: ['supervisor'],
      scopes: ['refunds.approve'],
    });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().code).toBe('SCOPE_NOT_ALLOWED');

    const created = await f.call('admin', 'POST', '/api/tokens', {
      name: 'audit-export',
      roles: ['billing'],
      scopes: ['audit.view'],
    });
    expect(created.statusCode).toBe(201);
    const { token, info } = created.json() as { token: string; info: { scopes: string[] } };
    expect(info.scopes).toEqual(['audit.view']);
    const auth = { authorization: `Bearer ${token}` };
    expect((await f.app.inject({ method: 'GET', url: '/api/audit?limit=5', headers: auth })).statusCode).toBe(
      200,
    );
    // Billing may verify the chain, but this token was not given that scope.
    expect((await f.app.inject({ method: 'POST', url: '/api/audit/verify', headers: auth })).statusCode).toBe(
      403,
    );
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
