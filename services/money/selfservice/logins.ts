import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import type { AuditLog } from '../../platform/audit/audit-log.ts';
import { can, type Actor } from '../../platform/auth/roles.ts';
import { hashPassword, verifyPassword } from '../../platform/auth/password.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import { ServiceError } from '../../platform/errors.ts';
import type { Prepaid } from '../prepaid/prepaid.ts';
import { refuseSelf } from './errors.ts';
import { SELF_SERVICE_SCHEMA } from './schema.ts';

/**
 * Customers' sign-in. The business office issues a sign-in name for an account with a one-time
 * code (shown once, to the clerk who hands it over; only its hash is kept); the customer sets a
 * password with it. A new code (a forgotten password) ends every session of that name. Wrong
 * passwords slow that name down (doubling from the fifth, at most 15 minutes); the first delay of
 * a run is audited, so an insider trying a customer's password leaves a trace.
 */

export interface CustomerLoginsOptions {
  db: BackofficeDb;
  audit: AuditLog;
  prepaid: Prepaid;
  clock?: Clock;
  codeTtlMs: number;
  sessionIdleMs: number;
  sessionMaxMs: number;
  /** scrypt N (tests pass a low one). */
  scryptCost?: number;
}

/** Who a customer session is: a sign-in name and the one account it may see. */
export interface Customer {
  username: string;
  account: string;
  email: string | null;
  language: 'zh' | 'en';
}

export interface IssuedCode {
  username: string;
  account: string;
  code: string;
  expiresAt: number;
}

interface LoginRow {
  username: string;
  account_id: string;
  email: string | null;
  language: 'zh' | 'en';
  password_hash: string | null;
  code_hash: string | null;
  code_expires_at: number | null;
  code_tries: number;
  failures: number;
  last_failure_at: number | null;
  disabled: number;
}

const FREE_FAILURES = 5;
const MAX_DELAY_MS = 15 * 60_000;
const CODE_TRIES = 5;
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$/;

/** A code a person reads out or types on a phone: 10 digits in two groups. */
function newCode(): string {
  const d = () => String(randomInt(0, 100_000)).padStart(5, '0');
  return `${d()}-${d()}`;
}

export class CustomerLogins {
  private readonly clock: Clock;

  constructor(private readonly o: CustomerLoginsOptions) {
    this.clock = o.clock ?? Date.now;
    o.db.exec(SELF_SERVICE_SCHEMA);
  }

  /**
   * A clerk issues (or re-issues) a sign-in for an account: the code is returned once. Re-issuing
   * for an existing name keeps its account (a name never moves to another account) and ends its
   * sessions.
   */
  issueCode(
    by: Actor,
    input: { account: string; username: string; email?: string; language?: 'zh' | 'en' },
  ): IssuedCode {
    if (!can(by, 'accounts.open')) {
      throw new ServiceError('FORBIDDEN', 403, `${by.id} may not issue customer sign-ins (accounts.open)`);
    }
    if (!USERNAME.test(input.username)) {
      refuseSelf(
        'INVALID_REQUEST',
        'username: 3–64 letters, digits, ".", "_" or "-", starting with a letter or digit',
      );
    }
    const account = this.o.prepaid.account(input.account);
    const code = newCode();
    const now = this.clock();
    const expiresAt = now + this.o.codeTtlMs;
    this.o.db.transaction(() => {
      const existing = this.row(input.username);
      if (existing && existing.account_id !== account.id) {
        refuseSelf('LOGIN_NAME_TAKEN', `sign-in name ${input.username} belongs to another account`);
      }
      if (existing) {
        this.o.db
          .prepare(
            `UPDATE customer_logins SET code_hash = ?, code_expires_at = ?, code_tries = 0, issued_by = ?, issued_at = ?,
               email = COALESCE(?, email), language = COALESCE(?, language), disabled = 0, failures = 0 WHERE username = ?`,
          )
          .run(
            sha256(code),
            expiresAt,
            by.id,
            now,
            input.email ?? null,
            input.language ?? null,
            input.username,
          );
        this.o.db.prepare('DELETE FROM customer_sessions WHERE username = ?').run(input.username);
      } else {
        this.o.db
          .prepare(
            `INSERT INTO customer_logins (username, account_id, email, language, code_hash, code_expires_at, issued_by, issued_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(
            input.username,
            account.id,
            input.email ?? null,
            input.language ?? 'zh',
            sha256(code),
            expiresAt,
            by.id,
            now,
          );
      }
      this.o.audit.append({
        actor: by.id,
        action: existing ? 'customer.code-reissued' : 'customer.code-issued',
        subject: `customer:${input.username}`,
        after: { account: account.id, email: input.email ?? existing?.email ?? null, expiresAt },
      });
    })();
    return { username: input.username, account: account.id, code, expiresAt };
  }

  /** The customer sets a password with the code (public: there is no session yet). */
  async redeem(username: string, code: string, password: string): Promise<void> {
    assertPassword(username, password);
    const hash = await hashPassword(password, this.o.scryptCost);
    this.o.db.transaction(() => {
      const r = this.row(username);
      const given = Buffer.from(sha256(String(code).trim()), 'hex');
      const ok =
        r !== undefined &&
        r.disabled === 0 &&
        r.code_hash !== null &&
        (r.code_expires_at ?? 0) > this.clock() &&
        r.code_tries < CODE_TRIES &&
        timingSafeEqual(given, Buffer.from(r.code_hash, 'hex'));
      if (!ok) {
        if (r?.code_hash)
          this.o.db
            .prepare('UPDATE customer_logins SET code_tries = code_tries + 1 WHERE username = ?')
            .run(username);
        return;
      }
      this.o.db
        .prepare(
          'UPDATE customer_logins SET password_hash = ?, code_hash = NULL, code_expires_at = NULL, failures = 0 WHERE username = ?',
        )
        .run(hash, username);
      this.o.audit.append({
        actor: `customer:${username}`,
        action: 'customer.password-set',
        subject: `customer:${username}`,
        after: { account: r.account_id },
      });
    })();
    // The transaction above commits the spent try before the refusal is thrown.
    if (this.row(username)?.password_hash !== hash)
      refuseSelf('INVALID_CODE', 'wrong, used or expired one-time code');
  }

  /** Signs in: a session token (only its hash is stored) for the cookie. */
  async login(
    username: string,
    password: string,
    ip = '',
  ): Promise<{ token: string; customer: Customer; expiresAt: number }> {
    const r = typeof username === 'string' ? this.row(username) : undefined;
    const now = this.clock();
    if (r && r.failures >= FREE_FAILURES && r.last_failure_at !== null) {
      const wait =
        r.last_failure_at + Math.min(MAX_DELAY_MS, 1000 * 2 ** (r.failures - FREE_FAILURES + 2)) - now;
      if (wait > 0)
        refuseSelf(
          'LOGIN_DELAYED',
          `too many wrong passwords for ${username}: try again in ${Math.ceil(wait / 1000)} s`,
        );
    }
    const ok =
      (await verifyPassword(String(password), r?.password_hash ?? (await this.decoy()))) &&
      !!r &&
      r.disabled === 0 &&
      !!r.password_hash;
    if (!ok) {
      if (r) this.recordFailure(r, ip);
      refuseSelf('LOGIN_FAILED', 'wrong sign-in name or password');
    }
    const token = randomBytes(32).toString('base64url');
    this.o.db.transaction(() => {
      this.o.db.prepare('UPDATE customer_logins SET failures = 0 WHERE username = ?').run(r.username);
      this.o.db
        .prepare(
          'INSERT INTO customer_sessions (token_hash, username, created_at, last_seen_at, ip) VALUES (?, ?, ?, ?, ?)',
        )
        .run(sha256(token), r.username, now, now, ip);
      this.o.audit.append({
        actor: `customer:${r.username}`,
        action: 'customer.login',
        subject: `customer:${r.username}`,
        after: { account: r.account_id, ip },
      });
    })();
    return {
      token,
      customer: toCustomer(r),
      expiresAt: Math.min(now + this.o.sessionIdleMs, now + this.o.sessionMaxMs),
    };
  }

  private recordFailure(r: LoginRow, ip: string): void {
    const failures = r.failures + 1;
    this.o.db.transaction(() => {
      this.o.db
        .prepare('UPDATE customer_logins SET failures = ?, last_failure_at = ? WHERE username = ?')
        .run(failures, this.clock(), r.username);
      if (failures === FREE_FAILURES) {
        this.o.audit.append({
          actor: `ip:${ip || 'unknown'}`,
          action: 'customer.login-delayed',
          subject: `customer:${r.username}`,
          after: { failures },
        });
      }
    })();
  }

  private decoyHash?: Promise<string>;
  /**
   * A hash no password matches, checked when the name is unknown or has no password yet, so that
   * the answer takes as long as for a real one: timing does not tell which names exist.
   */
  private decoy(): Promise<string> {
    return (this.decoyHash ??= hashPassword(randomBytes(24).toString('base64url'), this.o.scryptCost));
  }

  /** The customer of a session token; it ends when idle or too old. */
  authenticate(token: string): Customer {
    const now = this.clock();
    const s = this.o.db
      .prepare(
        `SELECT s.created_at, s.last_seen_at, l.* FROM customer_sessions s JOIN customer_logins l ON l.username = s.username
          WHERE s.token_hash = ?`,
      )
      .get(sha256(token)) as (LoginRow & { created_at: number; last_seen_at: number }) | undefined;
    if (
      !s ||
      s.disabled === 1 ||
      now - s.last_seen_at > this.o.sessionIdleMs ||
      now - s.created_at > this.o.sessionMaxMs
    ) {
      if (s) this.o.db.prepare('DELETE FROM customer_sessions WHERE token_hash = ?').run(sha256(token));
      refuseSelf('CUSTOMER_UNAUTHENTICATED', 'sign in first (no session, or it ended)');
    }
    this.o.db
      .prepare('UPDATE customer_sessions SET last_seen_at = ? WHERE token_hash = ?')
      .run(now, sha256(token));
    return toCustomer(s);
  }

  logout(token: string): void {
    this.o.db.prepare('DELETE FROM customer_sessions WHERE token_hash = ?').run(sha256(token));
  }

  /**
   * The customer changes their password, giving the current one; every other session of the name
   * ends (a phone left signed in elsewhere), this one goes on.
   */
  async changePassword(token: string, current: string, next: string): Promise<void> {
    const me = this.authenticate(token);
    const r = this.row(me.username)!;
    assertPassword(me.username, next);
    if (!r.password_hash || !(await verifyPassword(String(current), r.password_hash))) {
      this.recordFailure(r, '');
      refuseSelf('LOGIN_FAILED', 'the current password is wrong');
    }
    const hash = await hashPassword(next, this.o.scryptCost);
    this.o.db.transaction(() => {
      this.o.db
        .prepare('UPDATE customer_logins SET password_hash = ?, failures = 0 WHERE username = ?')
        .run(hash, me.username);
      this.o.db
        .prepare('DELETE FROM customer_sessions WHERE username = ? AND token_hash <> ?')
        .run(me.username, sha256(token));
      this.o.audit.append({
        actor: `customer:${me.username}`,
        action: 'customer.password-changed',
        subject: `customer:${me.username}`,
        after: { account: me.account },
      });
    })();
  }

  /** Where the customer's notices go and in which language (null: no email); audited. */
  setContact(customer: Customer, input: { email?: string | null; language?: 'zh' | 'en' }): Customer {
    return this.o.db.transaction(() => {
      const before = this.row(customer.username)!;
      this.o.db
        .prepare('UPDATE customer_logins SET email = ?, language = ? WHERE username = ?')
        .run(
          input.email === undefined ? before.email : input.email,
          input.language ?? before.language,
          customer.username,
        );
      const after = this.row(customer.username)!;
      this.o.audit.append({
        actor: `customer:${customer.username}`,
        action: 'customer.contact',
        subject: `customer:${customer.username}`,
        before: { email: before.email, language: before.language },
        after: { email: after.email, language: after.language },
      });
      return toCustomer(after);
    })();
  }

  /** A clerk ends a sign-in (a student moved out): its sessions end and it cannot sign in. */
  disable(by: Actor, username: string): void {
    if (!can(by, 'accounts.open'))
      throw new ServiceError('FORBIDDEN', 403, `${by.id} may not disable customer sign-ins`);
    this.o.db.transaction(() => {
      const r = this.row(username);
      if (!r) refuseSelf('LOGIN_NOT_FOUND', `no customer sign-in ${username}`);
      this.o.db
        .prepare('UPDATE customer_logins SET disabled = 1, code_hash = NULL WHERE username = ?')
        .run(username);
      this.o.db.prepare('DELETE FROM customer_sessions WHERE username = ?').run(username);
      this.o.audit.append({
        actor: by.id,
        action: 'customer.disabled',
        subject: `customer:${username}`,
        after: { account: r.account_id },
      });
    })();
  }

  /** The sign-ins of an account (for the clerk; no hashes). */
  loginsOf(account: string): { username: string; email: string | null; active: boolean; issuedBy: string }[] {
    return (
      this.o.db
        .prepare('SELECT * FROM customer_logins WHERE account_id = ? ORDER BY username')
        .all(account) as (LoginRow & { issued_by: string })[]
    ).map((r) => ({
      username: r.username,
      email: r.email,
      active: r.disabled === 0 && r.password_hash !== null,
      issuedBy: r.issued_by,
    }));
  }

  /** Where notices for an account go: the e-mail addresses of its active sign-ins. */
  contactsOf(account: string): Customer[] {
    return (
      this.o.db
        .prepare('SELECT * FROM customer_logins WHERE account_id = ? AND disabled = 0 ORDER BY username')
        .all(account) as LoginRow[]
    ).map(toCustomer);
  }

  private row(username: string): LoginRow | undefined {
    return this.o.db.prepare('SELECT * FROM customer_logins WHERE username = ?').get(username) as
      LoginRow | undefined;
  }
}

function toCustomer(r: LoginRow): Customer {
  return { username: r.username, account: r.account_id, email: r.email, language: r.language };
}

function assertPassword(username: string, password: string): void {
  if (
    typeof password !== 'string' ||
    [...password].length < 8 ||
    [...password].length > 200 ||
    password === username
  ) {
    refuseSelf('WEAK_PASSWORD', 'password: at least 8 characters, not the sign-in name');
  }
}
