// Measures points/s into a real influxd: the raw line-protocol ceiling, the adapter, and the
// `influx` package's writePoints, with the same points. Run: npx tsx test/influx/write-throughput.ts
import { InfluxDB } from 'influx';
import { InfluxStore, formatReading } from '../../adapters/influx/store.ts';
import type { StoredReading } from '../../services/metering/storage.ts';
import { rawLineProtocolWrite } from '../helpers/influx-raw.ts';
import { startInfluxd } from '../helpers/influxd.ts';

const METERS = 2000;
const PER_METER = 50;
const BATCH = 5000;

function readings(offset: number): StoredReading[] {
  const out: StoredReading[] = [];
  for (let k = 0; k < PER_METER; k++) {
    for (let m = 0; m < METERS; m++) {
      const seq = k + 1;
      out.push({
        meter: `E-${m}`,
        ts: offset + k * 10_000 + m,
        seq,
        quality: 'good',
        values: {
          energy_import_kwh: 1000 + seq / 7,
          power_kw: 3.2 + m / 1000,
          voltage_v: 230.1,
          current_a: 12.5,
          pf: 0.97,
        },
        site: 'north',
        gateway: `gw-${m % 4}`,
        kind: 'electricity',
      });
    }
  }
  return out;
}

const influxd = await startInfluxd();
try {
  const rate = (n: number, ms: number): string => `${Math.round((n / ms) * 1000)} points/s`;
  for (let round = 0; round < 3; round++) {
    const base = Date.UTC(2026, 0, 1) + round * 86_400_000 * 10;
    const rawDb = `raw_${round}`;
    (await InfluxStore.open({ url: influxd.url, database: rawDb })).close();
    const rawData = readings(base);
    let t = performance.now();
    // Formatting is inside the timing: the adapter has to do it too.
    const rawLines = rawData.map(formatReading);
    await rawLineProtocolWrite(influxd.url, rawDb, rawLines, BATCH, 2);
    const rawMs = performance.now() - t;

    const store = await InfluxStore.open({
      url: influxd.url,
      database: `adapter_${round}`,
      batchSize: BATCH,
    });
    const data = readings(base);
    t = performance.now();
    // 100 callers of 1,000 readings each, as concurrent ingest batches would be.
    const calls: Promise<void>[] = [];
    for (let i = 0; i < data.length; i += 1000) calls.push(store.writeReadings(data.slice(i, i + 1000)));
    await Promise.all(calls);
    const adapterMs = performance.now() - t;
    await store.close();

    const client = new InfluxDB({ host: '127.0.0.1', port: influxd.port, database: `client_${round}` });
    await (await InfluxStore.open({ url: influxd.url, database: `client_${round}` })).close();
    const points = readings(base).map((r) => ({
      measurement: 'reading',
      tags: { site: r.site, gateway: r.gateway, meter: r.meter, kind: r.kind },
      fields: { ...r.values, quality: r.quality, seq: r.seq },
      timestamp: r.ts,
    }));
    t = performance.now();
    for (let i = 0; i < points.length; i += BATCH) {
      await client.writePoints(points.slice(i, i + BATCH), { precision: 'ms', retentionPolicy: 'raw' });
    }
    const clientMs = performance.now() - t;
    const n = rawLines.length;
    console.log(
      `round ${round}: ${n} points; raw ${rate(n, rawMs)}; adapter ${rate(n, adapterMs)} (${(rawMs / adapterMs).toFixed(2)} of raw); influx.writePoints ${rate(n, clientMs)} (${(rawMs / clientMs).toFixed(2)} of raw)`,
    );
  }
  // latest() over 10,000 meters.
  const store = await InfluxStore.open({ url: influxd.url, database: 'latest10k', batchSize: BATCH });
  const many: StoredReading[] = [];
  for (let k = 0; k < 10; k++)
    for (let m = 0; m < 10_000; m++)
      many.push({
        meter: `M-${m}`,
        ts: Date.UTC(2026, 0, 1) + k * 60_000,
        seq: k + 1,
        quality: 'good',
        values: { energy_import_kwh: k },
        site: 's',
        gateway: 'g',
        kind: 'electricity',
      });
  await store.writeReadings(many);
  let t = performance.now();
  const all = await store.latest();
  console.log(
    `latest() all 10,000 meters: ${all.length} readings in ${Math.round(performance.now() - t)} ms`,
  );
  t = performance.now();
  const some = await store.latest(Array.from({ length: 10_000 }, (_, m) => `M-${m}`));
  console.log(`latest(10,000 ids): ${some.length} readings in ${Math.round(performance.now() - t)} ms`);
  t = performance.now();
  await InfluxStore.open({ url: influxd.url, database: 'latest10k' }).then((s) => s.close());
  console.log(`open() with 10,000 meters (watermarks): ${Math.round(performance.now() - t)} ms`);
  await store.close();
} finally {
  await influxd.dispose();
}
