import Database from 'better-sqlite3';
import { migrate, type Migration } from '../../adapters/sqlite/migrations.ts';

/**
 * The back office's one SQLite file (accounts, ledger, users, approvals, relay commands, audit).
 * One file so that a state change and its audit entry commit in the same transaction: there is no
 * moment where money moved but the log does not say so. Each service creates its own tables.
 */
export type BackofficeDb = Database.Database;

/**
 * The back office's schema changes (adapters/sqlite/migrations.ts). Each service still creates
 * its own tables (CREATE … IF NOT EXISTS) when it starts; a change to an existing table is a
 * migration here, so that a file is changed once, in order, and a newer release's file is refused.
 */
export const BACKOFFICE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'schema versions begin: the tables each service creates as of this release',
    up: () => undefined,
  },
];

export function openBackofficeDb(path: string): BackofficeDb {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  // Money and approvals: a committed change survives a power cut.
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  // A REPLACE deletes the row it replaces: with this on, that delete fires the append-only
  // tables' DELETE triggers and is refused (appendOnlyTriggers).
  db.pragma('recursive_triggers = ON');
  migrate(db, BACKOFFICE_MIGRATIONS, path);
  return immediateTransactions(db);
}

/**
 * Every transaction on the back office's database takes the write lock when it begins (BEGIN
 * IMMEDIATE), waiting for it up to the busy timeout. More than one connection writes this file —
 * the back office and a bill run on its own thread, or the billing CLI beside a running back
 * office — and a deferred transaction that reads and then writes fails at once, without waiting
 * (SQLITE_BUSY_SNAPSHOT), when the other connection committed in between: an audit append (which
 * reads the chain's last entry first) or a prepaid debit would fail at random during a bill run.
 * Nested calls stay savepoints; `.deferred` remains for a caller that only reads.
 */
function immediateTransactions(db: BackofficeDb): BackofficeDb {
  const begin = db.transaction.bind(db);
  db.transaction = ((fn: (...args: never[]) => unknown) => {
    const tx = begin(fn);
    return Object.assign((...args: never[]) => tx.immediate(...args), {
      default: tx.immediate,
      deferred: tx.deferred,
      immediate: tx.immediate,
      exclusive: tx.exclusive,
      database: db,
    });
  }) as unknown as BackofficeDb['transaction'];
  return db;
}

/** A clock in UTC ms; services take one so tests can move time. */
export type Clock = () => number;

/**
 * SQL for the triggers that make a table append-only: UPDATE and DELETE abort with `message`. With
 * `key` (the primary key columns), so does an INSERT whose key is taken — which is what
 * `INSERT OR REPLACE`, `REPLACE` and an upsert would otherwise turn into a silent rewrite (SQLite's
 * REPLACE deletes the old row without firing DELETE triggers unless recursive_triggers is on).
 * Tables the service fills with `INSERT OR IGNORE` pass no key: on the service's connections
 * `openBackofficeDb` turns recursive_triggers on, so a REPLACE's delete is refused there too.
 * Anyone editing the file with the sqlite3 shell can drop triggers, which is why the audit chain's
 * hashes and MACs, not these triggers, are the proof; they stop the honest mistake and the casual
 * edit.
 */
export function appendOnlyTriggers(
  table: string,
  message: string,
  name = table,
  key: readonly string[] | null = null,
): string {
  const abort = `BEGIN SELECT RAISE(ABORT, '${message.replace(/'/g, "''")}'); END;`;
  const replace = key
    ? `CREATE TRIGGER IF NOT EXISTS ${name}_no_replace BEFORE INSERT ON ${table}\n` +
      `  WHEN EXISTS (SELECT 1 FROM ${table} WHERE ${key.map((k) => `${k} = NEW.${k}`).join(' AND ')})\n  ${abort}\n`
    : '';
  return (
    `CREATE TRIGGER IF NOT EXISTS ${name}_no_update BEFORE UPDATE ON ${table}\n  ${abort}\n` +
    `CREATE TRIGGER IF NOT EXISTS ${name}_no_delete BEFORE DELETE ON ${table}\n  ${abort}\n` +
    replace
  );
}
