import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { GENESIS_HASH } from '../../services/platform/audit/audit-log.ts';
import {
  AUDIT_HEAD_TOPIC,
  AuditHeadPayloadSchema,
  startHeadPublisher,
} from '../../services/platform/audit/head-publisher.ts';
import { tempBackoffice } from './helpers.ts';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('audit head publisher', () => {
  it('publishes the head retained at start, every interval and on stop', async () => {
    const { db, audit, clock } = tempBackoffice();
    const sent: { topic: string; payload: unknown; options: unknown }[] = [];
    const publisher = startHeadPublisher({
      audit,
      intervalMs: 60_000,
      clock,
      publish: (topic, payload, options) => {
        sent.push({ topic, payload: AuditHeadPayloadSchema.parse(JSON.parse(payload)), options });
      },
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toEqual([
      {
        topic: AUDIT_HEAD_TOPIC,
        payload: { seq: 0, hash: GENESIS_HASH, at: 0, publishedAt: clock() },
        options: { retain: true, qos: 1 },
      },
    ]);
    const e = audit.append({ actor: 'wang.fang', action: 'ledger.topup', subject: 'account:E1-101' });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sent[1]!.payload).toMatchObject({ seq: 1, hash: e.hash, at: e.at });
    const e2 = audit.append({ actor: 'wang.fang', action: 'ledger.topup', subject: 'account:E1-102' });
    await publisher.stop();
    expect(sent).toHaveLength(3);
    expect(sent[2]!.payload).toMatchObject({ seq: 2, hash: e2.hash });
    await vi.advanceTimersByTimeAsync(600_000);
    expect(sent).toHaveLength(3);
    expect(AUDIT_HEAD_TOPIC).toBe('campus/v1/audit/head');
    db.close();
  });

  it('reports a failed publish and tries again on the next tick; a hung broker gets no queue', async () => {
    const { db, audit } = tempBackoffice();
    const errors: unknown[] = [];
    let calls = 0;
    let release: () => void = () => {};
    const publisher = startHeadPublisher({
      audit,
      intervalMs: 1000,
      onError: (err) => errors.push(err),
      publish: () => {
        calls++;
        if (calls === 1) throw new Error('broker down');
        if (calls === 2) return new Promise<void>((r) => (release = r));
      },
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(errors).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(calls).toBe(2);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(calls).toBe(2);
    release();
    await vi.advanceTimersByTimeAsync(1000);
    expect(calls).toBe(3);
    await publisher.stop();
    db.close();
  });
});
