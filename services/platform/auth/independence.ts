import type { BackofficeDb } from '../db.ts';
import { authFail } from './errors.ts';
import type { Actor } from './roles.ts';

/**
 * Who made whom: every account that one person created, re-enabled, reset or granted a role to is
 * linked to that person. Two linked accounts are one insider as far as the four-eyes rule is
 * concerned: an administrator who set up an operator and a supervisor, or reset a supervisor's
 * password, could act as both; so could an administrator with an account of their own making. The
 * links are written in the same transaction as the user change they come from.
 *
 * How long a link lasts depends on what the administrator could do with the account:
 * - `lasts = 'password'` (creating an account, resetting its password): the administrators saw or
 *   could have seen the one-time code, so they can act as the account for as long as the password
 *   it set stands. A fixed number of days is no limit on that: the insider who made an operator
 *   and a supervisor simply waits. The link ends (`ended_at`) only when the holder sets a password
 *   of their own through the change-password path, giving the current one (endPasswordLinks):
 *   redeeming the code does not end it, since whoever holds the code can redeem it.
 * - `lasts = 'window'` (granting a role, re-enabling): the administrator learns no password by it;
 *   what the link guards against is a favour between the two (a role granted to a friend's account
 *   whose holder already has a password of their own), which is why it keeps the campus file's
 *   window (`until`) rather than lasting for ever. If the holder has not yet set their own
 *   password, the creation's or reset's link still stands beside it.
 *
 * Rows written before links could last until a password (no `lasts` column) keep their `until`:
 * the migration (migrateLinks) adds the columns with 'window' as every old row's value.
 *
 * Machines (`system:…`, `token:…`) are never linked: the demo's and the first start's accounts
 * are made by the system, not by a person who could use them.
 */
export const LINKS_SCHEMA = `
CREATE TABLE IF NOT EXISTS account_links (
  id INTEGER PRIMARY KEY,
  account TEXT NOT NULL,
  by TEXT NOT NULL,
  action TEXT NOT NULL,
  at INTEGER NOT NULL,
  until INTEGER NOT NULL,
  lasts TEXT NOT NULL DEFAULT 'window' CHECK (lasts IN ('window', 'password')),
  ended_at INTEGER
);
CREATE INDEX IF NOT EXISTS account_links_account ON account_links (account, until);
`;

/**
 * Brings an account_links table from before `lasts`/`ended_at` to today's, in place: each column
 * is added only if missing, so a start interrupted between the two finishes on the next start.
 * Old rows get 'window' and keep lapsing at their `until`, as they were written to.
 */
export function migrateLinks(db: BackofficeDb): void {
  db.exec(LINKS_SCHEMA);
  db.transaction(() => {
    const cols = new Set(
      (db.prepare('PRAGMA table_info(account_links)').all() as { name: string }[]).map((c) => c.name),
    );
    if (!cols.has('lasts')) {
      db.exec(
        "ALTER TABLE account_links ADD COLUMN lasts TEXT NOT NULL DEFAULT 'window' CHECK (lasts IN ('window', 'password'))",
      );
    }
    if (!cols.has('ended_at')) db.exec('ALTER TABLE account_links ADD COLUMN ended_at INTEGER');
  }).immediate();
}

/** Acts after which the administrator could log in as the account until its holder's own password. */
const PASSWORD_BOUND = new Set(['user.create', 'user.password']);

/** How long a role grant or re-enabling links an account to whoever did it, by default. */
export const DEFAULT_LINK_DAYS = 30;

const isPerson = (id: string) => !id.includes(':');
const norm = (id: string) => id.trim().toLowerCase();

/** Records that `by` created, re-enabled, reset or granted a role to `account` at `at`. */
export function recordLink(
  db: BackofficeDb,
  link: { account: string; by: string; action: string; at: number; days: number },
): void {
  if (!isPerson(link.by) || norm(link.by) === norm(link.account)) return;
  db.prepare(
    'INSERT INTO account_links (account, by, action, at, until, lasts) VALUES (?, ?, ?, ?, ?, ?)',
  ).run(
    norm(link.account),
    norm(link.by),
    link.action,
    link.at,
    link.at + link.days * 86_400_000,
    PASSWORD_BOUND.has(link.action) ? 'password' : 'window',
  );
}

/**
 * The holder of `account` set a password of their own at `at` (change-password, with the current
 * one): whoever created or reset the account no longer knows how to act as it. Called in the
 * transaction that stores the password. Returns how many links ended.
 */
export function endPasswordLinks(db: BackofficeDb, account: string, at: number): number {
  if (!hasLinks(db)) return 0;
  return db
    .prepare(
      "UPDATE account_links SET ended_at = ? WHERE account = ? AND lasts = 'password' AND ended_at IS NULL AND at <= ?",
    )
    .run(at, norm(account), at).changes;
}

/** A link still in force at `now`: a window not yet over, or a password-bound one not yet ended. */
const LIVE = "((lasts = 'window' AND until > @now) OR (lasts = 'password' AND ended_at IS NULL))";

/** The people an account stands for right now: itself and whoever administered it (see above). */
export function principals(db: BackofficeDb, account: string, now: number): Set<string> {
  const out = new Set([norm(account)]);
  if (!hasLinks(db)) return out;
  const rows = db
    .prepare(`SELECT by, action FROM account_links WHERE account = @account AND ${LIVE}`)
    .all({ account: norm(account), now }) as { by: string; action: string }[];
  for (const r of rows) out.add(r.by);
  return out;
}

/** A link in force: who administered the account, how, when, and until when (or a password of its own). */
export interface AccountLink {
  by: string;
  action: string;
  at: number;
  /** UTC ms the link lapses; null: until the holder sets a password of their own. */
  until: number | null;
}

/**
 * Every account's links in force at `now`, by account (the users page shows them, so that
 * administrators and supervisors see who cannot be whose second person, and why).
 */
export function liveLinks(db: BackofficeDb, now: number): Map<string, AccountLink[]> {
  const out = new Map<string, AccountLink[]>();
  if (!hasLinks(db)) return out;
  const rows = db
    .prepare(`SELECT account, by, action, at, until, lasts FROM account_links WHERE ${LIVE} ORDER BY at`)
    .all({ now }) as {
    account: string;
    by: string;
    action: string;
    at: number;
    until: number;
    lasts: string;
  }[];
  for (const r of rows) {
    const list = out.get(r.account) ?? [];
    list.push({ by: r.by, action: r.action, at: r.at, until: r.lasts === 'password' ? null : r.until });
    out.set(r.account, list);
  }
  return out;
}

function hasLinks(db: BackofficeDb): boolean {
  return (
    db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'account_links'").get() !==
    undefined
  );
}

/**
 * The second person of a two-person act must be independent of the first: not the same account,
 * not an account the first made or reset (or that made or reset the first) while that link lasts,
 * and not sharing a maker with it. `what` names the act for the message.
 */
export function assertIndependent(
  db: BackofficeDb,
  first: string,
  second: Actor | string,
  what: string,
  now: number,
): void {
  const secondId = typeof second === 'string' ? second : second.id;
  const a = principals(db, first, now);
  const b = principals(db, secondId, now);
  const shared = [...a].filter((p) => b.has(p));
  if (shared.length === 0) return;
  const link = (account: string, by: string) =>
    db
      .prepare(
        `SELECT action, at FROM account_links WHERE account = @account AND by = @by AND ${LIVE} ORDER BY at DESC LIMIT 1`,
      )
      .get({ account: norm(account), by, now }) as { action: string; at: number } | undefined;
  const p = shared[0]!;
  const why = [first, secondId]
    .filter((acc) => norm(acc) !== p)
    .map((acc) => {
      const l = link(acc, p);
      return l
        ? `${norm(acc)} was ${describeAction(l.action)} by ${p} on ${new Date(l.at).toISOString().slice(0, 10)}`
        : '';
    })
    .filter(Boolean)
    .join('; ');
  authFail(
    'LINKED_ACCOUNTS',
    `${secondId} may not ${what}: ${first} and ${secondId} are not independent (${why || `both stand for ${p}`}); a person independent of both must`,
  );
}

function describeAction(action: string): string {
  return (
    {
      'user.create': 'created',
      'user.roles': 'granted a role',
      'user.enable': 're-enabled',
      'user.password': 'reset',
    }[action] ?? action
  );
}
