import { InfluxDB } from 'influx';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InfluxStore } from '../../adapters/influx/store.ts';
import type { StoredReading } from '../../services/metering/storage.ts';
import { influxdAvailable, startInfluxd, type Influxd } from '../helpers/influxd.ts';
import { testLogger } from '../helpers/logger.ts';

const DAY = 86_400_000;

/**
 * influxd drops whole shard groups past the raw policy's duration against its own clock, so these
 * readings are placed relative to now, days away from any limit.
 */
describe.skipIf(!influxdAvailable())('InfluxStore retention against a real influxd', () => {
  let influxd: Influxd;
  beforeAll(async () => {
    influxd = await startInfluxd();
  });
  afterAll(async () => {
    await influxd?.dispose();
  });

  const reading = (seq: number, ts: number): StoredReading => ({
    meter: 'E-R',
    seq,
    ts,
    quality: 'good',
    values: { energy_import_kwh: seq },
    site: 'east',
    gateway: 'gw-1',
    kind: 'electricity',
  });

  async function seqsStored(client: InfluxDB): Promise<number[]> {
    const rows = await client.query<{ seq: number }>('SELECT "seq" FROM "raw"."reading"');
    return rows.map((r) => r.seq).sort((a, b) => a - b);
  }

  /** Polls until influxd's retention service has run with the new duration (it checks every second). */
  async function until(client: InfluxDB, want: number[]): Promise<number[]> {
    let got: number[] = [];
    for (let i = 0; i < 100; i++) {
      got = await seqsStored(client);
      if (got.join() === want.join()) return got;
      await new Promise((r) => setTimeout(r, 200));
    }
    return got;
  }

  it('keeps the raw readings a hold needs past rawDays, and lets influxd drop them once released', async () => {
    const database = `retention_${process.pid}`;
    const store = await InfluxStore.open({ url: influxd.url, database, logger: testLogger() });
    const client = new InfluxDB({ host: '127.0.0.1', port: influxd.port, database });
    const now = Date.now();
    await store.writeReadings([
      reading(1, now - 100 * DAY),
      reading(2, now - 50 * DAY),
      reading(3, now - 5 * DAY),
    ]);
    expect(await seqsStored(client)).toEqual([1, 2, 3]);

    // An open billing period from 60 days ago: raw kept 61 days, not 30.
    const held = await store.applyRetention({
      now,
      rawDays: 30,
      holds: [{ reason: 'billing-period-open', meter: 'E-R', from: now - 60 * DAY }],
    });
    expect(held.rawDays).toBe(61);
    const rps = await client.showRetentionPolicies(database);
    expect(rps.find((rp) => rp.name === 'raw')?.duration).toBe('1464h0m0s');
    expect(await until(client, [2, 3])).toEqual([2, 3]);

    // The period closed: nothing holds the reading of 50 days ago any more.
    expect((await store.applyRetention({ now, rawDays: 30, holds: [] })).rawDays).toBe(30);
    expect(await until(client, [3])).toEqual([3]);
    // Roll-up policies stay for ever.
    const after = await client.showRetentionPolicies(database);
    expect(after.filter((rp) => rp.name.startsWith('rollup_')).map((rp) => [rp.name, rp.duration])).toEqual([
      ['rollup_15m', '0s'],
      ['rollup_1d', '0s'],
    ]);
    await expect(store.applyRetention({ now, rawDays: 0, holds: [] })).rejects.toThrow(/rawDays/);
    await store.close();
  }, 60_000);
});
