// Ingest throughput: readings/s through MQTT → ingest → store, next to direct batch writes of the
// same readings to the same store in the same run (the ceiling), with the CPU time ingest spends
// per reading and the load average beside every figure. Run: npm run bench:ingest
//
// Method: ingest subscribes once (creating its persistent session) and stops; all readings are
// then published and wait in mosquitto's queue for that session; ingest is started again and
// timed until the store acknowledged every reading. This measures ingest draining a backlog (the
// case where its speed matters), not the speed of the test publisher.
//
// Broker, ingest and store run on this machine at once. When their CPU needs exceed its cores,
// the wall-clock ratio measures the machine, not ingest; so the InfluxDB part also runs
// BENCH_SHARED (default 2) ingest processes on one shared subscription and prints what one CPU
// second of ingest carries against what one CPU-second of influxd takes (the ratio per
// CPU-second: at 1 or more, ingest given as much CPU as influxd keeps up with it); and the SQLite
// part compares CPU time per reading of the direct writes and of ingest with the store inside.
//
// BENCH_PARTS=nostore,sqlite,influx,shared picks parts; BENCH_PROFILE=1 writes a V8 CPU profile
// of each in-process drain to the OS temp dir.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { InfluxStore, formatReading } from '../../adapters/influx/store.ts';
import { SqliteStore } from '../../adapters/sqlite/store.ts';
import { readingTopic } from '../../config/schemas/reading.ts';
import { SqliteDeadLetterStore } from '../../services/metering/ingest/dead-letters.ts';
import { startIngest, type IngestOptions } from '../../services/metering/ingest/ingest.ts';
import type { ReadingWriter, StoredReading } from '../../services/metering/storage.ts';
import { rawLineProtocolWrite } from '../helpers/influx-raw.ts';
import { influxdAvailable, startInfluxd } from '../helpers/influxd.ts';
import { testLogger } from '../helpers/logger.ts';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.ts';
import { waitFor } from '../helpers/readings.ts';
import { goodReading, registry, testPublisher } from '../ingest/support.ts';
import { childPidsNamed, cpuOf, JsonChild } from './child.ts';

const METERS = Number(process.env.BENCH_METERS ?? 500);
const POLLS = Number(process.env.BENCH_POLLS ?? 200);
const BATCH = 500;
const INFLUX_BATCH = 5000;
const SHARED = Number(process.env.BENCH_SHARED ?? 2);
const PARTS = new Set((process.env.BENCH_PARTS ?? 'nostore,sqlite,influx,shared').split(','));
const PROFILE = process.env.BENCH_PROFILE === '1';
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
const load = (): string => loadavg()[0]!.toFixed(1);

/** CPU µs of the servers this process started (mosquitto, influxd), summed. */
function serversCpu(names = ['mosquitto', 'influxd']): number {
  let total = 0;
  for (const name of names) for (const pid of childPidsNamed(name)) total += cpuOf(pid) ?? 0;
  return total;
}

interface Drain {
  rate: number;
  /** CPU µs of the ingest process per reading (the store's work in it included). */
  cpuPerReading: number;
  /** CPU seconds of broker, ingest and influxd per second of the drain: the cores in use. */
  cores: number;
  /** CPU µs per reading of mosquitto and of influxd during the drain (what the other two cost). */
  brokerPerReading: number;
  influxdPerReading: number;
  load: string;
}

async function publishBacklog(mosquitto: Mosquitto): Promise<void> {
  const pub = await testPublisher(mosquitto.url);
  await pub.publishAll(
    readings.map(({ site, gateway, kind: _kind, ...r }) => ({
      topic: readingTopic(site, gateway, r.meter),
      payload: JSON.stringify(r),
    })),
    1000,
  );
  await pub.close();
}

async function throughIngest(
  mosquitto: Mosquitto,
  clientId: string,
  writer: ReadingWriter,
  batchSize: number,
): Promise<Drain> {
  const deadLetters = SqliteDeadLetterStore.open({ path: join(dir, `${clientId}-dead.sqlite`) });
  const options: IngestOptions = {
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
  await publishBacklog(mosquitto);
  const profiler = PROFILE ? new Session() : null;
  if (profiler) {
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.start');
  }
  const servers0 = serversCpu();
  const broker0 = serversCpu(['mosquitto']);
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  const ingest = startIngest(options);
  await waitFor(() => ingest.stats().stored >= N && ingest.stats().inFlight === 0, 600_000, 'the backlog');
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const servers = serversCpu() - servers0;
  const broker = serversCpu(['mosquitto']) - broker0;
  if (profiler) {
    const { profile } = await profiler.post('Profiler.stop');
    const out = join(tmpdir(), `ingest-${clientId}.cpuprofile`);
    writeFileSync(out, JSON.stringify(profile));
    console.log(`profile of ${clientId}: ${out}`);
  }
  await ingest.stop();
  deadLetters.close();
  return {
    rate: N / seconds,
    cpuPerReading: (cpu.user + cpu.system) / N,
    cores: (cpu.user + cpu.system + servers) / 1e6 / seconds,
    brokerPerReading: broker / N,
    influxdPerReading: (servers - broker) / N,
    load: load(),
  };
}

/** Readings/s of `run`, with the load average at its end. */
async function timed(
  run: () => Promise<void>,
): Promise<{ rate: number; cpuPerReading: number; load: string }> {
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  await run();
  const cpu = process.cpuUsage(cpu0);
  return {
    rate: N / ((performance.now() - started) / 1000),
    cpuPerReading: (cpu.user + cpu.system) / N,
    load: load(),
  };
}

/**
 * SHARED ingest processes on one shared subscription into `database`: wall rate, and readings per
 * CPU second of ingest (all processes' CPU time summed).
 */
async function sharedIntoInflux(
  mosquitto: Mosquitto,
  influxUrl: string,
  database: string,
): Promise<{ rate: number; perCpuSecond: number; split: number[]; cores: number; load: string }> {
  const spawnAll = () =>
    Array.from({ length: SHARED }, (_, i) =>
      JsonChild.spawn('../ingest/influx-ingest-child.ts', [
        mosquitto.url,
        `bench-shared-${i}`,
        'bench-shared',
        influxUrl,
        database,
        join(dir, `shared-${i}-dead.sqlite`),
        String(METERS),
        String(INFLUX_BATCH),
      ]),
    );
  // First start: the sessions and their shared subscription exist before the backlog is published.
  let children = spawnAll();
  for (const c of children) await c.next(120_000);
  for (const c of children) await c.ask('go', 60_000);
  for (const c of children) await c.stop();
  await publishBacklog(mosquitto);
  children = spawnAll();
  try {
    for (const c of children) await c.next(120_000);
    const servers0 = serversCpu();
    const started = performance.now();
    for (const c of children) c.proc.stdin!.write('go\n');
    for (const c of children) await c.next(60_000);
    type Stats = { stored: number; inFlight: number; cpuUs: number };
    let stats: Stats[] = [];
    const deadline = Date.now() + 600_000;
    for (;;) {
      stats = [];
      for (const c of children) stats.push(await c.ask<Stats>('stats'));
      if (stats.reduce((n, s) => n + s.stored, 0) >= N && stats.every((s) => s.inFlight === 0)) break;
      if (Date.now() > deadline) throw new Error('the shared backlog was not drained in 10 minutes');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const seconds = (performance.now() - started) / 1000;
    const servers = serversCpu() - servers0;
    const cpuUs = stats.reduce((n, s) => n + s.cpuUs, 0);
    return {
      rate: N / seconds,
      perCpuSecond: N / (cpuUs / 1e6),
      split: stats.map((s) => s.stored),
      cores: (cpuUs + servers) / 1e6 / seconds,
      load: load(),
    };
  } finally {
    for (const c of children) await c.stop();
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const rows: string[][] = [];
const notes: string[] = [];
const verdict = (ratio: number) => (ratio >= 0.8 ? 'met' : `missed (${ratio.toFixed(2)})`);
const mosquitto = await startMosquitto();
try {
  if (PARTS.has('nostore')) {
    // What ingest itself costs (MQTT receive, validation, batching, PUBACKs), with a store that
    // takes everything at once: no store behind one ingest instance can be faster than this.
    const d = await throughIngest(mosquitto, 'bench-nostore', { writeReadings: async () => {} }, BATCH);
    rows.push(['(no store: ingest alone)', '—', fmt(d.rate), '—', '—', d.cpuPerReading.toFixed(1), d.load]);
  }
  if (PARTS.has('sqlite')) {
    const direct = SqliteStore.open({ path: join(dir, 'direct.sqlite') });
    const ceiling = await timed(async () => {
      for (let i = 0; i < N; i += BATCH) await direct.writeReadings(readings.slice(i, i + BATCH));
    });
    await direct.close();
    const store = SqliteStore.open({ path: join(dir, 'ingest.sqlite') });
    const d = await throughIngest(mosquitto, 'bench-sqlite', store, BATCH);
    await store.close();
    const ratio = d.rate / ceiling.rate;
    rows.push([
      'SqliteStore',
      `${fmt(ceiling.rate)} (load ${ceiling.load})`,
      fmt(d.rate),
      ratio.toFixed(2),
      verdict(ratio),
      `${d.cpuPerReading.toFixed(1)} (store alone ${ceiling.cpuPerReading.toFixed(1)})`,
      d.load,
    ]);
    // The store runs inside ingest's process: by CPU time, the share of it the store takes.
    notes.push(
      `SQLite by CPU time: the direct writes took ${ceiling.cpuPerReading.toFixed(1)} µs a reading, ingest with the ` +
        `store ${d.cpuPerReading.toFixed(1)}: ratio ${(ceiling.cpuPerReading / d.cpuPerReading).toFixed(2)} ` +
        `(${verdict(ceiling.cpuPerReading / d.cpuPerReading)}), whatever else the machine runs (load ${d.load})`,
    );
  }
  if (!PARTS.has('influx') && !PARTS.has('shared')) {
    // not asked for
  } else if (influxdAvailable()) {
    const influxd = await startInfluxd();
    try {
      const lines = readings.map(formatReading);
      const raw = await InfluxStore.open({ url: influxd.url, database: 'raw_ceiling' });
      await raw.close();
      const influxd0 = serversCpu(['influxd']);
      const ceiling = await timed(() => rawLineProtocolWrite(influxd.url, 'raw_ceiling', lines, 5000));
      // What a point costs influxd itself: the store's own speed per CPU-second.
      const influxdPerCpuSecond = N / ((serversCpu(['influxd']) - influxd0) / 1e6);
      notes.push(
        `influxd took the raw writes at ${fmt(influxdPerCpuSecond)} points per CPU-second of its own ` +
          `(${(1e6 / influxdPerCpuSecond).toFixed(1)} µs a point) (load ${ceiling.load})`,
      );
      const perCpuNote = (what: string, perCpu: number, cores: number, at: string): string =>
        `${what}: broker + ingest + influxd used ${cores.toFixed(2)} of ${cpus().length} cores; one ingest ` +
        `CPU-second carries ${fmt(perCpu)} readings: ${(perCpu / influxdPerCpuSecond).toFixed(2)} of what ` +
        `influxd takes per CPU-second (${verdict(perCpu / influxdPerCpuSecond)}), ` +
        `${(perCpu / ceiling.rate).toFixed(2)} of the raw ceiling's readings/s (load ${at})`;
      if (PARTS.has('influx')) {
        const store = await InfluxStore.open({ url: influxd.url, database: 'through_ingest' });
        // InfluxStore coalesces writes into HTTP batches of 5,000 (or after 50 ms): ingest hands it
        // batches of that size, or every write would wait for the store's flush timer.
        const d = await throughIngest(mosquitto, 'bench-influx', store, INFLUX_BATCH);
        await store.close();
        const ratio = d.rate / ceiling.rate;
        rows.push([
          'InfluxStore (influxd 1.x)',
          `${fmt(ceiling.rate)} (load ${ceiling.load})`,
          fmt(d.rate),
          ratio.toFixed(2),
          verdict(ratio),
          d.cpuPerReading.toFixed(1),
          d.load,
        ]);
        notes.push(perCpuNote('InfluxDB, one ingest process', 1e6 / d.cpuPerReading, d.cores, d.load));
        // Whether the wall-clock ratio can hold with all three on this machine's cores: the CPU a
        // reading costs all three, against what the target rate leaves per reading.
        const total = d.cpuPerReading + d.brokerPerReading + d.influxdPerReading;
        const budget = (cpus().length * 1e6) / (0.8 * ceiling.rate);
        notes.push(
          `InfluxDB drain, CPU µs a reading: ingest ${d.cpuPerReading.toFixed(1)}, mosquitto ` +
            `${d.brokerPerReading.toFixed(1)}, influxd ${d.influxdPerReading.toFixed(1)}: ${total.toFixed(1)} in all, ` +
            `where 0.8 of the raw ceiling on ${cpus().length} idle cores leaves ${budget.toFixed(1)} (load ${d.load})`,
        );
      }
      if (PARTS.has('shared')) {
        const db = 'through_shared';
        const created = await InfluxStore.open({ url: influxd.url, database: db });
        await created.close();
        const s = await sharedIntoInflux(mosquitto, influxd.url, db);
        const ratio = s.rate / ceiling.rate;
        rows.push([
          `InfluxStore, ${SHARED} ingest processes ($share)`,
          `${fmt(ceiling.rate)} (load ${ceiling.load})`,
          fmt(s.rate),
          ratio.toFixed(2),
          verdict(ratio),
          (1e6 / s.perCpuSecond).toFixed(1),
          s.load,
        ]);
        notes.push(
          perCpuNote(
            `InfluxDB, ${SHARED} ingest processes on $share/bench-shared (split ${s.split.map(fmt).join(' / ')})`,
            s.perCpuSecond,
            s.cores,
            s.load,
          ),
        );
      }
    } finally {
      await influxd.dispose();
    }
  } else {
    rows.push(['InfluxStore', 'influxd not installed', '', '', '', '', '']);
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
  'Target ≥ 0.8',
  'Ingest CPU µs a reading',
  'Load average',
];
console.log(`\n${N.toLocaleString('en-US')} readings (${METERS} meters × ${POLLS}), batches of ${BATCH}:\n`);
console.log(`| ${header.join(' | ')} |`);
console.log(`|${header.map(() => '---').join('|')}|`);
for (const row of rows) console.log(`| ${row.join(' | ')} |`);
for (const note of notes) console.log(`\n- ${note}`);
