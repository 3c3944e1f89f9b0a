import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../adapters/sqlite/store.ts';
import type { StoredReading } from '../../services/storage.ts';
import { storageContract } from './contract.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'campus-sqlite-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
storageContract(
  'sqlite',
  async () => SqliteStore.open({ path: path.join(dir, `store-${++n}.sqlite`) }),
  async () => {
    for (const suffix of ['', '-wal', '-shm'])
      rmSync(path.join(dir, `store-${n}.sqlite${suffix}`), { force: true });
  },
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

  it('rejects calls after close', async () => {
    const store = SqliteStore.open({ path: ':memory:' });
    await store.close();
    await expect(store.latest()).rejects.toThrow(/closed/);
  });
});
