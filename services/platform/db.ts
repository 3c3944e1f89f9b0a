import Database from 'better-sqlite3';

/**
 * The back office's one SQLite file (accounts, ledger, users, approvals, relay commands, audit).
 * One file so that a state change and its audit entry commit in the same transaction: there is no
 * moment where money moved but the log does not say so. Each service creates its own tables.
 */
export type BackofficeDb = Database.Database;

export function openBackofficeDb(path: string): BackofficeDb {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  // Money and approvals: a committed change survives a power cut.
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  return db;
}

/** A clock in UTC ms; services take one so tests can move time. */
export type Clock = () => number;

/**
 * SQL for the two triggers that make a table append-only: UPDATE and DELETE abort with `message`.
 * Anyone editing the file with the sqlite3 shell can drop them, which is why the audit chain's
 * hashes, not these triggers, are the proof; they stop the honest mistake and the casual edit.
 */
export function appendOnlyTriggers(table: string, message: string, name = table): string {
  const abort = `BEGIN SELECT RAISE(ABORT, '${message.replace(/'/g, "''")}'); END;`;
  return (
    `CREATE TRIGGER IF NOT EXISTS ${name}_no_update BEFORE UPDATE ON ${table}\n  ${abort}\n` +
    `CREATE TRIGGER IF NOT EXISTS ${name}_no_delete BEFORE DELETE ON ${table}\n  ${abort}\n`
  );
}
