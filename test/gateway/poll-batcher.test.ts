import { describe, expect, it } from 'vitest';
import { Outbox } from '../../gateway/outbox/outbox.ts';
import { POLLS_NOT_KEPT, PollBatcher } from '../../gateway/poll-batcher.ts';
import { testLogger } from '../helpers/logger.ts';

/**
 * The batcher when the outbox refuses writes (a full disk; the real one is in the fault suite):
 * it holds poll results and retries, drops only beyond its bound, counts what it dropped, and
 * flags the next reading of each meter that lost polls — those never got a seq, so nothing
 * downstream could see the hole otherwise.
 */

/** A real in-memory outbox whose appends fail while `full` is set. */
function refusingOutbox() {
  const real = Outbox.open({ path: ':memory:', maxBytes: 10_000_000 });
  const state = { full: false };
  const outbox = new Proxy(real, {
    get(target, prop) {
      if (prop === 'append' && state.full) {
        return () => {
          throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
        };
      }
      const value = Reflect.get(target, prop) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { outbox, real, state };
}

const poll = (ts: number) => ({ ts, values: { energy_import_kwh: ts } });

describe('PollBatcher while the disk refuses', () => {
  it('holds results and commits them all, in order, once the disk takes them again', () => {
    const { outbox, real, state } = refusingOutbox();
    const batcher = new PollBatcher({ outbox, topicOf: (m) => `t/${m}`, logger: testLogger() });
    state.full = true;
    for (let i = 1; i <= 5; i++) {
      batcher.add({ id: 'a' }, poll(i));
      batcher.flush();
    }
    expect(real.stats().messages).toBe(0);
    state.full = false;
    batcher.flush();
    const rows = real
      .peek(0, 100)
      .map((r) => JSON.parse(r.payload) as { seq: number; ts: number; flags?: string[] });
    expect(rows.map((r) => [r.seq, r.ts])).toEqual([1, 2, 3, 4, 5].map((i) => [i, i]));
    expect(rows.some((r) => r.flags)).toBe(false);
    expect(batcher.lost).toBe(0);
    batcher.close();
  });

  it('beyond its bound drops the oldest, counts them, and flags the next reading of each meter that lost polls', () => {
    const { outbox, real, state } = refusingOutbox();
    const batcher = new PollBatcher({ outbox, topicOf: (m) => `t/${m}`, logger: testLogger(), maxHeld: 3 });
    state.full = true;
    for (const [meter, ts] of [
      ['a', 1],
      ['b', 2],
      ['a', 3],
      ['c', 4],
      ['c', 5],
    ] as const) {
      batcher.add({ id: meter }, poll(ts));
      batcher.flush();
    }
    expect(batcher.lost).toBe(2); // a@1 and b@2 dropped
    state.full = false;
    batcher.flush();
    batcher.add({ id: 'b' }, poll(6));
    batcher.flush();
    const rows = real
      .peek(0, 100)
      .map((r) => JSON.parse(r.payload) as { meter: string; ts: number; flags?: string[] });
    const flagged = rows.filter((r) => r.flags?.includes(POLLS_NOT_KEPT)).map((r) => [r.meter, r.ts]);
    expect(flagged).toEqual([
      ['a', 3],
      ['b', 6],
    ]);
    batcher.close();
  });
});
