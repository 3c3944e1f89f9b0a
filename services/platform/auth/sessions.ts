import { randomBytes } from 'node:crypto';
import { authFail } from './errors.ts';
import { endPasswordLinks } from './independence.ts';
import { hashPassword, verifyPassword } from './password.ts';
import type { Actor } from './roles.ts';
import {
  MAX_PASSWORD_LENGTH,
  NO_PASSWORD,
  parseRoles,
  sha256,
  type UserRow,
  type UserStore,
} from './user-store.ts';

/**
 * Logins and sessions. A wrong password slows the next attempt on that account down, more with
 * each failure but never for longer than `maxDelayMs`: a stranger who knows a supervisor's user
 * name can make them wait seconds, not lock them out (an administrator can also clear the delay).
 * A client address that fails too often is refused for a window, whatever names it tries.
 * Failures are audited once per account and window — the first at once, the rest as one summary —
 * so a flood of wrong passwords cannot flood the audit log.
 */

export interface LoginResult {
  /** The session secret: 32 random bytes, base64url. Only its SHA-256 is stored. */
  token: string;
  actor: Actor;
  /** When the session ends if it is not used again (the idle limit, capped by the absolute one). */
  expiresAt: number;
}

export interface LoginPolicy {
  /** Failures on one account before attempts are slowed down. */
  freeFailures: number;
  /** The first delay; it doubles with each further failure. */
  baseDelayMs: number;
  /** The longest an account's owner can be made to wait. */
  maxDelayMs: number;
  /** Failed attempts allowed per client address within `windowMs`. */
  perIp: number;
  /** The window for the per-address limit and for the audit summary of an account's failures. */
  windowMs: number;
}

export interface LoginStats {
  succeeded: number;
  /** Refused logins by reason: wrong-password, unknown-user, disabled, no-password, rate-limited. */
  refused: Record<string, number>;
}

type AttemptFailure = 'unknown-user' | 'wrong-password' | 'disabled' | 'no-password' | 'rate-limited';

export const SESSIONS_SCHEMA = `
CREATE TABLE IF NOT EXISTS user_sessions (
  token_hash TEXT PRIMARY KEY,
  username TEXT NOT NULL REFERENCES users (username),
  created_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  ip TEXT
);
CREATE INDEX IF NOT EXISTS user_sessions_username ON user_sessions (username);
CREATE TABLE IF NOT EXISTS login_attempts (
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  username TEXT NOT NULL,
  ip TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS login_attempts_username ON login_attempts (username, at);
CREATE INDEX IF NOT EXISTS login_attempts_ip ON login_attempts (ip, at);
CREATE TABLE IF NOT EXISTS login_failures (
  username TEXT PRIMARY KEY,
  failures INTEGER NOT NULL,
  last_at INTEGER NOT NULL,
  window_start INTEGER NOT NULL,
  unaudited INTEGER NOT NULL,
  ips TEXT NOT NULL,
  reasons TEXT NOT NULL
);
`;

interface SessionRow {
  token_hash: string;
  username: string;
  created_at: number;
  last_seen_at: number;
}

interface FailureRow {
  username: string;
  failures: number;
  last_at: number;
  window_start: number;
  unaudited: number;
  ips: string;
  reasons: string;
}

const MINUTE = 60_000;

export class Sessions {
  /** Verified against when the user does not exist, so that the answer takes as long. */
  private dummyHash: Promise<string> | undefined;
  private readonly counts: LoginStats = { succeeded: 0, refused: {} };

  constructor(
    private readonly s: UserStore,
    private readonly cost: number,
    private readonly idleMs: number,
    private readonly maxMs: number,
    private readonly policy: LoginPolicy,
  ) {}

  stats(): LoginStats {
    return { succeeded: this.counts.succeeded, refused: { ...this.counts.refused } };
  }

  async login(username: string, password: string, context: { ip: string }): Promise<LoginResult> {
    const name = username.trim().toLowerCase().slice(0, 64);
    await this.attempt(name, password, context.ip);
    const token = randomBytes(32).toString('base64url');
    return this.s.tx(() => {
      const row = this.s.row(name);
      if (!row || row.disabled) authFail('INVALID_CREDENTIALS', 'wrong user name or password');
      const now = this.s.clock();
      this.s.db
        .prepare('DELETE FROM user_sessions WHERE last_seen_at <= ? OR created_at <= ?')
        .run(now - this.idleMs, now - this.maxMs);
      this.s.db
        .prepare(
          'INSERT INTO user_sessions (token_hash, username, created_at, last_seen_at, ip) VALUES (?, ?, ?, ?, ?)',
        )
        .run(sha256(token), name, now, now, context.ip);
      const expiresAt = Math.min(now + this.idleMs, now + this.maxMs);
      this.s.audit.append({
        actor: name,
        action: 'auth.login',
        subject: `user:${name}`,
        after: { ip: context.ip, expiresAt },
      });
      this.counts.succeeded++;
      return { token, actor: { id: name, kind: 'user', roles: parseRoles(row.roles) }, expiresAt };
    });
  }

  logout(token: string): void {
    const hash = sha256(token);
    this.s.tx(() => {
      const row = this.s.db.prepare('SELECT * FROM user_sessions WHERE token_hash = ?').get(hash) as
        SessionRow | undefined;
      if (!row) return;
      this.s.db.prepare('DELETE FROM user_sessions WHERE token_hash = ?').run(hash);
      this.s.audit.append({ actor: row.username, action: 'auth.logout', subject: `user:${row.username}` });
    });
  }

  /** The actor of a session token, or null when it is not a session's. Throws for an expired one. */
  authenticate(hash: string, now: number): Actor | null {
    const row = this.s.db.prepare('SELECT * FROM user_sessions WHERE token_hash = ?').get(hash) as
      SessionRow | undefined;
    if (!row) return null;
    const idle = now - row.last_seen_at >= this.idleMs;
    if (idle || now - row.created_at >= this.maxMs) {
      this.s.db.prepare('DELETE FROM user_sessions WHERE token_hash = ?').run(hash);
      authFail('UNAUTHENTICATED', `session expired (${idle ? 'unused too long' : 'too old'}); log in again`);
    }
    const user = this.s.row(row.username);
    if (!user || user.disabled) authFail('UNAUTHENTICATED', `user ${row.username} is disabled`);
    // Recording every request would be a disk write per request; a minute's precision will do.
    if (now - row.last_seen_at >= Math.min(MINUTE, this.idleMs / 10)) {
      this.s.db.prepare('UPDATE user_sessions SET last_seen_at = ? WHERE token_hash = ?').run(now, hash);
    }
    return { id: user.username, kind: 'user', roles: parseRoles(user.roles) };
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
    const name = this.s.existingName(actor.id);
    this.s.checkPassword(password, name);
    await this.attempt(name, current, context.ip);
    const hash = await hashPassword(password, this.cost);
    this.s.tx(() => {
      this.s.storePassword(name, name, hash, 'changed by the user');
      // Whoever created or reset the account no longer knows its password (independence.ts).
      endPasswordLinks(this.s.db, name, this.s.clock());
    });
  }

  /** Clears an account's failed-login delay: an administrator's help for a user being slowed down. */
  unlock(by: Actor, username: string, reason?: string): void {
    this.s.assertManager(by);
    const name = this.s.existingName(username);
    this.s.tx(() => {
      this.flush(name, this.s.clock());
      const n = this.s.db.prepare('DELETE FROM login_failures WHERE username = ?').run(name).changes;
      this.s.db.prepare('DELETE FROM login_attempts WHERE username = ?').run(name);
      this.s.audit.append({
        actor: by.id,
        action: 'auth.unlock',
        subject: `user:${name}`,
        after: { cleared: n > 0 },
        reason,
      });
    });
  }

  /** When the account `name` may try again (0: now). */
  retryAt(name: string): number {
    const f = this.failureRow(name);
    return f ? this.nextAllowed(f) : 0;
  }

  /**
   * One password check. The attempt counts before the (slow) check, so parallel guesses count
   * too; a success clears the account's failures. Throws LOGIN_RATE_LIMITED or
   * INVALID_CREDENTIALS.
   */
  private async attempt(name: string, password: string, ip: string): Promise<UserRow> {
    const blockedUntil = this.s.tx(() => {
      const now = this.s.clock();
      this.s.db.prepare('DELETE FROM login_attempts WHERE at <= ?').run(now - this.policy.windowMs);
      const account = this.failureRow(name);
      const until = Math.max(account ? this.nextAllowed(account) : 0, this.ipBlockedUntil(ip, now));
      if (until > now) {
        this.fail(name, ip, 'rate-limited', now);
        return until;
      }
      // Counted now, as a failure until the check says otherwise.
      this.s.db.prepare('INSERT INTO login_attempts (at, username, ip) VALUES (?, ?, ?)').run(now, name, ip);
      this.bump(name, ip, now);
      return null;
    });
    if (blockedUntil !== null) {
      this.refused('rate-limited');
      const seconds = Math.ceil((blockedUntil - this.s.clock()) / 1000);
      authFail('LOGIN_RATE_LIMITED', `too many failed logins; try again in ${seconds} s`);
    }
    const row = this.s.row(name);
    const tooLong = typeof password !== 'string' || password.length > MAX_PASSWORD_LENGTH;
    this.dummyHash ??= hashPassword(randomBytes(16).toString('hex'), this.cost);
    const noPassword = row?.password_hash === NO_PASSWORD;
    const matches =
      !noPassword &&
      (await verifyPassword(tooLong ? '' : password, row?.password_hash ?? (await this.dummyHash)));
    const failure: AttemptFailure | null = !row
      ? 'unknown-user'
      : noPassword
        ? 'no-password'
        : !matches || tooLong
          ? 'wrong-password'
          : row.disabled
            ? 'disabled'
            : null;
    if (failure) {
      this.s.tx(() => this.fail(name, ip, failure, this.s.clock()));
      this.refused(failure);
      authFail('INVALID_CREDENTIALS', 'wrong user name or password');
    }
    this.s.tx(() => {
      const now = this.s.clock();
      this.s.db.prepare('DELETE FROM login_attempts WHERE username = ?').run(name);
      const f = this.failureRow(name);
      if (f) {
        // The attempt was counted as a failure before the check: it was not one.
        this.s.db
          .prepare(
            'UPDATE login_failures SET failures = failures - 1, unaudited = max(unaudited - 1, 0) WHERE username = ?',
          )
          .run(name);
        this.flush(name, now);
        this.s.db.prepare('DELETE FROM login_failures WHERE username = ?').run(name);
      }
    });
    return row!;
  }

  private refused(reason: AttemptFailure): void {
    this.counts.refused[reason] = (this.counts.refused[reason] ?? 0) + 1;
  }

  private failureRow(name: string): FailureRow | undefined {
    return this.s.db.prepare('SELECT * FROM login_failures WHERE username = ?').get(name) as
      FailureRow | undefined;
  }

  private nextAllowed(f: FailureRow): number {
    const over = f.failures - this.policy.freeFailures;
    if (over < 0) return 0;
    const delay = Math.min(this.policy.baseDelayMs * 2 ** Math.min(over, 30), this.policy.maxDelayMs);
    return f.last_at + delay;
  }

  private ipBlockedUntil(ip: string, now: number): number {
    const times = this.s.db
      .prepare('SELECT at FROM login_attempts WHERE ip = ? AND at > ? ORDER BY at DESC LIMIT ?')
      .pluck()
      .all(ip, now - this.policy.windowMs, this.policy.perIp) as number[];
    return times.length >= this.policy.perIp ? times[this.policy.perIp - 1]! + this.policy.windowMs : 0;
  }

  /** Counts an attempt against the account before its check (undone on success). */
  private bump(name: string, ip: string, now: number): void {
    this.rollWindow(name, now);
    this.s.db
      .prepare(
        `INSERT INTO login_failures (username, failures, last_at, window_start, unaudited, ips, reasons)
         VALUES (?, 1, ?, ?, 0, ?, '{}')
         ON CONFLICT (username) DO UPDATE SET failures = failures + 1, last_at = excluded.last_at`,
      )
      .run(name, now, now, JSON.stringify([ip]));
  }

  /**
   * Records a failure's reason and address. The first failure of an account's window is audited
   * at once; later ones in the same window are summed into one entry when the window closes.
   */
  private fail(name: string, ip: string, reason: AttemptFailure, now: number): void {
    this.rollWindow(name, now);
    let f = this.failureRow(name);
    if (!f) {
      this.s.db
        .prepare(
          `INSERT INTO login_failures (username, failures, last_at, window_start, unaudited, ips, reasons)
           VALUES (?, 0, ?, ?, 0, '[]', '{}')`,
        )
        .run(name, now, now);
      f = this.failureRow(name)!;
    }
    const ips = JSON.parse(f.ips) as string[];
    if (!ips.includes(ip) && ips.length < 20) ips.push(ip);
    const reasons = JSON.parse(f.reasons) as Record<string, number>;
    reasons[reason] = (reasons[reason] ?? 0) + 1;
    const first = Object.values(reasons).reduce((a, b) => a + b, 0) === 1;
    this.s.db
      .prepare('UPDATE login_failures SET ips = ?, reasons = ?, unaudited = ? WHERE username = ?')
      .run(JSON.stringify(ips), JSON.stringify(reasons), first ? 0 : f.unaudited + 1, name);
    if (first) {
      this.s.audit.append({
        actor: 'system:auth',
        action: 'auth.login-failed',
        subject: `user:${name}`,
        after: { ip },
        reason,
      });
    }
  }

  /** Closes the account's audit window when it has passed, writing its summary. */
  private rollWindow(name: string, now: number): void {
    const f = this.failureRow(name);
    if (!f || now - f.window_start < this.policy.windowMs) return;
    this.flush(name, now);
    this.s.db
      .prepare(
        "UPDATE login_failures SET window_start = ?, unaudited = 0, ips = '[]', reasons = '{}' WHERE username = ?",
      )
      .run(now, name);
  }

  /** Writes one entry for the failures of the window not audited yet. */
  private flush(name: string, now: number): void {
    const f = this.failureRow(name);
    if (!f || f.unaudited <= 0) return;
    this.s.audit.append({
      actor: 'system:auth',
      action: 'auth.login-failures',
      subject: `user:${name}`,
      after: {
        failures: f.unaudited,
        from: f.window_start,
        to: now,
        ips: JSON.parse(f.ips) as string[],
        reasons: JSON.parse(f.reasons) as Record<string, number>,
      },
    });
    this.s.db.prepare('UPDATE login_failures SET unaudited = 0 WHERE username = ?').run(name);
  }
}
