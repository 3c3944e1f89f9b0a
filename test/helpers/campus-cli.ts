import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';

/**
 * The product's processes as operators run them (`bin/campus-energy.js`), for tests that kill and
 * restart them, and a read-only look into the SQLite files they own.
 */

/** Starts `campus-energy <args>` (log level from FAULT_LOG, default error). */
export function campusCli(args: string[]): ChildProcess {
  return spawn(
    process.execPath,
    ['bin/campus-energy.js', ...args, '--log-level', process.env.FAULT_LOG ?? 'error'],
    {
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
}

/** Resolves once the child has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) =>
    child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve()),
  );
}

/** SIGKILLs the child if it still runs, and waits for it. */
export async function killHard(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGKILL');
  await exited(child);
}

/** Rows of a query on a SQLite file another process owns; [] while the file or table is not there. */
export function querySqlite<T>(file: string, sql: string): T[] {
  if (!existsSync(file)) return [];
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all() as T[];
  } catch (err) {
    // The process that owns the file may not have created its tables yet.
    if (/no such table/.test((err as Error).message)) return [];
    throw err;
  } finally {
    db.close();
  }
}

/** Per meter, the last seq the gateway's outbox has numbered. */
export function numberedSeqs(outboxFile: string): Map<string, number> {
  return new Map(
    querySqlite<{ meter: string; n: number }>(
      outboxFile,
      'select meter, next_seq - 1 as n from meter_seq',
    ).map((r) => [r.meter, r.n]),
  );
}

/** Every (meter, seq) in a SQLite reading store. */
export function storedSeqs(storeFile: string): { meter: string; seq: number }[] {
  return querySqlite<{ meter: string; seq: number }>(
    storeFile,
    'select m.name as meter, r.seq as seq from readings r join meters m on m.id = r.meter_id',
  );
}
