import type { AuditLog } from '../audit/audit-log.ts';
import type { BackofficeDb, Clock } from '../db.ts';
import {
  ApiTokens,
  TOKENS_SCHEMA,
  toToken,
  type ApiTokenInfo,
  type TokenRequest,
  type TokenRow,
} from './api-tokens.ts';
import { authFail } from './errors.ts';
import { DEFAULT_LINK_DAYS, liveLinks, migrateLinks, type AccountLink } from './independence.ts';
import { DEFAULT_SCRYPT_COST, hashPassword, isValidCost } from './password.ts';
import type { Actor, Role } from './roles.ts';
import {
  Sessions,
  SESSIONS_SCHEMA,
  type LoginPolicy,
  type LoginResult,
  type LoginStats,
} from './sessions.ts';
import {
  USER_ADMIN_SCHEMA,
  UserAdmin,
  type UserRequest,
  type UserRequestOutcome,
  type UserRequestState,
} from './user-admin.ts';
import {
  parseRoles,
  sha256,
  toUser,
  USERS_SCHEMA,
  UserStore,
  type User,
  type UserRow,
} from './user-store.ts';

export type { ApiTokenInfo, LoginResult, LoginStats, User, UserRequest, UserRequestOutcome };

/**
 * Users, their sessions and machines' API tokens, in the back-office database: the one entry
 * point the API, the CLI and the other services use. Every change to a user or a token is written
 * to the audit log in the same transaction, without the password or any hash of it; logins and
 * failed logins are audited too. Users and tokens are never deleted (disabled or revoked instead),
 * so an actor id in the audit log always names one user or token.
 *
 * The parts: user-store.ts (the users table), sessions.ts (logins, sessions, the failed-login
 * delay), api-tokens.ts, user-admin.ts (administration under four eyes), independence.ts (which
 * accounts one person stands behind).
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
  /** The failed-login delay per account and the limit per client address (sessions.ts). */
  loginPolicy?: Partial<LoginPolicy>;
  minPasswordLength?: number;
  /**
   * Days during which an account that someone re-enabled or granted a role to counts as theirs:
   * it cannot be the second person of an act they are the first of. Creating or resetting it links
   * it until its holder sets their own password, whatever this says (independence.ts).
   */
  linkDays?: number;
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
  loginPolicy: { freeFailures: 3, baseDelayMs: 1000, maxDelayMs: 30_000, perIp: 20, windowMs: 15 * MINUTE },
  minPasswordLength: 12,
};

export class Users {
  private readonly db: BackofficeDb;
  private readonly audit: AuditLog;
  private readonly clock: Clock;
  private readonly cost: number;
  private readonly store: UserStore;
  private readonly sessions: Sessions;
  private readonly tokens: ApiTokens;
  private readonly admin: UserAdmin;

  constructor(options: UsersOptions) {
    this.db = options.db;
    this.audit = options.audit;
    this.clock = options.clock ?? Date.now;
    this.cost = options.scryptCost ?? DEFAULT_SCRYPT_COST;
    if (!isValidCost(this.cost)) throw new Error(`scryptCost must be a power of two, not ${this.cost}`);
    this.store = new UserStore(
      this.db,
      this.audit,
      this.clock,
      options.minPasswordLength ?? DEFAULTS.minPasswordLength,
      options.linkDays ?? DEFAULT_LINK_DAYS,
    );
    this.sessions = new Sessions(
      this.store,
      this.cost,
      options.sessionIdleMs ?? DEFAULTS.sessionIdleMs,
      options.sessionMaxMs ?? DEFAULTS.sessionMaxMs,
      { ...DEFAULTS.loginPolicy, ...options.loginPolicy },
    );
    this.tokens = new ApiTokens(this.store);
    this.admin = new UserAdmin(this.store, this.tokens, this.cost);
    // Read-only: `audit verify` checks these tables against the log without touching the file.
    if (!this.db.readonly) {
      this.db.exec(USERS_SCHEMA + SESSIONS_SCHEMA + TOKENS_SCHEMA + USER_ADMIN_SCHEMA);
      migrateLinks(this.db);
    }
  }

  // ---- users set up by the system ----------------------------------------------------------

  /** The first administrator, on first start only: refused once any user exists. */
  async bootstrapAdmin(username: string, password: string, displayName = 'Administrator'): Promise<User> {
    if (this.store.userCount() > 0)
      authFail('ALREADY_BOOTSTRAPPED', 'there are users already; an administrator adds more');
    const s = this.store;
    const name = s.validName(username);
    const display = s.validDisplayName(displayName);
    s.checkPassword(password, name);
    const hash = await hashPassword(password, this.cost);
    return s.tx(() => {
      if (s.userCount() > 0)
        authFail('ALREADY_BOOTSTRAPPED', 'there are users already; an administrator adds more');
      return s.insertUser('system:bootstrap', name, display, ['admin'], hash, 'first start');
    });
  }

  /**
   * A user set up by the system itself, with a password: the demo's staff, the second
   * administrator added on the server's console (`campus-energy users provision`), tests. Not
   * reachable over HTTP; a person with a shell on the server can change the database anyway, and
   * the audit log says `system:<by>` did it.
   */
  async provisionUser(
    input: { username: string; displayName: string; roles: readonly Role[]; password: string },
    by = 'system:provision',
  ): Promise<User> {
    if (!by.startsWith('system:')) throw new Error(`provisionUser is for the system, not ${by}`);
    const s = this.store;
    const name = s.validName(input.username);
    const display = s.validDisplayName(input.displayName);
    const roles = s.validRoles(input.roles, `user ${name}`);
    s.checkPassword(input.password, name);
    if (s.row(name)) authFail('USER_EXISTS', `user ${name} exists`);
    const hash = await hashPassword(input.password, this.cost);
    return s.tx(() => {
      if (s.row(name)) authFail('USER_EXISTS', `user ${name} exists`);
      return s.insertUser(by, name, display, roles, hash);
    });
  }

  // ---- administration under four eyes (user-admin.ts) ---------------------------------------

  /** Proposes a new user; a second administrator's approval creates it with a one-time code. */
  proposeUser(
    by: Actor,
    input: { username: string; displayName: string; roles: readonly Role[] },
    reason?: string,
  ): UserRequest {
    return this.admin.proposeUser(by, input, reason);
  }

  /** Removing roles takes effect now; adding one is a request (returned) for a second administrator. */
  setRoles(by: Actor, username: string, roles: readonly Role[], reason?: string): User | UserRequest {
    return this.admin.setRoles(by, username, roles, reason);
  }

  /** Disables a user and ends their sessions, at once. */
  disable(by: Actor, username: string, reason?: string): User {
    return this.admin.disable(by, username, reason);
  }

  /** Re-enabling is a request for a second administrator (the user is returned if enabled already). */
  enable(by: Actor, username: string, reason?: string): User | UserRequest {
    return this.admin.proposeEnable(by, username, reason);
  }

  /** Proposes a password reset; on approval the old password stops working and a one-time code is issued. */
  resetPassword(by: Actor, username: string, reason?: string): UserRequest {
    return this.admin.proposeReset(by, username, reason);
  }

  /** Proposes an API token; on approval its secret is shown once, to the approver. */
  createApiToken(by: Actor, input: TokenRequest, reason?: string): UserRequest {
    return this.admin.proposeToken(by, input, reason);
  }

  approveRequest(by: Actor, id: number): Promise<UserRequestOutcome> {
    return this.admin.approve(by, id);
  }

  rejectRequest(by: Actor, id: number, reason?: string): UserRequest {
    return this.admin.reject(by, id, reason);
  }

  cancelRequest(by: Actor, id: number, reason?: string): UserRequest {
    return this.admin.cancel(by, id, reason);
  }

  listRequests(by: Actor, state?: UserRequestState): UserRequest[] {
    return this.admin.list(by, state);
  }

  /** The user sets their own password with the one-time code an administrator gave them. */
  redeemCode(username: string, code: string, password: string): Promise<void> {
    return this.admin.redeem(username, code, password);
  }

  async changePassword(
    actor: Actor,
    current: string,
    password: string,
    context: { ip: string },
  ): Promise<void> {
    return this.sessions.changePassword(actor, current, password, context);
  }

  getUser(username: string): User | null {
    const r = this.store.row(username.trim().toLowerCase());
    return r ? toUser(r) : null;
  }

  /** Every user, each with the links to their administrators still in force (four eyes). */
  listUsers(by: Actor): (User & { links: AccountLink[] })[] {
    this.store.assertManager(by);
    const links = liveLinks(this.db, this.clock());
    return (this.db.prepare('SELECT * FROM users ORDER BY username').all() as UserRow[]).map((r) => ({
      ...toUser(r),
      links: links.get(r.username) ?? [],
    }));
  }

  // ---- sessions (sessions.ts) ---------------------------------------------------------------

  login(username: string, password: string, context: { ip: string }): Promise<LoginResult> {
    return this.sessions.login(username, password, context);
  }

  logout(token: string): void {
    this.sessions.logout(token);
  }

  /** Clears a user's failed-login delay. */
  unlock(by: Actor, username: string, reason?: string): void {
    this.sessions.unlock(by, username, reason);
  }

  /** Logins since start, and refused ones by reason, for /metrics. */
  loginStats(): LoginStats {
    return this.sessions.stats();
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
    const actor = this.sessions.authenticate(hash, now) ?? this.tokens.authenticate(hash, now);
    if (!actor) authFail('UNAUTHENTICATED', 'unknown or expired session; log in again');
    return actor;
  }

  // ---- API tokens (api-tokens.ts) -----------------------------------------------------------

  revokeApiToken(by: Actor, name: string, reason?: string): void {
    this.tokens.revoke(by, name, reason);
  }

  listApiTokens(by: Actor): ApiTokenInfo[] {
    return this.tokens.list(by);
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
}

function pick(after: object): { roles?: unknown; disabled?: unknown } {
  const out: { roles?: unknown; disabled?: unknown } = {};
  if ('roles' in after) out.roles = after.roles;
  if ('disabled' in after) out.disabled = after.disabled;
  return out;
}
