import type Database from 'better-sqlite3';

/**
 * Versioned schema changes for our SQLite files (the reading store, the gateway outbox, the back
 * office). A file records the version of the last change applied to it in `PRAGMA user_version`;
 * at open, the changes after it run in order, each in one transaction together with its version
 * number, so a crash midway leaves the file at the previous version, never half-changed. A file
 * made by a newer release (a version above what this code knows) is refused: an older release
 * writing into a schema it does not know is how data gets corrupted on a downgrade.
 *
 * Files made before versions existed read 0; their first change is the schema of the release that
 * introduced versions, written to be idempotent (CREATE … IF NOT EXISTS, columns added if missing).
 */

export interface Migration {
  version: number;
  /** What it changes, for the log and the error messages. */
  name: string;
  up(db: Database.Database): void;
}

export class SchemaTooNewError extends Error {
  constructor(file: string, version: number, known: number) {
    super(
      `${file} has schema version ${version}, made by a newer release of campus-energy (this one knows up to ${known}): run that release, or restore a backup made with this one`,
    );
    this.name = 'SchemaTooNewError';
  }
}

/** Applies the migrations after the file's version; returns the versions before and after. */
export function migrate(
  db: Database.Database,
  migrations: readonly Migration[],
  file: string,
): { from: number; to: number; applied: string[] } {
  for (let i = 1; i < migrations.length; i++) {
    if (migrations[i]!.version <= migrations[i - 1]!.version) {
      throw new Error(`migrations of ${file} are not in increasing version order at ${migrations[i]!.name}`);
    }
  }
  const from = db.pragma('user_version', { simple: true }) as number;
  const known = migrations.at(-1)?.version ?? 0;
  if (from > known) throw new SchemaTooNewError(file, from, known);
  const applied: string[] = [];
  for (const m of migrations) {
    if (m.version <= from) continue;
    db.transaction(() => {
      m.up(db);
      // PRAGMA user_version is part of the transaction: it commits or rolls back with the change.
      db.pragma(`user_version = ${m.version}`);
    })();
    applied.push(m.name);
  }
  return { from, to: Math.max(from, known), applied };
}
