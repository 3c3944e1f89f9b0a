import { createHash } from 'node:crypto';
import type { AuditLog } from '../audit/audit-log.ts';
import type { BackofficeDb, Clock } from '../db.ts';
import { assertCan } from './duties.ts';
import { authFail } from './errors.ts';
import { recordLink } from './independence.ts';
import { incompatibleRoles, isRole, ROLES, type Actor, type Role } from './roles.ts';

/**
 * The users table and what every part of user management shares: reading a row, validating
 * names, roles and passwords, writing a user with its audit entry and its links. Sessions, API
 * tokens and administration requests are built on it (sessions.ts, api-tokens.ts, user-admin.ts).
 */

export interface User {
  username: string;
  displayName: string;
  roles: Role[];
  disabled: boolean;
  createdAt: number;
  updatedAt: number;
}

export interface UserRow {
  username: string;
  display_name: string;
  roles: string;
  password_hash: string;
  disabled: number;
  created_at: number;
  updated_at: number;
}

export const USERS_SCHEMA = `
CREATE TABLE IF NOT EXISTS users (
  username TEXT PRIMARY KEY,
  display_name TEXT NOT NULL,
  roles TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  disabled INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
`;

/** A password hash nothing verifies against: an account waiting for its owner to set a password. */
export const NO_PASSWORD = '!';

export const MAX_PASSWORD_LENGTH = 1024;
const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{1,63}$/;

export const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
/** Roles in ROLES order, once each, so equal sets compare and audit equal. */
export const sortedRoles = (roles: readonly Role[]): Role[] => ROLES.filter((r) => roles.includes(r));
export const parseRoles = (json: string): Role[] =>
  sortedRoles((JSON.parse(json) as string[]).filter(isRole));

export function toUser(r: UserRow): User {
  return {
    username: r.username,
    displayName: r.display_name,
    roles: parseRoles(r.roles),
    disabled: r.disabled !== 0,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export class UserStore {
  constructor(
    readonly db: BackofficeDb,
    readonly audit: AuditLog,
    readonly clock: Clock,
    readonly minPasswordLength: number,
    /** Days an account stays linked to whoever re-enabled or granted it a role (independence.ts). */
    readonly linkDays: number,
  ) {}

  tx<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  row(username: string): UserRow | undefined {
    return this.db.prepare('SELECT * FROM users WHERE username = ?').get(username) as UserRow | undefined;
  }

  userCount(): number {
    return this.db.prepare('SELECT count(*) FROM users').pluck().get() as number;
  }

  assertManager(by: Actor): void {
    if (by.kind !== 'user')
      authFail('PERSON_REQUIRED', `${by.id} is an API token; only a person manages users`);
    assertCan(by, 'users.manage');
  }

  /** Another enabled administrator than `username` exists, or LAST_ADMIN. */
  assertOtherAdmin(username: string): void {
    const others = (
      this.db
        .prepare('SELECT roles FROM users WHERE disabled = 0 AND username != ?')
        .pluck()
        .all(username) as string[]
    ).some((r) => parseRoles(r).includes('admin'));
    if (!others) authFail('LAST_ADMIN', `${username} is the last enabled administrator`);
  }

  validName(name: string): string {
    const n = typeof name === 'string' ? name.trim().toLowerCase() : '';
    if (!NAME_PATTERN.test(n)) {
      authFail(
        'INVALID_USERNAME',
        `"${String(name).slice(0, 80)}": 2 to 64 of a-z 0-9 . _ -, starting with a letter or digit`,
      );
    }
    return n;
  }

  existingName(username: string): string {
    const name = typeof username === 'string' ? username.trim().toLowerCase() : '';
    if (!this.row(name)) authFail('USER_NOT_FOUND', `no user ${String(username).slice(0, 80)}`);
    return name;
  }

  validDisplayName(displayName: string): string {
    const d = typeof displayName === 'string' ? displayName.trim() : '';
    if (d.length === 0 || d.length > 100)
      authFail('INVALID_USERNAME', 'a display name is 1 to 100 characters');
    return d;
  }

  validRoles(roles: readonly Role[], whose: string): Role[] {
    for (const r of roles)
      if (!isRole(r)) authFail('INVALID_ROLE', `${String(r)} is not a role (${ROLES.join(', ')})`);
    const problem = incompatibleRoles(roles);
    if (problem) authFail('INCOMPATIBLE_DUTIES', `${whose} may not hold ${problem}`);
    return sortedRoles(roles);
  }

  checkPassword(password: string, username: string): void {
    if (typeof password !== 'string' || password.length < this.minPasswordLength) {
      authFail('WEAK_PASSWORD', `a password needs at least ${this.minPasswordLength} characters`);
    }
    if (password.length > MAX_PASSWORD_LENGTH)
      authFail('WEAK_PASSWORD', `a password has at most ${MAX_PASSWORD_LENGTH} characters`);
    if (password.trim().toLowerCase() === username)
      authFail('WEAK_PASSWORD', 'the password may not be the user name');
  }

  /** Links `account` to each person in `by` (the proposer and the approver of a user change). */
  link(account: string, by: readonly string[], action: string): void {
    const at = this.clock();
    for (const b of by) recordLink(this.db, { account, by: b, action, at, days: this.linkDays });
  }

  insertUser(
    actor: string,
    name: string,
    displayName: string,
    roles: Role[],
    hash: string,
    reason?: string,
  ): User {
    const now = this.clock();
    this.db
      .prepare(
        `INSERT INTO users (username, display_name, roles, password_hash, disabled, created_at, updated_at)
         VALUES (?, ?, ?, ?, 0, ?, ?)`,
      )
      .run(name, displayName, JSON.stringify(roles), hash, now, now);
    this.audit.append({
      actor,
      action: 'user.create',
      subject: `user:${name}`,
      after: { username: name, displayName, roles, disabled: false },
      reason,
    });
    return { username: name, displayName, roles, disabled: false, createdAt: now, updatedAt: now };
  }

  updateRoles(actor: string, name: string, next: Role[], reason?: string): User {
    const user = toUser(this.row(name)!);
    if (user.roles.join() === next.join()) return user;
    if (user.roles.includes('admin') && !next.includes('admin')) this.assertOtherAdmin(name);
    const now = this.clock();
    this.db
      .prepare('UPDATE users SET roles = ?, updated_at = ? WHERE username = ?')
      .run(JSON.stringify(next), now, name);
    this.audit.append({
      actor,
      action: 'user.roles',
      subject: `user:${name}`,
      before: { roles: user.roles },
      after: { roles: next },
      reason,
    });
    return { ...user, roles: next, updatedAt: now };
  }

  setDisabled(actor: string, name: string, disabled: boolean, reason?: string): User {
    const user = toUser(this.row(name)!);
    if (user.disabled === disabled) return user;
    if (disabled && user.roles.includes('admin')) this.assertOtherAdmin(name);
    const now = this.clock();
    this.db
      .prepare('UPDATE users SET disabled = ?, updated_at = ? WHERE username = ?')
      .run(disabled ? 1 : 0, now, name);
    const ended = disabled ? this.endSessions(name) : 0;
    this.audit.append({
      actor,
      action: disabled ? 'user.disable' : 'user.enable',
      subject: `user:${name}`,
      before: { disabled: !disabled },
      after: disabled ? { disabled, sessionsEnded: ended } : { disabled },
      reason,
    });
    return { ...user, disabled, updatedAt: now };
  }

  storePassword(actor: string, name: string, hash: string, reason: string): void {
    this.db
      .prepare('UPDATE users SET password_hash = ?, updated_at = ? WHERE username = ?')
      .run(hash, this.clock(), name);
    const ended = this.endSessions(name);
    // The entry says that the password changed, never what to.
    this.audit.append({
      actor,
      action: 'user.password',
      subject: `user:${name}`,
      after: { passwordChanged: true, sessionsEnded: ended },
      reason,
    });
  }

  endSessions(username: string): number {
    const exists = this.db
      .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'user_sessions'")
      .get();
    return exists ? this.db.prepare('DELETE FROM user_sessions WHERE username = ?').run(username).changes : 0;
  }
}
