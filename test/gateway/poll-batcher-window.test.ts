import { afterEach, describe, expect, it, vi } from 'vitest';
import { Outbox } from '../../gateway/outbox/outbox.ts';
import { PollBatcher } from '../../gateway/poll-batcher.ts';
import { testLogger } from '../helpers/logger.ts';

/**
 * The batcher commits what 25 ms of polls gave in one transaction (a commit costs the outbox more
 * than its rows), and never holds a result longer than that.
 */

afterEach(() => {
  vi.useRealTimers();
});

const poll = (ts: number) => ({ ts, values: { energy_import_kwh: ts } });

describe('PollBatcher commit window', () => {
  it('commits the results of one 25 ms window together, each within 25 ms of its poll', async () => {
    vi.useFakeTimers();
    const outbox = Outbox.open({ path: ':memory:', maxBytes: 10_000_000 });
    const commits: number[] = [];
    outbox.onAppend(() => commits.push(outbox.stats().messages));
    const batcher = new PollBatcher({ outbox, topicOf: (m) => `t/${m}`, logger: testLogger() });

    // Ten meters' polls over 20 ms: nothing is committed until the window ends, then all at once.
    for (let i = 0; i < 10; i++) {
      batcher.add({ id: `m${i}` }, poll(i));
      await vi.advanceTimersByTimeAsync(2);
    }
    expect(commits).toEqual([]);
    await vi.advanceTimersByTimeAsync(5);
    expect(commits).toEqual([10]);

    // A lone result later is committed by its own window's end, not held for company.
    batcher.add({ id: 'm0' }, poll(100));
    await vi.advanceTimersByTimeAsync(24);
    expect(commits).toEqual([10]);
    await vi.advanceTimersByTimeAsync(1);
    expect(commits).toEqual([10, 11]);
    expect(outbox.nextSeq('m0')).toBe(3);
    batcher.close();
    outbox.close();
  });
});
