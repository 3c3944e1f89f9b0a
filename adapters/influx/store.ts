import http from 'node:http';
import https from 'node:https';
import { InfluxDB } from 'influx';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { QUANTITIES } from '../../config/schemas/quantities.ts';
import type { Quantity } from '../../config/schemas/quantities.ts';
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
import { missingRuns, type RollupPoint } from '../../services/metering/storage.ts';
import { EncodedLines } from './encoded-lines.ts';
import { formatReading, MEASUREMENT, writeReading } from './line-protocol.ts';
import {
  ALL_CURRENT,
  SCHEMA_RP,
  STATE_MEASUREMENT,
  resumeRecompute,
  settleDefinition,
  type MigrationDb,
  type RollupState,
} from './rollup-migration.ts';
import {
  CONTINUOUS_QUERIES,
  LAST_FIELDS,
  LEGACY_ROLLUP_MEASUREMENT,
  ROLLUP_MEASUREMENT,
  ROLLUP_RPS,
  rollupSelects,
} from './rollups.ts';

export { formatReading, InfluxFormatError } from './line-protocol.ts';

export interface InfluxStoreOptions {
  /** `http://host:8086`; credentials, if any, as `http://user:password@host:8086`. */
  url: string;
  database?: string;
  /** InfluxQL durations (`INF`, `52w`, …) of the raw, 15-minute and daily retention policies. */
  rawRetention?: string;
  rollup15mRetention?: string;
  rollup1dRetention?: string;
  /**
   * Offset of the campus time zone from UTC in minutes (480 for Asia/Shanghai), so that the daily
   * rollup's days start at local midnight. A fixed offset: zones with daylight saving get days
   * that are an hour off for half the year.
   */
  dailyUtcOffsetMinutes?: number;
  /** Most points in one HTTP write. */
  batchSize?: number;
  /** Longest a point waits in the buffer before its batch is sent. */
  flushIntervalMs?: number;
  /** Points accepted but not yet acknowledged by influxd beyond which `writeReadings` waits. */
  maxBufferedPoints?: number;
  /** HTTP writes in flight at once. */
  concurrency?: number;
  /** Capped exponential backoff between retries of a write while influxd is unreachable. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** An HTTP request with no answer for this long is abandoned and retried. */
  requestTimeoutMs?: number;
  /** How long `close()` keeps trying to write what is buffered before rejecting it. */
  closeTimeoutMs?: number;
  /** The wall clock (UTC ms): only where a roll-up recomputation at start begins. Default Date.now. */
  clock?: () => number;
  logger?: Logger;
}

/** The retention policies: raw readings and the two roll-ups the continuous queries fill. */
export const RETENTION_POLICIES = ROLLUP_RPS;
export { CONTINUOUS_QUERIES };

interface Pending {
  lines: EncodedLines;
  /** Index of the first line not yet taken into a batch. */
  next: number;
  /** Lines not yet acknowledged by influxd. */
  unacked: number;
  /** When it was queued (for the flush interval). */
  at: number;
  settled: boolean;
  resolve: () => void;
  reject: (err: Error) => void;
}

interface BatchPart {
  entry: Pending;
  /** Its lines [from, to). */
  from: number;
  to: number;
}

interface HttpResult {
  status: number;
  body: string;
}

interface RawSeries {
  name: string;
  tags?: Record<string, string>;
  columns: string[];
  values: unknown[][];
}
interface RawResults {
  results: Array<{ series?: RawSeries[]; error?: string }>;
}

/** Chunk of meter ids per query, so that a query for 10,000 meters stays a few kilobytes. */
const METERS_PER_QUERY = 500;

/**
 * InfluxDB 1.x storage of readings (the production store).
 *
 * **Point identity and idempotency.** InfluxDB identifies a point by measurement, tag set and
 * timestamp; writing a point that already exists replaces its fields. A reading's tags (site,
 * gateway, meter, kind), `ts` and `seq` are fixed by the gateway when it is polled and committed
 * to the outbox, and a point's timestamp is its `ts` in nanoseconds with the seq's last six digits
 * below the millisecond (line-protocol.ts): a redelivered reading (same meter, same seq) is the same
 * point with the same fields, so rewriting it stores nothing new, and two readings of one meter
 * in the same millisecond are two points, not one overwriting the other. Still, `writeReadings`
 * looks up readings at or before a meter's newest written ts and skips those already stored by
 * (meter, seq) (see there), so a point written before the seq's digits (at the whole millisecond)
 * is not stored again. A meter moved to another gateway
 * or site starts a new series, so a reading redelivered under its old topic after the move would be
 * stored twice (`latest` and `series` tolerate that by keeping one point per meter and time).
 *
 * **Writes.** Readings are formatted as line protocol here and POSTed over a keep-alive connection
 * to `/write?precision=ns`: concurrent callers' readings are coalesced into batches of at most
 * `batchSize` points, sent at least every `flushIntervalMs`. A call resolves only when every one of
 * its points has been answered with HTTP 204, i.e. written to influxd's WAL. While influxd is
 * unreachable (or answers 5xx) a batch is retried with capped exponential backoff and its callers
 * stay pending, so ingest does not acknowledge the MQTT messages. Beyond `maxBufferedPoints`
 * unacknowledged points, new calls wait for room instead of growing the buffer. A batch refused as
 * malformed (4xx) is retried one caller at a time, so that only the caller with the bad reading is
 * rejected.
 *
 * **Schema.** On open: the database, the `raw` retention policy (the default, where readings go),
 * `rollup_15m` and `rollup_1d`, and the continuous queries filling them with the roll-ups both stores
 * define alike (rollups.ts; see `ensureSchema`).
 * The `influx` package is used for schema set-up and queries; the write path formats line protocol
 * itself (shared with the benchmark's raw ceiling) so that batching, retries and backpressure are
 * under its control. Measured on a 2-core machine (test/influx/write-throughput.ts) the adapter
 * reached 0.63–0.89 of raw keep-alive line-protocol writes, `influx.writePoints` 0.76–1.13: noisy.
 */
export class InfluxStore implements ReadingStore, SeqIndex {
  readonly database: string;
  private readonly influx: InfluxDB;
  private readonly log: Logger;
  private readonly writeUrl: URL;
  private readonly agent: http.Agent;
  private readonly request: typeof http.request;
  private readonly authHeader: string | undefined;
  private readonly opts: Required<Omit<InfluxStoreOptions, 'logger' | 'url' | 'database'>>;
  /** Roll-ups with start ≥ this are of the current definition; before it, the old one's. */
  private rollupsFrom = ALL_CURRENT;
  private recomputing: Promise<void> = Promise.resolve();

  private queue: Pending[] = [];
  private queuedPoints = 0;
  private bufferedPoints = 0;
  private inFlight = 0;
  private overdue = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly waiters: Array<{ n: number; resolve: () => void; reject: (err: Error) => void }> = [];
  private readonly idle: Array<() => void> = [];
  private closed = false;
  private readonly abandon = new AbortController();
  private failing = false;
  private schemaRepair: Promise<void> | undefined;
  private readonly watermark = new Map<string, number>();
  private readonly pending = new Set<Promise<void>>();

  private constructor(options: InfluxStoreOptions) {
    const url = new URL(options.url);
    this.database = options.database ?? 'campus_energy';
    this.log = (options.logger ?? pino({ level: 'silent' })).child({ component: 'influx-store' });
    this.opts = {
      rawRetention: options.rawRetention ?? 'INF',
      rollup15mRetention: options.rollup15mRetention ?? 'INF',
      rollup1dRetention: options.rollup1dRetention ?? 'INF',
      dailyUtcOffsetMinutes: options.dailyUtcOffsetMinutes ?? 0,
      batchSize: options.batchSize ?? 5000,
      flushIntervalMs: options.flushIntervalMs ?? 50,
      maxBufferedPoints: options.maxBufferedPoints ?? 100_000,
      concurrency: options.concurrency ?? 2,
      retryBaseMs: options.retryBaseMs ?? 100,
      retryMaxMs: options.retryMaxMs ?? 5000,
      requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
      closeTimeoutMs: options.closeTimeoutMs ?? 10_000,
      clock: options.clock ?? Date.now,
    };
    const username = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    this.influx = new InfluxDB({
      host: url.hostname,
      port: url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80,
      protocol: url.protocol === 'https:' ? 'https' : 'http',
      path: url.pathname.replace(/\/$/, ''),
      database: this.database,
      ...(username ? { username, password } : {}),
    });
    this.authHeader = username
      ? `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`
      : undefined;
    const base = new URL(url.href);
    base.username = '';
    base.password = '';
    base.pathname = `${url.pathname.replace(/\/$/, '')}/write`;
    base.search = new URLSearchParams({
      db: this.database,
      rp: RETENTION_POLICIES.raw,
      // Nanoseconds: a point's sub-millisecond digits are its seq's (line-protocol.ts).
      precision: 'ns',
    }).toString();
    this.writeUrl = base;
    const secure = url.protocol === 'https:';
    this.agent = new (secure ? https.Agent : http.Agent)({
      keepAlive: true,
      maxSockets: this.opts.concurrency,
    });
    this.request = secure ? https.request : http.request;
  }

  /** Connects, creates the database, retention policies and continuous queries where missing. */
  static async open(options: InfluxStoreOptions): Promise<InfluxStore> {
    const store = new InfluxStore(options);
    await store.ensureSchema();
    await store.loadWatermarks();
    return store;
  }

  /**
   * Creates what is missing: the database, the retention policies (`raw`, the default, where
   * readings go; `rollup_15m` and `rollup_1d`; `schema`, for the roll-up definition's state) and the
   * continuous queries of the current roll-up definition (rollups.ts). A database with the old
   * definition's continuous queries has them replaced, and the days its raw readings still hold
   * recomputed in the background (rollup-migration.ts; `rollupsSettled()` resolves when done).
   *
   * Readings that arrive later than a continuous query's resample window (a gateway that was
   * offline for longer) are in the raw data but not in the roll-ups until `recomputeRollups`.
   */
  async ensureSchema(): Promise<void> {
    const db = this.database;
    await this.influx.createDatabase(db);
    const existing = await this.influx.showRetentionPolicies(db);
    const want: Array<[string, string, boolean]> = [
      [RETENTION_POLICIES.raw, this.opts.rawRetention, true],
      [RETENTION_POLICIES.rollup15m, this.opts.rollup15mRetention, false],
      [RETENTION_POLICIES.rollup1d, this.opts.rollup1dRetention, false],
      [SCHEMA_RP, 'INF', false],
    ];
    for (const [name, duration, isDefault] of want) {
      if (existing.some((rp) => rp.name === name)) continue;
      await this.influx.createRetentionPolicy(name, { database: db, duration, replication: 1, isDefault });
    }
    const state = await settleDefinition(this.migrationDb(), (st) => this.saveRollupState(st));
    this.rollupsFrom = state.from;
    if (state.from > state.target) this.recomputing = this.recomputeInBackground(state);
  }

  /** The recomputation of a move to the current definition, retried until done or closed. */
  private async recomputeInBackground(state: RollupState): Promise<void> {
    for (let attempt = 0; !this.closed; attempt++) {
      try {
        await resumeRecompute(
          this.migrationDb(),
          { ...state, from: this.rollupsFrom },
          (st) => this.saveRollupState(st),
          (from) => (this.rollupsFrom = from),
          () => this.closed,
        );
        return;
      } catch (err) {
        if (this.closed) return;
        this.log.warn({ err, attempt }, 'roll-ups: recomputation failed; retrying');
        const backoff = Math.min(this.opts.retryMaxMs, this.opts.retryBaseMs * 2 ** Math.min(attempt, 20));
        await sleep(backoff, this.abandon.signal);
      }
    }
  }

  /** Resolves once every roll-up the raw readings still hold is of the current definition (or on close). */
  rollupsSettled(): Promise<void> {
    return this.recomputing;
  }

  private async saveRollupState(state: RollupState): Promise<void> {
    await this.influx.writePoints(
      [
        {
          measurement: STATE_MEASUREMENT,
          fields: { version: state.version, from: state.from, target: state.target },
          timestamp: 0,
        },
      ],
      { database: this.database, retentionPolicy: SCHEMA_RP, precision: 'ms' },
    );
  }

  private migrationDb(): MigrationDb {
    return {
      database: this.database,
      dailyUtcOffsetMinutes: this.opts.dailyUtcOffsetMinutes,
      log: this.log,
      exec: async (statement) => {
        await this.influx.query(statement);
      },
      rows: async (query) => (await this.select(query)).flatMap((s) => s.values ?? []),
      // SHOW CONTINUOUS QUERIES answers a series per database of the server, whatever the db asked
      // for (the influx package's showContinousQueries takes the first: another database's).
      // A database with none comes without values.
      continuousQueryNames: async () =>
        new Set(
          (await this.select('SHOW CONTINUOUS QUERIES'))
            .filter((series) => series.name === this.database)
            .flatMap((series) =>
              (series.values ?? []).map((row) => String(row[series.columns.indexOf('name')])),
            ),
        ),
      recompute: (from, to) => this.recomputeRollups(from, to),
      now: () => this.opts.clock(),
    };
  }

  /**
   * Runs the continuous queries' SELECT … INTO over [from, to) (widened to whole campus days): the
   * continuous queries only resample the last hour (15-minute) and two days (daily), so readings
   * that arrived later than that (a gateway's backlog replayed after a long outage, history
   * imported) reach the roll-ups only through this. Rewriting a slot replaces it with the same or
   * a more complete one. applyRetention runs it over what influxd may drop next.
   */
  async recomputeRollups(from: number, to: number): Promise<void> {
    const off = this.opts.dailyUtcOffsetMinutes * 60_000;
    const start = Math.floor((from + off) / 86_400_000) * 86_400_000 - off;
    const end = Math.ceil((to + off) / 86_400_000) * 86_400_000 - off;
    if (!(start < end)) return;
    const time = `time >= ${msToNs(start)} AND time < ${msToNs(end)}`;
    const offset = this.opts.dailyUtcOffsetMinutes;
    // The 15-minute slots (values, then polls) before the days made from them.
    for (const statement of [
      ...rollupSelects(this.database, '15m', offset, time),
      ...rollupSelects(this.database, '1d', offset, time),
    ])
      await this.influx.query(statement);
  }

  /**
   * Retention of raw readings: influxd itself drops whole shard groups older than the `raw`
   * policy's duration, so a reading still needed is protected by stretching that duration back to
   * the earliest hold (an open billing period, a day not validated, an open gap), plus a day so
   * that the hold stays covered until the next run (the back office runs this at least daily).
   * A shard group holding a held reading ends after it, so it is never older than the duration.
   * Roll-ups (`rollup_15m`, `rollup_1d`, filled by the continuous queries) are kept for ever.
   * Returns the raw duration set, in days.
   */
  async applyRetention(policy: RetentionPolicy): Promise<{ rawDays: number }> {
    if (!(policy.rawDays >= 1)) throw new RangeError(`rawDays must be at least 1, got ${policy.rawDays}`);
    let days = Math.ceil(policy.rawDays);
    for (const h of policy.holds) {
      days = Math.max(days, Math.ceil((policy.now - h.from) / 86_400_000) + 1);
    }
    // What influxd may drop before the next run (it runs at least daily; the raw policy's shard
    // groups are a week wide) gets its roll-ups completed first: readings that came too late for
    // the continuous queries would otherwise be lost for ever with the raw ones.
    const horizon = policy.now - days * 86_400_000;
    await this.recomputeRollups(horizon - 8 * 86_400_000, horizon + 86_400_000);
    const q = quoteIdent;
    await this.influx.query(
      `ALTER RETENTION POLICY ${q(RETENTION_POLICIES.raw)} ON ${q(this.database)} DURATION ${days}d`,
    );
    return { rawDays: days };
  }

  // ---- writes ----

  async writeReadings(readings: readonly StoredReading[]): Promise<void> {
    if (this.closed) throw new Error('InfluxStore is closed');
    if (readings.length === 0) return;
    // Raw data is never overwritten: a reading newer than anything this store has written for its
    // meter cannot exist yet and goes straight to the buffer; one at or before that watermark (a
    // redelivery, readings written out of order, or another reading of the same millisecond) is
    // first looked up, and skipped if that meter's reading of that seq is already stored. The
    // watermark is loaded at open, so this holds with one writer per database; two ingest
    // processes writing the same meters could still race.
    //
    // A fresh reading raised its meter's watermark, so a later one in the same call at the same
    // (meter, ts) is never fresh: only the older ones need a key set, against everything before.
    const lines = new EncodedLines(readings.length);
    let older: StoredReading[] | undefined;
    for (let i = 0; i < readings.length; i++) {
      const r = readings[i]!;
      const mark = this.watermark.get(r.meter);
      // Written before the watermark moves: a reading that cannot be a point throws here.
      if (mark === undefined || r.ts > mark) {
        writeReading(r, lines);
        this.watermark.set(r.meter, r.ts);
      } else {
        // Refused now, as a fresh one would be, not after the lookup.
        formatReading(r);
        (older ??= []).push(r);
      }
    }
    if (older !== undefined)
      for (const r of await this.notYetStored(firstOfEach(readings, older))) writeReading(r, lines);
    const count = lines.count;
    if (count === 0) return;
    await this.admit(count);
    if (this.closed) {
      this.bufferedPoints -= count;
      throw new Error('InfluxStore is closed');
    }
    const done = new Promise<void>((resolve, reject) => {
      this.queue.push({
        lines,
        next: 0,
        unacked: count,
        at: Date.now(),
        settled: false,
        resolve,
        reject,
      });
      this.queuedPoints += count;
      this.pump(false);
    });
    this.pending.add(done);
    const forget = (): void => void this.pending.delete(done);
    done.then(forget, forget);
    return done;
  }

  /** Of readings at or before their meter's watermark, those not stored yet (by meter and seq). */
  private async notYetStored(readings: StoredReading[]): Promise<StoredReading[]> {
    // What is still on its way to influxd must land first, or the lookup would miss it.
    await Promise.allSettled([...this.pending]);
    const from = `${quoteIdent(this.database)}.${quoteIdent(RETENTION_POLICIES.raw)}.${quoteIdent(MEASUREMENT)}`;
    const meters = [...new Set(readings.map((r) => r.meter))];
    let min = Infinity;
    let max = -Infinity;
    for (const r of readings) {
      min = Math.min(min, r.ts);
      max = Math.max(max, r.ts);
    }
    const stored = new Set<string>();
    for (const ids of chunk(meters, METERS_PER_QUERY)) {
      // To the end of the newest millisecond: a point's time has its seq's digits below it.
      const series = await this.select(
        `SELECT "seq" FROM ${from} WHERE ${meterCondition(ids)} AND time >= ${msToNs(min)} ` +
          `AND time < ${msToNs(max + 1)} GROUP BY "meter"`,
      );
      for (const s of series)
        for (const [, seq] of s.values) stored.add(`${s.tags?.meter ?? ''}\u0000${String(seq)}`);
    }
    return readings.filter((r) => !stored.has(`${r.meter}\u0000${r.seq}`));
  }

  /** Each meter's newest stored ts, the starting watermarks. */
  private async loadWatermarks(): Promise<void> {
    const from = `${quoteIdent(this.database)}.${quoteIdent(RETENTION_POLICIES.raw)}.${quoteIdent(MEASUREMENT)}`;
    const series = await this.select(`SELECT last("seq") FROM ${from} GROUP BY "meter"`);
    for (const s of series) {
      const time = s.values[0]?.[0];
      if (s.tags?.meter !== undefined && typeof time === 'number') this.watermark.set(s.tags.meter, time);
    }
  }

  /** Points accepted by `writeReadings` and not yet acknowledged by influxd. */
  get bufferedPointCount(): number {
    return this.bufferedPoints;
  }

  /** Calls waiting for room in the buffer. */
  get waitingWriteCount(): number {
    return this.waiters.length;
  }

  /**
   * Waits until `n` more points fit under `maxBufferedPoints`, in arrival order. A call larger than
   * the whole bound is let in when the buffer is empty, or it could never be written.
   */
  private admit(n: number): Promise<void> {
    // Room is taken here, not when the caller resumes, so that waiters released together cannot
    // overshoot the bound.
    if (this.waiters.length === 0 && this.fits(n)) {
      this.bufferedPoints += n;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => this.waiters.push({ n, resolve, reject }));
  }

  private fits(n: number): boolean {
    return this.bufferedPoints === 0 || this.bufferedPoints + n <= this.opts.maxBufferedPoints;
  }

  private release(): void {
    for (let w = this.waiters[0]; w && this.fits(w.n); w = this.waiters[0]) {
      this.waiters.shift();
      this.bufferedPoints += w.n;
      w.resolve();
    }
  }

  /** Sends full batches now, and partial ones when the flush interval has passed or when `force`. */
  private pump(force: boolean): void {
    while (this.inFlight < this.opts.concurrency && this.queuedPoints > 0) {
      const oldest = this.queue[0];
      const due =
        force ||
        this.closed ||
        this.overdue ||
        this.queuedPoints >= this.opts.batchSize ||
        (oldest !== undefined && Date.now() - oldest.at >= this.opts.flushIntervalMs);
      if (!due) break;
      this.overdue = false;
      this.dispatch();
    }
    if (this.queuedPoints > 0 && this.timer === undefined && this.inFlight < this.opts.concurrency) {
      const oldest = this.queue[0];
      const wait = oldest ? Math.max(0, oldest.at + this.opts.flushIntervalMs - Date.now()) : 0;
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.overdue = true;
        this.pump(false);
      }, wait);
    }
  }

  private dispatch(): void {
    const parts: BatchPart[] = [];
    let room = this.opts.batchSize;
    while (room > 0) {
      const entry = this.queue[0];
      if (!entry) break;
      const take = Math.min(room, entry.lines.count - entry.next);
      parts.push({ entry, from: entry.next, to: entry.next + take });
      entry.next += take;
      room -= take;
      if (entry.next === entry.lines.count) this.queue.shift();
    }
    const count = this.opts.batchSize - room;
    this.queuedPoints -= count;
    this.inFlight++;
    void this.sendBatch(parts).finally(() => {
      this.inFlight--;
      this.bufferedPoints -= count;
      this.release();
      this.pump(false);
      if (this.inFlight === 0 && this.queuedPoints === 0) for (const done of this.idle.splice(0)) done();
    });
  }

  /** Writes one batch until influxd takes it or refuses it as malformed; settles its callers. */
  private async sendBatch(parts: BatchPart[]): Promise<void> {
    // Encoded when the readings came (EncodedLines): the length header and every retry reuse the bytes.
    const body =
      parts.length === 1
        ? parts[0]!.entry.lines.bytes(parts[0]!.from, parts[0]!.to)
        : Buffer.concat(parts.map((p) => p.entry.lines.bytes(p.from, p.to)));
    for (let attempt = 0; ; attempt++) {
      let res: HttpResult;
      try {
        res = await this.post(body);
      } catch (err) {
        res = { status: 0, body: err instanceof Error ? err.message : String(err) };
      }
      if (res.status === 204) {
        if (this.failing) {
          this.failing = false;
          this.log.info('InfluxDB accepts writes again');
        }
        for (const { entry, from, to } of parts) {
          entry.unacked -= to - from;
          if (entry.unacked === 0 && !entry.settled) {
            entry.settled = true;
            entry.resolve();
          }
        }
        return;
      }
      if (res.status === 404 && /database not found/i.test(res.body)) {
        // The database was dropped under us (or influxd lost its meta data): set it up again.
        this.schemaRepair ??= this.ensureSchema().finally(() => (this.schemaRepair = undefined));
        await this.schemaRepair.catch(() => undefined);
      } else if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) {
        if (parts.length > 1) {
          // One caller's bad reading must not fail the others coalesced into this batch.
          for (const part of parts) await this.sendBatch([part]);
          return;
        }
        const entry = parts[0]!.entry;
        if (!entry.settled) {
          entry.settled = true;
          entry.reject(new Error(`InfluxDB refused the readings (HTTP ${res.status}): ${res.body.trim()}`));
        }
        return;
      }
      if (this.abandon.signal.aborted) {
        const err = new Error(`InfluxStore closed before InfluxDB accepted the readings: ${res.body.trim()}`);
        for (const { entry } of parts) {
          if (!entry.settled) {
            entry.settled = true;
            entry.reject(err);
          }
        }
        return;
      }
      if (!this.failing) {
        this.failing = true;
        this.log.warn({ status: res.status, error: res.body.trim() }, 'InfluxDB write failed; retrying');
      }
      const backoff = Math.min(this.opts.retryMaxMs, this.opts.retryBaseMs * 2 ** Math.min(attempt, 20));
      await sleep(backoff * (0.5 + Math.random() / 2), this.abandon.signal);
    }
  }

  private post(body: Buffer): Promise<HttpResult> {
    return new Promise((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = {
        'Content-Type': 'text/plain; charset=utf-8',
        'Content-Length': body.length,
      };
      if (this.authHeader) headers.Authorization = this.authHeader;
      const req = this.request(
        this.writeUrl,
        { method: 'POST', agent: this.agent, headers, timeout: this.opts.requestTimeoutMs },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.opts.requestTimeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  // ---- queries ----

  async latest(meters?: readonly string[]): Promise<StoredReading[]> {
    // `last(*)` would take each field's last value on its own: the newest error reading would come
    // back with the values of an older good one. Per series, the newest whole point instead:
    // `GROUP BY *` makes every tag set a series and LIMIT applies per series.
    const from = `${quoteIdent(this.database)}.${quoteIdent(RETENTION_POLICIES.raw)}.${quoteIdent(MEASUREMENT)}`;
    const chunks = meters === undefined ? [undefined] : chunk(meters, METERS_PER_QUERY);
    const newest = new Map<string, StoredReading>();
    for (const ids of chunks) {
      if (ids?.length === 0) continue;
      const where = ids ? ` WHERE ${meterCondition(ids)}` : '';
      const series = await this.select(`SELECT * FROM ${from}${where} GROUP BY * ORDER BY time DESC LIMIT 1`);
      for (const s of series) {
        const row = s.values[0];
        if (!row) continue;
        const reading = toReading(s.tags ?? {}, s.columns, row);
        const prev = newest.get(reading.meter);
        if (!prev || reading.ts > prev.ts) newest.set(reading.meter, reading);
      }
    }
    return [...newest.values()].sort((a, b) => compare(a.meter, b.meter));
  }

  async series(query: SeriesQuery): Promise<SeriesPoint[]> {
    if (!Object.hasOwn(QUANTITIES, query.quantity)) throw new Error(`unknown quantity ${query.quantity}`);
    const from = `${quoteIdent(this.database)}.${quoteIdent(RETENTION_POLICIES.raw)}.${quoteIdent(MEASUREMENT)}`;
    const out: SeriesPoint[] = [];
    for (const ids of chunk(query.meters, METERS_PER_QUERY)) {
      const series = await this.select(
        `SELECT ${quoteIdent(query.quantity)}, "readings" FROM ${from} WHERE ${meterCondition(ids)} ` +
          `AND "quality" = 'good' AND time >= ${msToNs(query.from)} AND time < ${msToNs(query.to)} ` +
          `GROUP BY "meter"`,
      );
      for (const s of series) {
        const meter = s.tags?.meter ?? '';
        let lastTs = Number.NaN;
        for (const [time, value] of s.values) {
          if (typeof time !== 'number' || typeof value !== 'number') continue;
          // The same reading under two tag sets (a meter moved between gateways) is one point.
          if (time === lastTs) continue;
          lastTs = time;
          out.push({ meter, ts: time, value });
        }
      }
    }
    // Stable: within a meter the points stay in time order.
    return out.sort((a, b) => compare(a.meter, b.meter));
  }

  /**
   * The 15-minute roll-ups of a register (ReadingStore.registerSlots), from `rollup_15m`. A meter
   * moved between gateways has a series per tag set: one slot per start, the last tag set's.
   */
  async registerSlots(query: RegisterSlotQuery): Promise<RegisterSlot[]> {
    if (!LAST_FIELDS.has(query.quantity))
      throw new TypeError(`${String(query.quantity)} is not a cumulative register`);
    const out: RegisterSlot[] = [];
    if (!(query.from < query.to)) return out;
    for (const { source, from, to } of this.rollupSources(RETENTION_POLICIES.rollup15m, query.from, query.to))
      for (const ids of chunk([...new Set(query.meters)], METERS_PER_QUERY)) {
        const series = await this.select(
          `SELECT ${quoteIdent(query.quantity)}, "readings" FROM ${source} WHERE ${meterCondition(ids)} ` +
            `AND time >= ${msToNs(from)} AND time < ${msToNs(to)} GROUP BY "meter"`,
        );
        for (const s of series) {
          const meter = s.tags?.meter ?? '';
          let lastTs = Number.NaN;
          for (const [time, value, readings] of s.values) {
            if (typeof time !== 'number' || typeof value !== 'number' || time === lastTs) continue;
            lastTs = time;
            out.push({ meter, start: time, value, readings: typeof readings === 'number' ? readings : 1 });
          }
        }
      }
    return out.sort((a, b) => compare(a.meter, b.meter) || a.start - b.start);
  }

  /**
   * Where the roll-ups of [from, to) in retention policy `rp` are: the current definition's from
   * `rollupsFrom` on, the old definition's before it (days whose raw readings were gone when the
   * definition changed, or not yet recomputed; see rollup-migration.ts).
   */
  private rollupSources(
    rp: string,
    from: number,
    to: number,
  ): Array<{ source: string; from: number; to: number }> {
    const at = (measurement: string): string =>
      `${quoteIdent(this.database)}.${quoteIdent(rp)}.${quoteIdent(measurement)}`;
    const b = this.rollupsFrom;
    const out: Array<{ source: string; from: number; to: number }> = [];
    if (from < b) out.push({ source: at(LEGACY_ROLLUP_MEASUREMENT), from, to: Math.min(to, b) });
    if (to > b) out.push({ source: at(ROLLUP_MEASUREMENT), from: Math.max(from, b), to });
    return out;
  }

  /**
   * A meter's 15-minute or daily roll-ups with start in [from, to), in time order, the shape the
   * embedded store gives (SqliteStore.rollups). A meter moved between gateways has a series per
   * tag set: one roll-up per start, the last tag set's.
   */
  async rollups(meter: string, step: '15m' | '1d', from: number, to: number): Promise<RollupPoint[]> {
    if (!(from < to)) return [];
    const rp = step === '15m' ? RETENTION_POLICIES.rollup15m : RETENTION_POLICIES.rollup1d;
    const series: RawSeries[] = [];
    for (const part of this.rollupSources(rp, from, to)) {
      series.push(
        ...(await this.select(
          `SELECT * FROM ${part.source} WHERE ${meterCondition([meter])} ` +
            `AND time >= ${msToNs(part.from)} AND time < ${msToNs(part.to)} GROUP BY *`,
        )),
      );
    }
    const byStart = new Map<number, RollupPoint>();
    for (const s of series) {
      for (const row of s.values) {
        const p: RollupPoint = { meter, start: 0, readings: 0, values: {} };
        s.columns.forEach((col, i) => {
          const v = row[i];
          if (typeof v !== 'number') return;
          if (col === 'time') p.start = v;
          else if (col === 'readings') p.readings = v;
          else if (col === 'power_kw_max') p.powerKwMax = v;
          else if (Object.hasOwn(QUANTITIES, col)) p.values[col as Quantity] = v;
        });
        byStart.set(p.start, p);
      }
    }
    return [...byStart.values()].sort((a, b) => a.start - b.start);
  }

  /**
   * Every reading of the meter in [from, to), any quality, ordered by ts then seq. InfluxDB keeps
   * no arrival order (a point is identified by its tags and ts), so seq, the gateway's order, is
   * what there is (see ReadingStore.readings). Site, gateway and kind are each reading's own tags;
   * a reading stored under two tag sets (a meter moved between gateways and a redelivery under
   * the old topic) is returned once.
   */
  async readings(meter: string, from: number, to: number): Promise<StoredReading[]> {
    if (!(to > from)) return [];
    const source = `${quoteIdent(this.database)}.${quoteIdent(RETENTION_POLICIES.raw)}.${quoteIdent(MEASUREMENT)}`;
    const series = await this.select(
      `SELECT * FROM ${source} WHERE ${meterCondition([meter])} ` +
        `AND time >= ${msToNs(from)} AND time < ${msToNs(to)} GROUP BY *`,
    );
    const out: StoredReading[] = [];
    const seen = new Set<string>();
    for (const s of series) {
      for (const row of s.values) {
        const reading = toReading(s.tags ?? {}, s.columns, row);
        const key = `${reading.ts}/${reading.seq}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push(reading);
      }
    }
    return out.sort((a, b) => a.ts - b.ts || a.seq - b.seq);
  }

  // ---- end-to-end acknowledgement (SeqIndex) ----

  async seqMarks(): Promise<Map<string, number>> {
    await Promise.allSettled([...this.pending]);
    const series = await this.select(`SELECT max("seq") FROM ${this.rawFrom()} GROUP BY "meter"`);
    const out = new Map<string, number>();
    for (const s of series) {
      const seq = s.values[0]?.[1];
      if (s.tags?.meter !== undefined && typeof seq === 'number') out.set(s.tags.meter, seq);
    }
    return out;
  }

  async missingSeqs(meter: string, from: number, to: number): Promise<[number, number][]> {
    // What is still on its way to influxd must land first, or it would be asked for again.
    await Promise.allSettled([...this.pending]);
    // seq is a field, not indexed: this scans the meter's series, which is why ingest asks only
    // about a range that stayed open past its grace period.
    const series = await this.select(
      `SELECT "seq" FROM ${this.rawFrom()} WHERE ${meterCondition([meter])} AND "seq" >= ${Math.trunc(from)} ` +
        `AND "seq" <= ${Math.trunc(to)}`,
    );
    const seqs = new Set<number>();
    for (const s of series) for (const row of s.values) if (typeof row[1] === 'number') seqs.add(row[1]);
    return missingRuns(
      [...seqs].sort((a, b) => a - b),
      from,
      to,
    );
  }

  private rawFrom(): string {
    return `${quoteIdent(this.database)}.${quoteIdent(RETENTION_POLICIES.raw)}.${quoteIdent(MEASUREMENT)}`;
  }

  private async select(q: string): Promise<RawSeries[]> {
    const res = (await this.influx.queryRaw(q, {
      database: this.database,
      precision: 'ms',
      method: 'POST',
    })) as RawResults;
    const result = res.results[0];
    if (result?.error) throw new Error(`InfluxDB query failed: ${result.error}`);
    return result?.series ?? [];
  }

  // ---- lifecycle ----

  /**
   * Stops taking writes, sends what is buffered and waits up to `closeTimeoutMs` for influxd to
   * take it; whatever it has not taken by then is rejected, so the callers do not acknowledge it.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const closedErr = new Error('InfluxStore is closed');
    for (const w of this.waiters.splice(0)) w.reject(closedErr);
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.pump(true);
    if (this.inFlight > 0 || this.queuedPoints > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.idle.push(resolve)),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, this.opts.closeTimeoutMs))),
      ]);
      clearTimeout(timer);
      this.abandon.abort();
      if (this.inFlight > 0 || this.queuedPoints > 0) {
        await new Promise<void>((resolve) => this.idle.push(resolve));
      }
    }
    this.abandon.abort();
    // The roll-up recomputation stops after the day it is on; the next start resumes there.
    await this.recomputing;
    this.agent.destroy();
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function msToNs(ms: number): string {
  return (BigInt(Math.trunc(ms)) * 1_000_000n).toString();
}

/** An InfluxQL identifier in double quotes. */
function quoteIdent(name: string): string {
  return `"${name.replace(/[\\"]/g, '\\$&')}"`;
}

/** An InfluxQL string literal in single quotes. */
function quoteString(value: string): string {
  return `'${value.replace(/[\\']/g, '\\$&')}'`;
}

/** `(meter = 'a' OR meter = 'b' …)`: equalities need no regex escaping and use the tag index. */
function meterCondition(meters: readonly string[]): string {
  return `(${meters.map((m) => `"meter" = ${quoteString(m)}`).join(' OR ')})`;
}

function toReading(tags: Record<string, string>, columns: string[], row: unknown[]): StoredReading {
  const values: Partial<Record<Quantity, number>> = {};
  let ts = 0;
  let seq = 0;
  let quality: StoredReading['quality'] = 'good';
  let flags: string[] | undefined;
  let deviceTs: number | undefined;
  let code: string | undefined;
  let message: string | undefined;
  for (let i = 0; i < columns.length; i++) {
    const col = columns[i]!;
    const v = row[i];
    if (v === null || v === undefined) continue;
    if (col === 'time') ts = Number(v);
    else if (col === 'seq') seq = Number(v);
    else if (col === 'quality') quality = v === 'error' || v === 'uncertain' ? v : 'good';
    else if (col === 'flags') flags = String(v).split(',');
    else if (col === 'device_ts') deviceTs = Number(v);
    else if (col === 'error_code') code = String(v);
    else if (col === 'error_message') message = String(v);
    else if (Object.hasOwn(QUANTITIES, col) && typeof v === 'number') values[col as Quantity] = v;
  }
  const reading: StoredReading = {
    meter: tags.meter ?? '',
    ts,
    seq,
    quality,
    values,
    site: tags.site ?? '',
    gateway: tags.gateway ?? '',
    kind: (tags.kind ?? 'electricity') as MeterKind,
  };
  if (deviceTs !== undefined) reading.deviceTs = deviceTs;
  if (code !== undefined) reading.error = { code, message: message ?? '' };
  if (flags !== undefined) reading.flags = flags;
  return reading;
}

/**
 * Of `older` (a subset of `all`, in its order), those whose (meter, seq) no earlier reading of
 * `all` has: a reading given twice in one call is written once.
 */
function firstOfEach(all: readonly StoredReading[], older: readonly StoredReading[]): StoredReading[] {
  const olderSet = new Set(older);
  const seen = new Set<string>();
  const out: StoredReading[] = [];
  for (const r of all) {
    const key = `${r.meter}\u0000${r.seq}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (olderSet.has(r)) out.push(r);
  }
  return out;
}
