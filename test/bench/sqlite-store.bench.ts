/**
 * SqliteStore on a scaled-down campus, extrapolated to the full one (10,000 meters × a year of
 * 15-minute readings ≈ 350 M readings):
 *
 *   tsx test/bench/sqlite-store.bench.ts [yearMeters=40]
 *
 * 1. `yearMeters` meters × one year at 15 minutes, SDM630-like readings (10 quantities), written
 *    time-major in batches of 500 (as ingest would): readings/s.
 * 2. 10,000 more meters with 4 readings each, so that latest() has a campus of meters.
 * 3. Bytes per reading on disk (file size after a WAL checkpoint, and per table/index via dbstat).
 * 4. series() of one meter over the year; latest() of all 10,000+ meters.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../adapters/sqlite/store.ts';
import type { StoredReading } from '../../services/metering/storage.ts';

const YEAR_METERS = Number(process.argv[2] ?? 40);
const CAMPUS_METERS = 10_000;
const CAMPUS_READINGS = 350_000_000;
const STEP = 15 * 60_000;
const YEAR = 365 * 24 * 3_600_000;
const BATCH = 500;
const T0 = Date.parse('2025-01-01T00:00:00Z');

function reading(meter: string, seq: number, ts: number, k: number): StoredReading {
  // Plausible, non-round values, so that nothing is stored in fewer bytes than real data would be.
  const kw = 0.5 + 3 * Math.abs(Math.sin(seq / 37 + k));
  return {
    meter,
    seq,
    ts: ts + (k % 5000), // polls are spread over the interval, not all on the same ms
    quality: 'good',
    values: {
      energy_import_kwh: 1000 + k * 7.31 + seq * 0.873519,
      energy_export_kwh: 12.5 + seq * 0.0001,
      power_kw: kw,
      voltage_v: 229.3 + Math.sin(seq) * 2.1,
      voltage_l2_v: 230.1 + Math.cos(seq) * 2.3,
      voltage_l3_v: 228.7 + Math.sin(seq / 3) * 1.9,
      current_a: kw / 0.23 / 3,
      current_l2_a: kw / 0.23 / 3.1,
      current_l3_a: kw / 0.23 / 2.9,
      pf: 0.9 + 0.09 * Math.sin(seq / 11),
    },
    site: 'east',
    gateway: `gw-${k % 20}`,
    kind: 'electricity',
  };
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sqlite-store-bench-'));
  const file = path.join(dir, 'store.sqlite');
  const store = SqliteStore.open({ path: file });
  try {
    const yearMeters = Array.from({ length: YEAR_METERS }, (_, i) => `E-Y-${String(i).padStart(5, '0')}`);
    const steps = YEAR / STEP;
    let batch: StoredReading[] = [];
    let written = 0;
    let writeMs = 0;
    const flush = async (): Promise<void> => {
      const t = performance.now();
      await store.writeReadings(batch);
      writeMs += performance.now() - t;
      written += batch.length;
      batch = [];
    };
    for (let s = 0; s < steps; s++) {
      for (let k = 0; k < yearMeters.length; k++) {
        batch.push(reading(yearMeters[k]!, s + 1, T0 + s * STEP, k));
        if (batch.length === BATCH) await flush();
      }
    }
    if (batch.length > 0) await flush();
    const yearReadings = written;

    const campusMeters = Array.from({ length: CAMPUS_METERS }, (_, i) => `E-C-${String(i).padStart(5, '0')}`);
    for (let s = 0; s < 4; s++) {
      for (let k = 0; k < campusMeters.length; k++) {
        batch.push(reading(campusMeters[k]!, s + 1, T0 + YEAR + s * STEP, k));
        if (batch.length === BATCH) await flush();
      }
    }
    if (batch.length > 0) await flush();
    const rate = written / (writeMs / 1000);

    // Queries: median of a few runs, first (cold-ish) run reported apart.
    const time = async (fn: () => Promise<unknown>, runs = 5): Promise<{ first: number; median: number }> => {
      const ms: number[] = [];
      for (let i = 0; i < runs; i++) {
        const t = performance.now();
        await fn();
        ms.push(performance.now() - t);
      }
      const first = ms[0]!;
      ms.sort((a, b) => a - b);
      return { first, median: ms[Math.floor(ms.length / 2)]! };
    };
    let seriesPoints = 0;
    const seriesTime = await time(async () => {
      const pts = await store.series({
        meters: [yearMeters[Math.floor(YEAR_METERS / 2)]!],
        quantity: 'energy_import_kwh',
        from: T0,
        to: T0 + YEAR,
      });
      seriesPoints = pts.length;
    });
    let latestCount = 0;
    const latestTime = await time(async () => {
      latestCount = (await store.latest()).length;
    });
    await store.close();

    const db = new Database(file);
    db.pragma('wal_checkpoint(TRUNCATE)');
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    let perObject: { name: string; bytes: number }[] = [];
    try {
      perObject = db
        .prepare('SELECT name, SUM(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC')
        .all() as { name: string; bytes: number }[];
    } catch {
      // dbstat is optional in SQLite builds.
    }
    db.close();
    const fileBytes = statSync(file).size;
    // At campus scale the meters and latest tables are noise: count what grows with readings.
    const grows = perObject.filter((o) => o.name === 'readings' || o.name === 'readings_meter_seq');
    const bytesPerReading =
      grows.length === 2 ? grows.reduce((s, o) => s + o.bytes, 0) / written : fileBytes / written;

    const rows: [string, string][] = [
      [
        'Readings written',
        `${fmt(written)} (${fmt(YEAR_METERS)} meters × 1 year @ 15 min + ${fmt(CAMPUS_METERS)} × 4)`,
      ],
      ['Write throughput (batches of 500)', `${fmt(rate)} readings/s`],
      ['File size after checkpoint', `${fmt(fileBytes / 2 ** 20, 1)} MiB (page size ${pageSize})`],
      ['Bytes per reading on disk, whole file', fmt(fileBytes / written, 1)],
      ['Bytes per reading, table + unique index', fmt(bytesPerReading, 1)],
      ...perObject
        .filter((o) => o.bytes > 10 * pageSize)
        .map((o): [string, string] => [`  of which ${o.name}`, `${fmt(o.bytes / written, 1)} B/reading`]),
      [
        'series(): one meter, one year @ 15 min',
        `${fmt(seriesPoints)} points, first ${fmt(seriesTime.first, 1)} ms, median ${fmt(seriesTime.median, 1)} ms`,
      ],
      [
        `latest(): all meters`,
        `${fmt(latestCount)} meters, first ${fmt(latestTime.first, 1)} ms, median ${fmt(latestTime.median, 1)} ms`,
      ],
      ['Extrapolated: campus year on disk', `${fmt((CAMPUS_READINGS * bytesPerReading) / 2 ** 30, 1)} GiB`],
      [
        'Extrapolated: campus year write load',
        `${fmt(CAMPUS_READINGS / YEAR_SECONDS, 1)} readings/s needed = ${fmt((100 * CAMPUS_READINGS) / YEAR_SECONDS / rate, 2)} % of measured capacity`,
      ],
      [
        'Extrapolated: bulk load of a campus year',
        `${fmt(CAMPUS_READINGS / rate / 3600, 1)} h at the measured rate`,
      ],
    ];
    const width = Math.max(...rows.map(([k]) => k.length));
    console.log(`SqliteStore bench (${yearReadings.toLocaleString('en-US')} year readings)`);
    for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const YEAR_SECONDS = YEAR / 1000;

await main();
