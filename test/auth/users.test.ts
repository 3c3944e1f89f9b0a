import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { can, type Actor } from '../../services/platform/auth/roles.ts';
import { codeOf, errorOf } from '../helpers/refused.ts';
import { PASSWORD, withAdmin, withTwoAdmins } from './setup.ts';

const clerkInput = {
  username: 'wang.fang',
  displayName: 'Wang Fang',
  roles: ['clerk' as const],
  password: PASSWORD,
};

describe('users', () => {
  it('bootstrap creates the first administrator once, audited as system:bootstrap', async () => {
    const { users, audit } = await withAdmin();
    expect(users.getUser('root')).toMatchObject({ roles: ['admin'], disabled: false });
    expect(await codeOf(() => users.bootstrapAdmin('root2', PASSWORD))).toBe('ALREADY_BOOTSTRAPPED');
    expect(audit.query({ action: 'user.create' })[0]).toMatchObject({
      actor: 'system:bootstrap',
      subject: 'user:root',
      after: { username: 'root', roles: ['admin'], disabled: false },
    });
  });

  it('one administrator proposes a user, a second approves, the user sets a password with the one-time code; the password is checked', async () => {
    const { users, admin, admin2 } = await withTwoAdmins();
    const { password: _p, ...proposal } = clerkInput;
    const req = users.proposeUser(admin, { ...proposal, username: ' Wang.Fang ' });
    expect(req).toMatchObject({
      kind: 'create',
      subject: 'user:wang.fang',
      state: 'pending',
      requestedBy: 'root',
    });
    expect(users.getUser('wang.fang')).toBeNull();
    expect(await codeOf(() => users.approveRequest(admin, req.id))).toBe('SELF_APPROVAL');
    const outcome = await users.approveRequest(admin2, req.id);
    expect(outcome.user).toMatchObject({ username: 'wang.fang', roles: ['clerk'] });
    expect(outcome.request).toMatchObject({ state: 'approved', decidedBy: 'root2' });
    // No password works before the user redeems the code, and a wrong code is refused.
    expect(await codeOf(() => users.login('wang.fang', '', { ip: '10.0.0.2' }))).toBe('INVALID_CREDENTIALS');
    expect(await codeOf(() => users.redeemCode('wang.fang', 'not the code', PASSWORD))).toBe('INVALID_CODE');
    await users.redeemCode('wang.fang', outcome.oneTimeCode!.code, PASSWORD);
    expect(await codeOf(() => users.redeemCode('wang.fang', outcome.oneTimeCode!.code, PASSWORD))).toBe(
      'INVALID_CODE',
    );
    const session = await users.login('WANG.FANG', PASSWORD, { ip: '10.0.0.2' });
    expect(session.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(session.actor).toEqual({ id: 'wang.fang', kind: 'user', roles: ['clerk'] });
    expect(users.authenticate(session.token)).toEqual(session.actor);
    expect(await codeOf(() => users.login('wang.fang', `${PASSWORD}!`, { ip: '10.0.0.2' }))).toBe(
      'INVALID_CREDENTIALS',
    );
    expect(await codeOf(() => users.login('nobody', PASSWORD, { ip: '10.0.0.2' }))).toBe(
      'INVALID_CREDENTIALS',
    );
  });

  it('only a user manager creates users or changes them (FORBIDDEN naming permission and roles)', async () => {
    const { users } = await withAdmin();
    await users.provisionUser(clerkInput);
    const clerk = (await users.login('wang.fang', PASSWORD, { ip: '10.0.0.2' })).actor;
    const e = await errorOf(() => users.proposeUser(clerk, { ...clerkInput, username: 'li.wei' }));
    expect(e).toMatchObject({ code: 'FORBIDDEN', status: 403 });
    expect(e.message).toBe('wang.fang (clerk) may not users.manage');
    expect(await codeOf(() => users.setRoles(clerk, 'root', ['clerk']))).toBe('FORBIDDEN');
    expect(await codeOf(() => users.disable(clerk, 'root'))).toBe('FORBIDDEN');
    expect(await codeOf(() => users.resetPassword(clerk, 'root'))).toBe('FORBIDDEN');
    expect(await codeOf(() => users.listUsers(clerk))).toBe('FORBIDDEN');
  });

  it('refuses incompatible roles, naming the rule', async () => {
    const { users, admin } = await withAdmin();
    const e = await errorOf(() => users.proposeUser(admin, { ...clerkInput, roles: ['reader', 'clerk'] }));
    expect(e).toMatchObject({ code: 'INCOMPATIBLE_DUTIES', status: 409 });
    expect(e.message).toContain('a meter reader must not also record payments');
    await users.provisionUser({ ...clerkInput, username: 'zhou.min', roles: ['supervisor'] });
    const e2 = await errorOf(() => users.setRoles(admin, 'zhou.min', ['admin', 'supervisor']));
    expect(e2.code).toBe('INCOMPATIBLE_DUTIES');
    expect(e2.message).toContain('admin + supervisor');
    expect(users.getUser('zhou.min')!.roles).toEqual(['supervisor']);
    expect(await codeOf(() => users.setRoles(admin, 'zhou.min', ['boss' as never]))).toBe('INVALID_ROLE');
  });

  it('validates names and passwords', async () => {
    const { users, admin } = await withAdmin();
    expect(await codeOf(() => users.proposeUser(admin, { ...clerkInput, username: 'token:x' }))).toBe(
      'INVALID_USERNAME',
    );
    expect(await codeOf(() => users.provisionUser({ ...clerkInput, password: 'short' }))).toBe(
      'WEAK_PASSWORD',
    );
    expect(
      await codeOf(() =>
        users.provisionUser({ ...clerkInput, username: 'li.wei.1234', password: 'Li.Wei.1234' }),
      ),
    ).toBe('WEAK_PASSWORD');
    await users.provisionUser(clerkInput);
    expect(await codeOf(() => users.proposeUser(admin, clerkInput))).toBe('USER_EXISTS');
    expect(await codeOf(() => users.provisionUser(clerkInput))).toBe('USER_EXISTS');
    expect(await codeOf(() => users.setRoles(admin, 'nobody', ['clerk']))).toBe('USER_NOT_FOUND');
  });

  it('a manager may not change their own roles, nor disable the last administrator', async () => {
    const { users, admin } = await withAdmin();
    expect(await codeOf(() => users.setRoles(admin, 'root', ['admin', 'billing']))).toBe('SELF_ROLE_CHANGE');
    expect(await codeOf(() => users.disable(admin, 'root'))).toBe('SELF_ROLE_CHANGE');
    await users.provisionUser({ ...clerkInput, username: 'admin2', roles: ['admin'] });
    const admin2 = (await users.login('admin2', PASSWORD, { ip: '10.0.0.3' })).actor;
    users.disable(admin2, 'root');
    expect(await codeOf(() => users.setRoles({ ...admin, id: 'ghost' }, 'admin2', ['billing']))).toBe(
      'LAST_ADMIN',
    );
  });

  it('disabling a user ends their sessions and stops logins at once; enabling again takes a second administrator', async () => {
    const { users, admin, admin2 } = await withTwoAdmins();
    await users.provisionUser(clerkInput);
    const { token } = await users.login('wang.fang', PASSWORD, { ip: '10.0.0.2' });
    users.disable(admin, 'wang.fang', 'left the office');
    expect(await codeOf(() => users.authenticate(token))).toBe('UNAUTHENTICATED');
    expect(await codeOf(() => users.login('wang.fang', PASSWORD, { ip: '10.0.0.2' }))).toBe(
      'INVALID_CREDENTIALS',
    );
    const req = users.enable(admin, 'wang.fang');
    expect(req).toMatchObject({ kind: 'enable', state: 'pending' });
    expect(await codeOf(() => users.login('wang.fang', PASSWORD, { ip: '10.0.0.3' }))).toBe(
      'INVALID_CREDENTIALS',
    );
    await users.approveRequest(admin2, (req as { id: number }).id);
    await users.login('wang.fang', PASSWORD, { ip: '10.0.0.2' });
  });

  it('a role change takes effect on the next request: removing at once, granting on approval', async () => {
    const { users, admin, admin2 } = await withTwoAdmins();
    await users.provisionUser(clerkInput);
    const { token } = await users.login('wang.fang', PASSWORD, { ip: '10.0.0.2' });
    const req = users.setRoles(admin, 'wang.fang', ['billing'], 'moved to billing') as { id: number };
    expect(users.authenticate(token).roles).toEqual(['clerk']);
    await users.approveRequest(admin2, req.id);
    expect(users.authenticate(token).roles).toEqual(['billing']);
    expect(users.setRoles(admin, 'wang.fang', [], 'left billing')).toMatchObject({ roles: [] });
    expect(users.authenticate(token).roles).toEqual([]);
  });

  it('reset and change of password: the old one stops working, sessions end, the resetter never knows the new one', async () => {
    const { users, admin, admin2 } = await withTwoAdmins();
    await users.provisionUser(clerkInput);
    const first = await users.login('wang.fang', PASSWORD, { ip: '10.0.0.2' });
    const req = users.resetPassword(admin, 'wang.fang', 'forgot it');
    // Nothing changes until a second administrator approves.
    expect(users.authenticate(first.token).id).toBe('wang.fang');
    const outcome = await users.approveRequest(admin2, req.id);
    expect(outcome.oneTimeCode!.username).toBe('wang.fang');
    expect(await codeOf(() => users.authenticate(first.token))).toBe('UNAUTHENTICATED');
    expect(await codeOf(() => users.login('wang.fang', PASSWORD, { ip: '10.0.0.2' }))).toBe(
      'INVALID_CREDENTIALS',
    );
    await users.redeemCode('wang.fang', outcome.oneTimeCode!.code, 'temporary password 1');
    const second = await users.login('wang.fang', 'temporary password 1', { ip: '10.0.0.2' });
    expect(
      await codeOf(() =>
        users.changePassword(second.actor, 'wrong one', 'only wang knows this', { ip: '10.0.0.2' }),
      ),
    ).toBe('INVALID_CREDENTIALS');
    await users.changePassword(second.actor, 'temporary password 1', 'only wang knows this', {
      ip: '10.0.0.2',
    });
    await users.login('wang.fang', 'only wang knows this', { ip: '10.0.0.2' });
  });

  it('every change is audited in the same transaction, never with a password or its hash', async () => {
    const { users, admin, admin2, audit, path } = await withTwoAdmins();
    await users.provisionUser(clerkInput);
    const approve = (r: unknown) => users.approveRequest(admin2, (r as { id: number }).id);
    await approve(users.setRoles(admin, 'wang.fang', ['billing'], 'moved'));
    users.disable(admin, 'wang.fang', 'left');
    await approve(users.enable(admin, 'wang.fang', 'back'));
    const reset = await approve(users.resetPassword(admin, 'wang.fang'));
    await users.redeemCode('wang.fang', reset.oneTimeCode!.code, 'temporary password 1');
    await codeOf(() => users.login('wang.fang', PASSWORD, { ip: '10.9.9.9' }));
    const { token } = (
      await approve(
        users.createApiToken(admin, { name: 'billing-sync', roles: ['billing'], scopes: ['billing.export'] }),
      )
    ).token!;
    users.revokeApiToken(admin, 'billing-sync', 'rotated');

    const entries = audit.query().filter((e) => !e.action.startsWith('user-request.'));
    expect(entries.map((e) => e.action)).toEqual([
      'user.create',
      'auth.login',
      'user.create',
      'auth.login',
      'user.create',
      'user.roles',
      'user.disable',
      'user.enable',
      'user.password',
      'user.password',
      'auth.login-failed',
      'token.create',
      'token.revoke',
    ]);
    expect(audit.query({ action: 'user-request.approved' })).toHaveLength(4);
    expect(entries.find((e) => e.action === 'user.roles')).toMatchObject({
      actor: 'root',
      subject: 'user:wang.fang',
      before: { roles: ['clerk'] },
      after: { roles: ['billing'] },
      reason: 'moved',
    });
    expect(entries.find((e) => e.action === 'auth.login-failed')).toMatchObject({
      actor: 'system:auth',
      after: { ip: '10.9.9.9' },
      reason: 'wrong-password',
    });
    const raw = new Database(path, { readonly: true });
    const auditText = (raw.prepare('SELECT * FROM audit_log').all() as object[])
      .map((r) => JSON.stringify(r))
      .join('\n');
    const hashes = raw.prepare('SELECT password_hash FROM users').pluck().all() as string[];
    raw.close();
    for (const secret of [
      PASSWORD,
      'temporary password 1',
      token,
      'scrypt$',
      ...hashes.map((h) => h.split('$')[5]!),
    ]) {
      expect(auditText).not.toContain(secret);
    }
    expect(audit.verify().ok).toBe(true);
    expect(users.checkAgainstAudit()).toEqual([]);
  });

  it('a failed change leaves neither the change nor its audit entry', async () => {
    const { users, admin, audit } = await withAdmin();
    await users.provisionUser(clerkInput);
    const before = audit.head()!.seq;
    expect(await codeOf(() => users.setRoles(admin, 'wang.fang', ['clerk', 'reader']))).toBe(
      'INCOMPATIBLE_DUTIES',
    );
    expect(audit.head()!.seq).toBe(before);
    expect(users.getUser('wang.fang')!.roles).toEqual(['clerk']);
  });

  it('checkAgainstAudit finds a role granted with SQL behind the service', async () => {
    const { users, path } = await withAdmin();
    await users.provisionUser(clerkInput);
    const raw = new Database(path);
    raw.prepare(`UPDATE users SET roles = '["clerk","supervisor"]' WHERE username = 'wang.fang'`).run();
    raw.prepare(`INSERT INTO users VALUES ('mole', 'Mole', '["admin"]', 'x', 0, 0, 0)`).run();
    raw.close();
    expect(users.checkAgainstAudit()).toEqual([
      { subject: 'user:mole', problem: expect.stringContaining('not in the audit log') },
      {
        subject: 'user:wang.fang',
        problem: 'roles ["clerk","supervisor"] differ from the audited ["clerk"]',
      },
    ]);
  });
});

describe('failed logins', () => {
  it('slow an account down, doubling from the fourth failure up to 30 s, but never lock its owner out for long', async () => {
    const { users, advance } = await withAdmin();
    await users.provisionUser(clerkInput);
    for (let i = 0; i < 3; i++) {
      expect(await codeOf(() => users.login('wang.fang', 'guess number ' + i, { ip: `10.1.0.${i}` }))).toBe(
        'INVALID_CREDENTIALS',
      );
    }
    // Three free failures; the fourth waits 1 s after the third, the fifth 2 s, then 4, 8 … 30.
    expect(await codeOf(() => users.login('wang.fang', 'guess 3', { ip: '10.1.0.3' }))).toBe(
      'LOGIN_RATE_LIMITED',
    );
    let waits: number[] = [];
    for (let i = 0; i < 8; i++) {
      const e = await errorOf(() => users.login('wang.fang', 'guess again', { ip: `10.2.0.${i}` }));
      expect(e.code).toBe('LOGIN_RATE_LIMITED');
      const s = Number(/try again in (\d+) s/.exec(e.message)![1]);
      waits.push(s);
      advance(s * 1000);
      expect(await codeOf(() => users.login('wang.fang', 'guess again', { ip: `10.3.0.${i}` }))).toBe(
        'INVALID_CREDENTIALS',
      );
    }
    expect(waits).toEqual([1, 2, 4, 8, 16, 30, 30, 30]);
    // The owner, from their own desk, waits at most 30 s and is let in with the right password.
    const e = await errorOf(() => users.login('wang.fang', PASSWORD, { ip: '10.0.0.2' }));
    expect(e).toMatchObject({ code: 'LOGIN_RATE_LIMITED', status: 429 });
    waits = [Number(/try again in (\d+) s/.exec(e.message)![1])];
    expect(waits[0]).toBeLessThanOrEqual(30);
    advance(30_000);
    await users.login('wang.fang', PASSWORD, { ip: '10.0.0.2' });
    // A success clears the failures: the next wrong guess is an ordinary one.
    expect(await codeOf(() => users.login('wang.fang', 'one more guess', { ip: '10.0.0.2' }))).toBe(
      'INVALID_CREDENTIALS',
    );
  });

  it('an administrator clears the delay at once, audited', async () => {
    const { users, admin, audit } = await withAdmin();
    await users.provisionUser(clerkInput);
    for (let i = 0; i < 6; i++)
      await codeOf(() => users.login('wang.fang', 'guess ' + i, { ip: `10.1.1.${i}` }));
    expect(await codeOf(() => users.login('wang.fang', PASSWORD, { ip: '10.0.0.2' }))).toBe(
      'LOGIN_RATE_LIMITED',
    );
    users.unlock(admin, 'wang.fang', 'phoned the help desk');
    await users.login('wang.fang', PASSWORD, { ip: '10.0.0.2' });
    expect(audit.query({ action: 'auth.unlock' })[0]).toMatchObject({
      actor: 'root',
      subject: 'user:wang.fang',
    });
  });

  it('are audited once per account and window: the first at once, the rest as one summary', async () => {
    const { users, advance, audit } = await withAdmin();
    await users.provisionUser(clerkInput);
    const before = audit.head()!.seq;
    for (let i = 0; i < 300; i++) {
      await codeOf(() => users.login('wang.fang', 'flood ' + i, { ip: `10.7.${i % 5}.1` }));
      advance(100);
    }
    const during = audit.query({ subject: 'user:wang.fang' }).filter((x) => x.seq > before);
    expect(during.map((x) => x.action)).toEqual(['auth.login-failed']);
    advance(15 * 60_000);
    await codeOf(() => users.login('wang.fang', 'after the window', { ip: '10.7.0.1' }));
    const summary = audit.query({ action: 'auth.login-failures' });
    expect(summary).toHaveLength(1);
    const after = summary[0]!.after as { failures: number; ips: string[]; reasons: Record<string, number> };
    expect(after.failures).toBe(299);
    expect(after.ips.sort()).toEqual(['10.7.0.1', '10.7.1.1', '10.7.2.1', '10.7.3.1', '10.7.4.1']);
    expect(Object.values(after.reasons).reduce((a, b) => a + b, 0)).toBe(300);
    expect(users.loginStats().refused['rate-limited']).toBeGreaterThan(0);
  });

  it('counts failures per address across user names, and unknown users like known ones', async () => {
    const { users } = await withAdmin({ loginPolicy: { perIp: 3 } });
    for (const name of ['a1', 'a2', 'a3']) {
      expect(await codeOf(() => users.login(name, PASSWORD, { ip: '10.6.6.6' }))).toBe('INVALID_CREDENTIALS');
    }
    expect(await codeOf(() => users.login('root', PASSWORD, { ip: '10.6.6.6' }))).toBe('LOGIN_RATE_LIMITED');
    await users.login('root', PASSWORD, { ip: '10.0.0.7' });
  });

  it('parallel guesses count before the slow check finishes', async () => {
    const { users } = await withAdmin();
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        codeOf(() => users.login('root', `guess ${i} guess`, { ip: '10.0.0.9' })),
      ),
    );
    expect(results.filter((c) => c === 'INVALID_CREDENTIALS')).toHaveLength(3);
    expect(results.filter((c) => c === 'LOGIN_RATE_LIMITED')).toHaveLength(5);
  });
});

describe('sessions', () => {
  it('end after the idle limit, and after the absolute limit however busy', async () => {
    const { users, advance } = await withAdmin({
      sessionIdleMs: 30 * 60_000,
      sessionMaxMs: 2 * 3600_000,
    });
    await users.provisionUser(clerkInput);
    const idle = await users.login('wang.fang', PASSWORD, { ip: '10.0.0.2' });
    advance(29 * 60_000);
    users.authenticate(idle.token);
    advance(29 * 60_000);
    users.authenticate(idle.token);
    advance(30 * 60_000);
    const e = await errorOf(() => users.authenticate(idle.token));
    expect(e).toMatchObject({ code: 'UNAUTHENTICATED', status: 401 });
    expect(e.message).toMatch(/unused too long/);

    const busy = await users.login('wang.fang', PASSWORD, { ip: '10.0.0.2' });
    for (let i = 0; i < 7; i++) {
      advance(15 * 60_000);
      users.authenticate(busy.token);
    }
    advance(15 * 60_000 - 1);
    users.authenticate(busy.token);
    advance(1);
    expect((await errorOf(() => users.authenticate(busy.token))).message).toMatch(/too old/);
  });

  it('logout ends the session; unknown tokens are refused', async () => {
    const { users, audit } = await withAdmin();
    const { token } = await users.login('root', PASSWORD, { ip: '10.0.0.1' });
    users.logout(token);
    expect(await codeOf(() => users.authenticate(token))).toBe('UNAUTHENTICATED');
    expect(audit.query({ action: 'auth.logout' })).toHaveLength(1);
    expect(await codeOf(() => users.authenticate('made-up'))).toBe('UNAUTHENTICATED');
    expect(await codeOf(() => users.authenticate(''))).toBe('UNAUTHENTICATED');
  });

  it('stores only a SHA-256 of the token', async () => {
    const { users, path } = await withAdmin();
    const { token } = await users.login('root', PASSWORD, { ip: '10.0.0.1' });
    const raw = new Database(path, { readonly: true });
    const dump = JSON.stringify(raw.prepare('SELECT * FROM user_sessions').all());
    raw.close();
    expect(dump).not.toContain(token);
  });
});

/** A token proposed by `admin` and approved by `admin2`; the secret goes to the approver. */
async function issueToken(
  t: Awaited<ReturnType<typeof withTwoAdmins>>,
  input: Parameters<Awaited<ReturnType<typeof withTwoAdmins>>['users']['createApiToken']>[1],
) {
  const req = t.users.createApiToken(t.admin, input);
  expect(t.users.listApiTokens(t.admin).map((x) => x.name)).not.toContain(input.name);
  return (await t.users.approveRequest(t.admin2, req.id)).token!;
}

describe('API tokens', () => {
  it('act as token:<name> within their scopes only; the secret is shown once and stored hashed', async () => {
    const t = await withTwoAdmins();
    const { users, admin, path } = t;
    const { token, info } = await issueToken(t, {
      name: 'billing-sync',
      roles: ['billing'],
      scopes: ['billing.export'],
    });
    expect(token).toMatch(/^cet_/);
    expect(info).toMatchObject({ name: 'billing-sync', createdBy: 'root', revokedAt: null });
    const actor: Actor = users.authenticate(token);
    expect(actor).toEqual({
      id: 'token:billing-sync',
      kind: 'token',
      roles: ['billing'],
      scopes: ['billing.export'],
    });
    expect(can(actor, 'billing.export')).toBe(true);
    // The billing role could edit tariffs; the token may not.
    expect(can(actor, 'tariffs.edit')).toBe(false);
    const raw = new Database(path, { readonly: true });
    expect(JSON.stringify(raw.prepare('SELECT * FROM api_tokens').all())).not.toContain(token.slice(4));
    raw.close();
    expect(users.listApiTokens(admin).map((t) => t.name)).toEqual(['billing-sync']);
  });

  it('are refused once revoked or expired, and names are not reused', async () => {
    const t = await withTwoAdmins();
    const { users, admin, advance, clock } = t;
    const a = await issueToken(t, { name: 'kiosk-1', roles: ['clerk'], scopes: ['payments.record'] });
    users.revokeApiToken(admin, 'kiosk-1', 'kiosk stolen');
    expect(await codeOf(() => users.authenticate(a.token))).toBe('TOKEN_REVOKED');
    expect(
      await codeOf(() =>
        users.createApiToken(admin, { name: 'kiosk-1', roles: ['clerk'], scopes: ['payments.record'] }),
      ),
    ).toBe('TOKEN_EXISTS');
    expect(await codeOf(() => users.revokeApiToken(admin, 'nope'))).toBe('TOKEN_NOT_FOUND');
    const b = await issueToken(t, {
      name: 'kiosk-2',
      roles: ['clerk'],
      scopes: ['payments.record'],
      expiresAt: clock() + 3600_000,
    });
    users.authenticate(b.token);
    advance(3600_000);
    expect(await codeOf(() => users.authenticate(b.token))).toBe('TOKEN_REVOKED');
  });

  it('may not carry approvals or user management, nor scopes their roles do not grant; only admins make them', async () => {
    const t = await withTwoAdmins();
    const { users, admin } = t;
    const make = (roles: never[] | string[], scopes: string[], by: Actor = admin) =>
      codeOf(() => users.createApiToken(by, { name: 'job', roles: roles as never, scopes: scopes as never }));
    expect(await make(['supervisor'], ['refunds.approve'])).toBe('SCOPE_NOT_ALLOWED');
    expect(await make(['admin'], ['users.manage'])).toBe('SCOPE_NOT_ALLOWED');
    expect(await make(['supervisor'], ['readings.edit'])).toBe('SCOPE_NOT_ALLOWED');
    expect(await make(['clerk'], ['billing.export'])).toBe('INVALID_SCOPE');
    expect(await make(['clerk'], ['no.such'])).toBe('INVALID_SCOPE');
    expect(await make(['clerk'], [])).toBe('INVALID_SCOPE');
    expect(await make(['reader', 'clerk'], ['payments.record'])).toBe('INCOMPATIBLE_DUTIES');
    const billingToken = users.authenticate(
      (await issueToken(t, { name: 'sync', roles: ['billing'], scopes: ['billing.export'] })).token,
    );
    expect(await make(['clerk'], ['payments.record'], billingToken)).toBe('PERSON_REQUIRED');
    expect(
      await make(['clerk'], ['payments.record'], { id: 'wang.fang', kind: 'user', roles: ['clerk'] }),
    ).toBe('FORBIDDEN');
  });
});

describe('the link window (campus file auth.linkDays)', () => {
  it('a made account counts as its makers’ past linkDays, until its holder sets their own password', async () => {
    const t = await withTwoAdmins({ linkDays: 2 });
    await t.addUser({ username: 'made.op', displayName: 'x', roles: ['operator'] });
    await t.addUser({ username: 'made.sup', displayName: 'y', roles: ['supervisor'] });
    const { assertNotSelfApproval } = await import('../../services/platform/auth/duties.ts');
    const sup = { id: 'made.sup', kind: 'user' as const, roles: ['supervisor' as const] };
    const links = () => ({ db: t.db, now: t.clock() });
    t.advance(2 * 86_400_000 + 1);
    // The makers saw the one-time codes: the window is no limit (independence.ts).
    expect(await codeOf(() => assertNotSelfApproval('made.op', sup, 'approve it', links()))).toBe(
      'LINKED_ACCOUNTS',
    );
    for (const name of ['made.op', 'made.sup']) {
      const actor = (await t.users.login(name, PASSWORD, { ip: '10.0.0.1' })).actor;
      await t.users.changePassword(actor, PASSWORD, `${name} own password`, { ip: '10.0.0.1' });
    }
    assertNotSelfApproval('made.op', sup, 'approve it', links());
  });
});
