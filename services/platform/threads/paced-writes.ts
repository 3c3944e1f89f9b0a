import type { TransactionPace } from '../db.ts';

/**
 * The pause a heavy job's thread takes after each of its transactions on the back office's
 * database (`openBackofficeDb(path, { pace: pauseAfterWrites() })`), to leave the write lock free
 * between them. SQLite has one writer at a time; the back office's own connection, on the thread
 * that serves the API (and in the demo polls and stores), waits for the lock in its busy handler,
 * which looks again after 1, 2, 5 … up to 100 ms. A job writing VEE versions transaction after
 * transaction takes the lock back the moment it lets go, so that waiter can miss every opening
 * until its timeout (5 s) and fail — which on the demo ended the whole process from a timer (a
 * relay sweep) while a bill run and two reports ran. After each of its transactions the job's
 * thread therefore sleeps at least as long as the transaction took (and `minPauseMs`): the lock
 * is free at least half the time, and the back office gets it within one of the job's
 * transactions and one of its own polls.
 *
 * Only for a job's own thread: the pause blocks the thread (Atomics.wait), never the main one.
 */
export function pauseAfterWrites(o: { minPauseMs?: number; share?: number } = {}): TransactionPace {
  const minPauseMs = o.minPauseMs ?? 20;
  const share = o.share ?? 0.5;
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  return (tookMs) => {
    Atomics.wait(sleeper, 0, 0, pauseFor(tookMs, minPauseMs, share));
  };
}

/** The pause after a transaction of `tookMs`: the lock stays free `1 - share` of the time. */
export function pauseFor(tookMs: number, minPauseMs: number, share: number): number {
  return Math.max(minPauseMs, (tookMs * (1 - share)) / share);
}
