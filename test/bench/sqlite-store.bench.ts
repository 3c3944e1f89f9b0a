/**
 * SqliteStore on a scaled-down campus, extrapolated to the full one (10,000 meters × a year of
 * 15-minute readings ≈ 350 M readings):
 *
 *   tsx test/bench/sqlite-store.bench.ts [yearMeters=40]
 *
 * 1. `yearMeters` meters × one year at 15 minutes of mixed campus readings (see reading()),
 *    written time-major in batches of 500 (as ingest would), closed days moved into chunks as the
 *    store does after writes: readings/s.
 * 2. 10,000 more meters with 4 readings each, so that latest() has a campus of meters.
 * 3. Bytes per reading on disk (per table and index via dbstat, after a WAL checkpoint).
 * 4. series() and readings() of one meter over the year; latest() of all 10,000+ meters.
 * 5. The same readings kept as rows only (the layout before chunks) in the same run, for the
 *    ratio; and chunks of arbitrary doubles (no register precision) as the worst case.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore, type SqliteStoreOptions } from '../../adapters/sqlite/store.ts';
import type { StoredReading } from '../../services/metering/storage.ts';

const YEAR_METERS = Number(process.argv[2] ?? 40);
const CAMPUS_METERS = 10_000;
const CAMPUS_READINGS = 350_000_000;
const STEP = 15 * 60_000;
const YEAR = 365 * 24 * 3_600_000;
const BATCH = 500;
const T0 = Date.parse('2025-01-01T00:00:00Z');

/** The gateway's decoding arithmetic (adapters/modbus/decode.ts): raw × scale × 10^exp × unit factor. */
function decoded(raw: number, scale = 1, exp = 0, factor = 1): number {
  return raw * scale * 10 ** exp * factor;
}

/**
 * Mixed campus readings as the profiles decode them, so that values carry the precision real
 * registers have: 40 % 3-phase SDM630 (float32 registers, power in W), 20 % 1-phase DDS238-2
 * (integer registers × 0.01/0.1/0.001, relay state), 10 % SDM120, 20 % water meters (litres, flow
 * in 0.001 m³/h) and 10 % heat meters via an M-Bus converter (int64 Wh × 10^-2, temperatures ×
 * 10^-2); about 1 % of polls fail (error readings) and 0.5 % are uncertain.
 */
function reading(meter: string, seq: number, ts: number, k: number): StoredReading {
  const base = { meter, seq, ts: ts + (k % 5000), site: 'east', gateway: `gw-${k % 20}` };
  if ((seq * 7 + k) % 97 === 0) {
    return {
      ...base,
      quality: 'error',
      values: {},
      error: { code: 'MODBUS_TIMEOUT', message: 'no answer within 1000 ms' },
      kind: 'electricity',
    };
  }
  const load = 0.5 + 3 * Math.abs(Math.sin(seq / 37 + k)) + 0.2 * Math.sin(seq * 1.7);
  const f32 = Math.fround;
  const uncertain = (seq * 13 + k) % 211 === 0;
  const flags = uncertain ? { quality: 'uncertain' as const, flags: ['VOLTAGE_V_OUT_OF_RANGE'] } : {};
  const type = k % 10;
  let values: StoredReading['values'];
  let kind: StoredReading['kind'] = 'electricity';
  if (type <= 3) {
    values = {
      energy_import_kwh: f32(1000 + k * 7.31 + seq * 0.0873519 * load),
      energy_export_kwh: f32(12.5 + seq * 0.0001),
      power_kw: decoded(f32(load * 1000), 1, 0, 0.001),
      voltage_v: f32(229.3 + Math.sin(seq) * 2.1),
      voltage_l2_v: f32(230.1 + Math.cos(seq) * 2.3),
      voltage_l3_v: f32(228.7 + Math.sin(seq / 3) * 1.9),
      current_a: f32(load / 0.23 / 3),
      current_l2_a: f32(load / 0.23 / 3.1),
      current_l3_a: f32(load / 0.23 / 2.9),
      pf: f32(0.9 + 0.09 * Math.sin(seq / 11)),
    };
  } else if (type <= 5) {
    values = {
      energy_import_kwh: decoded(Math.floor(100_000 + k * 731 + seq * 8.7 * load), 0.01),
      energy_export_kwh: decoded(0, 0.01),
      voltage_v: decoded(Math.round(2293 + Math.sin(seq) * 21), 0.1),
      current_a: decoded(Math.round((load / 0.23) * 100), 0.01),
      power_kw: decoded(Math.round(load * 1000), 1, 0, 0.001),
      pf: decoded(Math.round(900 + 90 * Math.sin(seq / 11)), 0.001),
      relay_closed: 1,
    };
  } else if (type === 6) {
    values = {
      energy_import_kwh: f32(300 + k * 3.1 + seq * 0.0273 * load),
      power_kw: decoded(f32(load * 300), 1, 0, 0.001),
      voltage_v: f32(229.3 + Math.sin(seq) * 2.1),
      current_a: f32((load * 0.3) / 0.23),
      pf: f32(0.9 + 0.09 * Math.sin(seq / 11)),
    };
  } else if (type <= 8) {
    kind = 'water';
    values = {
      volume_m3: decoded(Math.floor(5_000_000 + k * 1000 + seq * 31 * load), 1, 0, 0.001),
      flow_m3h: decoded(Math.round(load * 400), 0.001),
    };
  } else {
    kind = 'heat';
    values = {
      heat_kwh: decoded(Math.floor(4_000_000 + k * 100 + seq * 2500 * load), 1, -2, 0.001),
      volume_m3: decoded(Math.floor(800_000 + seq * 12 * load), 1, -2),
      flow_m3h: decoded(Math.round(load * 90), 1, -2),
      supply_c: decoded(Math.round(7500 + 300 * Math.sin(seq / 48)), 1, -2),
      return_c: decoded(Math.round(5500 + 250 * Math.sin(seq / 48)), 1, -2),
    };
  }
  return { ...base, quality: 'good', values, kind, ...flags };
}

/** The previous bench's readings: every value an arbitrary double (no register gives these). */
function arbitraryReading(meter: string, seq: number, ts: number, k: number): StoredReading {
  const kw = 0.5 + 3 * Math.abs(Math.sin(seq / 37 + k));
  return {
    meter,
    seq,
    ts: ts + (k % 5000),
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

interface LayoutFigures {
  written: number;
  rate: number;
  fileBytes: number;
  bytesPerReading: number;
  perObject: { name: string; bytes: number }[];
  series?: { points: number; first: number; median: number };
  readingsYear?: { count: number; first: number; median: number };
  latest?: { count: number; first: number; median: number; load: number };
  /** latest() as the first call of a connection just opened (nothing cached), median of a few. */
  latestCold?: { count: number; first: number; median: number; min: number; load: number };
  /** The floor under it: SQLite reading the packed rows as latest() does, nothing decoded. */
  latestScan?: { first: number; median: number; min: number };
  seriesLoad?: number;
}

/** Queries: median of a few runs, the first (cold-ish) run reported apart. */
async function time(
  fn: () => Promise<unknown>,
  runs = 5,
): Promise<{ first: number; median: number; min: number }> {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const own = await fn();
    // A function that times only part of its work returns that time.
    ms.push(typeof own === 'number' ? own : performance.now() - t);
  }
  const first = ms[0]!;
  ms.sort((a, b) => a - b);
  return { first, median: ms[Math.floor(ms.length / 2)]!, min: ms[0]! };
}

/** What grows with readings: raw rows, their seq index, chunks, roll-ups and their indexes. */
const GROWS = new Set([
  'readings',
  'readings_meter_seq',
  'chunks',
  'chunks_period',
  'chunks_seq',
  'rollup_chunks',
  'rollup_chunks_key',
]);

async function runLayout(
  options: Partial<SqliteStoreOptions>,
  gen: typeof reading,
  yearMeterCount: number,
  withCampus: boolean,
): Promise<LayoutFigures> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sqlite-store-bench-'));
  const file = path.join(dir, 'store.sqlite');
  const store = SqliteStore.open({ path: file, ...options });
  try {
    const yearMeters = Array.from({ length: yearMeterCount }, (_, i) => `E-Y-${String(i).padStart(5, '0')}`);
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
        batch.push(gen(yearMeters[k]!, s + 1, T0 + s * STEP, k));
        if (batch.length === BATCH) await flush();
      }
    }
    if (batch.length > 0) await flush();
    const figures: LayoutFigures = { written, rate: 0, fileBytes: 0, bytesPerReading: 0, perObject: [] };
    if (withCampus) {
      const campusMeters = Array.from(
        { length: CAMPUS_METERS },
        (_, i) => `E-C-${String(i).padStart(5, '0')}`,
      );
      for (let s = 0; s < 4; s++) {
        for (let k = 0; k < campusMeters.length; k++) {
          batch.push(gen(campusMeters[k]!, s + 1, T0 + YEAR + s * STEP, k));
          if (batch.length === BATCH) await flush();
        }
      }
      if (batch.length > 0) await flush();
    }
    // Whatever closed and is still raw is moved now, so the size is the steady state's.
    const t = performance.now();
    (store as SqliteStore).compact();
    writeMs += performance.now() - t;
    figures.written = written;
    figures.rate = written / (writeMs / 1000);

    // A meter of the mix's 3-phase kind (k % 10 = 0), the widest reading.
    const probe = yearMeters[Math.floor(yearMeterCount / 20) * 10]!;
    let points = 0;
    const s = await time(async () => {
      points = (
        await store.series({ meters: [probe], quantity: 'energy_import_kwh', from: T0, to: T0 + YEAR })
      ).length;
    });
    figures.series = { points, ...s };
    figures.seriesLoad = loadavg()[0];
    let count = 0;
    const r = await time(async () => {
      count = (await store.readings(probe, T0, T0 + YEAR)).length;
    }, 3);
    figures.readingsYear = { count, ...r };
    if (withCampus) {
      let n = 0;
      const l = await time(async () => {
        n = (await store.latest()).length;
      });
      figures.latest = { count: n, ...l, load: loadavg()[0]! };
    }
    await store.close();
    if (withCampus) {
      // Cold: each time a connection of its own (as the back office's first request after ingest
      // wrote), its first latest() reading the table from the file.
      let n = 0;
      const cold = await time(async () => {
        const fresh = SqliteStore.open({ path: file, ...options });
        try {
          const t = performance.now();
          n = (await fresh.latest()).length;
          return performance.now() - t;
        } finally {
          await fresh.close();
        }
      }, 9);
      figures.latestCold = { count: n, ...cold, load: loadavg()[0]! };
      figures.latestScan = await time(async () => {
        const db = new Database(file, { readonly: true });
        try {
          const scan = db.prepare("SELECT CAST(group_concat(packed, x'') AS BLOB) FROM latest").pluck();
          const t = performance.now();
          scan.get();
          return performance.now() - t;
        } finally {
          db.close();
        }
      }, 9);
    }

    const db = new Database(file);
    db.pragma('wal_checkpoint(TRUNCATE)');
    try {
      figures.perObject = db
        .prepare('SELECT name, SUM(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC')
        .all() as { name: string; bytes: number }[];
    } catch {
      // dbstat is optional in SQLite builds.
    }
    db.close();
    figures.fileBytes = statSync(file).size;
    // At campus scale the meters and latest tables are noise: count what grows with readings.
    const grows = figures.perObject.filter((o) => GROWS.has(o.name));
    figures.bytesPerReading =
      grows.length > 0 ? grows.reduce((sum, o) => sum + o.bytes, 0) / written : figures.fileBytes / written;
    return figures;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const chunks = await runLayout({}, reading, YEAR_METERS, true);
  // The same readings kept as rows (the layout before chunks): nothing ever closes.
  const rows = await runLayout({ graceMs: Number.POSITIVE_INFINITY }, reading, YEAR_METERS, false);
  // Worst case: doubles no register produces, every bit of every mantissa significant.
  const arbitrary = await runLayout({}, arbitraryReading, Math.max(2, Math.round(YEAR_METERS / 4)), false);

  const ms = (t: { first: number; median: number }): string =>
    `first ${fmt(t.first, 1)} ms, median ${fmt(t.median, 1)} ms`;
  const lines: [string, string][] = [
    [
      'Readings written (mixed campus readings)',
      `${fmt(chunks.written)} (${fmt(YEAR_METERS)} meters × 1 year @ 15 min + ${fmt(CAMPUS_METERS)} × 4)`,
    ],
    ['Write throughput, chunks (batches of 500, moves included)', `${fmt(chunks.rate)} readings/s`],
    ['Write throughput, rows only (same readings)', `${fmt(rows.rate)} readings/s`],
    [
      'Bytes per reading, chunks (what grows: rows + chunks + indexes)',
      `${fmt(chunks.bytesPerReading, 1)} (target ≤ 30: ${chunks.bytesPerReading <= 30 ? 'met' : 'MISSED'})`,
    ],
    ...chunks.perObject
      .filter((o) => GROWS.has(o.name) && o.bytes > 40_960)
      .map((o): [string, string] => [
        `  of which ${o.name}`,
        `${fmt(o.bytes / chunks.written, 1)} B/reading`,
      ]),
    ['Bytes per reading, rows only (the previous layout, same readings)', fmt(rows.bytesPerReading, 1)],
    ['Ratio chunks / rows', fmt(chunks.bytesPerReading / rows.bytesPerReading, 3)],
    ['Bytes per reading, chunks, arbitrary doubles (worst case)', fmt(arbitrary.bytesPerReading, 1)],
    [
      'series(): one 3-phase meter, one year @ 15 min, chunks',
      `${fmt(chunks.series!.points)} points, ${ms(chunks.series!)} (target ≤ 30 ms: ${chunks.series!.median <= 30 ? 'met' : 'MISSED'}; load ${fmt(chunks.seriesLoad!, 1)})`,
    ],
    ['series(): same, rows only', `${fmt(rows.series!.points)} points, ${ms(rows.series!)}`],
    [
      'readings(): same meter, every field, one year, chunks',
      `${fmt(chunks.readingsYear!.count)} readings, ${ms(chunks.readingsYear!)}`,
    ],
    ['readings(): same, rows only', `${fmt(rows.readingsYear!.count)} readings, ${ms(rows.readingsYear!)}`],
    [
      'latest(): all meters, first call of a fresh connection (cold)',
      `${fmt(chunks.latestCold!.count)} meters, ${ms(chunks.latestCold!)}, best ${fmt(chunks.latestCold!.min, 1)} ms (target ≤ 30 ms: ${chunks.latestCold!.median <= 30 ? 'met' : 'MISSED'} by the median; load ${fmt(chunks.latestCold!.load, 1)})`,
    ],
    [
      '  floor: the SQLite scan alone (the packed rows in one value, nothing decoded)',
      `${ms(chunks.latestScan!)}, best ${fmt(chunks.latestScan!.min, 1)} ms (cold latest() / scan, medians: ${fmt(chunks.latestCold!.median / chunks.latestScan!.median, 2)})`,
    ],
    [
      'latest(): all meters, same connection (first call, then cached)',
      `${fmt(chunks.latest!.count)} meters, ${ms(chunks.latest!)} (load ${fmt(chunks.latest!.load, 1)})`,
    ],
    [
      'Extrapolated: campus year on disk, chunks / rows',
      `${fmt((CAMPUS_READINGS * chunks.bytesPerReading) / 2 ** 30, 1)} GiB / ${fmt((CAMPUS_READINGS * rows.bytesPerReading) / 2 ** 30, 1)} GiB`,
    ],
    [
      'Extrapolated: campus year write load',
      `${fmt(CAMPUS_READINGS / YEAR_SECONDS, 1)} readings/s needed = ${fmt((100 * CAMPUS_READINGS) / YEAR_SECONDS / chunks.rate, 2)} % of measured capacity`,
    ],
  ];
  const width = Math.max(...lines.map(([k]) => k.length));
  console.log(
    `SqliteStore bench (load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} at the end)`,
  );
  for (const [k, v] of lines) console.log(`${k.padEnd(width)}  ${v}`);
}

const YEAR_SECONDS = YEAR / 1000;

await main();
