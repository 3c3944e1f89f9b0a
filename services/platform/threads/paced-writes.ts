import type { BackofficeDb } from '../db.ts';

/**
 * A heavy job's connection on the back office's database, made to leave the write lock free
 * between its transactions. SQLite has one writer at a time; the back office's own connection,
 * on the thread that serves the API (and in the demo polls and stores), waits for the lock in its
 * busy handler, which looks again after 1, 2, 5 … up to 100 ms. A job writing VEE versions
 * transaction after transaction takes the lock back the moment it lets go, so that waiter can
 * miss every opening until its timeout (5 s) and fail — which on the demo ended the whole process
 * from a timer (a relay sweep) while a bill run and two reports ran. After each of its
 * transactions the job's thread therefore sleeps at least as long as the transaction took (and
 * `minPauseMs`): the lock is free at least half the time, and the back office gets it within
 * one of the job's transactions and one of its own polls.
 *
 * Only for a job's own thread: the pause blocks the thread (Atomics.wait), never the main one.
 */
export function paceWrites(db: BackofficeDb, o: { minPauseMs?: number; share?: number } = {}): BackofficeDb {
  const minPauseMs = o.minPauseMs ?? 20;
  const share = o.share ?? 0.5;
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  const begin = db.transaction.bind(db);
  db.transaction = ((fn: (...args: never[]) => unknown) => {
    const tx = begin(fn);
    const paced = (...args: never[]) => {
      // Nested in an outer transaction: a savepoint, paced with the outer one.
      if (db.inTransaction) return tx(...args);
      const started = performance.now();
      try {
        return tx(...args);
      } finally {
        const took = performance.now() - started;
        Atomics.wait(sleeper, 0, 0, Math.max(minPauseMs, (took * (1 - share)) / share));
      }
    };
    return Object.assign(paced, {
      default: paced,
      deferred: tx.deferred,
      immediate: paced,
      exclusive: tx.exclusive,
      database: db,
    });
  }) as unknown as BackofficeDb['transaction'];
  return db;
}
