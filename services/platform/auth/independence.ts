import type { BackofficeDb } from '../db.ts';
import { authFail } from './errors.ts';
import type { Actor } from './roles.ts';

/**
 * Who made whom: every account that one person created, re-enabled, reset or granted a role to is
 * linked to that person for a while (`until`). Two linked accounts are one insider as far as the
 * four-eyes rule is concerned: an administrator who set up an operator and a supervisor, or reset
 * a supervisor's password, could act as both; so could an administrator with an account of their
 * own making. The links are written in the same transaction as the user change they come from.
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
  until INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS account_links_account ON account_links (account, until);
`;

/** How long an account stays linked to whoever administered it, by default. */
export const DEFAULT_LINK_DAYS = 30;

const isPerson = (id: string) => !id.includes(':');
const norm = (id: string) => id.trim().toLowerCase();

/** Records that `by` created, re-enabled, reset or granted a role to `account` at `at`. */
export function recordLink(
  db: BackofficeDb,
  link: { account: string; by: string; action: string; at: number; days: number },
): void {
  if (!isPerson(link.by) || norm(link.by) === norm(link.account)) return;
  db.prepare('INSERT INTO account_links (account, by, action, at, until) VALUES (?, ?, ?, ?, ?)').run(
    norm(link.account),
    norm(link.by),
    link.action,
    link.at,
    link.at + link.days * 86_400_000,
  );
}

/** The people an account stands for right now: itself and whoever administered it recently. */
export function principals(db: BackofficeDb, account: string, now: number): Set<string> {
  const out = new Set([norm(account)]);
  if (!hasLinks(db)) return out;
  const rows = db
    .prepare('SELECT by, action FROM account_links WHERE account = ? AND until > ?')
    .all(norm(account), now) as { by: string; action: string }[];
  for (const r of rows) out.add(r.by);
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
 * not an account the first made or reset (or that made or reset the first) within the link window,
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
        'SELECT action, at FROM account_links WHERE account = ? AND by = ? AND until > ? ORDER BY at DESC LIMIT 1',
      )
      .get(norm(account), by, now) as { action: string; at: number } | undefined;
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
