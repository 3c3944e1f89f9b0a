import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Outbox } from '../../gateway/outbox/outbox.ts';
import { range, readingItem } from '../helpers/readings.ts';

/**
 * An ack moves its rows to the replay window and counts what it moved without asking the window
 * beforehand which rows it already holds (a cost per row on every ack, issue 16 item 2). The
 * counts are checked here against the window recounted from the file, with acks that move only
 * fresh rows, only replayed ones, and both in one range.
 */

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'outbox-ack-'));
  path = join(dir, 'outbox.sqlite');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function recount(file: string): { messages: number; bytes: number } {
  const db = new Database(file, { readonly: true });
  try {
    const r = db.prepare('SELECT count(*) AS n, coalesce(sum(bytes), 0) AS b FROM kept').get() as {
      n: number;
      b: number;
    };
    return { messages: r.n, bytes: r.b };
  } finally {
    db.close();
  }
}

describe('the replay window counted by acks', () => {
  it('matches the window recounted from the file, replays acked again included', () => {
    const outbox = Outbox.open({ path, maxBytes: 10_000_000, keepMs: 3_600_000 });
    outbox.append(range(1, 8).map((i) => readingItem(i % 2 ? 'a' : 'b')));
    const first = outbox.peek(0, 100);
    outbox.ack(first.map((r) => r.id)); // only fresh rows
    expect(outbox.keptStats()).toEqual(recount(path));
    expect(outbox.keptStats().messages).toBe(8);

    // Replayed rows, then new ones: one range of ids that is half already kept.
    expect(outbox.replay('a', 2, 3).queued).toBe(2);
    outbox.append(range(1, 3).map(() => readingItem('b')));
    const mixed = outbox.peek(first.at(-1)!.id, 100);
    expect(mixed.length).toBe(5);
    expect(mixed.map((r) => r.id)).toEqual(range(mixed[0]!.id, mixed[0]!.id + 4));
    outbox.ack(mixed.map((r) => r.id));
    expect(outbox.stats().messages).toBe(0);
    expect(outbox.keptStats()).toEqual(recount(path));
    expect(outbox.keptStats().messages).toBe(11);

    // Only replayed rows: the window does not grow.
    const before = outbox.keptStats();
    expect(outbox.replay('b', 1, 2).queued).toBe(2);
    outbox.ack(outbox.peek(mixed.at(-1)!.id, 100).map((r) => r.id));
    expect(outbox.keptStats()).toEqual(before);
    expect(outbox.keptStats()).toEqual(recount(path));
    outbox.close();

    // The counters persisted are those of the file too.
    const reopened = Outbox.open({ path, maxBytes: 10_000_000, keepMs: 3_600_000 });
    expect(reopened.keptStats()).toEqual(recount(path));
    reopened.close();
  });
});
