import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrate } from '../../adapters/sqlite/migrations.ts';
import { OUTBOX_MIGRATIONS, Outbox, type ReplayResult } from '../../gateway/outbox/outbox.ts';
import { range, readingItem } from '../helpers/readings.ts';

/**
 * Outbox schema version 4 indexes the replay window by (seq, meter) instead of (meter, seq), so
 * that an ack writes a few index pages rather than one per meter (issue 16 item 2). A version 3
 * file is migrated in place at open: every queued and kept row stays as it was, replays find the
 * same rows, and a migration stopped midway leaves the file at version 3, nothing lost.
 */

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'outbox-seq-index-'));
  path = join(dir, 'outbox.sqlite');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const HOUR = 3_600_000;
const V3 = OUTBOX_MIGRATIONS.filter((m) => m.version <= 3);

type Row = Record<string, unknown>;
function dump(file: string): { messages: Row[]; kept: Row[]; counters: Row[]; meterSeq: Row[] } {
  const db = new Database(file, { readonly: true });
  try {
    return {
      messages: db.prepare('SELECT * FROM messages ORDER BY id').all() as Row[],
      kept: db.prepare('SELECT * FROM kept ORDER BY meter, seq').all() as Row[],
      counters: db.prepare('SELECT * FROM counters ORDER BY name').all() as Row[],
      meterSeq: db.prepare('SELECT * FROM meter_seq ORDER BY meter').all() as Row[],
    };
  } finally {
    db.close();
  }
}

const keptIndexes = (file: string): string[] => {
  const db = new Database(file, { readonly: true });
  try {
    return db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'kept' ORDER BY name")
      .pluck()
      .all() as string[];
  } finally {
    db.close();
  }
};

/**
 * A version 3 file made by the outbox of version 3 itself (the migrations up to 3, then the same
 * statements an append and an ack ran): three meters, 1–30 acknowledged into the window, 31–35
 * queued, and meter c's 1–10 pruned, so its number lives in meter_numbering.
 */
function writeVersion3File(): void {
  const db = new Database(path);
  migrate(db, V3, path);
  const insert = db.prepare(
    'INSERT INTO messages (meter, seq, topic, ts, payload, bytes) VALUES (?, ?, ?, ?, ?, ?)',
  );
  let t = 1_000;
  db.transaction(() => {
    for (const seq of range(1, 35)) {
      for (const meter of ['a', 'b', 'c']) {
        const payload = JSON.stringify({ meter, ts: t, seq, quality: 'good', values: { power_kw: seq / 3 } });
        insert.run(meter, seq, `t/${meter}`, t++, payload, Buffer.byteLength(payload));
      }
    }
    db.exec(`
      INSERT INTO kept (meter, seq, topic, payload, bytes, ts, acked_at)
        SELECT meter, seq, topic, payload, bytes, ts, 5000 + seq FROM messages WHERE seq <= 30 ORDER BY id;
      DELETE FROM messages WHERE seq <= 30;
      INSERT INTO meter_numbering (meter, next_seq, dropped) VALUES ('c', 11, 0);
      DELETE FROM kept WHERE meter = 'c' AND seq <= 10;
      UPDATE counters SET value = (SELECT count(*) FROM messages) WHERE name = 'messages';
      UPDATE counters SET value = (SELECT sum(bytes) FROM messages) WHERE name = 'bytes';
      UPDATE counters SET value = (SELECT count(*) FROM kept) WHERE name = 'kept';
      UPDATE counters SET value = (SELECT sum(bytes) FROM kept) WHERE name = 'kept_bytes';
    `);
  })();
  db.close();
}

describe('Outbox schema version 4 (replay window indexed by seq, then meter)', () => {
  it('migrates a version 3 file in place: every queued and kept row, counter and number stays', () => {
    writeVersion3File();
    const before = dump(path);
    expect(before.messages).toHaveLength(15);
    expect(before.kept).toHaveLength(80);
    expect(keptIndexes(path)).toContain('kept_meter_seq');

    const outbox = Outbox.open({ path, maxBytes: 10_000_000, keepMs: 1_000 * HOUR, now: () => 10_000 });
    expect(outbox.stats().messages).toBe(15);
    expect(outbox.keptStats().messages).toBe(80);
    expect(outbox.nextSeq('a')).toBe(36);
    expect(outbox.nextSeq('c')).toBe(36);
    outbox.close();

    expect(dump(path)).toEqual(before);
    expect(keptIndexes(path)).toEqual(['kept_acked_at', 'kept_seq_meter']);
    const db = new Database(path, { readonly: true });
    expect(db.pragma('user_version', { simple: true })).toBe(4);
    db.close();
  });

  it('replays the migrated window as version 3 did: kept rows byte for byte, pending and missing', () => {
    writeVersion3File();
    const before = dump(path);
    const outbox = Outbox.open({ path, maxBytes: 10_000_000, keepMs: 1_000 * HOUR, now: () => 10_000 });
    const last = outbox.peek(0, 1000).at(-1)!.id;
    // c: 1–10 pruned (missing), 11–30 kept, 31–33 still queued; 36+ never numbered (ignored).
    expect(outbox.replay('c', 1, 40)).toEqual({ queued: 20, pending: 5, missing: [[1, 10]] });
    const replayed = outbox.peek(last, 1000);
    expect(replayed.map((r) => [r.meter, r.seq, r.payload])).toEqual(
      before.kept.filter((r) => r.meter === 'c').map((r) => [r.meter, r.seq, r.payload]),
    );
    // Acknowledged again, they keep their first acknowledgement (the unique index holds).
    outbox.ack(replayed.map((r) => r.id));
    expect(outbox.keptStats().messages).toBe(80);
    outbox.close();
    expect(dump(path).kept).toEqual(before.kept);
  });

  it('a migration stopped midway leaves version 3 with every row and the old index', () => {
    writeVersion3File();
    const before = dump(path);
    const db = new Database(path);
    const v4 = OUTBOX_MIGRATIONS.find((m) => m.version === 4)!;
    expect(() =>
      migrate(
        db,
        [
          ...V3,
          {
            ...v4,
            up: (d) => {
              v4.up(d);
              throw new Error('killed after the index swap, before the commit');
            },
          },
        ],
        path,
      ),
    ).toThrow(/killed/);
    expect(db.pragma('user_version', { simple: true })).toBe(3);
    db.close();
    expect(keptIndexes(path)).toContain('kept_meter_seq');
    expect(keptIndexes(path)).not.toContain('kept_seq_meter');
    expect(dump(path)).toEqual(before);
    // And the next start migrates it.
    Outbox.open({ path, maxBytes: 10_000_000 }).close();
    expect(keptIndexes(path)).toContain('kept_seq_meter');
    expect(dump(path)).toEqual(before);
  });

  it('replay answers as a per-seq model does, for any window with holes and queued readings', () => {
    // Each meter's seqs are kept, still queued or gone, at random; replay of a random range is
    // compared with the answer read off that assignment seq by seq.
    type Fate = 'kept' | 'queued' | 'gone';
    const fate = fc.constantFrom<Fate>('kept', 'kept', 'queued', 'gone');
    fc.assert(
      fc.property(
        fc.array(fc.array(fate, { minLength: 1, maxLength: 40 }), { minLength: 1, maxLength: 3 }),
        fc.nat(45),
        fc.nat(45),
        fc.nat(2),
        (fates, a, b, pick) => {
          const file = join(dir, `p-${Math.random()}.sqlite`);
          const outbox = Outbox.open({ path: file, maxBytes: 10_000_000, keepMs: HOUR, now: () => 1 });
          const meters = fates.map((_, i) => `m${i}`);
          // Meters appended interleaved, so that other meters' entries lie between a meter's seqs.
          const longest = Math.max(...fates.map((f) => f.length));
          for (const i of range(0, longest - 1)) {
            outbox.append(meters.filter((_, m) => i < fates[m]!.length).map((m) => readingItem(m)));
          }
          const rows = outbox.peek(0, 10_000);
          const fateOf = (meter: string, seq: number) => fates[meters.indexOf(meter)]![seq - 1]!;
          outbox.ack(rows.filter((r) => fateOf(r.meter, r.seq) !== 'queued').map((r) => r.id));
          // 'gone': out of the window, as a size prune takes a reading.
          const db = new Database(file);
          const gone = db.prepare('DELETE FROM kept WHERE meter = ? AND seq = ?');
          for (const r of rows) if (fateOf(r.meter, r.seq) === 'gone') gone.run(r.meter, r.seq);
          db.close();

          const meter = meters[pick % meters.length]!;
          const from = Math.min(a, b) + 1;
          const to = Math.max(a, b) + 1;
          const expected: ReplayResult = { queued: 0, pending: 0, missing: [] };
          const numbered = fates[meters.indexOf(meter)]!.length;
          for (let seq = from; seq <= Math.min(to, numbered); seq++) {
            const f = fateOf(meter, seq);
            if (f === 'queued') expected.pending++;
            else if (f === 'kept') expected.queued++;
            else {
              const run = expected.missing.at(-1);
              if (run && run[1] === seq - 1) run[1] = seq;
              else expected.missing.push([seq, seq]);
            }
          }
          const last = rows.at(-1)!.id;
          expect(outbox.replay(meter, from, to)).toEqual(expected);
          expect(outbox.peek(last, 10_000).map((r) => r.seq)).toEqual(
            range(from, Math.min(to, numbered)).filter((s) => fateOf(meter, s) === 'kept'),
          );
          outbox.close();
          rmSync(file, { force: true });
          rmSync(`${file}-wal`, { force: true });
          rmSync(`${file}-shm`, { force: true });
        },
      ),
      { numRuns: 60 },
    );
  });
});
