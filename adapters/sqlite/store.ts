import { migrate, type Migration } from './migrations.ts';
import Database from 'better-sqlite3';
import { QUANTITIES, type Quantity } from '../../config/schemas/quantities.ts';
import type {
  MeterKind,
  ReadingStore,
  SeriesPoint,
  SeriesQuery,
  StoredReading,
  SeqIndex,
} from '../../services/metering/storage.ts';
import { missingRuns } from '../../services/metering/storage.ts';

/**
 * The zero-setup ReadingStore: one SQLite file (WAL, synchronous=NORMAL: a committed write
 * survives the process being killed; the last transactions before a power cut may be lost).
 *
 * Layout, chosen for a campus year (10,000 meters × 15-minute readings ≈ 350 M rows):
 * - `meters` maps each meter id to a small integer, so readings do not repeat the name.
 * - `readings` has one row per reading and one REAL column per quantity (NULL when absent costs
 *   one header byte), clustered WITHOUT ROWID on (meter_id, ts, seq): a meter's series over any
 *   time range is one contiguous range scan that reads only the asked column. A unique index on
 *   (meter_id, seq) makes a redelivered reading an INSERT OR IGNORE no-op even if its ts differed.
 *   Values are stored as the doubles received; a row is never updated or deleted.
 * - `latest` keeps a copy of each meter's newest reading (by ts, then seq) with the site, gateway
 *   and kind it came with, so latest() is one scan of a 10,000-row table rather than 10,000 seeks
 *   into a table far larger than the page cache.
 *
 * Measured (test/bench/sqlite-store.bench.ts, SDM630-like readings with 10 quantities): about 129
 * bytes per reading in `readings` plus 18 in the unique index, ~147 B in all, i.e. ~48 GiB for a
 * campus year of 350 M readings; a year of one meter's 15-minute series reads in ~30 ms.
 */

export interface SqliteStoreOptions {
  /** Path of the SQLite file; ':memory:' for throwaway stores. */
  path: string;
  /**
   * SQLite page cache in MiB. Writes touch one leaf page per meter in both the table and the
   * unique index, so the cache should hold about 2 × meters × 4 KiB to keep writes off the disk.
   */
  cacheMiB?: number;
}

const QUANTITY_COLUMNS = Object.keys(QUANTITIES) as Quantity[];
const QUANTITY_SET = new Set<string>(QUANTITY_COLUMNS);

const QUALITY_GOOD = 0;
const QUALITY_ERROR = 1;
const QUALITY_UNCERTAIN = 2;
const QUALITY_CODE = { good: QUALITY_GOOD, error: QUALITY_ERROR, uncertain: QUALITY_UNCERTAIN } as const;
const QUALITY_NAME = ['good', 'error', 'uncertain'] as const;

const READING_COLUMNS = `seq, ts, quality, device_ts, error_code, error_message, flags, ${QUANTITY_COLUMNS.join(', ')}`;
const VALUE_DEFS = QUANTITY_COLUMNS.map((q) => `${q} REAL`).join(',\n  ');

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meters (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  site TEXT NOT NULL,
  gateway TEXT NOT NULL,
  kind TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS readings (
  meter_id INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  quality INTEGER NOT NULL,
  device_ts INTEGER,
  error_code TEXT,
  error_message TEXT,
  flags TEXT,
  ${VALUE_DEFS},
  PRIMARY KEY (meter_id, ts, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS readings_meter_seq ON readings (meter_id, seq);
CREATE TABLE IF NOT EXISTS latest (
  meter_id INTEGER PRIMARY KEY,
  site TEXT NOT NULL,
  gateway TEXT NOT NULL,
  kind TEXT NOT NULL,
  seq INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  quality INTEGER NOT NULL,
  device_ts INTEGER,
  error_code TEXT,
  error_message TEXT,
  flags TEXT,
  ${VALUE_DEFS}
);
`;

type Row = [
  seq: number,
  ts: number,
  quality: number,
  deviceTs: number | null,
  errorCode: string | null,
  errorMessage: string | null,
  flags: string | null,
  ...values: (number | null)[],
];

interface MeterRow {
  id: number;
  site: string;
  gateway: string;
  kind: MeterKind;
}

function toRow(r: StoredReading): Row {
  for (const key of Object.keys(r.values)) {
    if (!QUANTITY_SET.has(key))
      throw new TypeError(`reading of ${r.meter} seq ${r.seq}: unknown quantity ${key}`);
  }
  return [
    r.seq,
    r.ts,
    QUALITY_CODE[r.quality],
    r.deviceTs ?? null,
    r.error?.code ?? null,
    r.error?.message ?? null,
    r.flags?.length ? r.flags.join(',') : null,
    ...QUANTITY_COLUMNS.map((q) => r.values[q] ?? null),
  ];
}

function fromRow(meter: string, site: string, gateway: string, kind: MeterKind, row: Row): StoredReading {
  const [seq, ts, quality, deviceTs, errorCode, errorMessage, flags, ...values] = row;
  const reading: StoredReading = {
    meter,
    ts,
    seq,
    quality: QUALITY_NAME[quality] ?? 'error',
    values: {},
    site,
    gateway,
    kind,
  };
  values.forEach((v, i) => {
    if (v !== null) reading.values[QUANTITY_COLUMNS[i]!] = v;
  });
  if (deviceTs !== null) reading.deviceTs = deviceTs;
  if (errorCode !== null) reading.error = { code: errorCode, message: errorMessage ?? '' };
  if (flags !== null) reading.flags = flags.split(',');
  return reading;
}

/**
 * A store written by an older version lacks the columns of quantities and fields added since;
 * they are added empty (SQLite's ADD COLUMN rewrites nothing), so old readings stay as stored.
 */
/** The store's schema changes (adapters/sqlite/migrations.ts). */
export const STORE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'readings, meters and latest',
    up: (db) => db.exec(SCHEMA),
  },
];

function addMissingColumns(db: Database.Database): void {
  for (const table of ['readings', 'latest']) {
    const have = new Set(
      (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name),
    );
    if (!have.has('flags')) db.exec(`ALTER TABLE ${table} ADD COLUMN flags TEXT`);
    for (const q of QUANTITY_COLUMNS) if (!have.has(q)) db.exec(`ALTER TABLE ${table} ADD COLUMN ${q} REAL`);
  }
}

function isNewer(a: StoredReading, b: StoredReading): boolean {
  return a.ts > b.ts || (a.ts === b.ts && a.seq > b.seq);
}

export class SqliteStore implements ReadingStore, SeqIndex {
  private readonly db: Database.Database;
  private readonly meterIds = new Map<string, MeterRow>();
  private readonly insertMeter: Database.Statement<[string, string, string, string]>;
  private readonly updateMeter: Database.Statement<[string, string, string, number]>;
  private readonly insertReading: Database.Statement<[number, ...Row]>;
  private readonly upsertLatest: Database.Statement<[number, string, string, string, ...Row]>;
  private readonly latestAll: Database.Statement<[]>;
  private readonly latestKey: Database.Statement<[number]>;
  private readonly seriesStmts = new Map<Quantity, Database.Statement<[number, number, number]>>();
  private readonly readingsRange: Database.Statement<[number, number, number]>;
  private readonly writeTx: (readings: readonly StoredReading[]) => void;
  private closed = false;

  static open(options: SqliteStoreOptions): SqliteStore {
    return new SqliteStore(options);
  }

  private constructor(options: SqliteStoreOptions) {
    this.db = new Database(options.path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma(`cache_size = ${-Math.round((options.cacheMiB ?? 64) * 1024)}`);
    migrate(this.db, STORE_MIGRATIONS, options.path);
    // Quantity columns follow the QUANTITIES list, not a version: added whenever one is new.
    addMissingColumns(this.db);
    for (const m of this.db.prepare('SELECT id, name, site, gateway, kind FROM meters').all() as (MeterRow & {
      name: string;
    })[]) {
      this.meterIds.set(m.name, { id: m.id, site: m.site, gateway: m.gateway, kind: m.kind });
    }
    this.insertMeter = this.db.prepare('INSERT INTO meters (name, site, gateway, kind) VALUES (?, ?, ?, ?)');
    this.updateMeter = this.db.prepare('UPDATE meters SET site = ?, gateway = ?, kind = ? WHERE id = ?');
    const placeholders = (n: number): string => Array.from({ length: n }, () => '?').join(', ');
    const nReading = 7 + QUANTITY_COLUMNS.length;
    this.insertReading = this.db.prepare(
      `INSERT OR IGNORE INTO readings (meter_id, ${READING_COLUMNS}) VALUES (${placeholders(1 + nReading)})`,
    );
    this.latestKey = this.db.prepare<[number]>('SELECT ts, seq FROM latest WHERE meter_id = ?').raw();
    this.upsertLatest = this.db.prepare(
      `INSERT OR REPLACE INTO latest (meter_id, site, gateway, kind, ${READING_COLUMNS})
       VALUES (${placeholders(4 + nReading)})`,
    );
    this.latestAll = this.db.prepare(
      `SELECT m.name, l.site, l.gateway, l.kind, ${READING_COLUMNS.replace(/(\w+)/g, 'l.$1')}
       FROM latest l JOIN meters m ON m.id = l.meter_id`,
    );
    // The primary key's order: one range scan of the meter's rows, no sort.
    this.readingsRange = this.db
      .prepare<[number, number, number]>(
        `SELECT ${READING_COLUMNS} FROM readings WHERE meter_id = ? AND ts >= ? AND ts < ? ORDER BY ts, seq`,
      )
      .raw();
    this.writeTx = this.db.transaction((readings: readonly StoredReading[]) => this.writeInTx(readings));
  }

  private meterRow(r: StoredReading): MeterRow {
    const known = this.meterIds.get(r.meter);
    if (!known) {
      const id = Number(this.insertMeter.run(r.meter, r.site, r.gateway, r.kind).lastInsertRowid);
      const row = { id, site: r.site, gateway: r.gateway, kind: r.kind };
      this.meterIds.set(r.meter, row);
      return row;
    }
    // A meter moved to another gateway or site: the meters table follows it (readings keep theirs
    // only in `latest`; series carry no topic metadata).
    if (known.site !== r.site || known.gateway !== r.gateway || known.kind !== r.kind) {
      this.updateMeter.run(r.site, r.gateway, r.kind, known.id);
      Object.assign(known, { site: r.site, gateway: r.gateway, kind: r.kind });
    }
    return known;
  }

  private writeInTx(readings: readonly StoredReading[]): void {
    // The newest newly stored reading per meter, written to `latest` once per call.
    const newest = new Map<number, StoredReading>();
    for (const r of readings) {
      const row = toRow(r);
      const meter = this.meterRow(r);
      if (this.insertReading.run(meter.id, ...row).changes === 0) continue;
      const prev = newest.get(meter.id);
      if (!prev || isNewer(r, prev)) newest.set(meter.id, r);
    }
    for (const [id, r] of newest) {
      const current = this.latestKey.get(id) as [ts: number, seq: number] | undefined;
      if (current && !(r.ts > current[0] || (r.ts === current[0] && r.seq > current[1]))) continue;
      this.upsertLatest.run(id, r.site, r.gateway, r.kind, ...toRow(r));
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('SqliteStore is closed');
  }

  async seqMarks(): Promise<Map<string, number>> {
    this.assertOpen();
    const rows = this.db
      .prepare(
        'SELECT m.name AS meter, max(r.seq) AS seq FROM readings r JOIN meters m ON m.id = r.meter_id GROUP BY r.meter_id',
      )
      .all() as { meter: string; seq: number }[];
    return new Map(rows.map((r) => [r.meter, r.seq]));
  }

  async missingSeqs(meter: string, from: number, to: number): Promise<[number, number][]> {
    this.assertOpen();
    const id = this.meterIds.get(meter)?.id;
    if (id === undefined) return from <= to ? [[from, to]] : [];
    // The unique (meter_id, seq) index: a range scan of the seqs present.
    const seqs = this.db
      .prepare('SELECT seq FROM readings WHERE meter_id = ? AND seq BETWEEN ? AND ? ORDER BY seq')
      .pluck()
      .all(id, from, to) as number[];
    return missingRuns(seqs, from, to);
  }

  async writeReadings(readings: readonly StoredReading[]): Promise<void> {
    this.assertOpen();
    if (readings.length === 0) return;
    try {
      this.writeTx(readings);
    } catch (err) {
      // The transaction rolled back: forget meter ids it may have assigned.
      this.reloadMeters();
      throw err;
    }
  }

  private reloadMeters(): void {
    this.meterIds.clear();
    for (const m of this.db.prepare('SELECT id, name, site, gateway, kind FROM meters').all() as (MeterRow & {
      name: string;
    })[]) {
      this.meterIds.set(m.name, { id: m.id, site: m.site, gateway: m.gateway, kind: m.kind });
    }
  }

  async latest(meters?: readonly string[]): Promise<StoredReading[]> {
    this.assertOpen();
    const wanted = meters ? new Set(meters) : undefined;
    const out: StoredReading[] = [];
    for (const raw of this.latestAll.raw().all() as [string, string, string, MeterKind, ...Row][]) {
      const [name, site, gateway, kind, ...row] = raw;
      if (wanted && !wanted.has(name)) continue;
      out.push(fromRow(name, site, gateway, kind, row as Row));
    }
    return out.sort((a, b) => (a.meter < b.meter ? -1 : a.meter > b.meter ? 1 : 0));
  }

  private seriesStmt(quantity: Quantity): Database.Statement<[number, number, number]> {
    if (!QUANTITY_SET.has(quantity)) throw new TypeError(`unknown quantity ${String(quantity)}`);
    let stmt = this.seriesStmts.get(quantity);
    if (!stmt) {
      // The column name comes from the fixed quantity list checked above, never from input text.
      stmt = this.db
        .prepare<[number, number, number]>(
          `SELECT ts, ${quantity} FROM readings
           WHERE meter_id = ? AND ts >= ? AND ts < ? AND quality = ${QUALITY_GOOD} AND ${quantity} IS NOT NULL
           ORDER BY ts, seq`,
        )
        .raw();
      this.seriesStmts.set(quantity, stmt);
    }
    return stmt;
  }

  async series(query: SeriesQuery): Promise<SeriesPoint[]> {
    this.assertOpen();
    const stmt = this.seriesStmt(query.quantity);
    const out: SeriesPoint[] = [];
    for (const meter of [...new Set(query.meters)].sort()) {
      const id = this.meterIds.get(meter)?.id;
      if (id === undefined) continue;
      for (const [ts, value] of stmt.all(id, query.from, query.to) as [number, number][]) {
        out.push({ meter, ts, value });
      }
    }
    return out;
  }

  /**
   * Every reading of the meter in [from, to), ordered by ts then seq (the clustering key). The
   * table is WITHOUT ROWID, so the order rows were inserted in is not kept: seq is the gateway's
   * order (see ReadingStore.readings). Site, gateway and kind are the meter's current ones.
   */
  async readings(meter: string, from: number, to: number): Promise<StoredReading[]> {
    this.assertOpen();
    const m = this.meterIds.get(meter);
    if (!m) return [];
    return (this.readingsRange.all(m.id, from, to) as Row[]).map((row) =>
      fromRow(meter, m.site, m.gateway, m.kind, row),
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}
