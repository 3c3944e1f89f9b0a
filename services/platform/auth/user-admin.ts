import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { ApiTokenInfo, ApiTokens, TokenRequest } from './api-tokens.ts';
import { authFail } from './errors.ts';
import { hashPassword } from './password.ts';
import { assertIndependent } from './independence.ts';
import type { Actor, Role } from './roles.ts';
import { NO_PASSWORD, sha256, toUser, type User, type UserStore } from './user-store.ts';

/**
 * User administration under four eyes. Whatever gives an account power — creating a user,
 * granting a role, re-enabling an account, resetting a password, issuing an API token — is
 * proposed by one administrator and takes effect when a second, independent administrator
 * approves it. Taking power away (removing a role, disabling, revoking a token) is immediate.
 *
 * Nobody who administers an account learns its password: a new account and a reset one get a
 * one-time code, shown to the approver (never to the proposer), which the user redeems to set a
 * password of their own. Both administrators are linked to the account (independence.ts: a
 * creation or reset until the holder changes the password themselves, a role grant or re-enabling
 * for the link window), so neither can use it as their second person.
 */

export type UserRequestKind = 'create' | 'roles' | 'enable' | 'reset' | 'token';
export type UserRequestState = 'pending' | 'approved' | 'rejected' | 'cancelled';

export interface UserRequest {
  id: number;
  kind: UserRequestKind;
  /** `user:<name>` or `token:<name>`. */
  subject: string;
  /** What the request would do: the new user, the roles, the token. Never a secret. */
  change: Record<string, unknown>;
  reason: string | null;
  requestedBy: string;
  requestedAt: number;
  state: UserRequestState;
  decidedBy: string | null;
  decidedAt: number | null;
}

/** What an approval hands to the approver, once: the one-time code or the token's secret. */
export interface UserRequestOutcome {
  request: UserRequest;
  user?: User;
  /** For a new or reset account: the code its owner redeems to set a password. */
  oneTimeCode?: { username: string; code: string; expiresAt: number };
  /** For a token: its secret, shown this once. */
  token?: { token: string; info: ApiTokenInfo };
}

export const USER_ADMIN_SCHEMA = `
CREATE TABLE IF NOT EXISTS user_requests (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  subject TEXT NOT NULL,
  change TEXT NOT NULL,
  reason TEXT,
  requested_by TEXT NOT NULL,
  requested_at INTEGER NOT NULL,
  state TEXT NOT NULL,
  decided_by TEXT,
  decided_at INTEGER
);
CREATE TABLE IF NOT EXISTS password_codes (
  username TEXT PRIMARY KEY,
  code_hash TEXT NOT NULL,
  issued_by TEXT NOT NULL,
  issued_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  tries INTEGER NOT NULL DEFAULT 0
);
`;

interface RequestRow {
  id: number;
  kind: UserRequestKind;
  subject: string;
  change: string;
  reason: string | null;
  requested_by: string;
  requested_at: number;
  state: UserRequestState;
  decided_by: string | null;
  decided_at: number | null;
}

const DAY = 86_400_000;
/** A request nobody decided within this long can no longer be approved. */
const REQUEST_TTL_MS = 7 * DAY;
/** How long a one-time code can be redeemed. */
const CODE_TTL_MS = 3 * DAY;
/** Wrong codes before a code is void (a new reset is needed). */
const CODE_TRIES = 5;

function toRequest(r: RequestRow): UserRequest {
  return {
    id: r.id,
    kind: r.kind,
    subject: r.subject,
    change: JSON.parse(r.change) as Record<string, unknown>,
    reason: r.reason,
    requestedBy: r.requested_by,
    requestedAt: r.requested_at,
    state: r.state,
    decidedBy: r.decided_by,
    decidedAt: r.decided_at,
  };
}

export class UserAdmin {
  constructor(
    private readonly s: UserStore,
    private readonly tokens: ApiTokens,
    private readonly cost: number,
  ) {}

  // ---- proposals ---------------------------------------------------------------------------

  proposeUser(
    by: Actor,
    input: { username: string; displayName: string; roles: readonly Role[] },
    reason?: string,
  ) {
    this.s.assertManager(by);
    const name = this.s.validName(input.username);
    const displayName = this.s.validDisplayName(input.displayName);
    const roles = this.s.validRoles(input.roles, `user ${name}`);
    if (this.s.row(name)) authFail('USER_EXISTS', `user ${name} exists`);
    this.assertNoPending(`user:${name}`, 'create');
    return this.insert(by, 'create', `user:${name}`, { username: name, displayName, roles }, reason);
  }

  /**
   * Replaces a user's roles. Only removing roles takes effect at once; adding any role is a
   * request for a second administrator.
   */
  setRoles(by: Actor, username: string, roles: readonly Role[], reason?: string): User | UserRequest {
    this.s.assertManager(by);
    const name = this.s.existingName(username);
    if (name === by.id) authFail('SELF_ROLE_CHANGE', `${by.id} may not change their own roles`);
    const next = this.s.validRoles(roles, `user ${name}`);
    const current = toUser(this.s.row(name)!).roles;
    if (current.includes('admin') && !next.includes('admin')) this.s.assertOtherAdmin(name);
    if (next.every((r) => current.includes(r))) {
      return this.s.tx(() => this.s.updateRoles(by.id, name, next, reason));
    }
    this.assertNoPending(`user:${name}`, 'roles');
    return this.insert(by, 'roles', `user:${name}`, { username: name, roles: next, before: current }, reason);
  }

  disable(by: Actor, username: string, reason?: string): User {
    this.s.assertManager(by);
    const name = this.s.existingName(username);
    if (name === by.id) authFail('SELF_ROLE_CHANGE', `${by.id} may not disable themselves`);
    return this.s.tx(() => this.s.setDisabled(by.id, name, true, reason));
  }

  proposeEnable(by: Actor, username: string, reason?: string): UserRequest | User {
    this.s.assertManager(by);
    const name = this.s.existingName(username);
    if (name === by.id) authFail('SELF_ROLE_CHANGE', `${by.id} may not enable themselves`);
    const user = toUser(this.s.row(name)!);
    if (!user.disabled) return user;
    this.assertNoPending(`user:${name}`, 'enable');
    return this.insert(by, 'enable', `user:${name}`, { username: name }, reason);
  }

  proposeReset(by: Actor, username: string, reason?: string): UserRequest {
    this.s.assertManager(by);
    const name = this.s.existingName(username);
    if (name === by.id) {
      authFail('SELF_ROLE_CHANGE', `${by.id} changes their own password with their current one`);
    }
    this.assertNoPending(`user:${name}`, 'reset');
    return this.insert(by, 'reset', `user:${name}`, { username: name }, reason);
  }

  proposeToken(by: Actor, input: TokenRequest, reason?: string): UserRequest {
    this.s.assertManager(by);
    const v = this.tokens.validate(input);
    this.assertNoPending(`token:${v.name}`, 'token');
    return this.insert(by, 'token', `token:${v.name}`, { ...v }, reason);
  }

  // ---- decisions ---------------------------------------------------------------------------

  /** A second, independent administrator approves: the change takes effect now. */
  async approve(by: Actor, id: number): Promise<UserRequestOutcome> {
    const req = this.pending(id);
    this.assertSecondAdmin(by, req, 'approve it');
    // Hashing is slow: done before the transaction, for the codes that need it.
    const code =
      req.kind === 'create' || req.kind === 'reset' ? randomBytes(18).toString('base64url') : undefined;
    return this.s.tx(() => {
      const fresh = this.pending(id);
      this.assertSecondAdmin(by, fresh, 'approve it');
      const outcome = this.apply(by, fresh, code);
      this.decide(fresh, by, 'approved');
      return { ...outcome, request: this.get(id) };
    });
  }

  reject(by: Actor, id: number, reason?: string): UserRequest {
    const req = this.pending(id);
    this.assertSecondAdmin(by, req, 'reject it (the proposer cancels instead)');
    return this.s.tx(() => this.decide(this.pending(id), by, 'rejected', reason));
  }

  cancel(by: Actor, id: number, reason?: string): UserRequest {
    this.s.assertManager(by);
    const req = this.pending(id);
    if (req.requestedBy !== by.id)
      authFail('FORBIDDEN', `only ${req.requestedBy}, who proposed it, may cancel request ${id}`);
    return this.s.tx(() => this.decide(this.pending(id), by, 'cancelled', reason));
  }

  list(by: Actor, state?: UserRequestState): UserRequest[] {
    this.s.assertManager(by);
    const rows = (
      state
        ? this.s.db.prepare('SELECT * FROM user_requests WHERE state = ? ORDER BY id').all(state)
        : this.s.db.prepare('SELECT * FROM user_requests ORDER BY id').all()
    ) as RequestRow[];
    return rows.map(toRequest);
  }

  get(id: number): UserRequest {
    const row = this.s.db.prepare('SELECT * FROM user_requests WHERE id = ?').get(id) as
      RequestRow | undefined;
    if (!row) authFail('REQUEST_NOT_FOUND', `no user administration request ${id}`);
    return toRequest(row);
  }

  // ---- one-time codes ----------------------------------------------------------------------

  /**
   * The user sets their own password with the one-time code an administrator handed them. Five
   * wrong codes void it. Public: the user has no session yet.
   */
  async redeem(username: string, code: string, password: string): Promise<void> {
    const name = typeof username === 'string' ? username.trim().toLowerCase() : '';
    this.s.checkPassword(password, name);
    const hash = await hashPassword(password, this.cost);
    const ok = this.s.tx(() => {
      const now = this.s.clock();
      const row = this.s.db.prepare('SELECT * FROM password_codes WHERE username = ?').get(name) as
        { code_hash: string; expires_at: number; tries: number } | undefined;
      const given = Buffer.from(sha256(typeof code === 'string' ? code.trim() : ''), 'hex');
      const valid =
        row !== undefined &&
        row.expires_at > now &&
        row.tries < CODE_TRIES &&
        timingSafeEqual(given, Buffer.from(row.code_hash, 'hex'));
      if (!valid) {
        // Counted even though the request is refused: the transaction commits the try.
        if (row)
          this.s.db.prepare('UPDATE password_codes SET tries = tries + 1 WHERE username = ?').run(name);
        return false;
      }
      this.s.db.prepare('DELETE FROM password_codes WHERE username = ?').run(name);
      this.s.storePassword(name, name, hash, 'set by the user with a one-time code');
      return true;
    });
    if (!ok)
      authFail('INVALID_CODE', 'wrong, used or expired one-time code; ask an administrator for a new reset');
  }

  // ---- internals ---------------------------------------------------------------------------

  private apply(by: Actor, req: UserRequest, code: string | undefined): Omit<UserRequestOutcome, 'request'> {
    const c = req.change;
    const who = [req.requestedBy, by.id];
    const name = String(c.username ?? '');
    switch (req.kind) {
      case 'create': {
        if (this.s.row(name)) authFail('USER_EXISTS', `user ${name} exists`);
        const roles = this.s.validRoles(c.roles as Role[], `user ${name}`);
        const user = this.s.insertUser(
          req.requestedBy,
          name,
          String(c.displayName),
          roles,
          NO_PASSWORD,
          req.reason ?? undefined,
        );
        this.s.link(name, who, 'user.create');
        return { user, oneTimeCode: this.issueCode(name, code!, by.id) };
      }
      case 'roles': {
        const user = this.s.updateRoles(
          req.requestedBy,
          name,
          this.s.validRoles(c.roles as Role[], `user ${name}`),
          req.reason ?? undefined,
        );
        this.s.link(name, who, 'user.roles');
        return { user };
      }
      case 'enable': {
        const user = this.s.setDisabled(req.requestedBy, name, false, req.reason ?? undefined);
        this.s.link(name, who, 'user.enable');
        return { user };
      }
      case 'reset': {
        this.s.storePassword(req.requestedBy, name, NO_PASSWORD, req.reason ?? 'reset');
        this.s.link(name, who, 'user.password');
        return { user: toUser(this.s.row(name)!), oneTimeCode: this.issueCode(name, code!, by.id) };
      }
      case 'token':
        return { token: this.tokens.issue(req.requestedBy, req.requestedBy, c as unknown as TokenRequest) };
    }
  }

  private issueCode(
    name: string,
    code: string,
    by: string,
  ): { username: string; code: string; expiresAt: number } {
    const now = this.s.clock();
    const expiresAt = now + CODE_TTL_MS;
    this.s.db
      .prepare(
        `INSERT INTO password_codes (username, code_hash, issued_by, issued_at, expires_at, tries) VALUES (?, ?, ?, ?, ?, 0)
         ON CONFLICT (username) DO UPDATE SET code_hash = excluded.code_hash, issued_by = excluded.issued_by,
           issued_at = excluded.issued_at, expires_at = excluded.expires_at, tries = 0`,
      )
      .run(name, sha256(code), by, now, expiresAt);
    return { username: name, code, expiresAt };
  }

  private assertSecondAdmin(by: Actor, req: UserRequest, what: string): void {
    this.s.assertManager(by);
    if (req.requestedBy === by.id) {
      authFail(
        'SELF_APPROVAL',
        `${by.id} proposed request ${req.id} and may not also ${what}; another administrator must`,
      );
    }
    if (req.subject === `user:${by.id}`) {
      authFail('SELF_ROLE_CHANGE', `request ${req.id} is about ${by.id}; another administrator must ${what}`);
    }
    assertIndependent(this.s.db, req.requestedBy, by, what, this.s.clock());
  }

  private pending(id: number): UserRequest {
    const req = this.get(id);
    if (req.state !== 'pending') authFail('REQUEST_NOT_PENDING', `request ${id} is ${req.state}`);
    if (this.s.clock() - req.requestedAt > REQUEST_TTL_MS) {
      authFail('REQUEST_NOT_PENDING', `request ${id} expired unanswered; propose it again`);
    }
    return req;
  }

  private assertNoPending(subject: string, kind: UserRequestKind): void {
    const open = this.s.db
      .prepare(
        "SELECT id FROM user_requests WHERE subject = ? AND kind = ? AND state = 'pending' AND requested_at > ?",
      )
      .pluck()
      .get(subject, kind, this.s.clock() - REQUEST_TTL_MS) as number | undefined;
    if (open !== undefined)
      authFail('REQUEST_PENDING', `request ${open} for ${subject} (${kind}) is waiting already`);
  }

  private insert(
    by: Actor,
    kind: UserRequestKind,
    subject: string,
    change: Record<string, unknown>,
    reason?: string,
  ): UserRequest {
    return this.s.tx(() => {
      const now = this.s.clock();
      const id = Number(
        this.s.db
          .prepare(
            `INSERT INTO user_requests (kind, subject, change, reason, requested_by, requested_at, state)
             VALUES (?, ?, ?, ?, ?, ?, 'pending')`,
          )
          .run(kind, subject, JSON.stringify(change), reason ?? null, by.id, now).lastInsertRowid,
      );
      this.s.audit.append({
        actor: by.id,
        action: `user-request.${kind}`,
        subject,
        after: { request: id, ...change },
        reason,
      });
      return this.get(id);
    });
  }

  private decide(req: UserRequest, by: Actor, state: UserRequestState, reason?: string): UserRequest {
    this.s.db
      .prepare('UPDATE user_requests SET state = ?, decided_by = ?, decided_at = ? WHERE id = ?')
      .run(state, by.id, this.s.clock(), req.id);
    this.s.audit.append({
      actor: by.id,
      action: `user-request.${state}`,
      subject: req.subject,
      before: { state: 'pending' },
      after: { request: req.id, kind: req.kind, state },
      reason,
    });
    return this.get(req.id);
  }
}
