// Ingest throughput: readings/s through MQTT → ingest → store, next to direct batch writes of the
// same readings to the same store in the same run (the ceiling). Run: npx tsx test/bench/ingest.bench.ts
//
// Method: ingest subscribes once (creating its persistent session) and stops; all readings are
// then published and wait in mosquitto's queue for that session; ingest is started again and
// timed until the store acknowledged every reading. This measures ingest draining a backlog (the
// case where its speed matters), not the speed of the test publisher.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InfluxStore, formatReading } from '../../adapters/influx/store.ts';
import { SqliteStore } from '../../adapters/sqlite/store.ts';
import { readingTopic } from '../../config/schemas/reading.ts';
import { SqliteDeadLetterStore } from '../../services/metering/ingest/dead-letters.ts';
import { startIngest } from '../../services/metering/ingest/ingest.ts';
import type { ReadingWriter, StoredReading } from '../../services/metering/storage.ts';
import { rawLineProtocolWrite } from '../helpers/influx-raw.ts';
import { influxdAvailable, startInfluxd } from '../helpers/influxd.ts';
import { testLogger } from '../helpers/logger.ts';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.ts';
import { waitFor } from '../helpers/readings.ts';
import { goodReading, registry, testPublisher } from '../ingest/support.ts';

const METERS = Number(process.env.BENCH_METERS ?? 500);
const POLLS = Number(process.env.BENCH_POLLS ?? 200);
const BATCH = 500;
const INFLUX_BATCH = 5000;
const reg = registry(METERS);
const readings: StoredReading[] = [];
for (let seq = 1; seq <= POLLS; seq++) {
  for (let m = 1; m <= METERS; m++) {
    const meter = `E-${m}`;
    const place = reg.get(meter)!;
    readings.push({ ...goodReading(meter, seq), site: place.site, gateway: place.gateway, kind: place.kind });
  }
}
const N = readings.length;
const dir = mkdtempSync(join(tmpdir(), 'ingest-bench-'));

async function throughIngest(
  mosquitto: Mosquitto,
  clientId: string,
  writer: ReadingWriter,
  batchSize: number,
): Promise<number> {
  const deadLetters = SqliteDeadLetterStore.open({ path: join(dir, `${clientId}-dead.sqlite`) });
  const options = {
    url: mosquitto.url,
    clientId,
    shareGroup: clientId,
    meters: reg,
    writer,
    deadLetters,
    batchSize,
    logger: testLogger(),
  };
  const first = startIngest(options);
  await first.ready;
  await first.stop();
  const pub = await testPublisher(mosquitto.url);
  await pub.publishAll(
    readings.map(({ site, gateway, kind: _kind, ...r }) => ({
      topic: readingTopic(site, gateway, r.meter),
      payload: JSON.stringify(r),
    })),
    1000,
  );
  await pub.close();
  const started = performance.now();
  const ingest = startIngest(options);
  await waitFor(() => ingest.stats().stored >= N && ingest.stats().inFlight === 0, 600_000, 'the backlog');
  const seconds = (performance.now() - started) / 1000;
  await ingest.stop();
  deadLetters.close();
  return N / seconds;
}

async function timed(run: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await run();
  return N / ((performance.now() - started) / 1000);
}

const rows: string[][] = [];
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const mosquitto = await startMosquitto();
try {
  {
    // What ingest itself costs (MQTT receive, validation, batching, PUBACKs), with a store that
    // takes everything at once: no store behind one ingest instance can be faster than this.
    const rate = await throughIngest(mosquitto, 'bench-nostore', { writeReadings: async () => {} }, BATCH);
    rows.push(['(no store: ingest alone)', '—', fmt(rate), '—', '—']);
  }
  {
    const direct = SqliteStore.open({ path: join(dir, 'direct.sqlite') });
    const ceiling = await timed(async () => {
      for (let i = 0; i < N; i += BATCH) await direct.writeReadings(readings.slice(i, i + BATCH));
    });
    await direct.close();
    const store = SqliteStore.open({ path: join(dir, 'ingest.sqlite') });
    const rate = await throughIngest(mosquitto, 'bench-sqlite', store, BATCH);
    await store.close();
    rows.push([
      'SqliteStore',
      fmt(ceiling),
      fmt(rate),
      (rate / ceiling).toFixed(2),
      rate / ceiling >= 0.8 ? 'yes' : 'NO',
    ]);
  }
  if (influxdAvailable()) {
    const influxd = await startInfluxd();
    try {
      const lines = readings.map(formatReading);
      const raw = await InfluxStore.open({ url: influxd.url, database: 'raw_ceiling' });
      await raw.close();
      const ceiling = await timed(() => rawLineProtocolWrite(influxd.url, 'raw_ceiling', lines, 5000));
      const store = await InfluxStore.open({ url: influxd.url, database: 'through_ingest' });
      // InfluxStore coalesces writes into HTTP batches of 5,000 (or after 50 ms): ingest hands it
      // batches of that size, or every write would wait for the store's flush timer.
      const rate = await throughIngest(mosquitto, 'bench-influx', store, INFLUX_BATCH);
      await store.close();
      rows.push([
        'InfluxStore (influxd 1.x)',
        fmt(ceiling),
        fmt(rate),
        (rate / ceiling).toFixed(2),
        rate / ceiling >= 0.8 ? 'yes' : 'NO',
      ]);
    } finally {
      await influxd.dispose();
    }
  } else {
    rows.push(['InfluxStore', 'influxd not installed', '', '', '']);
  }
} finally {
  await mosquitto.dispose();
  rmSync(dir, { recursive: true, force: true });
}

const header = [
  'Store',
  'Direct batch writes (readings/s)',
  'MQTT → ingest → store (readings/s)',
  'Ratio',
  '≥ 0.8',
];
console.log(`\n${N.toLocaleString('en-US')} readings (${METERS} meters × ${POLLS}), batches of ${BATCH}:\n`);
console.log(`| ${header.join(' | ')} |`);
console.log(`|${header.map(() => '---').join('|')}|`);
for (const row of rows) console.log(`| ${row.join(' | ')} |`);
