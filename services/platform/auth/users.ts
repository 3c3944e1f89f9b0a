import { createHash, randomBytes } from 'node:crypto';
import type { AuditLog } from '../audit/audit-log.ts';
import type { BackofficeDb, Clock } from '../db.ts';
import { assertCan } from './duties.ts';
import { authFail } from './errors.ts';
import { DEFAULT_SCRYPT_COST, hashPassword, isValidCost, verifyPassword } from './password.ts';
import {
  can,
  incompatibleRoles,
  isPermission,
  isRole,
  PERSON_ONLY_PERMISSIONS,
  ROLES,
  type Actor,
  type Permission,
  type Role,
} from './roles.ts';

/**
 * Users, their sessions and machines' API tokens, in the back-office database. Every change to a
 * user or a token is written to the audit log in the same transaction, without the password or
 * any hash of it; logins and failed logins are audited too. Users and tokens are never deleted
 * (disabled or revoked instead), so an actor id in the audit log always names one user or token.
 */

export interface UsersOptions {
  db: BackofficeDb;
  audit: AuditLog;
  clock?: Clock;
  /** scrypt N for new hashes; a power of two. Tests pass a low one. */
  scryptCost?: number;
  /** A session unused this long ends. */
  sessionIdleMs?: number;
  /** A session ends this long after login, however busy: about one shift. */
  sessionMaxMs?: number;
  /**
   * Failed logins allowed per user name and per client address within `windowMs`; the next
   * attempt is refused until the oldest counted failure leaves the window. The per-address limit
   * is higher because a whole office can share one address behind the campus NAT.
   */
  loginLimit?: { perUser: number; perIp: number; windowMs: number };
  minPasswordLength?: number;
}

export interface User {
  username: string;
  displayName: string;
  roles: Role[];
  disabled: boolean;
  createdAt: number;
  updatedAt: number;
}

export interface ApiTokenInfo {
  name: string;
  roles: Role[];
  scopes: Permission[];
  createdBy: string;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
  lastUsedAt: number | null;
}

export interface LoginResult {
  /** The session secret: 32 random bytes, base64url. Only its SHA-256 is stored. */
  token: string;
  actor: Actor;
  /** When the session ends if it is not used again (the idle limit, capped by the absolute one). */
  expiresAt: number;
}

/** A difference between the users or tokens tables and what the audit log says they should be. */
export interface IntegrityProblem {
  subject: string;
  problem: string;
}

const MINUTE = 60_000;
const DEFAULTS = {
  sessionIdleMs: 30 * MINUTE,
  sessionMaxMs: 12 * 60 * MINUTE,
  loginLimit: { perUser: 5, perIp: 20, windowMs: 15 * MINUTE },
  minPasswordLength: 12,
};
const MAX_PASSWORD_LENGTH = 1024;
/** API token secrets carry a prefix so that secret scanners and people recognise them. */
const API_TOKEN_PREFIX = 'cet_';
const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{1,63}$/;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS users (
  username TEXT PRIMARY KEY,
  display_name TEXT NOT NULL,
  roles TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  disabled INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS user_sessions (
  token_hash TEXT PRIMARY KEY,
  username TEXT NOT NULL REFERENCES users (username),
  created_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  ip TEXT
);
CREATE INDEX IF NOT EXISTS user_sessions_username ON user_sessions (username);
CREATE TABLE IF NOT EXISTS api_tokens (
  name TEXT PRIMARY KEY,
  token_hash TEXT NOT NULL UNIQUE,
  roles TEXT NOT NULL,
  scopes TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  revoked_at INTEGER,
  last_used_at INTEGER
);
CREATE TABLE IF NOT EXISTS login_attempts (
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  username TEXT NOT NULL,
  ip TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS login_attempts_username ON login_attempts (username, at);
CREATE INDEX IF NOT EXISTS login_attempts_ip ON login_attempts (ip, at);
`;

interface UserRow {
  username: string;
  display_name: string;
  roles: string;
  password_hash: string;
  disabled: number;
  created_at: number;
  updated_at: number;
}

interface SessionRow {
  token_hash: string;
  username: string;
  created_at: number;
  last_seen_at: number;
}

interface TokenRow {
  name: string;
  token_hash: string;
  roles: string;
  scopes: string;
  created_by: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  last_used_at: number | null;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
/** Roles in ROLES order, once each, so equal sets compare and audit equal. */
const sortedRoles = (roles: readonly Role[]): Role[] => ROLES.filter((r) => roles.includes(r));
const parseRoles = (json: string): Role[] => sortedRoles((JSON.parse(json) as string[]).filter(isRole));

function toUser(r: UserRow): User {
  return {
    username: r.username,
    displayName: r.display_name,
    roles: parseRoles(r.roles),
    disabled: r.disabled !== 0,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function toToken(r: TokenRow): ApiTokenInfo {
  return {
    name: r.name,
    roles: parseRoles(r.roles),
    scopes: (JSON.parse(r.scopes) as string[]).filter(isPermission),
    createdBy: r.created_by,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    revokedAt: r.revoked_at,
    lastUsedAt: r.last_used_at,
  };
}

/** What a login attempt came to; audited as the reason of `auth.login-failed`. */
type AttemptFailure = 'unknown-user' | 'wrong-password' | 'disabled' | 'rate-limited';

export class Users {
  private readonly db: BackofficeDb;
  private readonly audit: AuditLog;
  private readonly clock: Clock;
  private readonly cost: number;
  private readonly idleMs: number;
  private readonly maxMs: number;
  private readonly limit: { perUser: number; perIp: number; windowMs: number };
  private readonly minPasswordLength: number;
  /** Verified against when the user does not exist, so that the answer takes as long. */
  private dummyHash: Promise<string> | undefined;

  constructor(options: UsersOptions) {
    this.db = options.db;
    this.audit = options.audit;
    this.clock = options.clock ?? Date.now;
    this.cost = options.scryptCost ?? DEFAULT_SCRYPT_COST;
    if (!isValidCost(this.cost)) throw new Error(`scryptCost must be a power of two, not ${this.cost}`);
    this.idleMs = options.sessionIdleMs ?? DEFAULTS.sessionIdleMs;
    this.maxMs = options.sessionMaxMs ?? DEFAULTS.sessionMaxMs;
    this.limit = options.loginLimit ?? DEFAULTS.loginLimit;
    this.minPasswordLength = options.minPasswordLength ?? DEFAULTS.minPasswordLength;
    // Read-only: `audit verify` checks these tables against the log without touching the file.
    if (!this.db.readonly) this.db.exec(SCHEMA);
  }

  // ---- users -------------------------------------------------------------------------------

  /** The first administrator, on first start only: refused once any user exists. */
  async bootstrapAdmin(username: string, password: string, displayName = 'Administrator'): Promise<User> {
    if (this.userCount() > 0)
      authFail('ALREADY_BOOTSTRAPPED', 'there are users already; an administrator adds more');
    const name = this.validName(username);
    const display = this.validDisplayName(displayName);
    this.checkPassword(password, name);
    const hash = await hashPassword(password, this.cost);
    return this.tx(() => {
      if (this.userCount() > 0)
        authFail('ALREADY_BOOTSTRAPPED', 'there are users already; an administrator adds more');
      return this.insertUser('system:bootstrap', name, display, ['admin'], hash, 'first start');
    });
  }

  async createUser(
    by: Actor,
    input: { username: string; displayName: string; roles: readonly Role[]; password: string },
  ): Promise<User> {
    this.assertManager(by);
    const name = this.validName(input.username);
    const display = this.validDisplayName(input.displayName);
    const roles = this.validRoles(input.roles, `user ${name}`);
    this.checkPassword(input.password, name);
    if (this.row(name)) authFail('USER_EXISTS', `user ${name} exists`);
    const hash = await hashPassword(input.password, this.cost);
    return this.tx(() => {
      if (this.row(name)) authFail('USER_EXISTS', `user ${name} exists`);
      return this.insertUser(by.id, name, display, roles, hash);
    });
  }

  setRoles(by: Actor, username: string, roles: readonly Role[], reason?: string): User {
    this.assertManager(by);
    const name = this.existingName(username);
    if (name === by.id) authFail('SELF_ROLE_CHANGE', `${by.id} may not change their own roles`);
    const next = this.validRoles(roles, `user ${name}`);
    return this.tx(() => {
      const user = toUser(this.row(name)!);
      if (user.roles.join() === next.join()) return user;
      if (user.roles.includes('admin') && !next.includes('admin')) this.assertOtherAdmin(name);
      const now = this.clock();
      this.db
        .prepare('UPDATE users SET roles = ?, updated_at = ? WHERE username = ?')
        .run(JSON.stringify(next), now, name);
      this.audit.append({
        actor: by.id,
        action: 'user.roles',
        subject: `user:${name}`,
        before: { roles: user.roles },
        after: { roles: next },
        reason,
      });
      return { ...user, roles: next, updatedAt: now };
    });
  }

  /** Disables a user and ends their sessions; they can no longer log in. */
  disable(by: Actor, username: string, reason?: string): User {
    return this.setDisabled(by, username, true, reason);
  }

  enable(by: Actor, username: string, reason?: string): User {
    return this.setDisabled(by, username, false, reason);
  }

  /** Sets a new password (a forgotten one, a new user's first) and ends the user's sessions. */
  async resetPassword(by: Actor, username: string, password: string, reason?: string): Promise<void> {
    this.assertManager(by);
    const name = this.existingName(username);
    this.checkPassword(password, name);
    const hash = await hashPassword(password, this.cost);
    this.tx(() => this.storePassword(by.id, name, hash, reason ?? 'reset by a user manager'));
  }

  /**
   * A user changes their own password, giving the current one (counted like a login, so a stolen
   * session cannot be used to guess it). Ends their other sessions.
   */
  async changePassword(
    actor: Actor,
    current: string,
    password: string,
    context: { ip: string },
  ): Promise<void> {
    if (actor.kind !== 'user') authFail('PERSON_REQUIRED', `${actor.id} is an API token and has no password`);
    const name = this.existingName(actor.id);
    this.checkPassword(password, name);
    await this.attempt(name, current, context.ip);
    const hash = await hashPassword(password, this.cost);
    this.tx(() => this.storePassword(name, name, hash, 'changed by the user'));
  }

  getUser(username: string): User | null {
    const r = this.row(username.trim().toLowerCase());
    return r ? toUser(r) : null;
  }

  listUsers(by: Actor): User[] {
    this.assertManager(by);
    return (this.db.prepare('SELECT * FROM users ORDER BY username').all() as UserRow[]).map(toUser);
  }

  // ---- sessions ----------------------------------------------------------------------------

  /**
   * Checks the password and opens a session. Every answer to a failure is INVALID_CREDENTIALS,
   * whatever the reason, after the same scrypt work; the audit log records the real reason.
   */
  async login(username: string, password: string, context: { ip: string }): Promise<LoginResult> {
    const name = username.trim().toLowerCase().slice(0, 64);
    await this.attempt(name, password, context.ip);
    const token = randomBytes(32).toString('base64url');
    return this.tx(() => {
      const row = this.row(name);
      if (!row || row.disabled) authFail('INVALID_CREDENTIALS', 'wrong user name or password');
      const now = this.clock();
      this.db
        .prepare('DELETE FROM user_sessions WHERE last_seen_at <= ? OR created_at <= ?')
        .run(now - this.idleMs, now - this.maxMs);
      this.db
        .prepare(
          'INSERT INTO user_sessions (token_hash, username, created_at, last_seen_at, ip) VALUES (?, ?, ?, ?, ?)',
        )
        .run(sha256(token), name, now, now, context.ip);
      const expiresAt = Math.min(now + this.idleMs, now + this.maxMs);
      this.audit.append({
        actor: name,
        action: 'auth.login',
        subject: `user:${name}`,
        after: { ip: context.ip, expiresAt },
      });
      return { token, actor: { id: name, kind: 'user', roles: parseRoles(row.roles) }, expiresAt };
    });
  }

  /** Ends a session. Unknown or expired tokens are ignored. */
  logout(token: string): void {
    const hash = sha256(token);
    this.tx(() => {
      const s = this.db.prepare('SELECT * FROM user_sessions WHERE token_hash = ?').get(hash) as
        SessionRow | undefined;
      if (!s) return;
      this.db.prepare('DELETE FROM user_sessions WHERE token_hash = ?').run(hash);
      this.audit.append({ actor: s.username, action: 'auth.logout', subject: `user:${s.username}` });
    });
  }

  /**
   * The actor for a session token or an API token, with the user's roles as they are now (a role
   * taken away takes effect on the next request). Throws UNAUTHENTICATED or TOKEN_REVOKED.
   */
  authenticate(token: string): Actor {
    if (typeof token !== 'string' || token.length === 0 || token.length > 256) {
      authFail('UNAUTHENTICATED', 'log in first (no session or API token)');
    }
    const hash = sha256(token);
    const now = this.clock();
    const s = this.db.prepare('SELECT * FROM user_sessions WHERE token_hash = ?').get(hash) as
      SessionRow | undefined;
    if (s) {
      const idle = now - s.last_seen_at >= this.idleMs;
      if (idle || now - s.created_at >= this.maxMs) {
        this.db.prepare('DELETE FROM user_sessions WHERE token_hash = ?').run(hash);
        authFail(
          'UNAUTHENTICATED',
          `session expired (${idle ? 'unused too long' : 'too old'}); log in again`,
        );
      }
      const user = this.row(s.username);
      if (!user || user.disabled) authFail('UNAUTHENTICATED', `user ${s.username} is disabled`);
      // Recording every request would be a disk write per request; a minute's precision will do.
      if (now - s.last_seen_at >= Math.min(MINUTE, this.idleMs / 10)) {
        this.db.prepare('UPDATE user_sessions SET last_seen_at = ? WHERE token_hash = ?').run(now, hash);
      }
      return { id: user.username, kind: 'user', roles: parseRoles(user.roles) };
    }
    const t = this.db.prepare('SELECT * FROM api_tokens WHERE token_hash = ?').get(hash) as
      TokenRow | undefined;
    if (t) {
      if (t.revoked_at !== null) authFail('TOKEN_REVOKED', `API token ${t.name} was revoked`);
      if (t.expires_at !== null && now >= t.expires_at)
        authFail('TOKEN_REVOKED', `API token ${t.name} has expired`);
      if (t.last_used_at === null || now - t.last_used_at >= MINUTE) {
        this.db.prepare('UPDATE api_tokens SET last_used_at = ? WHERE name = ?').run(now, t.name);
      }
      const info = toToken(t);
      return { id: `token:${t.name}`, kind: 'token', roles: info.roles, scopes: info.scopes };
    }
    authFail('UNAUTHENTICATED', 'unknown or expired session; log in again');
  }

  // ---- API tokens --------------------------------------------------------------------------

  /**
   * A token for a machine (a billing export job, a vending kiosk). The secret is returned once
   * and only its SHA-256 is kept. A token acts only within its scopes, each of which its roles
   * must grant; approvals, reading edits and user management are never given to a machine.
   */
  createApiToken(
    by: Actor,
    input: { name: string; roles: readonly Role[]; scopes: readonly Permission[]; expiresAt?: number },
  ): { token: string; info: ApiTokenInfo } {
    this.assertManager(by);
    const name = this.validName(input.name);
    const roles = this.validRoles(input.roles, `token ${name}`);
    if (input.scopes.length === 0) authFail('INVALID_SCOPE', `token ${name} needs at least one scope`);
    const scopes = [...new Set(input.scopes)];
    for (const scope of scopes) {
      if (!isPermission(scope)) authFail('INVALID_SCOPE', `${String(scope)} is not a permission`);
      if (PERSON_ONLY_PERMISSIONS.includes(scope)) {
        authFail('SCOPE_NOT_ALLOWED', `${scope} is for people only; an API token may not have it`);
      }
      if (!can({ id: name, kind: 'token', roles }, scope)) {
        authFail(
          'INVALID_SCOPE',
          `token ${name}: roles ${roles.join(', ') || '(none)'} do not grant ${scope}`,
        );
      }
    }
    if (input.expiresAt !== undefined && !(input.expiresAt > this.clock())) {
      authFail('INVALID_SCOPE', `token ${name}: expiresAt must be in the future`);
    }
    const token = API_TOKEN_PREFIX + randomBytes(32).toString('base64url');
    return this.tx(() => {
      if (this.db.prepare('SELECT 1 FROM api_tokens WHERE name = ?').get(name)) {
        authFail('TOKEN_EXISTS', `API token ${name} exists (names are not reused)`);
      }
      const now = this.clock();
      const info: ApiTokenInfo = {
        name,
        roles,
        scopes,
        createdBy: by.id,
        createdAt: now,
        expiresAt: input.expiresAt ?? null,
        revokedAt: null,
        lastUsedAt: null,
      };
      this.db
        .prepare(
          `INSERT INTO api_tokens (name, token_hash, roles, scopes, created_by, created_at, expires_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(name, sha256(token), JSON.stringify(roles), JSON.stringify(scopes), by.id, now, info.expiresAt);
      this.audit.append({
        actor: by.id,
        action: 'token.create',
        subject: `token:${name}`,
        after: { name, roles, scopes, expiresAt: info.expiresAt },
      });
      return { token, info };
    });
  }

  /** Revokes a token for good; revoking a revoked token changes nothing. */
  revokeApiToken(by: Actor, name: string, reason?: string): void {
    this.assertManager(by);
    this.tx(() => {
      const t = this.db.prepare('SELECT * FROM api_tokens WHERE name = ?').get(name) as TokenRow | undefined;
      if (!t) authFail('TOKEN_NOT_FOUND', `no API token named ${name}`);
      if (t.revoked_at !== null) return;
      this.db.prepare('UPDATE api_tokens SET revoked_at = ? WHERE name = ?').run(this.clock(), name);
      this.audit.append({
        actor: by.id,
        action: 'token.revoke',
        subject: `token:${name}`,
        before: { revoked: false },
        after: { revoked: true },
        reason,
      });
    });
  }

  listApiTokens(by: Actor): ApiTokenInfo[] {
    this.assertManager(by);
    return (this.db.prepare('SELECT * FROM api_tokens ORDER BY name').all() as TokenRow[]).map(toToken);
  }

  // ---- integrity ---------------------------------------------------------------------------

  /**
   * Compares the users and tokens tables with the state the audit log recorded for each: roles,
   * disabled, token scopes and revocation. A row changed with SQL behind the service's back (an
   * insider giving themselves a role) shows up here; run it with `audit verify`.
   */
  checkAgainstAudit(): IntegrityProblem[] {
    const problems: IntegrityProblem[] = [];
    const tables = new Set(
      this.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[],
    );
    if (!tables.has('users') || !tables.has('api_tokens')) return problems;
    const history = (subject: string, action: 'user.' | 'token.') =>
      this.audit.query({ subject, action, limit: 10_000 });
    for (const user of this.db.prepare('SELECT * FROM users ORDER BY username').all() as UserRow[]) {
      const subject = `user:${user.username}`;
      let state: { roles?: unknown; disabled?: unknown } | undefined;
      // Each entry's `after` holds what it changed; folded in order they give the current state.
      for (const e of history(subject, 'user.')) state = { ...state, ...pick((e.after ?? {}) as object) };
      if (!state) {
        problems.push({ subject, problem: 'user is not in the audit log (added to the table directly?)' });
        continue;
      }
      const roles = JSON.stringify(parseRoles(user.roles));
      if (JSON.stringify(state.roles) !== roles) {
        problems.push({
          subject,
          problem: `roles ${roles} differ from the audited ${JSON.stringify(state.roles)}`,
        });
      }
      if (state.disabled !== (user.disabled !== 0)) {
        problems.push({
          subject,
          problem: `disabled=${user.disabled !== 0} differs from the audited ${String(state.disabled)}`,
        });
      }
    }
    for (const t of this.db.prepare('SELECT * FROM api_tokens ORDER BY name').all() as TokenRow[]) {
      const subject = `token:${t.name}`;
      const entries = history(subject, 'token.');
      const created = entries.find((e) => e.action === 'token.create')?.after as
        { roles?: unknown; scopes?: unknown } | undefined;
      if (!created) {
        problems.push({ subject, problem: 'token is not in the audit log (added to the table directly?)' });
        continue;
      }
      const info = toToken(t);
      if (
        JSON.stringify(created.roles) !== JSON.stringify(info.roles) ||
        JSON.stringify(created.scopes) !== t.scopes
      ) {
        problems.push({ subject, problem: 'roles or scopes differ from the audited ones' });
      }
      const revoked = entries.some((e) => e.action === 'token.revoke');
      if (revoked !== (t.revoked_at !== null)) {
        problems.push({
          subject,
          problem: `revoked=${t.revoked_at !== null} differs from the audited ${revoked}`,
        });
      }
    }
    return problems;
  }

  // ---- internals ---------------------------------------------------------------------------

  private tx<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  private row(username: string): UserRow | undefined {
    return this.db.prepare('SELECT * FROM users WHERE username = ?').get(username) as UserRow | undefined;
  }

  private userCount(): number {
    return this.db.prepare('SELECT count(*) FROM users').pluck().get() as number;
  }

  private assertManager(by: Actor): void {
    if (by.kind !== 'user')
      authFail('PERSON_REQUIRED', `${by.id} is an API token; only a person manages users`);
    assertCan(by, 'users.manage');
  }

  /** Another enabled administrator than `username` exists, or LAST_ADMIN. */
  private assertOtherAdmin(username: string): void {
    const others = (
      this.db
        .prepare('SELECT roles FROM users WHERE disabled = 0 AND username != ?')
        .pluck()
        .all(username) as string[]
    ).some((r) => parseRoles(r).includes('admin'));
    if (!others) authFail('LAST_ADMIN', `${username} is the last enabled administrator`);
  }

  private validName(name: string): string {
    const n = typeof name === 'string' ? name.trim().toLowerCase() : '';
    if (!NAME_PATTERN.test(n)) {
      authFail(
        'INVALID_USERNAME',
        `"${String(name).slice(0, 80)}": 2 to 64 of a-z 0-9 . _ -, starting with a letter or digit`,
      );
    }
    return n;
  }

  private existingName(username: string): string {
    const name = typeof username === 'string' ? username.trim().toLowerCase() : '';
    if (!this.row(name)) authFail('USER_NOT_FOUND', `no user ${String(username).slice(0, 80)}`);
    return name;
  }

  private validDisplayName(displayName: string): string {
    const d = typeof displayName === 'string' ? displayName.trim() : '';
    if (d.length === 0 || d.length > 100)
      authFail('INVALID_USERNAME', 'a display name is 1 to 100 characters');
    return d;
  }

  private validRoles(roles: readonly Role[], whose: string): Role[] {
    for (const r of roles)
      if (!isRole(r)) authFail('INVALID_ROLE', `${String(r)} is not a role (${ROLES.join(', ')})`);
    const problem = incompatibleRoles(roles);
    if (problem) authFail('INCOMPATIBLE_DUTIES', `${whose} may not hold ${problem}`);
    return sortedRoles(roles);
  }

  private checkPassword(password: string, username: string): void {
    if (typeof password !== 'string' || password.length < this.minPasswordLength) {
      authFail('WEAK_PASSWORD', `a password needs at least ${this.minPasswordLength} characters`);
    }
    if (password.length > MAX_PASSWORD_LENGTH)
      authFail('WEAK_PASSWORD', `a password has at most ${MAX_PASSWORD_LENGTH} characters`);
    if (password.trim().toLowerCase() === username)
      authFail('WEAK_PASSWORD', 'the password may not be the user name');
  }

  private insertUser(
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
    const user: User = {
      username: name,
      displayName,
      roles,
      disabled: false,
      createdAt: now,
      updatedAt: now,
    };
    this.audit.append({
      actor,
      action: 'user.create',
      subject: `user:${name}`,
      after: { username: name, displayName, roles, disabled: false },
      reason,
    });
    return user;
  }

  private setDisabled(by: Actor, username: string, disabled: boolean, reason?: string): User {
    this.assertManager(by);
    const name = this.existingName(username);
    if (name === by.id)
      authFail('SELF_ROLE_CHANGE', `${by.id} may not ${disabled ? 'disable' : 'enable'} themselves`);
    return this.tx(() => {
      const user = toUser(this.row(name)!);
      if (user.disabled === disabled) return user;
      if (disabled && user.roles.includes('admin')) this.assertOtherAdmin(name);
      const now = this.clock();
      this.db
        .prepare('UPDATE users SET disabled = ?, updated_at = ? WHERE username = ?')
        .run(disabled ? 1 : 0, now, name);
      const ended = disabled ? this.endSessions(name) : 0;
      this.audit.append({
        actor: by.id,
        action: disabled ? 'user.disable' : 'user.enable',
        subject: `user:${name}`,
        before: { disabled: !disabled },
        after: disabled ? { disabled, sessionsEnded: ended } : { disabled },
        reason,
      });
      return { ...user, disabled, updatedAt: now };
    });
  }

  private storePassword(actor: string, name: string, hash: string, reason: string): void {
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

  private endSessions(username: string): number {
    return this.db.prepare('DELETE FROM user_sessions WHERE username = ?').run(username).changes;
  }

  /**
   * One password check, rate-limited per user name and per address. The attempt is recorded
   * before the (slow) check, so parallel guesses count against the limit too; a success clears
   * the user's failures. Throws LOGIN_RATE_LIMITED or INVALID_CREDENTIALS, audited.
   */
  private async attempt(name: string, password: string, ip: string): Promise<UserRow> {
    const blockedUntil = this.tx(() => {
      const now = this.clock();
      this.db.prepare('DELETE FROM login_attempts WHERE at <= ?').run(now - this.limit.windowMs);
      const until = Math.max(
        this.blockedUntil('username', name, this.limit.perUser, now),
        this.blockedUntil('ip', ip, this.limit.perIp, now),
      );
      if (until > now) {
        this.auditFailure(name, ip, 'rate-limited');
        return until;
      }
      this.db.prepare('INSERT INTO login_attempts (at, username, ip) VALUES (?, ?, ?)').run(now, name, ip);
      return null;
    });
    if (blockedUntil !== null) {
      const seconds = Math.ceil((blockedUntil - this.clock()) / 1000);
      authFail('LOGIN_RATE_LIMITED', `too many failed logins; try again in ${seconds} s`);
    }
    const row = this.row(name);
    const tooLong = typeof password !== 'string' || password.length > MAX_PASSWORD_LENGTH;
    this.dummyHash ??= hashPassword(randomBytes(16).toString('hex'), this.cost);
    const matches = await verifyPassword(
      tooLong ? '' : password,
      row?.password_hash ?? (await this.dummyHash),
    );
    const failure: AttemptFailure | null = !row
      ? 'unknown-user'
      : !matches || tooLong
        ? 'wrong-password'
        : row.disabled
          ? 'disabled'
          : null;
    if (failure) {
      this.tx(() => this.auditFailure(name, ip, failure));
      authFail('INVALID_CREDENTIALS', 'wrong user name or password');
    }
    this.db.prepare('DELETE FROM login_attempts WHERE username = ?').run(name);
    return row!;
  }

  /** When the limit on `column` = `value` lets attempts through again; 0 if it does now. */
  private blockedUntil(column: 'username' | 'ip', value: string, max: number, now: number): number {
    const times = this.db
      .prepare(`SELECT at FROM login_attempts WHERE ${column} = ? AND at > ? ORDER BY at DESC LIMIT ?`)
      .pluck()
      .all(value, now - this.limit.windowMs, max) as number[];
    return times.length >= max ? times[max - 1]! + this.limit.windowMs : 0;
  }

  private auditFailure(name: string, ip: string, reason: AttemptFailure): void {
    this.audit.append({
      actor: 'system:auth',
      action: 'auth.login-failed',
      subject: `user:${name}`,
      after: { ip },
      reason,
    });
  }
}

function pick(after: object): { roles?: unknown; disabled?: unknown } {
  const out: { roles?: unknown; disabled?: unknown } = {};
  if ('roles' in after) out.roles = after.roles;
  if ('disabled' in after) out.disabled = after.disabled;
  return out;
}
