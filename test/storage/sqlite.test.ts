import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../adapters/sqlite/store.ts';
import type { StoredReading } from '../../services/metering/storage.ts';
import { storageContract } from './contract.ts';
import type { RetentionHooks } from './contract-retention.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'campus-sqlite-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
/** Retention as the back office applies it: closed days moved into chunks, then rawDays 400. */
const retention: RetentionHooks = {
  latestEnd: () => Date.UTC(2026, 0, 20),
  expireRaw: async (store, before) => {
    const s = store as SqliteStore;
    s.compact();
    s.applyRetention({ now: before + 400 * 86_400_000, rawDays: 400, holds: [] });
  },
};
storageContract(
  'sqlite',
  async () => SqliteStore.open({ path: path.join(dir, `store-${++n}.sqlite`), dailyUtcOffsetMinutes: 480 }),
  async () => {
    for (const suffix of ['', '-wal', '-shm'])
      rmSync(path.join(dir, `store-${n}.sqlite${suffix}`), { force: true });
  },
  retention,
);

// The same contract with hour-wide chunks that close at once: every test's earlier hours are read
// back from compressed chunks, merged with the raw rows of the hour still open.
storageContract(
  'sqlite, hourly chunks closing at once',
  async () =>
    SqliteStore.open({
      path: path.join(dir, `store-${++n}.sqlite`),
      chunkMs: 3_600_000,
      graceMs: 0,
      chunksPerWrite: Infinity,
      clock: () => Date.UTC(2100, 0, 1),
    }),
  async () => {
    for (const suffix of ['', '-wal', '-shm'])
      rmSync(path.join(dir, `store-${n}.sqlite${suffix}`), { force: true });
  },
  retention,
);

describe('SqliteStore', () => {
  const reading = (seq: number, ts: number, meter = 'E-1'): StoredReading => ({
    meter,
    seq,
    ts,
    quality: 'good',
    values: { energy_import_kwh: seq },
    site: 's',
    gateway: 'g',
    kind: 'electricity',
  });

  it('opens a store written before flags and breaker_closed existed, keeping its readings', async () => {
    const file = path.join(dir, 'old-schema.sqlite');
    const db = new Database(file);
    // The table as version 0.1 created it: no flags column, no breaker_closed quantity.
    db.exec(`CREATE TABLE meters (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, site TEXT NOT NULL,
               gateway TEXT NOT NULL, kind TEXT NOT NULL);
             CREATE TABLE readings (meter_id INTEGER NOT NULL, seq INTEGER NOT NULL, ts INTEGER NOT NULL,
               quality INTEGER NOT NULL, device_ts INTEGER, error_code TEXT, error_message TEXT,
               energy_import_kwh REAL, PRIMARY KEY (meter_id, ts, seq)) WITHOUT ROWID;
             CREATE TABLE latest (meter_id INTEGER PRIMARY KEY, site TEXT NOT NULL, gateway TEXT NOT NULL,
               kind TEXT NOT NULL, seq INTEGER NOT NULL, ts INTEGER NOT NULL, quality INTEGER NOT NULL,
               device_ts INTEGER, error_code TEXT, error_message TEXT, energy_import_kwh REAL);
             INSERT INTO meters VALUES (1, 'E-1', 's', 'g', 'electricity');
             INSERT INTO readings (meter_id, seq, ts, quality, energy_import_kwh) VALUES (1, 1, 1000, 0, 1);
             INSERT INTO latest (meter_id, site, gateway, kind, seq, ts, quality, energy_import_kwh)
               VALUES (1, 's', 'g', 'electricity', 1, 1000, 0, 1);`);
    db.close();
    const store = SqliteStore.open({ path: file });
    await store.writeReadings([{ ...reading(2, 2000), values: { energy_import_kwh: 2, breaker_closed: 1 } }]);
    expect(await store.series({ meters: ['E-1'], quantity: 'energy_import_kwh', from: 0, to: 3000 })).toEqual(
      [
        { meter: 'E-1', ts: 1000, value: 1 },
        { meter: 'E-1', ts: 2000, value: 2 },
      ],
    );
    expect((await store.latest(['E-1']))[0]?.values).toEqual({ energy_import_kwh: 2, breaker_closed: 1 });
    await store.close();
  });

  it('keeps readings and latest across a reopen', async () => {
    const file = path.join(dir, 'reopen.sqlite');
    const first = SqliteStore.open({ path: file });
    await first.writeReadings([reading(1, 1000), reading(2, 2000)]);
    await first.close();
    const second = SqliteStore.open({ path: file });
    await second.writeReadings([reading(2, 2000), reading(3, 3000, 'E-2')]);
    expect((await second.latest()).map((r) => [r.meter, r.seq])).toEqual([
      ['E-1', 2],
      ['E-2', 3],
    ]);
    expect(
      await second.series({ meters: ['E-1'], quantity: 'energy_import_kwh', from: 0, to: 10_000 }),
    ).toHaveLength(2);
    await second.close();
  });

  it('rejects a whole batch it cannot store and stays usable', async () => {
    const store = SqliteStore.open({ path: ':memory:' });
    const broken = {
      ...reading(2, 2000, 'E-new'),
      values: { not_a_quantity: 1 },
    } as unknown as StoredReading;
    await expect(store.writeReadings([reading(1, 1000, 'E-new'), broken])).rejects.toThrow(
      /unknown quantity/,
    );
    expect(await store.latest()).toEqual([]);
    await store.writeReadings([reading(1, 1000, 'E-new')]);
    expect((await store.latest()).map((r) => r.meter)).toEqual(['E-new']);
    await store.close();
  });

  it("latest() follows another connection's writes, and what a caller changes stays its own", async () => {
    const file = path.join(dir, 'two-connections.sqlite');
    const reader = SqliteStore.open({ path: file });
    const writer = SqliteStore.open({ path: file });
    await writer.writeReadings([reading(1, 1000)]);
    const first = await reader.latest();
    expect(first.map((r) => r.seq)).toEqual([1]);
    first[0]!.values.energy_import_kwh = 42;
    expect((await reader.latest())[0]?.values.energy_import_kwh).toBe(1);
    await writer.writeReadings([reading(2, 2000), reading(1, 1000, 'E-2')]);
    expect((await reader.latest()).map((r) => [r.meter, r.seq, r.values.energy_import_kwh])).toEqual([
      ['E-1', 2, 2],
      ['E-2', 1, 1],
    ]);
    await reader.writeReadings([reading(3, 3000)]);
    expect((await reader.latest(['E-1']))[0]?.seq).toBe(3);
    expect((await writer.latest(['E-1']))[0]?.seq).toBe(3);
    await reader.close();
    await writer.close();
  });

  it('rejects calls after close', async () => {
    const store = SqliteStore.open({ path: ':memory:' });
    await store.close();
    await expect(store.latest()).rejects.toThrow(/closed/);
  });
});
