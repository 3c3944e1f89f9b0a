import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Outbox } from '../../gateway/outbox/outbox.ts';
import { startReplayService, type ReplayService } from '../../gateway/replay.ts';
import { readingItem } from '../helpers/readings.ts';

/**
 * The replay service reads the outbox from a timer (the seq announcement) and from the MQTT
 * client's message handler (ingest's requests). When the outbox's disk fails (here: a real outbox
 * whose reads throw while `failing` is set, as a full or broken disk makes better-sqlite3 throw),
 * neither may throw out of the timer or the handler, which would end the gateway and its polling:
 * each failure is logged and counted, the announcement is made again at the next tick once the
 * disk answers, and a request that failed is left for ingest to ask again.
 */

describe('replay service with a failing outbox disk', () => {
  let dir: string | undefined;
  let service: ReplayService | undefined;
  let outbox: Outbox | undefined;
  afterEach(() => {
    service?.stop();
    outbox?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('logs and counts each failure, keeps its timer, and announces again once the disk answers', async () => {
    dir = mkdtempSync(join(tmpdir(), 'replay-fault-'));
    outbox = Outbox.open({ path: join(dir, 'outbox.sqlite'), maxBytes: 1_000_000 });
    outbox.append(Array.from({ length: 5 }, () => readingItem('m1')));
    let failing = true;
    const real = outbox;
    const disk = new Proxy(real, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => {
          if (failing && (prop === 'highWater' || prop === 'replay'))
            throw new Error('SQLITE_IOERR: disk I/O error');
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const errors: string[] = [];
    const logger = pino(
      { level: 'error' },
      { write: (line: string) => void errors.push(String(JSON.parse(line).msg)) },
    );
    const retained: string[] = [];
    const answers: string[] = [];
    let onRequest: ((topic: string, payload: Buffer) => void) | undefined;
    service = startReplayService({
      site: 's',
      gateway: 'gw1',
      outbox: disk,
      meters: new Set(['m1']),
      subscribe: async (_filter, handler) => {
        onRequest = handler;
      },
      publish: async (_t, p) => (answers.push(p), true),
      publishRetained: async (_t, p) => (retained.push(p), true),
      announceEveryMs: 20,
      logger,
    });
    // Start-up's own announcement and a few ticks fail: nothing thrown, each logged by what failed.
    await new Promise((r) => setTimeout(r, 90));
    expect(retained).toEqual([]);
    const failedTicks = service.stats().failed;
    expect(failedTicks).toBeGreaterThanOrEqual(3);
    expect(errors[0]).toBe('announcing the last seqs failed; tried again later');
    // A request while the disk fails: not answered, counted, logged.
    onRequest!('t', Buffer.from(JSON.stringify({ id: 'r1', ranges: [{ meter: 'm1', from: 1, to: 5 }] })));
    expect(answers).toEqual([]);
    expect(errors).toContain('answering a replay request failed; tried again later');
    // The disk answers again: the timer is still there and announces; ingest's next ask is answered.
    failing = false;
    await new Promise((r) => setTimeout(r, 60));
    expect(retained.length).toBeGreaterThan(0);
    expect(JSON.parse(retained.at(-1)!).seqs).toEqual({ m1: 5 });
    onRequest!('t', Buffer.from(JSON.stringify({ id: 'r2', ranges: [{ meter: 'm1', from: 1, to: 5 }] })));
    expect(answers).toHaveLength(1);
    expect(JSON.parse(answers[0]!).id).toBe('r2');
  });
});
