import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ReadingSchema } from '../../config/schemas/reading.ts';
import { Outbox } from '../../gateway/outbox/outbox.ts';
import { range, readingItem } from '../helpers/readings.ts';

/**
 * The replay window (issue 26 item 2): an acknowledged reading leaves the queue but stays on the
 * gateway for ingest to ask for again, until the window or its disk budget ends it.
 */

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'outbox-replay-'));
  path = join(dir, 'outbox.sqlite');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const HOUR = 3_600_000;
const all = (o: Outbox) => o.peek(0, 1_000_000);

describe('Outbox replay window', () => {
  it('keeps acknowledged readings and queues exactly the asked range again, byte for byte', () => {
    let t = 1_000_000;
    const outbox = Outbox.open({ path, maxBytes: 10_000_000, keepMs: HOUR, now: () => t });
    outbox.append(range(1, 10).map(() => readingItem('m')));
    const sent = all(outbox);
    outbox.ack(sent.map((r) => r.id));
    expect(outbox.stats().messages).toBe(0);
    expect(outbox.keptStats().messages).toBe(10);
    expect(outbox.highWater()).toEqual({ m: 10 });

    t += 60_000;
    const result = outbox.replay('m', 3, 6);
    expect(result).toEqual({ queued: 4, pending: 0, missing: [] });
    const again = outbox.peek(sent.at(-1)!.id, 100);
    expect(again.map((r) => r.seq)).toEqual([3, 4, 5, 6]);
    for (const row of again) {
      expect(row.payload).toBe(sent.find((s) => s.seq === row.seq)!.payload);
      expect(ReadingSchema.parse(JSON.parse(row.payload)).seq).toBe(row.seq);
    }
    expect(outbox.stats().messages).toBe(4);
    outbox.close();
  });

  it('reports readings still queued as pending and never queues them twice', () => {
    const outbox = Outbox.open({ path, maxBytes: 10_000_000 });
    outbox.append(range(1, 6).map(() => readingItem('m')));
    const rows = all(outbox);
    outbox.ack(rows.slice(0, 3).map((r) => r.id)); // 1–3 acked, 4–6 still queued
    expect(outbox.replay('m', 1, 6)).toEqual({ queued: 3, pending: 3, missing: [] });
    // Asking again while the replayed copies wait: all pending, nothing added.
    expect(outbox.replay('m', 1, 6)).toEqual({ queued: 0, pending: 6, missing: [] });
    expect(
      all(outbox)
        .map((r) => r.seq)
        .sort(),
    ).toEqual([1, 2, 3, 4, 5, 6]);
    outbox.close();
  });

  it('names what it no longer holds: past the window, evicted when full, never numbered is ignored', () => {
    let t = 0;
    const outbox = Outbox.open({ path, maxBytes: 10_000_000, keepMs: HOUR, now: () => t });
    outbox.append(range(1, 4).map(() => readingItem('m')));
    outbox.ack(all(outbox).map((r) => r.id)); // 1–4 kept at t=0
    t = 2 * HOUR;
    outbox.append(range(1, 2).map(() => readingItem('m')));
    outbox.ack(all(outbox).map((r) => r.id)); // 5–6 kept at 2 h; the ack prunes 1–4
    expect(outbox.keptStats().messages).toBe(2);
    expect(outbox.replay('m', 1, 99)).toEqual({ queued: 2, pending: 0, missing: [[1, 4]] });
    // A meter this outbox never numbered, and a range beyond the last seq: nothing to say.
    expect(outbox.replay('other', 1, 5)).toEqual({ queued: 0, pending: 0, missing: [] });
    expect(outbox.replay('m', 7, 9)).toEqual({ queued: 0, pending: 0, missing: [] });
    outbox.close();
  });

  it('survives a reopen (counters and rows) and holds its disk budget, oldest first', () => {
    let t = 0;
    let outbox = Outbox.open({ path, maxBytes: 10_000_000, now: () => t });
    for (let i = 0; i < 5; i++) {
      t += 1_000;
      outbox.append(range(1, 20).map(() => readingItem('m')));
      outbox.ack(all(outbox).map((r) => r.id));
    }
    const kept = outbox.keptStats();
    expect(kept.messages).toBe(100);
    outbox.close();

    outbox = Outbox.open({
      path,
      maxBytes: 10_000_000,
      keepMaxBytes: Math.floor(kept.bytes / 2),
      now: () => t,
    });
    expect(outbox.keptStats()).toEqual(kept);
    t += 20_000;
    outbox.append([readingItem('m')]);
    outbox.ack(all(outbox).map((r) => r.id));
    const after = outbox.keptStats();
    expect(after.bytes).toBeLessThanOrEqual(Math.floor(kept.bytes / 2));
    const { missing } = outbox.replay('m', 1, 101);
    // The oldest went: one run from seq 1.
    expect(missing).toHaveLength(1);
    expect(missing[0]![0]).toBe(1);
    expect(missing[0]![1]).toBe(101 - after.messages);
    outbox.close();
  });

  it('never lets a replay push live readings out of a full queue', () => {
    // Room for 30 readings: 40 kept, 20 live ones queued, then the 40 asked for again.
    const probe = Outbox.open({ path: ':memory:', maxBytes: 1_000_000 });
    probe.append([readingItem('m')]);
    const max = probe.stats().bytes * 30;
    probe.close();
    const outbox = Outbox.open({ path, maxBytes: max });
    for (let i = 0; i < 4; i++) {
      outbox.append(range(1, 10).map(() => readingItem('m')));
      outbox.ack(all(outbox).map((r) => r.id));
    }
    outbox.append(range(1, 20).map(() => readingItem('live')));
    const before = outbox.stats();
    const result = outbox.replay('m', 1, 40);
    expect(result.queued).toBeGreaterThan(0);
    expect(result.queued).toBeLessThan(40);
    expect(result.missing).toEqual([]);
    expect(outbox.stats().dropped).toBe(before.dropped);
    expect(outbox.stats().bytes).toBeLessThanOrEqual(max * 0.9);
    expect(all(outbox).filter((r) => r.meter === 'live')).toHaveLength(20);
    outbox.close();
  });
});
