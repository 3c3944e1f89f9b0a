import { describe, expect, it } from 'vitest';
import { assertNotSelfApproval } from '../../services/platform/auth/duties.ts';
import { principals } from '../../services/platform/auth/independence.ts';
import type { Actor } from '../../services/platform/auth/roles.ts';
import { Users } from '../../services/platform/auth/users.ts';
import { tempBackoffice } from '../audit/helpers.ts';
import { codeOf } from '../helpers/refused.ts';
import { PASSWORD, TEST_SCRYPT_COST, withTwoAdmins } from './setup.ts';

/**
 * How long a link between an account and the administrators who made it lasts
 * (independence.ts): creation and reset until the holder sets a password of their own; a role
 * grant or a re-enabling for the campus file's window; rows written before, by their `until`.
 */

const DAY = 86_400_000;

const person = (id: string, ...roles: string[]): Actor => ({ id, kind: 'user', roles: roles as never });

describe('a created or reset account stays its makers’ until the holder’s own password', () => {
  it('a year later, the made accounts still stand for both administrators', async () => {
    const t = await withTwoAdmins({ linkDays: 2 });
    await t.addUser({ username: 'made.op', displayName: 'x', roles: ['operator'] });
    t.advance(365 * DAY);
    expect([...principals(t.db, 'made.op', t.clock())].sort()).toEqual(['made.op', 'root', 'root2']);
  });

  it('a reset after the holder’s own password links the account again, until the next one', async () => {
    const t = await withTwoAdmins();
    await t.addUser({ username: 'made.sup', displayName: 'y', roles: ['supervisor'] });
    const sup = (await t.users.login('made.sup', PASSWORD, { ip: '10.0.0.5' })).actor;
    await t.users.changePassword(sup, PASSWORD, 'my own password 1', { ip: '10.0.0.5' });
    expect([...principals(t.db, 'made.sup', t.clock())]).toEqual(['made.sup']);
    t.advance(DAY);
    const reset = t.users.resetPassword(t.admin2, 'made.sup', 'forgot it');
    const code = (await t.users.approveRequest(t.admin, reset.id)).oneTimeCode!.code;
    await t.users.redeemCode('made.sup', code, 'set with the code');
    t.advance(100 * DAY);
    expect([...principals(t.db, 'made.sup', t.clock())].sort()).toEqual(['made.sup', 'root', 'root2']);
    const again = (await t.users.login('made.sup', 'set with the code', { ip: '10.0.0.5' })).actor;
    await t.users.changePassword(again, 'set with the code', 'my own password 2', { ip: '10.0.0.5' });
    expect([...principals(t.db, 'made.sup', t.clock())]).toEqual(['made.sup']);
  });

  it('a wrong current password ends nothing', async () => {
    const t = await withTwoAdmins();
    await t.addUser({ username: 'made.op', displayName: 'x', roles: ['operator'] });
    const op = (await t.users.login('made.op', PASSWORD, { ip: '10.0.0.5' })).actor;
    await codeOf(() =>
      t.users.changePassword(op, 'not the password', 'my own password 1', { ip: '10.0.0.5' }),
    );
    expect(principals(t.db, 'made.op', t.clock()).has('root')).toBe(true);
  });
});

describe('the users list shows each account’s links in force', () => {
  it('who made it, until its own password; a role grant until its window ends', async () => {
    const t = await withTwoAdmins({ linkDays: 2 });
    await t.addUser({ username: 'made.op', displayName: 'x', roles: ['operator'] });
    const linksOf = (u: string) =>
      t.users
        .listUsers(t.admin)
        .find((x) => x.username === u)!
        .links.map((l) => `${l.by} ${l.action} ${l.until === null ? 'password' : 'window'}`)
        .sort();
    // Created under four eyes: both administrators could act as it until the holder's password.
    expect(linksOf('made.op')).toEqual(['root user.create password', 'root2 user.create password']);
    const op = (await t.users.login('made.op', PASSWORD, { ip: '10.0.0.5' })).actor;
    await t.users.changePassword(op, PASSWORD, 'my own password 1', { ip: '10.0.0.5' });
    expect(linksOf('made.op')).toEqual([]);
    const req = t.users.setRoles(t.admin, 'made.op', ['operator', 'inspector']) as { id: number };
    await t.users.approveRequest(t.admin2, req.id);
    expect(linksOf('made.op').length).toBeGreaterThan(0);
    expect(linksOf('made.op').every((l) => l.endsWith('user.roles window'))).toBe(true);
    t.advance(2 * DAY + 1);
    expect(linksOf('made.op')).toEqual([]);
  });
});

describe('a role grant to an account with its own password keeps the window', () => {
  it('linked for linkDays, then independent; the holder’s password change does not shorten it', async () => {
    const t = await withTwoAdmins({ linkDays: 2 });
    // Set up by the system: no administrator ever knew this password.
    await t.users.provisionUser({ username: 'old.sup', displayName: 's', roles: [], password: PASSWORD });
    const req = t.users.setRoles(t.admin, 'old.sup', ['supervisor']) as { id: number };
    await t.users.approveRequest(t.admin2, req.id);
    const sup = (await t.users.login('old.sup', PASSWORD, { ip: '10.0.0.5' })).actor;
    await t.users.changePassword(sup, PASSWORD, 'my own password 1', { ip: '10.0.0.5' });
    const links = () => ({ db: t.db, now: t.clock() });
    expect(await codeOf(() => assertNotSelfApproval('root', sup, 'approve it', links()))).toBe(
      'LINKED_ACCOUNTS',
    );
    t.advance(2 * DAY + 1);
    assertNotSelfApproval('root', sup, 'approve it', links());
  });
});

describe('links written before (rows with `until` only)', () => {
  const OLD_SCHEMA = `CREATE TABLE account_links (id INTEGER PRIMARY KEY, account TEXT NOT NULL, by TEXT NOT NULL,
    action TEXT NOT NULL, at INTEGER NOT NULL, until INTEGER NOT NULL);`;

  it('are migrated in place and keep lapsing at their until', async () => {
    const t = tempBackoffice();
    t.db.exec(OLD_SCHEMA);
    const at = t.clock();
    t.db
      .prepare('INSERT INTO account_links (account, by, action, at, until) VALUES (?, ?, ?, ?, ?)')
      .run('old.op', 'root', 'user.create', at, at + 5 * DAY);
    new Users({ db: t.db, audit: t.audit, clock: t.clock, scryptCost: TEST_SCRYPT_COST });
    const cols = (t.db.prepare('PRAGMA table_info(account_links)').all() as { name: string }[]).map(
      (c) => c.name,
    );
    expect(cols).toEqual(expect.arrayContaining(['until', 'lasts', 'ended_at']));
    expect(principals(t.db, 'old.op', at + 5 * DAY - 1).has('root')).toBe(true);
    expect(principals(t.db, 'old.op', at + 5 * DAY).has('root')).toBe(false);
    const op = person('old.op', 'operator');
    expect(
      await codeOf(() => assertNotSelfApproval('root', op, 'approve it', { db: t.db, now: at + DAY })),
    ).toBe('LINKED_ACCOUNTS');
  });

  it('a migration stopped half-way (one column added) finishes on the next start', () => {
    const t = tempBackoffice();
    t.db.exec(OLD_SCHEMA);
    t.db.exec("ALTER TABLE account_links ADD COLUMN lasts TEXT NOT NULL DEFAULT 'window'");
    const make = () => new Users({ db: t.db, audit: t.audit, clock: t.clock, scryptCost: TEST_SCRYPT_COST });
    make();
    make();
    const cols = (t.db.prepare('PRAGMA table_info(account_links)').all() as { name: string }[]).map(
      (c) => c.name,
    );
    expect(cols.filter((c) => c === 'lasts' || c === 'ended_at')).toEqual(['lasts', 'ended_at']);
  });
});
