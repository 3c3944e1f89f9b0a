import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { decodeChunk } from '../../adapters/sqlite/chunk-codec.ts';

/**
 * The product's processes as operators run them (`bin/campus-energy.js`), for tests that kill and
 * restart them, and a read-only look into the SQLite files they own.
 */

/** Starts `campus-energy <args>` (log level from FAULT_LOG, default error), with `env` added to ours. */
export function campusCli(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(
    process.execPath,
    ['bin/campus-energy.js', ...args, '--log-level', process.env.FAULT_LOG ?? 'error'],
    {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, ...env },
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

export interface StoredSeq {
  meter: string;
  seq: number;
  /** The reading's ts (UTC ms), as the gateway stamped it. */
  ts: number;
}

// Only ts and seq are wanted: every quantity id maps to a column, and no column is decoded.
const ANY_COLUMN = new Map(Array.from({ length: 4096 }, (_, id) => [id, id]));
const NO_VALUES = new Set<number>();

/**
 * Every (meter, seq) in a SQLite reading store: its raw rows and its chunks. A day closes into a
 * chunk once a reading an hour past its end is stored, so a test that reads the rows alone would
 * miss readings when it runs across 01:00 UTC (or gets readings an hour back, as a gateway whose
 * clock was stepped sends).
 */
export function storedSeqs(storeFile: string): StoredSeq[] {
  if (!existsSync(storeFile)) return [];
  const db = new Database(storeFile, { readonly: true, fileMustExist: true });
  try {
    // One read transaction: a chunk's move from the rows commits between two separate reads.
    return db.transaction(() => {
      const rows = db
        .prepare(
          'select m.name as meter, r.seq as seq, r.ts as ts from readings r join meters m on m.id = r.meter_id',
        )
        .all() as StoredSeq[];
      const hasChunks = db.prepare("select 1 from sqlite_master where name = 'chunks'").get();
      if (!hasChunks) return rows;
      const chunks = db
        .prepare('select m.name as meter, c.data as data from chunks c join meters m on m.id = c.meter_id')
        .all() as { meter: string; data: Buffer }[];
      for (const c of chunks) {
        const { seq, ts } = decodeChunk(c.data, ANY_COLUMN, NO_VALUES);
        seq.forEach((n, i) => rows.push({ meter: c.meter, seq: n, ts: ts[i]! }));
      }
      return rows;
    })();
  } catch (err) {
    // The process that owns the file may not have created its tables yet.
    if (/no such table/.test((err as Error).message)) return [];
    throw err;
  } finally {
    db.close();
  }
}
