import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../adapters/sqlite/store.ts';
import type { StoredReading } from '../../services/metering/storage.ts';
import { storedSeqs } from '../helpers/campus-cli.ts';

/**
 * The fault suites count what ingest stored with `storedSeqs`, from the file another process owns.
 * Closed days live in chunks, not rows: a count of the rows alone loses readings whenever a suite
 * runs across 01:00 UTC or gets readings stamped an hour back (a gateway whose clock was stepped).
 */
const dir = mkdtempSync(path.join(tmpdir(), 'campus-stored-seqs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('storedSeqs', () => {
  it('finds every seq of a store, in chunks of closed days and in the open day’s rows', async () => {
    const file = path.join(dir, 'store.sqlite');
    const store = SqliteStore.open({ path: file, clock: () => Date.UTC(2100, 0, 1) });
    const t0 = Date.UTC(2026, 2, 1, 22);
    const readings: StoredReading[] = [];
    for (const meter of ['E-1', 'E-2']) {
      for (let seq = 1; seq <= 40; seq++) {
        readings.push({
          meter,
          seq,
          ts: t0 + seq * 600_000, // 22:10 on day 1 to 04:40 on day 2: day 1 closes
          quality: 'good',
          values: { energy_import_kwh: 100 + seq },
          site: 'east',
          gateway: 'gw-1',
          kind: 'electricity',
        });
      }
    }
    await store.writeReadings(readings);
    store.compact();
    await store.close();
    const db = new Database(file, { readonly: true });
    const chunks = db.prepare('select count(*) from chunks').pluck().get() as number;
    const rows = db.prepare('select count(*) from readings').pluck().get() as number;
    db.close();
    expect(chunks).toBe(2); // the helper has something to find there
    expect(rows).toBeLessThan(80);
    const found = storedSeqs(file)
      .map((r) => `${r.meter}#${r.seq}`)
      .sort();
    expect(found).toEqual(readings.map((r) => `${r.meter}#${r.seq}`).sort());
  });

  it('is empty for a store not made yet', () => {
    expect(storedSeqs(path.join(dir, 'none.sqlite'))).toEqual([]);
  });
});
