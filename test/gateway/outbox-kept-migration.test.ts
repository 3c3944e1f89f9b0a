import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OUTBOX_MIGRATIONS, Outbox } from '../../gateway/outbox/outbox.ts';
import { range, readingItem } from '../helpers/readings.ts';

/**
 * Outbox schema version 2 moves the replay window (`kept`) from a (meter, seq)-keyed table to one
 * in acknowledgement order (issue 16 item 2: an ack cost more than the append). A gateway's file
 * of version 1 is migrated in place at open: every kept reading stays, byte for byte, and is still
 * replayed by meter and seq; the queue and the numbering are untouched.
 */

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'outbox-kept-v2-'));
  path = join(dir, 'outbox.sqlite');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const HOUR = 3_600_000;

type KeptRow = {
  meter: string;
  seq: number;
  topic: string;
  payload: string;
  bytes: number;
  ts: number;
  acked_at: number;
};
const keptRows = (file: string): KeptRow[] => {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare('SELECT * FROM kept ORDER BY meter, seq').all() as KeptRow[];
  } finally {
    db.close();
  }
};

/** A file as version 1 left it: the queue, the numbering and a replay window of three meters. */
function writeVersion1File(): { kept: KeptRow[]; queued: { meter: string; seq: number }[] } {
  const db = new Database(path);
  OUTBOX_MIGRATIONS[0]!.up(db);
  db.pragma('user_version = 1');
  const insertKept = db.prepare(
    'INSERT INTO kept (meter, seq, topic, payload, bytes, ts, acked_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  const insertQueued = db.prepare(
    'INSERT INTO messages (meter, seq, topic, ts, payload, bytes) VALUES (?, ?, ?, ?, ?, ?)',
  );
  let bytes = 0;
  let keptBytes = 0;
  for (const meter of ['m-a', 'm-b', 'm-c']) {
    for (const seq of range(1, 40)) {
      // Acknowledged in an order unlike the key's: meters interleaved, times not by seq.
      const payload = JSON.stringify({
        meter,
        seq,
        ts: 1000 + seq,
        quality: 'good',
        values: { power_kw: seq / 7 },
      });
      const b = Buffer.byteLength(payload);
      insertKept.run(meter, seq, `t/${meter}`, payload, b, 1000 + seq, 5_000 + ((seq * 37) % 41) * 10);
      keptBytes += b;
    }
    const payload = JSON.stringify({ meter, seq: 41, ts: 1041, quality: 'good', values: {} });
    insertQueued.run(meter, 41, `t/${meter}`, 1041, payload, Buffer.byteLength(payload));
    bytes += Buffer.byteLength(payload);
    db.prepare('INSERT INTO meter_seq (meter, next_seq, dropped) VALUES (?, 42, 0)').run(meter);
  }
  const counter = db.prepare('UPDATE counters SET value = ? WHERE name = ?');
  counter.run(3, 'messages');
  counter.run(bytes, 'bytes');
  counter.run(120, 'kept');
  counter.run(keptBytes, 'kept_bytes');
  db.close();
  return {
    kept: keptRows(path),
    queued: ['m-a', 'm-b', 'm-c'].map((meter) => ({ meter, seq: 41 })),
  };
}

describe('Outbox schema version 2 (replay window in acknowledgement order)', () => {
  it('migrates a version 1 file in place, keeping every kept reading and replaying it by seq', () => {
    const before = writeVersion1File();
    expect(before.kept).toHaveLength(120);

    const outbox = Outbox.open({ path, maxBytes: 10_000_000, keepMs: 1_000 * HOUR, now: () => 10_000 });
    expect(outbox.keptStats().messages).toBe(120);
    expect(outbox.peek(0, 100).map((r) => ({ meter: r.meter, seq: r.seq }))).toEqual(before.queued);
    expect(outbox.nextSeq('m-b')).toBe(42);

    // Every kept row survived as it was, acknowledgement time included.
    outbox.close();
    const db = new Database(path, { readonly: true });
    expect(db.pragma('user_version', { simple: true })).toBe(OUTBOX_MIGRATIONS.at(-1)!.version);
    const indexes = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'kept'")
      .pluck()
      .all();
    db.close();
    expect(indexes).toEqual(expect.arrayContaining(['kept_seq_meter', 'kept_acked_at']));
    expect(keptRows(path)).toEqual(before.kept);

    // And they are replayed by meter and seq, payloads byte for byte.
    const reopened = Outbox.open({ path, maxBytes: 10_000_000, keepMs: 1_000 * HOUR, now: () => 10_000 });
    const queuedBefore = reopened.peek(0, 100).at(-1)!.id;
    expect(reopened.replay('m-b', 5, 9)).toEqual({ queued: 5, pending: 0, missing: [] });
    const replayed = reopened.peek(queuedBefore, 100);
    const expected = before.kept.filter((r) => r.meter === 'm-b' && r.seq >= 5 && r.seq <= 9);
    expect(replayed.map((r) => [r.meter, r.seq, r.payload])).toEqual(
      expected.map((r) => [r.meter, r.seq, r.payload]),
    );

    // A replayed reading acknowledged again keeps its first acknowledgement (the unique index).
    reopened.ack(replayed.map((r) => r.id));
    expect(reopened.keptStats().messages).toBe(120);
    reopened.close();
    expect(keptRows(path).filter((r) => r.meter === 'm-b' && r.seq === 5)).toEqual(
      expected.filter((r) => r.seq === 5),
    );
  });

  it('a new file gets version 2 and acks readings into the window', () => {
    const outbox = Outbox.open({ path, maxBytes: 10_000_000, keepMs: HOUR, now: () => 1 });
    outbox.append(range(1, 5).map(() => readingItem('m')));
    outbox.ack(outbox.peek(0, 100).map((r) => r.id));
    expect(outbox.keptStats().messages).toBe(5);
    expect(outbox.replay('m', 1, 5).queued).toBe(5);
    outbox.close();
    expect(keptRows(path).map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
  });
});
