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

export interface OpenBackofficeOptions {
  /**
   * Called after each outermost transaction with how long it took (ms), on the calling thread: a
   * heavy job's thread passes `pauseAfterWrites()` (threads/paced-writes.ts) to leave the write
   * lock free between its transactions.
   */
  pace?: TransactionPace;
}

export function openBackofficeDb(path: string, o: OpenBackofficeOptions = {}): BackofficeDb {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  // Money and approvals: a committed change survives a power cut.
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  // A REPLACE deletes the row it replaces: with this on, that delete fires the append-only
  // tables' DELETE triggers and is refused (appendOnlyTriggers).
  db.pragma('recursive_triggers = ON');
  migrate(db, BACKOFFICE_MIGRATIONS, path);
  return wrapTransactions(db, { immediate: true, ...(o.pace ? { pace: o.pace } : {}) });
}

/** What runs after a transaction that took `tookMs`; it may block the thread (a job's pause). */
export type TransactionPace = (tookMs: number) => void;

export interface TransactionPolicy {
  /**
   * Every transaction takes the write lock when it begins (BEGIN IMMEDIATE), waiting for it up to
   * the busy timeout. More than one connection writes the back office's file — the back office
   * and a bill run on its own thread, or the billing CLI beside a running back office — and a
   * deferred transaction that reads and then writes fails at once, without waiting
   * (SQLITE_BUSY_SNAPSHOT), when the other connection committed in between: an audit append
   * (which reads the chain's last entry first) or a prepaid debit would fail at random during a
   * bill run. `.deferred` remains for a caller that only reads.
   */
  immediate?: boolean;
  /** Runs after each outermost transaction, committed or rolled back, with the time it took. */
  pace?: TransactionPace;
}

/**
 * The one place `db.transaction` is wrapped: `db.transaction(fn)` and its `.default` (and, when
 * paced, `.immediate`) follow `policy`. Nested calls stay savepoints and are never paced on their
 * own: the outer transaction holds the lock, and its pause covers them. Wrapping the same
 * connection twice is refused, since a second wrapper would pace or re-begin what the first does.
 */
export function wrapTransactions(db: BackofficeDb, policy: TransactionPolicy): BackofficeDb {
  if (wrapped.has(db)) throw new Error('wrapTransactions: this connection is already wrapped');
  wrapped.add(db);
  const begin = db.transaction.bind(db);
  const { pace } = policy;
  db.transaction = ((fn: (...args: never[]) => unknown) => {
    const tx = begin(fn);
    const chosen = policy.immediate ? tx.immediate : tx.deferred;
    // Always a new function: better-sqlite3's own are frozen, and this one carries the variants.
    const paced =
      (run: (...args: never[]) => unknown) =>
      (...args: never[]) => {
        if (!pace || db.inTransaction) return run(...args);
        const started = performance.now();
        try {
          return run(...args);
        } finally {
          pace(performance.now() - started);
        }
      };
    const main = paced(chosen);
    return Object.assign(main, {
      default: main,
      deferred: tx.deferred,
      immediate: paced(tx.immediate),
      exclusive: tx.exclusive,
      database: db,
    });
  }) as unknown as BackofficeDb['transaction'];
  return db;
}

const wrapped = new WeakSet<BackofficeDb>();

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
