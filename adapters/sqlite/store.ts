import { migrate, type Migration } from './migrations.ts';
import Database from 'better-sqlite3';
import { QUANTITIES, type Quantity } from '../../config/schemas/quantities.ts';
import type {
  MeterKind,
  ReadingStore,
  RegisterSlot,
  RegisterSlotQuery,
  RetentionPolicy,
  SeriesPoint,
  SeriesQuery,
  StoredReading,
  SeqIndex,
} from '../../services/metering/storage.ts';
import {
  keepFrom,
  missingRuns,
  ROLLUP_LAST_QUANTITIES,
  type RollupPoint,
} from '../../services/metering/storage.ts';
import { chunkRows, decodeChunk, encodeChunk, type ChunkRow } from './chunk-codec.ts';
import { decodeLatestRun, encodeLatest } from './latest-codec.ts';
import { DAY_MS, SLOT_MS, localDayStart, rollupDay, rollupSlots, type RollupShape } from './rollups.ts';

/**
 * The zero-setup ReadingStore: one SQLite file (WAL, synchronous=NORMAL: a committed write
 * survives the process being killed; the last transactions before a power cut may be lost).
 *
 * Layout, chosen for a campus year (10,000 meters × 15-minute readings ≈ 350 M readings):
 * - `meters` maps each meter id to a small integer, so readings do not repeat the name.
 * - `readings` holds the open period's readings raw, one row per reading and one REAL column per
 *   quantity, clustered WITHOUT ROWID on (meter_id, ts, seq), with a unique index on
 *   (meter_id, seq) that makes a redelivered reading an INSERT OR IGNORE no-op.
 * - `chunks` holds each meter's closed periods (UTC days by default), one compressed column chunk
 *   per meter and day (adapters/sqlite/chunk-codec.ts): ~10× smaller than rows, values bit for
 *   bit. A day closes once a reading an hour (`graceMs`) past its end has been written; the store
 *   then moves its rows into the chunk a few chunks per write, each move one transaction (chunk
 *   written and rows deleted together), so a crash leaves every reading in exactly one place.
 *   A late reading for a closed day goes into `readings` like any other and is merged into that
 *   day's chunk by the next move; until then queries merge the two.
 * - `latest` keeps a copy of each meter's newest reading (by ts, then seq) with the site, gateway
 *   and kind it came with, so latest() is one scan of a 10,000-row table.
 *
 * Several processes may open one file (ingest writing, the back office reading): each checks
 * PRAGMA data_version before using what it caches and picks up meters and chunk marks others wrote.
 *
 * Measured figures are in README's Benchmarks section (test/bench/sqlite-store.bench.ts).
 */

export interface SqliteStoreOptions {
  /** Path of the SQLite file; ':memory:' for throwaway stores. */
  path: string;
  /**
   * SQLite page cache in MiB. Writes touch one leaf page per meter in both the table and the
   * unique index, so the cache should hold about 2 × meters × 4 KiB to keep writes off the disk.
   */
  cacheMiB?: number;
  /**
   * Width of a chunk in ms, used when the file is created (a file keeps the width it was made
   * with). Default one UTC day; tests use an hour to exercise chunks with little data.
   */
  chunkMs?: number;
  /** How long past a period's end raw rows wait for stragglers before the period closes. Default 1 h. */
  graceMs?: number;
  /** Chunks moved after each write, so closing a day never stalls a write. Default 64. */
  chunksPerWrite?: number;
  /**
   * Offset of the campus time zone from UTC in minutes (480 for Asia/Shanghai): daily roll-ups
   * start at local midnight. A fixed offset, as InfluxDB's continuous query has.
   */
  dailyUtcOffsetMinutes?: number;
  /**
   * The wall clock (UTC ms), only as a bound: days close by the newest reading's ts, but never by
   * one stamped more than 10 minutes ahead of this clock, so a reading stamped years ahead by a
   * wrong gateway clock does not close every day at once. Default Date.now.
   */
  clock?: () => number;
}

export interface RetentionResult {
  /** Closed periods of raw readings deleted (their roll-ups stay). */
  chunks: number;
  readings: number;
  /** Meters of which some raw readings past the age limit were kept for a hold. */
  heldMeters: number;
}

export const DEFAULT_CHUNK_MS = 86_400_000;
/** How far ahead of the store's clock a gateway's clock may be and still close days. */
const CLOCK_SLACK_MS = 10 * 60_000;

const QUANTITY_COLUMNS = Object.keys(QUANTITIES) as Quantity[];
const QUANTITY_SET = new Set<string>(QUANTITY_COLUMNS);

const QUALITY_GOOD = 0;
const QUALITY_ERROR = 1;
const QUALITY_UNCERTAIN = 2;
const QUALITY_CODE = { good: QUALITY_GOOD, error: QUALITY_ERROR, uncertain: QUALITY_UNCERTAIN } as const;
const QUALITY_NAME = ['good', 'error', 'uncertain'] as const;

/**
 * `neg_zero` last: a bit per value column holding -0, which SQLite's REAL columns store as 0 (an
 * integral REAL is kept as an integer on disk), so a float32 register reading -0.0 would come back
 * as +0 without it.
 */
const READING_COLUMNS = `seq, ts, quality, device_ts, error_code, error_message, flags, ${QUANTITY_COLUMNS.join(', ')}, neg_zero`;
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

const CHUNK_SCHEMA = `
CREATE TABLE chunks (
  id INTEGER PRIMARY KEY,
  meter_id INTEGER NOT NULL,
  period INTEGER NOT NULL,
  n INTEGER NOT NULL,
  min_seq INTEGER NOT NULL,
  max_seq INTEGER NOT NULL,
  data BLOB NOT NULL
);
CREATE UNIQUE INDEX chunks_period ON chunks (meter_id, period);
CREATE INDEX chunks_seq ON chunks (meter_id, max_seq, min_seq);
CREATE TABLE store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO store_meta (key, value) VALUES ('chunk_ms', '${DEFAULT_CHUNK_MS}'), ('quantities', '[]');
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
  name: string;
  site: string;
  gateway: string;
  kind: MeterKind;
  /** Highest seq held in chunks (-1 none), valid while `gen` equals the store's. */
  chunkSeq: number;
  gen: number;
}

/** A row as written: a Row with its -0 mask last (see READING_COLUMNS). */
function toRow(r: StoredReading): [...Row, number | null] {
  for (const key of Object.keys(r.values)) {
    if (!QUANTITY_SET.has(key))
      throw new TypeError(`reading of ${r.meter} seq ${r.seq}: unknown quantity ${key}`);
  }
  let negZero = 0;
  QUANTITY_COLUMNS.forEach((q, i) => {
    if (Object.is(r.values[q], -0)) negZero += 2 ** i;
  });
  return [
    r.seq,
    r.ts,
    QUALITY_CODE[r.quality],
    r.deviceTs ?? null,
    r.error?.code ?? null,
    r.error?.message ?? null,
    r.flags?.length ? r.flags.join(',') : null,
    ...QUANTITY_COLUMNS.map((q) => r.values[q] ?? null),
    negZero === 0 ? null : negZero,
  ];
}

/** A row as read (its -0 mask last) back to a Row with its -0 values. */
function rowFromDb(db: (number | string | null)[]): Row {
  const mask = db.pop() as number | null;
  if (mask !== null) {
    for (let i = 0; i < QUANTITY_COLUMNS.length; i++) if (Math.floor(mask / 2 ** i) % 2 === 1) db[7 + i] = -0;
  }
  return db as Row;
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
  {
    // Only tables are made here, so the step is instant on a file of any size: the store then
    // moves closed days' rows into chunks a few at a time (compact()), each move one transaction,
    // so a file killed midway resumes where it stopped with every reading in exactly one place.
    version: 2,
    name: 'compressed day chunks',
    up: (db) => db.exec(CHUNK_SCHEMA),
  },
  {
    version: 3,
    name: 'roll-ups',
    up: (db) =>
      db.exec(`CREATE TABLE rollup_chunks (
                 id INTEGER PRIMARY KEY,
                 meter_id INTEGER NOT NULL,
                 step INTEGER NOT NULL,
                 start INTEGER NOT NULL,
                 data BLOB NOT NULL);
               CREATE UNIQUE INDEX rollup_chunks_key ON rollup_chunks (meter_id, step, start);`),
  },
  {
    // One transaction of one row per meter: a file killed midway is still at version 3 and
    // converts again at the next open.
    version: 4,
    name: 'latest readings packed in one column',
    up: (db) => packLatest(db),
  },
];

const ROLLUP_SHAPE: RollupShape = {
  columns: QUANTITY_COLUMNS.length,
  last: new Set([...ROLLUP_LAST_QUANTITIES].map((q) => QUANTITY_COLUMNS.indexOf(q))),
  power: QUANTITY_COLUMNS.indexOf('power_kw'),
};
/** The roll-ups' extra column's name in the file's dictionary. */
const POWER_MAX = 'power_kw_max';

/**
 * The file's quantity dictionary (chunk and packed-latest ids ↔ quantities): a list kept in the
 * file, appended to, never reordered; what this release knows is appended if missing.
 */
function settleDictionary(db: Database.Database): string[] {
  const dict = JSON.parse(
    db.prepare("SELECT value FROM store_meta WHERE key = 'quantities'").pluck().get() as string,
  ) as string[];
  const missing = [...QUANTITY_COLUMNS, POWER_MAX].filter((q) => !dict.includes(q));
  if (missing.length > 0) {
    dict.push(...missing);
    db.prepare("UPDATE store_meta SET value = ? WHERE key = 'quantities'").run(JSON.stringify(dict));
  }
  return dict;
}

/**
 * Schema 4: `latest` as (meter_id, ts, seq, packed) from its column layout, every reading kept as
 * it was read back before (its -0 mask applied; columns an older file lacks are absent values).
 */
function packLatest(db: Database.Database): void {
  const have = new Set(
    (db.prepare('PRAGMA table_info(latest)').all() as { name: string }[]).map((c) => c.name),
  );
  // A file already packed (a test may set the version back): nothing to convert.
  if (have.has('packed')) return;
  const dict = settleDictionary(db);
  const idOf = QUANTITY_COLUMNS.map((q) => dict.indexOf(q));
  const rows = db.prepare('SELECT * FROM latest').all() as Record<string, string | number | null>[];
  db.exec(`ALTER TABLE latest RENAME TO latest_columns;
           CREATE TABLE latest (meter_id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, seq INTEGER NOT NULL,
                                packed BLOB NOT NULL);`);
  const put = db.prepare('INSERT INTO latest (meter_id, ts, seq, packed) VALUES (?, ?, ?, ?)');
  for (const row of rows) {
    const get = (c: string): string | number | null => (have.has(c) ? (row[c] ?? null) : null);
    const dbRow: (string | number | null)[] = [
      get('seq'),
      get('ts'),
      get('quality'),
      get('device_ts'),
      get('error_code'),
      get('error_message'),
      get('flags'),
      ...QUANTITY_COLUMNS.map(get),
      get('neg_zero'),
    ];
    const r = fromRow(
      '',
      String(row.site),
      String(row.gateway),
      String(row.kind) as MeterKind,
      rowFromDb(dbRow),
    );
    put.run(row.meter_id, r.ts, r.seq, encodeLatest(r, Number(row.meter_id), QUANTITY_COLUMNS, idOf));
  }
  db.exec('DROP TABLE latest_columns');
}

/** Raw rows of an older file lack the columns of quantities and fields added since. */
function addMissingColumns(db: Database.Database): void {
  for (const table of ['readings']) {
    const have = new Set(
      (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name),
    );
    if (!have.has('flags')) db.exec(`ALTER TABLE ${table} ADD COLUMN flags TEXT`);
    if (!have.has('neg_zero')) db.exec(`ALTER TABLE ${table} ADD COLUMN neg_zero INTEGER`);
    for (const q of QUANTITY_COLUMNS) if (!have.has(q)) db.exec(`ALTER TABLE ${table} ADD COLUMN ${q} REAL`);
  }
}

function copyReading(r: StoredReading): StoredReading {
  const c: StoredReading = { ...r, values: { ...r.values } };
  if (r.error) c.error = { ...r.error };
  if (r.flags) c.flags = [...r.flags];
  return c;
}

function isNewer(a: StoredReading, b: StoredReading): boolean {
  return a.ts > b.ts || (a.ts === b.ts && a.seq > b.seq);
}

/** (ts, seq) order, the order of the clustering key and of every chunk. */
function byTsSeq(a: readonly (number | null | string)[], b: readonly (number | null | string)[]): number {
  return (a[1] as number) - (b[1] as number) || (a[0] as number) - (b[0] as number);
}

/** Merges two lists sorted by `key` into one sorted list (chunks and raw rows of one meter). */
function mergeSorted<T>(a: T[], b: T[], cmp: (x: T, y: T) => number): T[] {
  if (b.length === 0) return a;
  if (a.length === 0) return b;
  const out: T[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) out.push(cmp(a[i]!, b[j]!) <= 0 ? a[i++]! : b[j++]!);
  while (i < a.length) out.push(a[i++]!);
  while (j < b.length) out.push(b[j++]!);
  return out;
}

export interface CompactionResult {
  /** Chunks written (new or merged with stragglers) by this call. */
  chunks: number;
  /** Readings moved from rows into chunks. */
  readings: number;
  /** Meters still holding raw rows of closed periods. */
  pendingMeters: number;
}

export class SqliteStore implements ReadingStore, SeqIndex {
  private readonly db: Database.Database;
  private readonly meterIds = new Map<string, MeterRow>();
  private readonly meterById = new Map<number, MeterRow>();
  private readonly insertMeter: Database.Statement<[string, string, string, string]>;
  private readonly updateMeter: Database.Statement<[string, string, string, number]>;
  private readonly insertReading: Database.Statement<[number, ...Row]>;
  private readonly upsertLatest: Database.Statement<[number, number, number, Buffer]>;
  private readonly latestAll: Database.Statement<[]>;
  private readonly latestKey: Database.Statement<[number]>;
  private readonly seriesStmts = new Map<Quantity, Database.Statement<[number, number, number]>>();
  private readonly readingsRange: Database.Statement<[number, number, number]>;
  private readonly chunkSeqMark: Database.Statement<[number]>;
  private readonly chunksBySeq: Database.Statement<[number, number, number]>;
  private readonly chunksByPeriod: Database.Statement<[number, number, number]>;
  private readonly chunkAt: Database.Statement<[number, number]>;
  private readonly putChunk: Database.Statement<[number, number, number, number, number, Buffer]>;
  private readonly firstClosedRaw: Database.Statement<[number, number]>;
  private readonly deleteRaw: Database.Statement<[number, number, number]>;
  private readonly writeTx: Database.Transaction<(readings: readonly StoredReading[]) => void>;
  private readonly compactTx: Database.Transaction<(meterId: number) => number>;
  private readonly chunkMs: number;
  private readonly graceMs: number;
  private readonly chunksPerWrite: number;
  private readonly clock: () => number;
  /** The file's quantity dictionary: chunk ids ↔ this release's value columns. */
  private readonly dictIds: number[];
  private readonly columnOf = new Map<number, number>();
  private readonly rollupDictIds: number[];
  /** Packed latest readings' quantity ids → this release's quantities. */
  private readonly quantityOfId: (Quantity | undefined)[];
  private readonly rollupColumnOf = new Map<number, number>();
  private readonly dailyOffset: number;
  private readonly putRollup: Database.Statement<[number, number, number, Buffer]>;
  private readonly rollupRange: Database.Statement<[number, number, number, number]>;
  /** Bumped when another connection committed: cached chunk marks are then re-read on use. */
  private gen = 0;
  private dataVersion: number;
  private maxMeterId = 0;
  /** The newest ts written to the file: what closes periods (data time, never the wall clock). */
  private maxTs = -Infinity;
  /** Raw rows with ts below this are in closed periods. */
  private cutoff = -Infinity;
  /** Meters known to hold raw rows below `cutoff`. */
  private readonly pending = new Set<number>();
  private lastCompactionError: Error | undefined;
  /**
   * Every meter's latest reading sorted by meter, kept after the first latest() while this
   * connection's own writes are the only ones (data_version unchanged); our writes update it.
   */
  private latestCache: Map<string, StoredReading> | undefined;
  private latestSorted: StoredReading[] | undefined;
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
    this.chunkMs = this.settleChunkMs(options.chunkMs);
    this.graceMs = options.graceMs ?? 3_600_000;
    this.chunksPerWrite = options.chunksPerWrite ?? 64;
    this.clock = options.clock ?? Date.now;
    const dict = settleDictionary(this.db);
    this.quantityOfId = dict.map((q) => (QUANTITY_SET.has(q) ? (q as Quantity) : undefined));
    this.dictIds = QUANTITY_COLUMNS.map((q) => dict.indexOf(q));
    this.dictIds.forEach((id, c) => this.columnOf.set(id, c));
    this.rollupDictIds = [...this.dictIds, dict.indexOf(POWER_MAX)];
    this.rollupDictIds.forEach((id, c) => this.rollupColumnOf.set(id, c));
    this.dailyOffset = options.dailyUtcOffsetMinutes ?? 0;
    this.dataVersion = this.db.pragma('data_version', { simple: true }) as number;

    this.insertMeter = this.db.prepare('INSERT INTO meters (name, site, gateway, kind) VALUES (?, ?, ?, ?)');
    this.updateMeter = this.db.prepare('UPDATE meters SET site = ?, gateway = ?, kind = ? WHERE id = ?');
    const placeholders = (n: number): string => Array.from({ length: n }, () => '?').join(', ');
    const nReading = 8 + QUANTITY_COLUMNS.length;
    this.insertReading = this.db.prepare(
      `INSERT OR IGNORE INTO readings (meter_id, ${READING_COLUMNS}) VALUES (${placeholders(1 + nReading)})`,
    );
    this.latestKey = this.db.prepare<[number]>('SELECT ts, seq FROM latest WHERE meter_id = ?').raw();
    this.upsertLatest = this.db.prepare(
      'INSERT OR REPLACE INTO latest (meter_id, ts, seq, packed) VALUES (?, ?, ?, ?)',
    );
    // One scan of `latest` in its rowid order; the names come from the meters already in memory.
    // (Joining `meters` made SQLite walk the meters' name index and look each meter's row up:
    // a B-tree search per meter.)
    // Every blob in one value, concatenated by SQLite (each record carries its length and meter
    // id): one Buffer handed to V8 instead of a Buffer and an array per meter (8–20 ms of a cold
    // latest() at 10,000 meters; 1–2 ms this way). group_concat copies a BLOB's bytes as they are.
    this.latestAll = this.db.prepare("SELECT CAST(group_concat(packed, x'') AS BLOB) FROM latest").pluck();
    // The primary key's order: one range scan of the meter's rows, no sort.
    this.readingsRange = this.db
      .prepare<[number, number, number]>(
        `SELECT ${READING_COLUMNS} FROM readings WHERE meter_id = ? AND ts >= ? AND ts < ? ORDER BY ts, seq`,
      )
      .raw();
    this.chunkSeqMark = this.db
      .prepare<[number]>('SELECT max(max_seq) FROM chunks WHERE meter_id = ?')
      .pluck();
    this.chunksBySeq = this.db
      .prepare<[number, number, number]>(
        'SELECT data FROM chunks WHERE meter_id = ? AND max_seq >= ? AND min_seq <= ?',
      )
      .pluck();
    this.chunksByPeriod = this.db
      .prepare<[number, number, number]>(
        'SELECT data FROM chunks WHERE meter_id = ? AND period BETWEEN ? AND ? ORDER BY period',
      )
      .pluck();
    this.chunkAt = this.db
      .prepare<[number, number]>('SELECT data FROM chunks WHERE meter_id = ? AND period = ?')
      .pluck();
    this.putChunk = this.db.prepare(
      'INSERT OR REPLACE INTO chunks (meter_id, period, n, min_seq, max_seq, data) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.firstClosedRaw = this.db
      .prepare<[number, number]>('SELECT ts FROM readings WHERE meter_id = ? AND ts < ? ORDER BY ts LIMIT 1')
      .pluck();
    this.deleteRaw = this.db.prepare('DELETE FROM readings WHERE meter_id = ? AND ts >= ? AND ts < ?');
    this.putRollup = this.db.prepare(
      'INSERT OR REPLACE INTO rollup_chunks (meter_id, step, start, data) VALUES (?, ?, ?, ?)',
    );
    this.rollupRange = this.db
      .prepare<[number, number, number, number]>(
        'SELECT data FROM rollup_chunks WHERE meter_id = ? AND step = ? AND start >= ? AND start < ? ORDER BY start',
      )
      .pluck();
    this.loadMeters();
    this.maxTs = (this.db.prepare('SELECT max(ts) FROM latest').pluck().get() as number | null) ?? -Infinity;
    this.writeTx = this.db.transaction((readings: readonly StoredReading[]) => this.writeInTx(readings));
    this.compactTx = this.db.transaction((meterId: number) => this.compactOne(meterId));
  }

  /** The file's chunk width; a new file (no chunk yet) takes the one asked for. */
  private settleChunkMs(asked: number | undefined): number {
    const stored = Number(
      this.db.prepare("SELECT value FROM store_meta WHERE key = 'chunk_ms'").pluck().get() as string,
    );
    if (asked === undefined || asked === stored) return stored;
    if (!Number.isSafeInteger(asked) || asked < 1000)
      throw new RangeError(`chunkMs must be ≥ 1000 ms, got ${asked}`);
    if (this.db.prepare('SELECT 1 FROM chunks LIMIT 1').get()) return stored;
    this.db.prepare("UPDATE store_meta SET value = ? WHERE key = 'chunk_ms'").run(String(asked));
    return asked;
  }

  private loadMeters(): void {
    const rows = this.db
      .prepare('SELECT id, name, site, gateway, kind FROM meters WHERE id > ? ORDER BY id')
      .all(this.maxMeterId) as { id: number; name: string; site: string; gateway: string; kind: MeterKind }[];
    for (const m of rows) {
      const row: MeterRow = {
        id: m.id,
        name: m.name,
        site: m.site,
        gateway: m.gateway,
        kind: m.kind,
        chunkSeq: -1,
        gen: -1,
      };
      this.meterIds.set(m.name, row);
      this.meterById.set(m.id, row);
      this.maxMeterId = m.id;
    }
  }

  /** Another connection committed since we last looked: pick up its meters and chunk marks. */
  private refresh(): void {
    const v = this.db.pragma('data_version', { simple: true }) as number;
    if (v === this.dataVersion) return;
    this.dataVersion = v;
    this.gen++;
    this.latestCache = undefined;
    this.latestSorted = undefined;
    this.loadMeters();
    this.maxTs = Math.max(
      this.maxTs,
      (this.db.prepare('SELECT max(ts) FROM latest').pluck().get() as number | null) ?? -Infinity,
    );
  }

  private chunkSeq(m: MeterRow): number {
    if (m.gen !== this.gen) {
      m.chunkSeq = (this.chunkSeqMark.get(m.id) as number | null) ?? -1;
      m.gen = this.gen;
    }
    return m.chunkSeq;
  }

  private decodeSeqs(blob: Buffer): number[] {
    return decodeChunk(blob, this.columnOf, new Set()).seq;
  }

  /** True when a chunk of the meter already holds this seq (a redelivery of a closed day). */
  private inChunks(m: MeterRow, seq: number): boolean {
    if (seq > this.chunkSeq(m)) return false;
    for (const blob of this.chunksBySeq.all(m.id, seq, seq) as Buffer[]) {
      if (this.decodeSeqs(blob).includes(seq)) return true;
    }
    return false;
  }

  private meterRow(r: StoredReading): MeterRow {
    const known = this.meterIds.get(r.meter);
    if (!known) {
      const id = Number(this.insertMeter.run(r.meter, r.site, r.gateway, r.kind).lastInsertRowid);
      const row: MeterRow = {
        id,
        name: r.meter,
        site: r.site,
        gateway: r.gateway,
        kind: r.kind,
        chunkSeq: -1,
        gen: this.gen,
      };
      this.meterIds.set(r.meter, row);
      this.meterById.set(id, row);
      this.maxMeterId = Math.max(this.maxMeterId, id);
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
    this.refresh();
    // The newest newly stored reading per meter, written to `latest` once per call.
    const newest = new Map<number, StoredReading>();
    for (const r of readings) {
      const row = toRow(r);
      const meter = this.meterRow(r);
      if (this.inChunks(meter, r.seq)) continue;
      if (this.insertReading.run(meter.id, ...row).changes === 0) continue;
      if (r.ts < this.cutoff) this.pending.add(meter.id);
      if (r.ts > this.maxTs) this.maxTs = r.ts;
      const prev = newest.get(meter.id);
      if (!prev || isNewer(r, prev)) newest.set(meter.id, r);
    }
    for (const [id, r] of newest) {
      const current = this.latestKey.get(id) as [ts: number, seq: number] | undefined;
      if (current && !(r.ts > current[0] || (r.ts === current[0] && r.seq > current[1]))) continue;
      this.upsertLatest.run(id, r.ts, r.seq, encodeLatest(r, id, QUANTITY_COLUMNS, this.dictIds));
      if (this.latestCache) {
        this.latestCache.set(r.meter, copyReading(r));
        this.latestSorted = undefined;
      }
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('SqliteStore is closed');
  }

  /**
   * Moves raw rows of closed periods into chunks, at most `maxChunks` of them (all by default).
   * Each chunk is one transaction; stopping (or being killed) between two loses nothing.
   */
  compact(maxChunks = Infinity): CompactionResult {
    this.assertOpen();
    this.refresh();
    const horizon = Math.min(this.maxTs, this.clock() + CLOCK_SLACK_MS);
    const cutoff = Math.floor((horizon - this.graceMs) / this.chunkMs) * this.chunkMs;
    if (cutoff > this.cutoff) {
      // Once per period: which meters hold rows that just closed. One seek per meter on the
      // primary key, never a scan of the rows (after an upgrade they are the whole history).
      this.cutoff = cutoff;
      const anyClosed = this.db
        .prepare('SELECT 1 FROM readings WHERE meter_id = ? AND ts < ? LIMIT 1')
        .pluck();
      for (const id of this.meterById.keys())
        if (anyClosed.get(id, cutoff) !== undefined) this.pending.add(id);
    }
    const result: CompactionResult = { chunks: 0, readings: 0, pendingMeters: 0 };
    for (const id of this.pending) {
      while (result.chunks < maxChunks) {
        const moved = this.compactTx.immediate(id);
        if (moved < 0) {
          this.pending.delete(id);
          break;
        }
        result.chunks++;
        result.readings += moved;
      }
      if (result.chunks >= maxChunks) break;
    }
    result.pendingMeters = this.pending.size;
    return result;
  }

  /** Moves the meter's oldest closed period into its chunk; the readings moved, or -1 if none was left. */
  private compactOne(meterId: number): number {
    const first = this.firstClosedRaw.get(meterId, this.cutoff) as number | undefined;
    if (first === undefined) return -1;
    const period = Math.floor(first / this.chunkMs);
    const from = period * this.chunkMs;
    const to = Math.min(from + this.chunkMs, this.cutoff);
    const raw = (this.readingsRange.all(meterId, from, to) as Row[]).map(rowFromDb);
    const existing = this.chunkAt.get(meterId, period) as Buffer | undefined;
    let rows = raw as ChunkRow[];
    if (existing) {
      const old = chunkRows(decodeChunk(existing, this.columnOf), QUANTITY_COLUMNS.length);
      // A seq already in the chunk keeps the chunk's (first stored) reading, as a row write would.
      const have = new Set(old.map((r) => r[0]));
      rows = mergeSorted(
        old,
        (raw as ChunkRow[]).filter((r) => !have.has(r[0])),
        byTsSeq,
      );
    }
    let minSeq = Infinity;
    let maxSeq = -Infinity;
    for (const r of rows) {
      if (r[0] < minSeq) minSeq = r[0];
      if (r[0] > maxSeq) maxSeq = r[0];
    }
    this.putChunk.run(meterId, period, rows.length, minSeq, maxSeq, encodeChunk(rows, this.dictIds));
    this.deleteRaw.run(meterId, from, to);
    this.writeRollups(meterId, rows, period * this.chunkMs);
    const m = this.meterById.get(meterId);
    if (m && m.gen === this.gen) m.chunkSeq = Math.max(m.chunkSeq, maxSeq);
    return raw.length;
  }

  /**
   * The roll-ups of a period just written as a chunk, in the same transaction: its 15-minute slots,
   * then each campus day it touches, again from all 15-minute slots of that day.
   */
  private writeRollups(meterId: number, rows: readonly ChunkRow[], periodStart: number): void {
    const periodEnd = periodStart + this.chunkMs;
    for (let day = localDayStart(periodStart, this.dailyOffset); day < periodEnd; day += DAY_MS) {
      const row = rollupDay(this.slotRows(meterId, day, day + DAY_MS, rows, periodStart), day, ROLLUP_SHAPE);
      if (row) this.putRollup.run(meterId, DAY_MS, day, encodeChunk([row], this.rollupDictIds));
    }
  }

  /**
   * 15-minute roll-ups of a meter with start in [from, to). While a closed period's raw chunk
   * exists they are computed from it (at 15-minute polling they would be as large as the chunk);
   * retention stores them before it deletes the chunk. `rows` of period `rowsStart` are used as
   * given (the chunk being written).
   */
  private slotRows(
    meterId: number,
    from: number,
    to: number,
    rows?: readonly ChunkRow[],
    rowsStart?: number,
  ): ChunkRow[] {
    const out: ChunkRow[] = [];
    const take = (slots: readonly ChunkRow[]): void => {
      for (const slot of slots) if (slot[1] >= from && slot[1] < to) out.push(slot);
    };
    const [p0, p1] = this.periodsOf(from, to);
    const stored = new Map<number, Buffer>();
    for (const blob of this.rollupRange.all(
      meterId,
      SLOT_MS,
      p0 * this.chunkMs,
      (p1 + 1) * this.chunkMs,
    ) as Buffer[]) {
      const first = decodeChunk(blob, this.rollupColumnOf, new Set()).ts[0];
      if (first !== undefined) stored.set(Math.floor(first / this.chunkMs), blob);
    }
    for (let p = p0; p <= p1; p++) {
      if (rows && rowsStart === p * this.chunkMs) {
        take(rollupSlots(rows, ROLLUP_SHAPE));
        continue;
      }
      const raw = this.chunkAt.get(meterId, p) as Buffer | undefined;
      if (raw)
        take(rollupSlots(chunkRows(decodeChunk(raw, this.columnOf), QUANTITY_COLUMNS.length), ROLLUP_SHAPE));
      else {
        const blob = stored.get(p);
        if (blob) take(chunkRows(decodeChunk(blob, this.rollupColumnOf), ROLLUP_SHAPE.columns + 1));
      }
    }
    return out;
  }

  /** Daily roll-up rows of a meter with start in [from, to). */
  private dayRows(meterId: number, from: number, to: number): ChunkRow[] {
    const out: ChunkRow[] = [];
    for (const blob of this.rollupRange.all(meterId, DAY_MS, from, to) as Buffer[]) {
      out.push(...chunkRows(decodeChunk(blob, this.rollupColumnOf), ROLLUP_SHAPE.columns + 1));
    }
    return out;
  }

  /**
   * 15-minute or daily roll-ups of a meter with start in [from, to), in time order: what stays
   * after retention deletes raw readings. Periods still open have none yet.
   */
  async rollups(meter: string, step: '15m' | '1d', from: number, to: number): Promise<RollupPoint[]> {
    this.assertOpen();
    this.refresh();
    const m = this.meterIds.get(meter);
    if (!m || !(from < to)) return [];
    const rows = step === '15m' ? this.slotRows(m.id, from, to) : this.dayRows(m.id, from, to);
    return rows.map((row) => {
      const p: RollupPoint = { meter, start: row[1], readings: row[0], values: {} };
      for (let c = 0; c < ROLLUP_SHAPE.columns; c++) {
        const v = row[7 + c] as number | null;
        if (v !== null) p.values[QUANTITY_COLUMNS[c]!] = v;
      }
      const max = row[7 + ROLLUP_SHAPE.columns] as number | null;
      if (max !== null) p.powerKwMax = max;
      return p;
    });
  }

  /**
   * The 15-minute roll-ups of a register (ReadingStore.registerSlots): from closed periods' raw
   * chunks while they exist, from the roll-ups retention stored in their stead after. The open
   * period has none yet (its raw rows are what consumption reads there).
   */
  async registerSlots(query: RegisterSlotQuery): Promise<RegisterSlot[]> {
    this.assertOpen();
    if (!ROLLUP_LAST_QUANTITIES.has(query.quantity))
      throw new TypeError(`${String(query.quantity)} is not a cumulative register`);
    this.refresh();
    const column = QUANTITY_COLUMNS.indexOf(query.quantity);
    const out: RegisterSlot[] = [];
    if (!(query.from < query.to)) return out;
    for (const meter of [...new Set(query.meters)].sort()) {
      const m = this.meterIds.get(meter);
      if (!m) continue;
      for (const row of this.slotRows(m.id, query.from, query.to)) {
        const v = row[7 + column] as number | null;
        if (v !== null && v !== undefined) out.push({ meter, start: row[1], value: v, readings: row[0] });
      }
    }
    return out;
  }

  /**
   * Deletes closed periods of raw readings older than `rawDays` (whole chunks, their roll-ups
   * kept), except from the earliest hold on a meter on: a reading billing or VEE still needs is
   * never deleted. Raw rows of the open period are never touched.
   */
  applyRetention(policy: RetentionPolicy): RetentionResult {
    this.assertOpen();
    this.refresh();
    if (!(policy.rawDays >= 1)) throw new RangeError(`rawDays must be at least 1, got ${policy.rawDays}`);
    const result: RetentionResult = { chunks: 0, readings: 0, heldMeters: 0 };
    const age = policy.now - policy.rawDays * DAY_MS;
    const old = this.db.prepare(
      'SELECT period, n FROM chunks WHERE meter_id = ? AND period < ? ORDER BY period',
    );
    const drop = this.db.prepare('DELETE FROM chunks WHERE meter_id = ? AND period < ?');
    const held = this.db
      .prepare('SELECT count(*) FROM chunks WHERE meter_id = ? AND period >= ? AND period < ?')
      .pluck();
    this.db
      .transaction(() => {
        for (const [name, m] of this.meterIds) {
          const keep = keepFrom(policy, name);
          // Periods wholly before `keep` go: a period's end ≤ keep.
          const endPeriod = Math.floor(keep / this.chunkMs);
          if (keep < age && (held.get(m.id, endPeriod, Math.floor(age / this.chunkMs)) as number) > 0)
            result.heldMeters++;
          const gone = old.all(m.id, endPeriod) as { period: number; n: number }[];
          if (gone.length === 0) continue;
          // The raw chunks' 15-minute roll-ups are kept from now on, in their stead.
          for (const g of gone) {
            const start = g.period * this.chunkMs;
            const slots = this.slotRows(m.id, start, start + this.chunkMs);
            if (slots.length > 0)
              this.putRollup.run(m.id, SLOT_MS, start, encodeChunk(slots, this.rollupDictIds));
          }
          drop.run(m.id, endPeriod);
          result.chunks += gone.length;
          result.readings += gone.reduce((s, g) => s + g.n, 0);
        }
      })
      .immediate();
    return result;
  }

  /** The last error of the compaction that runs after writes (the rows stay raw meanwhile). */
  compactionError(): Error | undefined {
    return this.lastCompactionError;
  }

  async seqMarks(): Promise<Map<string, number>> {
    this.assertOpen();
    this.refresh();
    const rows = this.db
      .prepare(
        `SELECT m.name AS meter, max(s.seq) AS seq FROM (
           SELECT meter_id, max(seq) AS seq FROM readings GROUP BY meter_id
           UNION ALL SELECT meter_id, max(max_seq) FROM chunks GROUP BY meter_id
         ) s JOIN meters m ON m.id = s.meter_id GROUP BY s.meter_id`,
      )
      .all() as { meter: string; seq: number }[];
    return new Map(rows.map((r) => [r.meter, r.seq]));
  }

  async missingSeqs(meter: string, from: number, to: number): Promise<[number, number][]> {
    this.assertOpen();
    this.refresh();
    const id = this.meterIds.get(meter)?.id;
    if (id === undefined) return from <= to ? [[from, to]] : [];
    // The unique (meter_id, seq) index: a range scan of the seqs present.
    const seqs = this.db
      .prepare('SELECT seq FROM readings WHERE meter_id = ? AND seq BETWEEN ? AND ? ORDER BY seq')
      .pluck()
      .all(id, from, to) as number[];
    const chunks = this.chunksBySeq.all(id, from, to) as Buffer[];
    if (chunks.length > 0) {
      for (const blob of chunks)
        for (const s of this.decodeSeqs(blob)) if (s >= from && s <= to) seqs.push(s);
      seqs.sort((a, b) => a - b);
    }
    return missingRuns(seqs, from, to);
  }

  async writeReadings(readings: readonly StoredReading[]): Promise<void> {
    this.assertOpen();
    if (readings.length === 0) return;
    try {
      this.writeTx.immediate(readings);
    } catch (err) {
      // The transaction rolled back: forget meter ids it may have assigned and latest it updated.
      this.latestCache = undefined;
      this.latestSorted = undefined;
      this.reloadMeters();
      throw err;
    }
    try {
      this.compact(this.chunksPerWrite);
      this.lastCompactionError = undefined;
    } catch (err) {
      // The readings are committed; a failed move leaves its rows raw and is tried again later.
      this.lastCompactionError = err instanceof Error ? err : new Error(String(err));
    }
  }

  private reloadMeters(): void {
    this.meterIds.clear();
    this.meterById.clear();
    this.maxMeterId = 0;
    this.gen++;
    this.loadMeters();
  }

  async latest(meters?: readonly string[]): Promise<StoredReading[]> {
    this.assertOpen();
    this.refresh();
    if (!this.latestCache) this.latestCache = this.loadLatest();
    if (!this.latestSorted) {
      this.latestSorted = [...this.latestCache.values()].sort((a, b) =>
        a.meter < b.meter ? -1 : a.meter > b.meter ? 1 : 0,
      );
    }
    const wanted = meters ? new Set(meters) : undefined;
    const out: StoredReading[] = [];
    // Copies: a caller changing what it got must not change what the next caller gets.
    for (const r of this.latestSorted) if (!wanted || wanted.has(r.meter)) out.push(copyReading(r));
    return out;
  }

  /** Every meter's latest reading, by meter name, from one scan of `latest`. */
  private loadLatest(): Map<string, StoredReading> {
    const run = this.latestAll.get() as Buffer | null;
    const out = new Map<string, StoredReading>();
    if (run === null) return out;
    const nameOf = (id: number): string => {
      let meter = this.meterById.get(id);
      if (!meter) {
        // A meter another connection added after our last look: read the meters again, once.
        this.reloadMeters();
        meter = this.meterById.get(id);
        if (!meter) throw new Error(`latest reading of meter id ${id}, which is not in the meters table`);
      }
      return meter.name;
    };
    decodeLatestRun(run, nameOf, this.quantityOfId, (r) => out.set(r.meter, r));
    return out;
  }

  private seriesStmt(quantity: Quantity): Database.Statement<[number, number, number]> {
    let stmt = this.seriesStmts.get(quantity);
    if (!stmt) {
      // The column name comes from the fixed quantity list checked by the caller, never from input text.
      stmt = this.db
        .prepare<[number, number, number]>(
          `SELECT seq, ts, ${quantity}, neg_zero FROM readings
           WHERE meter_id = ? AND ts >= ? AND ts < ? AND quality = ${QUALITY_GOOD} AND ${quantity} IS NOT NULL
           ORDER BY ts, seq`,
        )
        .raw();
      this.seriesStmts.set(quantity, stmt);
    }
    return stmt;
  }

  /** The end of the period a chunk covers (its first ts's period; every ts of it lies inside). */
  private chunkEnd(blob: Buffer): number {
    const first = decodeChunk(blob, this.columnOf, new Set()).ts[0]!;
    return (Math.floor(first / this.chunkMs) + 1) * this.chunkMs;
  }

  private periodsOf(from: number, to: number): [number, number] {
    return [Math.floor(from / this.chunkMs), Math.floor((to - 1) / this.chunkMs)];
  }

  async series(query: SeriesQuery): Promise<SeriesPoint[]> {
    this.assertOpen();
    if (!QUANTITY_SET.has(query.quantity)) throw new TypeError(`unknown quantity ${String(query.quantity)}`);
    this.refresh();
    const stmt = this.seriesStmt(query.quantity);
    const column = QUANTITY_COLUMNS.indexOf(query.quantity);
    const only = new Set([column]);
    const out: SeriesPoint[] = [];
    if (!(query.from < query.to)) return out;
    const [p0, p1] = this.periodsOf(query.from, query.to);
    for (const meter of [...new Set(query.meters)].sort()) {
      const id = this.meterIds.get(meter)?.id;
      if (id === undefined) continue;
      const bit = 2 ** column;
      const rows = (stmt.all(id, query.from, query.to) as [number, number, number, number | null][]).map(
        ([seq, ts, v, neg]): [number, number, number] => [
          seq,
          ts,
          neg !== null && Math.floor(neg / bit) % 2 === 1 ? -0 : v,
        ],
      );
      const chunks = this.chunksByPeriod.all(id, p0, p1) as Buffer[];
      // Raw rows usually all come after the chunks (the open day); only stragglers not yet moved
      // into their closed day's chunk interleave, and only then are the two merged point by point.
      const lastChunkEnd = chunks.length > 0 ? this.chunkEnd(chunks.at(-1)!) : -Infinity;
      const interleave = rows.length > 0 && rows[0]![1] < lastChunkEnd;
      const merged: [number, number, number][] = [];
      for (const blob of chunks) {
        const d = decodeChunk(blob, this.columnOf, only);
        const values = d.values.get(column);
        if (!values) continue;
        for (let i = 0; i < d.n; i++) {
          const ts = d.ts[i]!;
          const v = values[i];
          if (
            ts < query.from ||
            ts >= query.to ||
            d.quality[i] !== QUALITY_GOOD ||
            v === null ||
            v === undefined
          )
            continue;
          if (interleave) merged.push([d.seq[i]!, ts, v]);
          else out.push({ meter, ts, value: v });
        }
      }
      for (const [, ts, value] of interleave ? mergeSorted(merged, rows, byTsSeq) : rows)
        out.push({ meter, ts, value });
    }
    return out;
  }

  /**
   * Every reading of the meter in [from, to), ordered by ts then seq (the clustering key and the
   * chunks' order): arrival order is not kept, seq is the gateway's order (see
   * ReadingStore.readings). Site, gateway and kind are the meter's current ones.
   */
  async readings(meter: string, from: number, to: number): Promise<StoredReading[]> {
    this.assertOpen();
    this.refresh();
    const m = this.meterIds.get(meter);
    if (!m || !(from < to)) return [];
    const [p0, p1] = this.periodsOf(from, to);
    const fromChunks: Row[] = [];
    for (const blob of this.chunksByPeriod.all(m.id, p0, p1) as Buffer[]) {
      for (const row of chunkRows(decodeChunk(blob, this.columnOf), QUANTITY_COLUMNS.length)) {
        if (row[1] >= from && row[1] < to) fromChunks.push(row as Row);
      }
    }
    const rows = (this.readingsRange.all(m.id, from, to) as Row[]).map(rowFromDb);
    return mergeSorted(fromChunks, rows, byTsSeq).map((row) =>
      fromRow(meter, m.site, m.gateway, m.kind, row),
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}
