import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ReadingSchema } from '../../config/schemas/reading.ts';
import { FIRST_SEQ, Outbox } from '../../gateway/outbox/outbox.ts';
import { range, readingItem } from '../helpers/readings.ts';

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'outbox-test-'));
  path = join(dir, 'outbox.sqlite');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function allRows(outbox: Outbox) {
  return outbox.peek(0, 1_000_000);
}

describe('Outbox', () => {
  it('numbers readings gap-free per meter and keeps counting after reopen', () => {
    let outbox = Outbox.open({ path, maxBytes: 10_000_000 });
    const first = outbox.append([readingItem('a'), readingItem('b'), readingItem('a')]);
    expect(first.map((r) => [r.meter, r.seq])).toEqual([
      ['a', FIRST_SEQ],
      ['b', FIRST_SEQ],
      ['a', FIRST_SEQ + 1],
    ]);
    for (let i = 0; i < 10; i++) outbox.append([readingItem('a')]);
    outbox.close();

    outbox = Outbox.open({ path, maxBytes: 10_000_000 });
    const [next] = outbox.append([readingItem('a')]);
    expect(next?.seq).toBe(FIRST_SEQ + 12);
    expect(outbox.nextSeq('b')).toBe(FIRST_SEQ + 1);

    const rows = allRows(outbox);
    const seqA = rows.filter((r) => r.meter === 'a').map((r) => r.seq);
    expect(seqA).toEqual(range(FIRST_SEQ, FIRST_SEQ + 12));
    // Rows come back in insertion order with valid reading payloads matching their columns.
    expect(rows.map((r) => r.id)).toEqual([...rows.map((r) => r.id)].sort((x, y) => x - y));
    for (const row of rows) {
      const reading = ReadingSchema.parse(JSON.parse(row.payload));
      expect([reading.meter, reading.seq]).toEqual([row.meter, row.seq]);
      expect(row.topic).toBe(`campus/v1/test/gw1/${row.meter}/reading`);
    }
    outbox.close();
  });

  it("continues a meter's numbering after imported history, across a reopen, and only for a new meter", () => {
    let outbox = Outbox.open({ path, maxBytes: 10_000_000 });
    outbox.continueNumberingAt('h', 672);
    expect(outbox.append([readingItem('h')]).map((r) => r.seq)).toEqual([672]);
    outbox.append([readingItem('a')]);
    expect(() => outbox.continueNumberingAt('a', 100)).toThrow(/already has readings numbered/);
    expect(() => outbox.continueNumberingAt('z', 0)).toThrow(RangeError);
    outbox.close();
    outbox = Outbox.open({ path, maxBytes: 10_000_000 });
    expect(outbox.append([readingItem('h')]).map((r) => r.seq)).toEqual([673]);
    outbox.close();
  });

  it('does not reuse sequence numbers after every row was acked', () => {
    let outbox = Outbox.open({ path, maxBytes: 10_000_000 });
    outbox.append([readingItem('a'), readingItem('a')]);
    outbox.ack(allRows(outbox).map((r) => r.id));
    outbox.close();
    outbox = Outbox.open({ path, maxBytes: 10_000_000 });
    expect(outbox.append([readingItem('a')])[0]?.seq).toBe(FIRST_SEQ + 2);
    outbox.close();
  });

  it('peeks after an id with a limit, and ack deletes only the given rows', () => {
    const outbox = Outbox.open({ path, maxBytes: 10_000_000 });
    outbox.append(range(1, 10).map(() => readingItem('m')));
    const firstFour = outbox.peek(0, 4);
    expect(firstFour.map((r) => r.seq)).toEqual([1, 2, 3, 4]);
    const lastId = firstFour[3]?.id ?? 0;
    expect(outbox.peek(lastId, 3).map((r) => r.seq)).toEqual([5, 6, 7]);

    expect(outbox.ack(firstFour.map((r) => r.id))).toBe(4);
    expect(outbox.ack(firstFour.map((r) => r.id))).toBe(0);
    expect(allRows(outbox).map((r) => r.seq)).toEqual(range(5, 10));
    expect(outbox.stats().messages).toBe(6);
    outbox.close();
  });

  it('keeps stats right through appends, acks and reopen', () => {
    let outbox = Outbox.open({ path, maxBytes: 10_000_000 });
    expect(outbox.stats()).toEqual({ messages: 0, bytes: 0, oldestTs: null, dropped: 0 });
    outbox.append([readingItem('a', 1000), readingItem('b', 2000), readingItem('a', 3000)]);
    const bytes = () => allRows(outbox).reduce((n, r) => n + Buffer.byteLength(r.payload), 0);
    expect(outbox.stats()).toEqual({ messages: 3, bytes: bytes(), oldestTs: 1000, dropped: 0 });

    const first = allRows(outbox)[0];
    outbox.ack([first?.id ?? -1]);
    expect(outbox.stats()).toEqual({ messages: 2, bytes: bytes(), oldestTs: 2000, dropped: 0 });
    const expected = outbox.stats();
    outbox.close();

    outbox = Outbox.open({ path, maxBytes: 10_000_000 });
    expect(outbox.stats()).toEqual(expected);
    outbox.close();
  });

  it('drops the oldest messages when full, and counts them in total and per meter', () => {
    const probe = Outbox.open({ path: ':memory:', maxBytes: 1_000_000 });
    probe.append([readingItem('a', 1)]);
    const size = probe.stats().bytes;
    probe.close();

    // Room for five messages of about this size.
    let outbox = Outbox.open({ path, maxBytes: size * 5 + Math.floor(size / 2) });
    outbox.append(range(1, 4).map((i) => readingItem('a', i)));
    outbox.append(range(5, 8).map((i) => readingItem(i % 2 ? 'a' : 'b', i)));

    const stats = outbox.stats();
    expect(stats.messages).toBe(5);
    expect(stats.dropped).toBe(3);
    expect(stats.bytes).toBeLessThanOrEqual(size * 5 + Math.floor(size / 2));
    // Readings with ts 1..3 (all meter a) were the oldest and went.
    expect(stats.oldestTs).toBe(4);
    expect(outbox.droppedByMeter()).toEqual({ a: 3 });
    outbox.close();

    outbox = Outbox.open({ path, maxBytes: size * 5 + Math.floor(size / 2) });
    expect(outbox.stats().dropped).toBe(3);
    expect(outbox.droppedByMeter()).toEqual({ a: 3 });
    // Dropping never disturbs the numbering: the next reading of a follows the last assigned.
    expect(outbox.nextSeq('a')).toBe(7);
    outbox.close();
  });

  it('rolls back a whole append when one reading is built wrongly', () => {
    const outbox = Outbox.open({ path, maxBytes: 10_000_000 });
    outbox.append([readingItem('a')]);
    const bad = {
      ...readingItem('a'),
      build: (seq: number) => ({ ...readingItem('a').build(seq), seq: seq + 5 }),
    };
    expect(() => outbox.append([readingItem('a'), bad])).toThrow(/expected seq/);
    expect(outbox.stats().messages).toBe(1);
    expect(outbox.append([readingItem('a')])[0]?.seq).toBe(FIRST_SEQ + 1);
    outbox.close();
  });

  it('serves fresh rows from memory exactly as SQLite would, through partial peeks, acks, rewinds and eviction', () => {
    const probe = Outbox.open({ path: ':memory:', maxBytes: 1_000_000 });
    probe.append([readingItem('a', 1)]);
    const size = probe.stats().bytes;
    probe.close();

    const outbox = Outbox.open({ path, maxBytes: size * 40 });
    const fromDb = (afterId: number, limit: number) => {
      // A fresh handle on the same file reads SQLite only: the reference for what peek must return.
      const other = Outbox.open({ path, maxBytes: size * 40 });
      try {
        return other.peek(afterId, limit);
      } finally {
        other.close();
      }
    };
    outbox.append(range(1, 10).map((i) => readingItem(i % 2 ? 'a' : 'b', i)));
    const first = outbox.peek(0, 4);
    expect(first).toEqual(fromDb(0, 4));
    const cursor = first.at(-1)!.id;
    expect(outbox.peek(cursor, 100)).toEqual(fromDb(cursor, 100));

    // Acking what was handed out, appending more, and reading on from the cursor.
    outbox.ack(first.map((r) => r.id));
    outbox.append(range(11, 15).map((i) => readingItem('c', i)));
    expect(outbox.peek(cursor, 100)).toEqual(fromDb(cursor, 100));

    // A rewind (publish failed) reads everything still stored, in order.
    expect(outbox.peek(0, 100)).toEqual(fromDb(0, 100));
    expect(outbox.peek(0, 100).map((r) => r.seq)).toEqual([3, 3, 4, 4, 5, 5, ...range(1, 5)]);

    // Acking rows still ahead of the cursor removes them from what peek returns.
    const ahead = outbox.peek(cursor, 2).map((r) => r.id);
    outbox.ack(ahead);
    expect(outbox.peek(cursor, 100)).toEqual(fromDb(cursor, 100));

    // Eviction when full: the evicted rows are never served again.
    outbox.append(range(16, 80).map((i) => readingItem('d', i)));
    expect(outbox.stats().dropped).toBeGreaterThan(0);
    expect(outbox.peek(cursor, 1000)).toEqual(fromDb(cursor, 1000));
    expect(outbox.peek(0, 1000)).toEqual(fromDb(0, 1000));
    outbox.close();
  });

  it('tells listeners about each committed append', () => {
    const outbox = Outbox.open({ path, maxBytes: 10_000_000 });
    let calls = 0;
    const off = outbox.onAppend(() => calls++);
    outbox.append([readingItem('a'), readingItem('b')]);
    outbox.append([]);
    off();
    outbox.append([readingItem('a')]);
    expect(calls).toBe(1);
    outbox.close();
  });

  it('appends thousands of single readings per second', () => {
    const outbox = Outbox.open({ path, maxBytes: 100_000_000 });
    const n = 5000;
    const started = performance.now();
    for (let i = 0; i < n; i++) outbox.append([readingItem(`m${i % 20}`)]);
    const perSec = n / ((performance.now() - started) / 1000);
    console.log(`outbox: ${Math.round(perSec)} single-reading appends/s`);
    expect(perSec).toBeGreaterThan(2000);
    expect(outbox.stats().messages).toBe(n);
    outbox.close();
  });
});
