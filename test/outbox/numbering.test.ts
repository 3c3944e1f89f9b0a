import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FIRST_SEQ, Outbox, type OutboxOptions } from '../../gateway/outbox/outbox.ts';
import { readingItem } from '../helpers/readings.ts';
import { seededRandom } from '../../services/platform/seeded-random.ts';

/**
 * A meter's numbering lives in its rows (queued and kept); the outbox writes it to a table only
 * where rows go. The attack: every way a row leaves the file (acked with no replay window, the
 * window pruned by age or by size, dropped when full), then a restart, checked against a count of
 * what was numbered kept outside the outbox.
 */

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'outbox-numbering-'));
  path = join(dir, 'outbox.sqlite');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const TS = 1_780_000_000_000;

/** What another process reading the file sees (the tests' helpers read `meter_seq`). */
function onDisk(sql: string): unknown[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare(sql).all();
  } finally {
    db.close();
  }
}

function viewSeqs(): Map<string, number> {
  const rows = onDisk('SELECT meter, next_seq FROM meter_seq') as { meter: string; next_seq: number }[];
  return new Map(rows.map((r) => [r.meter, r.next_seq]));
}

describe('outbox numbering', () => {
  it('an append writes no meter number of its own: the rows carry it, and meter_seq reads it from them', () => {
    const outbox = Outbox.open({ path, maxBytes: 10_000_000, now: () => TS });
    for (let i = 0; i < 5; i++)
      outbox.append([readingItem('a', TS), readingItem('b', TS), readingItem('a', TS)]);
    expect(onDisk('SELECT count(*) AS n FROM meter_numbering')).toEqual([{ n: 0 }]);
    expect(viewSeqs()).toEqual(
      new Map([
        ['a', 11],
        ['b', 6],
      ]),
    );
    // Acked into the replay window: still no write, still the same numbers.
    outbox.ack(outbox.peek(0, 1000).map((r) => r.id));
    expect(onDisk('SELECT count(*) AS n FROM messages')).toEqual([{ n: 0 }]);
    expect(onDisk('SELECT count(*) AS n FROM meter_numbering')).toEqual([{ n: 0 }]);
    expect(viewSeqs()).toEqual(
      new Map([
        ['a', 11],
        ['b', 6],
      ]),
    );
    outbox.close();
  });

  const configs: [string, Omit<OutboxOptions, 'path' | 'now'>][] = [
    ['the window pruned by age', { maxBytes: 10_000_000, keepMs: 2_000 }],
    ['no replay window (rows go at their ack)', { maxBytes: 10_000_000, keepMs: 0 }],
    ['the window pruned by size', { maxBytes: 10_000_000, keepMs: 3_600_000, keepMaxBytes: 3_000 }],
    ['readings dropped when full', { maxBytes: 2_500, keepMs: 2_000 }],
  ];
  for (const [name, options] of configs) {
    it(`numbers on gap-free across restarts: ${name}`, () => {
      for (const seed of [1, 2, 3]) {
        const rnd = seededRandom(seed);
        let clock = TS;
        const open = () => Outbox.open({ path: join(dir, `${seed}.sqlite`), ...options, now: () => clock });
        path = join(dir, `${seed}.sqlite`);
        const numbered = new Map<string, number>();
        const meters = ['m1', 'm2', 'm3', 'm4', 'm5'];
        let outbox = open();
        let rowsGone = 0;
        for (let step = 0; step < 300; step++) {
          const items = Array.from({ length: 1 + Math.floor(rnd() * 6) }, () =>
            readingItem(meters[Math.floor(rnd() * meters.length)]!, clock),
          );
          for (const r of outbox.append(items)) {
            const expected = (numbered.get(r.meter) ?? FIRST_SEQ - 1) + 1;
            expect(r.seq, `seed ${seed} step ${step} ${r.meter}`).toBe(expected);
            numbered.set(r.meter, r.seq);
          }
          if (rnd() < 0.6) {
            const rows = outbox.peek(0, 1000);
            outbox.ack(rows.slice(0, Math.floor(rnd() * (rows.length + 1))).map((r) => r.id));
          }
          clock += Math.floor(rnd() * 1_500);
          if (rnd() < 0.15) {
            outbox.close();
            outbox = open();
            for (const m of meters) {
              expect(outbox.nextSeq(m), `seed ${seed} step ${step} ${m} after restart`).toBe(
                (numbered.get(m) ?? FIRST_SEQ - 1) + 1,
              );
            }
          }
          const left = onDisk(
            'SELECT (SELECT count(*) FROM messages) + (SELECT count(*) FROM kept) AS n',
          ) as {
            n: number;
          }[];
          const total = [...numbered.values()].reduce((s, n) => s + n, 0);
          rowsGone = Math.max(rowsGone, total - left[0]!.n);
        }
        // The run did take rows out of the file (else it proves nothing about numbering kept apart).
        expect(rowsGone, `seed ${seed}`).toBeGreaterThan(50);
        expect(viewSeqs()).toEqual(new Map([...numbered].map(([m, n]) => [m, n + 1])));
        outbox.close();
      }
    });
  }
});
