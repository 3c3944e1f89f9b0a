import { InfluxDB } from 'influx';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InfluxFormatError, InfluxStore, formatReading } from '../../adapters/influx/store.ts';
import type { InfluxStoreOptions } from '../../adapters/influx/store.ts';
import type { StoredReading } from '../../services/metering/storage.ts';
import { influxdAvailable, startInfluxd } from '../helpers/influxd.ts';
import type { Influxd } from '../helpers/influxd.ts';
import { rawLineProtocolWrite } from '../helpers/influx-raw.ts';
import { testLogger } from '../helpers/logger.ts';
import { storageContract } from '../storage/contract.ts';

let dbCounter = 0;
const freshDb = (): string => `t_${process.pid}_${++dbCounter}`;

function reading(meter: string, seq: number, extra: Partial<StoredReading> = {}): StoredReading {
  return {
    meter,
    ts: 1_764_230_400_000 + seq * 60_000,
    seq,
    quality: 'good',
    values: { energy_import_kwh: 1000 + seq / 8, power_kw: 0.5 + seq / 1000 },
    site: 'north',
    gateway: 'gw-1',
    kind: 'electricity',
    ...extra,
  };
}

function errorReading(meter: string, seq: number, message = 'no answer within 1000 ms'): StoredReading {
  return { ...reading(meter, seq), values: {}, quality: 'error', error: { code: 'MODBUS_TIMEOUT', message } };
}

const settled = async (p: Promise<unknown>): Promise<boolean> => {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((resolve) => setTimeout(resolve, 0));
  return done;
};

describe.skipIf(!influxdAvailable())('InfluxDB', () => {
  let server: Influxd;
  beforeAll(async () => {
    server = await startInfluxd();
  });
  afterAll(async () => {
    await server?.dispose();
  });
  storageContract(
    'InfluxDB',
    () =>
      InfluxStore.open({
        url: server.url,
        database: freshDb(),
        logger: testLogger(),
        dailyUtcOffsetMinutes: 480,
      }),
    async (store) => {
      await new InfluxDB({ host: '127.0.0.1', port: server.port }).dropDatabase(
        (store as InfluxStore).database,
      );
    },
    {
      // influxd drops raw shard groups by its own clock: the test's year lies in the past.
      latestEnd: () => Date.now(),
      expireRaw: async (store, before) => {
        const s = store as InfluxStore;
        // The continuous queries roll up only the last hour as it arrives; a year written at once
        // is rolled up as they would have done it live.
        await s.recomputeRollups(before - 400 * 86_400_000, before);
        // Raw shard groups are a week wide: a duration ending a week after `before` drops them all.
        const meters = [...(await s.seqMarks()).keys()];
        const rawDays = Math.floor((Date.now() - before) / 86_400_000) - 8;
        await s.applyRetention({ now: Date.now(), rawDays, holds: [] });
        for (const meter of meters) {
          for (let i = 0; ; i++) {
            if ((await s.readings(meter, 0, before)).length === 0) break;
            if (i > 100) throw new Error(`influxd kept ${meter}'s raw readings`);
            await new Promise((r) => setTimeout(r, 200));
          }
        }
      },
    },
  );
});

describe.skipIf(!influxdAvailable())('InfluxStore against a real influxd', () => {
  let influxd: Influxd;
  beforeAll(async () => {
    influxd = await startInfluxd();
  });
  afterAll(async () => {
    await influxd?.dispose();
  });

  const open = (options: Partial<InfluxStoreOptions> = {}): Promise<InfluxStore> =>
    InfluxStore.open({ url: influxd.url, database: freshDb(), logger: testLogger(), ...options });

  async function countPoints(db: string): Promise<number> {
    const client = new InfluxDB({ host: '127.0.0.1', port: influxd.port, database: db });
    const rows = await client.query<{ count: number }>('SELECT count("seq") FROM "raw"."reading"');
    return rows[0]?.count ?? 0;
  }

  it('creates the database, retention policies and continuous queries on first start, and again is a no-op', async () => {
    const store = await open({ rawRetention: '520w', dailyUtcOffsetMinutes: 480 });
    const again = await InfluxStore.open({ url: influxd.url, database: store.database });
    const client = new InfluxDB({ host: '127.0.0.1', port: influxd.port });
    const rps = await client.showRetentionPolicies(store.database);
    expect(rps.map((rp) => rp.name)).toEqual(expect.arrayContaining(['raw', 'rollup_15m', 'rollup_1d']));
    expect(rps.find((rp) => rp.name === 'raw')).toMatchObject({ default: true, duration: '87360h0m0s' });
    const cqs = await client.showContinousQueries(store.database);
    const byName = new Map(cqs.map((cq) => [cq.name, cq.query]));
    expect([...byName.keys()].sort()).toEqual(['cq_rollup_15m', 'cq_rollup_15m_polls', 'cq_rollup_1d']);
    expect(byName.get('cq_rollup_15m')).toMatch(/RESAMPLE EVERY 5m FOR 1h/);
    // Values from good readings only; relay and breaker state as their last value.
    expect(byName.get('cq_rollup_15m')).toMatch(/WHERE quality = 'good'/);
    expect(byName.get('cq_rollup_15m')).toMatch(/last\(energy_import_kwh\) AS energy_import_kwh/);
    expect(byName.get('cq_rollup_15m')).toMatch(/last\(breaker_closed\) AS breaker_closed/);
    expect(byName.get('cq_rollup_15m')).toMatch(/mean\(power_kw\) AS power_kw/);
    expect(byName.get('cq_rollup_15m')).toMatch(/GROUP BY time\(15m\), \*/);
    // The polls from every reading, into the same points.
    expect(byName.get('cq_rollup_15m_polls')).toMatch(/count\(seq\) AS readings INTO .*rollup_15m.*rollup/);
    expect(byName.get('cq_rollup_15m_polls')).not.toMatch(/quality/);
    expect(byName.get('cq_rollup_1d')).toMatch(/GROUP BY time\(1d, -8h\), \*/);
    await again.close();
    await store.close();
  });

  it('round-trips good and error readings; latest is the newest whole reading per meter', async () => {
    const store = await open();
    await store.writeReadings([
      reading('E-1', 1, { deviceTs: 1_764_230_399_000 }),
      reading('E-1', 2),
      errorReading('E-1', 3),
      reading('E-2', 1),
      reading('W-1', 7, { kind: 'water', values: { volume_m3: 12.345, flow_m3h: 0 } }),
    ]);
    expect(await store.latest()).toEqual([
      errorReading('E-1', 3),
      reading('E-2', 1),
      expect.objectContaining({ meter: 'W-1', kind: 'water', values: { volume_m3: 12.345, flow_m3h: 0 } }),
    ]);
    expect(await store.latest(['E-2', 'nope'])).toEqual([reading('E-2', 1)]);
    const series = await store.series({
      meters: ['E-2', 'E-1'],
      quantity: 'energy_import_kwh',
      from: reading('E-1', 1).ts,
      to: reading('E-1', 3).ts + 1,
    });
    // The error reading has no value and is not a point of the series.
    expect(series).toEqual([
      { meter: 'E-1', ts: reading('E-1', 1).ts, value: 1000.125 },
      { meter: 'E-1', ts: reading('E-1', 2).ts, value: 1000.25 },
      { meter: 'E-2', ts: reading('E-2', 1).ts, value: 1000.125 },
    ]);
    await store.close();
  });

  it('stores a redelivered reading once', async () => {
    const store = await open();
    const batch = [reading('E-1', 1), reading('E-1', 2)];
    await store.writeReadings(batch);
    await Promise.all([store.writeReadings(batch), store.writeReadings([batch[1]!])]);
    expect(await countPoints(store.database)).toBe(2);
    await store.close();
  });

  it('does not store again a reading written before points had their seq below the millisecond', async () => {
    const store = await open();
    await store.writeReadings([reading('E-1', 5)]);
    // seq 1 as earlier releases wrote it: at its whole millisecond.
    const old = formatReading(reading('E-1', 1)).replace(
      / (\d+)$/,
      (_, ns: string) => ` ${ns.slice(0, -6)}000000`,
    );
    await rawLineProtocolWrite(influxd.url, store.database, [old], 1);
    expect(await countPoints(store.database)).toBe(2);
    await store.writeReadings([reading('E-1', 1), reading('E-1', 6)]);
    expect(await countPoints(store.database)).toBe(3);
    expect((await store.readings('E-1', 0, reading('E-1', 7).ts)).map((r) => r.seq)).toEqual([1, 5, 6]);
    await store.close();
  });

  it('readings: a reading stored under two tag sets (a moved meter) comes back once, with its own tags', async () => {
    const store = await open();
    const moved = reading('E-1', 2, { gateway: 'gw-2' });
    await store.writeReadings([reading('E-1', 1), moved, errorReading('E-1', 3)]);
    // seq 2 redelivered under the old topic: the same point under another tag set.
    await rawLineProtocolWrite(influxd.url, store.database, [formatReading(reading('E-1', 2))], 1);
    expect(await countPoints(store.database)).toBe(4);
    const rs = await store.readings('E-1', reading('E-1', 1).ts, reading('E-1', 3).ts + 1);
    expect(rs.map((r) => [r.seq, r.quality])).toEqual([
      [1, 'good'],
      [2, 'good'],
      [3, 'error'],
    ]);
    expect(rs[0]).toEqual(reading('E-1', 1));
    expect(rs[2]).toEqual(errorReading('E-1', 3));
    expect([reading('E-1', 2), moved]).toContainEqual(rs[1]);
    await store.close();
  });

  it('escapes tag values with spaces, commas and = and string fields with quotes, backslashes and line breaks', async () => {
    const store = await open();
    const odd = reading('Hall 3, meter=7', 1, { site: 'north campus', gateway: 'gw=1,a' });
    const err = errorReading('x y', 2, 'said "no" \\ then\nstopped');
    expect(formatReading(odd)).toMatch(
      /^reading,gateway=gw\\=1\\,a,kind=electricity,meter=Hall\\ 3\\,\\ meter\\=7,site=north\\ campus /,
    );
    await store.writeReadings([odd, err]);
    expect(await store.latest(['Hall 3, meter=7', 'x y'])).toEqual([odd, err]);
    await expect(store.writeReadings([reading('back\\slash', 1)])).rejects.toBeInstanceOf(InfluxFormatError);
    await store.close();
  });

  it('rejects only the caller whose reading influxd refuses, not the others in the same batch', async () => {
    const store = await open({ flushIntervalMs: 200 });
    await store.writeReadings([reading('E-1', 1)]);
    // A string where a float is stored: a field type conflict, which influxd refuses with HTTP 400.
    await rawLineProtocolWrite(
      influxd.url,
      store.database,
      [`reading,meter=other error_code=1 ${reading('E-1', 3).ts - 1}000000`], // ns, as the store writes
      1,
    );
    const clash = errorReading('E-1', 3);
    const good = store.writeReadings([reading('E-2', 1)]);
    const refused = store.writeReadings([clash]);
    await expect(refused).rejects.toThrow();
    await expect(good).resolves.toBeUndefined();
    await store.close();
  });

  it('keeps writes pending while influxd is down and resolves them after it is back, each point once', async () => {
    const store = await open({ retryBaseMs: 50, retryMaxMs: 500 });
    await store.writeReadings([reading('E-1', 1)]);
    await influxd.stop();
    const pending = Array.from({ length: 20 }, (_, i) =>
      store.writeReadings([reading('E-1', i + 2), reading('E-2', i + 1)]),
    );
    await new Promise((resolve) => setTimeout(resolve, 2500));
    for (const p of pending) expect(await settled(p)).toBe(false);
    await influxd.restart();
    await Promise.all(pending);
    expect(await countPoints(store.database)).toBe(41);
    expect((await store.latest()).map((r) => [r.meter, r.seq])).toEqual([
      ['E-1', 21],
      ['E-2', 20],
    ]);
    await store.close();
  });

  it('applies backpressure: beyond maxBufferedPoints a write waits and is not buffered', async () => {
    const store = await open({ maxBufferedPoints: 10, batchSize: 4, retryBaseMs: 50, retryMaxMs: 300 });
    await influxd.stop();
    try {
      const first = store.writeReadings(Array.from({ length: 10 }, (_, i) => reading('E-1', i + 1)));
      const second = store.writeReadings(Array.from({ length: 5 }, (_, i) => reading('E-2', i + 1)));
      const third = store.writeReadings([reading('E-3', 1)]);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(await settled(first)).toBe(false);
      expect(await settled(second)).toBe(false);
      expect(await settled(third)).toBe(false);
      expect(store.bufferedPointCount).toBe(10);
      expect(store.waitingWriteCount).toBe(2);
      await influxd.restart();
      await Promise.all([first, second, third]);
      expect(store.bufferedPointCount).toBe(0);
      expect(await countPoints(store.database)).toBe(16);
    } finally {
      await influxd.restart().catch(() => undefined);
      await store.close();
    }
  });

  it('coalesces concurrent callers and flushes a partial batch within flushIntervalMs', async () => {
    const store = await open({ batchSize: 1000, flushIntervalMs: 30 });
    const started = Date.now();
    await Promise.all(Array.from({ length: 50 }, (_, i) => store.writeReadings([reading(`M-${i}`, 1)])));
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await countPoints(store.database)).toBe(50);
    expect((await store.latest()).length).toBe(50);
    await store.close();
  });

  it('rejects what influxd has not taken when closed during an outage', async () => {
    const store = await open({ retryBaseMs: 50, retryMaxMs: 200, closeTimeoutMs: 300 });
    await influxd.stop();
    try {
      const pending = store.writeReadings([reading('E-1', 1)]);
      await store.close();
      await expect(pending).rejects.toThrow(/closed/);
    } finally {
      await influxd.restart();
    }
  });
});
