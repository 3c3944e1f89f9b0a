import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startHeadPublisher } from '../../services/platform/audit/head-publisher.ts';
import { tempBackoffice } from '../audit/helpers.ts';

/**
 * Timed jobs that go through the platform's timer helper and used to end or jam on a failure of
 * their own work (not only of what they send).
 */

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('the audit head publisher on a database it cannot read', () => {
  it('reports each failed read and tries again at the next tick, with no unhandled rejection', async () => {
    const { db, audit } = tempBackoffice();
    const errors: unknown[] = [];
    const sent: string[] = [];
    const publisher = startHeadPublisher({
      audit,
      intervalMs: 1000,
      onError: (err) => errors.push(err),
      publish: (_topic, payload) => void sent.push(payload),
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toHaveLength(1);
    // Reading the chain's head now throws (as a read past the busy timeout would).
    db.close();
    await vi.advanceTimersByTimeAsync(1000);
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).toMatch(/not open/);
    // Not jammed: the next tick reads again (and fails again, reported again).
    await vi.advanceTimersByTimeAsync(1000);
    expect(errors).toHaveLength(2);
    expect(sent).toHaveLength(1);
    await publisher.stop();
  });
});
