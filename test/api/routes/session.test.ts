import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiFixture, PASSWORD, type ApiFixture } from './support.ts';

let f: ApiFixture;
beforeAll(async () => {
  f = await apiFixture();
});
afterAll(() => f.close());

const login = (username: string, password: string, remoteAddress = '10.1.0.1') =>
  f.app.inject({ method: 'POST', url: '/api/session', payload: { username, password }, remoteAddress });

/** The `ce_session=<token>` pair of a response's Set-Cookie, as a Cookie header sends it back. */
const cookiePair = (setCookie: unknown) => String(setCookie).split(';')[0]!;

describe('login and logout', () => {
  it('wrong password: 401 with the same answer as an unknown user, and no cookie', async () => {
    const wrong = await login('clerk.test', 'not the password at all');
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json()).toEqual({ code: 'INVALID_CREDENTIALS', message: 'wrong user name or password' });
    expect(wrong.headers['set-cookie']).toBeUndefined();
    const unknown = await login('nobody.here', 'not the password at all');
    expect(unknown.statusCode).toBe(401);
    expect(unknown.json()).toEqual(wrong.json());
  });

  it('sets an HttpOnly, SameSite=Strict session cookie that works for the next request; logout ends it', async () => {
    const res = await login('supervisor.test', PASSWORD);
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body.actor).toEqual({ id: 'supervisor.test', kind: 'user', roles: ['supervisor'] });
    expect(body.expiresAt).toBeGreaterThan(f.clock());
    const setCookie = String(res.headers['set-cookie']);
    expect(setCookie).toMatch(/^ce_session=[A-Za-z0-9_-]{43};/);
    expect(setCookie).toMatch(/; HttpOnly/);
    expect(setCookie).toMatch(/; SameSite=Strict/);
    expect(setCookie).toMatch(/; Path=\//);
    expect(setCookie).toMatch(/; Secure/);
    expect(cookiePair(setCookie)).toBe(`ce_session=${body.token}`);

    const cookie = cookiePair(setCookie);
    const me = await f.app.inject({ method: 'GET', url: '/api/me', headers: { cookie } });
    expect(me.statusCode).toBe(200);
    expect(me.json().actor.id).toBe('supervisor.test');
    expect(me.json().displayName).toBe('Test supervisor');

    // A browser says where a request comes from; with the cookie and without that, it is refused.
    const blind = await f.app.inject({ method: 'DELETE', url: '/api/session', headers: { cookie } });
    expect(blind.json().code).toBe('CROSS_SITE_REQUEST');
    const out = await f.app.inject({
      method: 'DELETE',
      url: '/api/session',
      headers: { cookie, origin: 'http://localhost:80' },
    });
    expect(out.statusCode).toBe(204);
    expect(String(out.headers['set-cookie'])).toMatch(/^ce_session=; .*Max-Age=0/);
    const after = await f.app.inject({ method: 'GET', url: '/api/me', headers: { cookie } });
    expect(after.statusCode).toBe(401);
    // The token returned in the body was the same session: it is over too.
    const bearer = await f.app.inject({
      method: 'GET',
      url: '/api/me',
      headers: { authorization: `Bearer ${body.token}` },
    });
    expect(bearer.statusCode).toBe(401);
    // Logging out again (an expired cookie) still answers and clears the cookie.
    expect(
      (
        await f.app.inject({
          method: 'DELETE',
          url: '/api/session',
          headers: { cookie, origin: 'http://localhost:80' },
        })
      ).statusCode,
    ).toBe(204);
    expect(f.audit.query({ subject: 'user:supervisor.test', action: 'auth.' }).map((e) => e.action)).toEqual([
      'auth.login',
      'auth.login',
      'auth.logout',
    ]);
  });

  it('429 after repeated failures for a user name, even with the right password, for seconds, not a lock-out', async () => {
    for (let i = 0; i < 4; i++) await login('operator.test', `wrong password ${i}`);
    const limited = await login('operator.test', PASSWORD);
    expect(limited.statusCode).toBe(429);
    expect(limited.json().code).toBe('LOGIN_RATE_LIMITED');
    // Another person is not slowed down by it.
    expect((await login('operator2.test', PASSWORD)).statusCode).toBe(201);
    f.advance(30_000);
    expect((await login('operator.test', PASSWORD)).statusCode).toBe(201);
  });

  it('limits failures per client address (req.ip) across user names', async () => {
    const ip = '10.66.6.6';
    for (let i = 0; i < 20; i++)
      expect((await login(`guess${i}.x`, 'wrong password!', ip)).statusCode).toBe(401);
    expect((await login('inspector.test', PASSWORD, ip)).statusCode).toBe(429);
    expect((await login('inspector.test', PASSWORD, '10.66.6.7')).statusCode).toBe(201);
    const failed = f.audit.query({ action: 'auth.login-failed', limit: 10_000 });
    expect(failed.filter((e) => (e.after as { ip: string }).ip === ip)).toHaveLength(21);
  });

  it('refuses a malformed login with 400 and never echoes the password', async () => {
    const res = await f.app.inject({
      method: 'POST',
      url: '/api/session',
      payload: { username: 'clerk.test', password: PASSWORD, remember: true },
    });
    expect(res.statusCode).toBe(400);
    expect(res.body).not.toContain(PASSWORD);
  });

  it('changing your own password ends your sessions', async () => {
    const first = (await login('clerk2.test', PASSWORD)).json().token as string;
    const auth = { authorization: `Bearer ${first}` };
    const changed = await f.app.inject({
      method: 'POST',
      url: '/api/me/password',
      headers: auth,
      payload: { current: PASSWORD, password: 'a brand new passphrase' },
    });
    expect(changed.statusCode).toBe(204);
    expect((await f.app.inject({ method: 'GET', url: '/api/me', headers: auth })).statusCode).toBe(401);
    expect((await login('clerk2.test', PASSWORD)).statusCode).toBe(401);
    expect((await login('clerk2.test', 'a brand new passphrase')).statusCode).toBe(201);
  });
});
