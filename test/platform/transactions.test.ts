import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openBackofficeDb, wrapTransactions, type BackofficeDb } from '../../services/platform/db.ts';
import { pauseAfterWrites, pauseFor } from '../../services/platform/threads/paced-writes.ts';

/**
 * The back office's one transaction wrapper (db.ts `wrapTransactions`): every transaction opened
 * by `openBackofficeDb` holds the write lock from its first statement (another connection cannot
 * write in between, so a read-then-write never fails with SQLITE_BUSY_SNAPSHOT), and a job's
 * pacing runs once after each outermost transaction, committed or not, never for a savepoint.
 */

const dirs: string[] = [];
const dbs: Database.Database[] = [];
afterEach(() => {
  for (const d of dbs.splice(0)) d.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function twoConnections(pace?: (ms: number) => void): { office: BackofficeDb; other: Database.Database } {
  const dir = mkdtempSync(join(tmpdir(), 'tx-'));
  dirs.push(dir);
  const path = join(dir, 'backoffice.sqlite');
  const office = openBackofficeDb(path, pace ? { pace } : {});
  office.exec('CREATE TABLE t (n INTEGER)');
  // The other writer gives up at once rather than waiting out a busy timeout.
  const other = new Database(path, { timeout: 0 });
  dbs.push(office, other);
  return { office, other };
}

const otherWrites = (other: Database.Database) => () => other.prepare('INSERT INTO t VALUES (2)').run();

describe('openBackofficeDb: immediate transactions', () => {
  it('holds the write lock from BEGIN, before the transaction has written anything', () => {
    const { office, other } = twoConnections();
    const readThenWrite = office.transaction(() => {
      const before = office.prepare('SELECT count(*) AS n FROM t').get() as { n: number };
      // A deferred transaction would let this commit, and its own write below would then fail.
      expect(otherWrites(other)).toThrow(/database is locked/);
      office.prepare('INSERT INTO t VALUES (?)').run(before.n + 1);
    });
    readThenWrite();
    expect(office.prepare('SELECT n FROM t').all()).toEqual([{ n: 1 }]);
  });

  it('keeps .deferred for a caller that only reads', () => {
    const { office, other } = twoConnections();
    office
      .transaction(() => {
        office.prepare('SELECT count(*) FROM t').get();
        expect(otherWrites(other)).not.toThrow();
      })
      .deferred();
  });

  it('refuses to wrap the same connection twice', () => {
    const { office } = twoConnections();
    expect(() => wrapTransactions(office, { pace: () => undefined })).toThrow(/already wrapped/);
  });
});

describe('openBackofficeDb: paced transactions', () => {
  it('paces each outermost transaction once, savepoints never, and a rolled-back one too', () => {
    const paced: number[] = [];
    const { office, other } = twoConnections((ms) => paced.push(ms));
    const insert = office.transaction((n: number) => office.prepare('INSERT INTO t VALUES (?)').run(n));
    const outer = office.transaction(() => {
      insert(1);
      insert(2);
      expect(otherWrites(other)).toThrow(/database is locked/);
    });
    outer();
    expect(paced).toHaveLength(1);
    insert.immediate(3);
    expect(paced).toHaveLength(2);
    const failing = office.transaction(() => {
      insert(4);
      throw new Error('refused');
    });
    expect(failing).toThrow('refused');
    expect(paced).toHaveLength(3);
    expect(paced.every((ms) => ms >= 0)).toBe(true);
    expect(office.prepare('SELECT n FROM t ORDER BY n').all()).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
  });

  it('leaves the lock free while it pauses', () => {
    let otherGotIn = false;
    const { office, other } = twoConnections(() => {
      otherWrites(other)();
      otherGotIn = true;
    });
    office.transaction(() => office.prepare('INSERT INTO t VALUES (1)').run())();
    expect(otherGotIn).toBe(true);
  });
});

describe('pauseAfterWrites', () => {
  it('pauses at least as long as the transaction took, and at least the minimum', () => {
    expect(pauseFor(5, 20, 0.5)).toBe(20);
    expect(pauseFor(100, 20, 0.5)).toBe(100);
    expect(pauseFor(100, 20, 0.8)).toBeCloseTo(25, 9);
  });

  it('blocks the calling thread for the pause', () => {
    const pause = pauseAfterWrites({ minPauseMs: 30 });
    const started = performance.now();
    pause(1);
    // Atomics.wait returns no earlier than its timeout unless notified, and nothing notifies it.
    expect(performance.now() - started).toBeGreaterThanOrEqual(29);
  });
});
