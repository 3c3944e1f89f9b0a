import { migrate, type Migration } from '../../adapters/sqlite/migrations.ts';
import Database from 'better-sqlite3';
import type { Reading } from '../../config/schemas/reading.ts';

/**
 * The gateway's disk-backed store-and-forward queue. Every reading is committed here before
 * anything tries to publish it, and a row leaves the queue only once the broker has acknowledged it.
 *
 * The broker's PUBACK is one hop, not the end: a broker killed before it saved, or a reading
 * published before ingest first subscribed, is acknowledged here and stored nowhere. So an
 * acknowledged row moves, in the same transaction, to the replay window (`kept`), where it stays
 * for `keepMs` or until `keepMaxBytes` pushes the oldest out; ingest, which knows what it stored,
 * asks for missing ranges and `replay` puts them back in the queue (see gateway/replay.ts).
 *
 * Durability: WAL with `synchronous=NORMAL` means a committed transaction survives the process
 * being killed (SIGKILL, OOM, crash); the last transactions before a power cut or kernel panic may
 * be lost, which is the documented trade of NORMAL against FULL.
 */

export interface OutboxOptions {
  /** Path of the SQLite file; ':memory:' works for tests that need no durability. */
  path: string;
  /** Upper bound on the sum of payload bytes; when full the oldest messages are dropped and counted. */
  maxBytes: number;
  /** How long an acknowledged reading stays replayable (default 7 days; 0 keeps none). */
  keepMs?: number;
  /** Upper bound on the payload bytes kept for replay; the oldest go first (default 256 MiB). */
  keepMaxBytes?: number;
  /** The clock the replay window is measured by (tests). */
  now?: () => number;
}

/** What `replay` did for one requested range. */
export interface ReplayResult {
  /** Readings put back in the queue. */
  queued: number;
  /** Readings of the range that were still in the queue, unsent or unacknowledged: nothing to do. */
  pending: number;
  /** Sub-ranges (inclusive) that this gateway numbered and no longer holds: past the window, or dropped when full. */
  missing: [number, number][];
}

export interface OutboxItem {
  meter: string;
  topic: string;
  /** Builds the reading once the outbox has assigned its per-meter sequence number. */
  build: (seq: number) => Reading;
}

export interface OutboxRow {
  id: number;
  topic: string;
  payload: string;
  meter: string;
  seq: number;
}

/** Same shape as `GatewayStatus.outbox`, so it can be published as is. */
export interface OutboxStats {
  messages: number;
  bytes: number;
  oldestTs: number | null;
  dropped: number;
}

/** The replay window: acknowledged readings still held for ingest to ask for again. */
export interface KeptStats {
  messages: number;
  bytes: number;
}

/** A replay of one call queues at most this many readings; the asker asks again for the rest. */
export const MAX_REPLAY_PER_CALL = 20_000;
/** How often (at most) acks also prune the replay window. */
const PRUNE_EVERY_MS = 10_000;
const DAY_MS = 86_400_000;

export type OutboxListener = () => void;

/** The first sequence number a meter gets; `seq` then increases by one per reading. */
export const FIRST_SEQ = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  meter TEXT NOT NULL,
  seq INTEGER NOT NULL,
  topic TEXT NOT NULL,
  ts INTEGER NOT NULL,
  payload TEXT NOT NULL,
  bytes INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meter_seq (
  meter TEXT PRIMARY KEY,
  next_seq INTEGER NOT NULL,
  dropped INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS messages_meter_seq ON messages (meter, seq);
CREATE TABLE IF NOT EXISTS kept (
  meter TEXT NOT NULL,
  seq INTEGER NOT NULL,
  topic TEXT NOT NULL,
  payload TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  acked_at INTEGER NOT NULL,
  PRIMARY KEY (meter, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS kept_acked_at ON kept (acked_at);
CREATE TABLE IF NOT EXISTS counters (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
INSERT OR IGNORE INTO counters (name, value) VALUES ('messages', 0), ('bytes', 0), ('dropped', 0), ('kept', 0), ('kept_bytes', 0);
`;

/** The outbox's schema changes (adapters/sqlite/migrations.ts). */
export const OUTBOX_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'queue, per-meter numbering, counters; the replay window (kept)',
    up: (db) => db.exec(SCHEMA),
  },
  {
    version: 2,
    name: 'the replay window in acknowledgement order: a rowid table with a unique (meter, seq) index',
    // Keyed by (meter, seq) without a rowid, every acknowledged reading was inserted into the
    // middle of a b-tree of whole payloads, touching a page per meter per commit: an ack cost
    // about 20 µs of CPU a reading, more than the append. Appended in rowid order, with only the
    // small (meter, seq) index in key order, it costs about 9 µs (gateway bench, issue 16 item 2).
    // The rows are copied as they are, in acknowledgement order; a crash midway rolls it all back.
    up: (db) =>
      db.exec(`
        CREATE TABLE kept_by_ack (
          meter TEXT NOT NULL,
          seq INTEGER NOT NULL,
          topic TEXT NOT NULL,
          payload TEXT NOT NULL,
          bytes INTEGER NOT NULL,
          ts INTEGER NOT NULL,
          acked_at INTEGER NOT NULL
        );
        INSERT INTO kept_by_ack (meter, seq, topic, payload, bytes, ts, acked_at)
          SELECT meter, seq, topic, payload, bytes, ts, acked_at FROM kept ORDER BY acked_at, meter, seq;
        DROP TABLE kept;
        ALTER TABLE kept_by_ack RENAME TO kept;
        CREATE UNIQUE INDEX kept_meter_seq ON kept (meter, seq);
        CREATE INDEX kept_acked_at ON kept (acked_at);
      `),
  },
  {
    version: 3,
    name: 'numbering from the rows themselves: meter_seq a view, its table written only when rows go',
    // Every append wrote each meter's next number (0.8-1.6 µs of the 10-11.5 µs that append and
    // ack cost a reading in a micro-benchmark, issue 16 item 2), though the rows themselves carry
    // it: a meter's last number is the largest seq among its queued and kept rows. The table (meter_numbering) now holds a meter's number only where rows that could
    // carry it are deleted: the window pruned, an ack with no window, a reading dropped when full;
    // each writes it in the transaction that deletes. The view `meter_seq` gives what the table
    // gave before, for the outbox's own start and for anyone who reads the file (tests, operators).
    // Reading it scans the window's (meter, seq) index: 0.1-0.17 s at start with a million kept rows.
    up: (db) =>
      db.exec(`
        ALTER TABLE meter_seq RENAME TO meter_numbering;
        CREATE VIEW meter_seq AS
          SELECT meter, max(next_seq) AS next_seq, max(dropped) AS dropped FROM (
            SELECT meter, next_seq, dropped FROM meter_numbering
            UNION ALL SELECT meter, max(seq) + 1, 0 FROM messages GROUP BY meter
            UNION ALL SELECT meter, max(seq) + 1, 0 FROM kept GROUP BY meter
          ) GROUP BY meter;
      `),
  },
  {
    version: 4,
    name: 'the replay window indexed by (seq, meter), not (meter, seq)',
    // Keyed meter first, every ack inserted one entry into each acknowledged meter's own part of
    // the index: a commit of 260 acks touched some 260 index pages, each written whole to the WAL
    // (about 4 KB a reading). Meters polled alike have about the same seq, so keyed seq first the
    // entries of a commit land on a few pages at the index's end. A micro-benchmark (300,000 kept
    // rows, 440 meters at eight rates): an ack 9.1 → 2.0 µs of CPU a reading, WAL written 5.9 →
    // 1.4 KB a reading at 330 rows a commit and 8.4 → 4.2 KB at 20 (10,000 meters every 10 s),
    // what a gateway's flash storage is spared. The whole gateway at full speed: 75 → 53 µs a
    // reading in process under tsx (`PROFILE=off npm run bench:profile`, alternating, load 2-3),
    // but no difference the compiled gateway child shows (old 62-73, new 58-75 µs, four rounds
    // alternating at load 1.6-2.1), where the ack already cost only about 4 µs a reading.
    // A replay now reads a meter's rows seq by seq (a point look-up each, jumping over what is not
    // kept), and the start reads each meter's number (the view meter_seq) by a scan of the index:
    // 0.05 → 0.2 s at a million kept rows. Same rows, same uniqueness; one transaction, so a crash
    // midway leaves version 3 as it was.
    up: (db) =>
      db.exec(`
        DROP INDEX IF EXISTS kept_meter_seq;
        CREATE UNIQUE INDEX kept_seq_meter ON kept (seq, meter);
      `),
  },
];

interface MeterState {
  nextSeq: number;
  dropped: number;
}

/** Rows kept in memory after append, so that the publisher need not read back what was just written. */
const TAIL_MAX = 20_000;

export class Outbox {
  private readonly db: Database.Database;
  /**
   * The newest rows, in id order, as appended by this process. Every row in the table with an id
   * above `tailFloor` is either here or already deleted, so `peek` past `tailFloor` is served from
   * memory; anything older (a backlog from before a restart, a rewind) comes from SQLite.
   * Rows handed out are cleared from the front and `tailHead` moves past them: the array is
   * emptied in place once all are handed out, as at full speed it is every few pumps. Slicing
   * the rest off on each peek copied the tail a few times a reading, and a row held by the array
   * is kept alive, past the young generation of the gateway's small heap (gateway/heap.ts).
   */
  private tail: (OutboxRow | undefined)[] = [];
  private tailHead = 0;
  private tailFloor = 0;
  private evictedInTx = false;
  private readonly maxBytes: number;
  private readonly meters = new Map<string, MeterState>();
  private readonly listeners = new Set<OutboxListener>();
  private messages = 0;
  private bytes = 0;
  private dropped = 0;
  private kept = 0;
  private keptBytes = 0;
  private lastPrune = 0;
  private readonly keepMs: number;
  private readonly keepMaxBytes: number;
  private readonly now: () => number;
  private closed = false;

  private readonly insertStmt: Database.Statement<[string, number, string, number, string, number]>;
  private readonly upsertMeterStmt: Database.Statement<[string, number, number]>;
  private readonly numberAckedStmt: Database.Statement<[number, number]>;
  private readonly numberKeptOlderStmt: Database.Statement<[number]>;
  private readonly numberOneStmt: Database.Statement<[string, number]>;
  private readonly setCounterStmt: Database.Statement<[number, string]>;
  private readonly oldestStmt: Database.Statement<[number]>;
  private readonly oldestTsStmt: Database.Statement<[]>;
  private readonly deleteStmt: Database.Statement<[number]>;
  private readonly rangeSizeStmt: Database.Statement<[number, number]>;
  private readonly rangeDeleteStmt: Database.Statement<[number, number]>;
  private readonly peekStmt: Database.Statement<[number, number]>;
  private readonly keptBytesSinceStmt: Database.Statement<[number]>;
  private readonly keepStmt: Database.Statement<[number, number, number]>;
  private readonly keptOneStmt: Database.Statement<[number, string]>;
  private readonly keptNextStmt: Database.Statement<[number, number, string]>;
  private readonly queuedInRangeStmt: Database.Statement<[string, number, number]>;
  private readonly keptOlderStmt: Database.Statement<[number]>;
  private readonly keptDeleteOlderStmt: Database.Statement<[number]>;
  private readonly keptOldestStmt: Database.Statement<[]>;
  private readonly keptDeleteStmt: Database.Statement<[string, number]>;
  private readonly appendTx: (items: readonly OutboxItem[], rows: OutboxRow[]) => Reading[];
  private readonly ackTx: (ids: readonly number[]) => number;
  private readonly replayTx: (meter: string, from: number, to: number, rows: OutboxRow[]) => ReplayResult;

  static open(options: OutboxOptions): Outbox {
    return new Outbox(options);
  }

  private constructor(options: OutboxOptions) {
    if (!Number.isFinite(options.maxBytes) || options.maxBytes <= 0) {
      throw new RangeError(`outbox maxBytes must be a positive number, got ${options.maxBytes}`);
    }
    this.maxBytes = options.maxBytes;
    this.keepMs = options.keepMs ?? 7 * DAY_MS;
    this.keepMaxBytes = options.keepMaxBytes ?? 256 * 1024 * 1024;
    this.now = options.now ?? Date.now;
    this.db = new Database(options.path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    // better-sqlite3 builds SQLite with a 16 MB page cache a connection, and a gateway's outbox
    // fills it within minutes: RSS that grew by 0.6 MB/s at 10,000 meters (gateway bench, stage 5).
    // The outbox writes at its ends and reads what it just wrote (the publisher's rows come from
    // memory); 2 MB, SQLite's own default, keeps those pages and leaves the rest to the OS cache.
    this.db.pragma('cache_size = -2048');
    migrate(this.db, OUTBOX_MIGRATIONS, options.path);

    this.loadState();

    this.insertStmt = this.db.prepare(
      'INSERT INTO messages (meter, seq, topic, ts, payload, bytes) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.upsertMeterStmt = this.db.prepare(
      `INSERT INTO meter_numbering (meter, next_seq, dropped) VALUES (?, ?, ?)
       ON CONFLICT(meter) DO UPDATE SET next_seq = excluded.next_seq, dropped = excluded.dropped`,
    );
    // Before rows go, their meters' numbers go to the table (never lowering one held there).
    const numberFrom = (rows: string) =>
      `INSERT INTO meter_numbering (meter, next_seq, dropped)
       SELECT meter, max(seq) + 1, 0 FROM ${rows} GROUP BY meter
       ON CONFLICT(meter) DO UPDATE SET next_seq = max(meter_numbering.next_seq, excluded.next_seq)`;
    this.numberAckedStmt = this.db.prepare(numberFrom('messages WHERE id BETWEEN ? AND ?'));
    this.numberKeptOlderStmt = this.db.prepare(numberFrom('kept WHERE acked_at < ?'));
    this.numberOneStmt = this.db.prepare(
      `INSERT INTO meter_numbering (meter, next_seq, dropped) VALUES (?, ? + 1, 0)
       ON CONFLICT(meter) DO UPDATE SET next_seq = max(meter_numbering.next_seq, excluded.next_seq)`,
    );
    this.setCounterStmt = this.db.prepare('UPDATE counters SET value = ? WHERE name = ?');
    this.oldestStmt = this.db.prepare('SELECT id, meter, bytes FROM messages ORDER BY id LIMIT ?');
    this.oldestTsStmt = this.db.prepare('SELECT ts FROM messages ORDER BY id LIMIT 1').pluck();
    this.deleteStmt = this.db.prepare('DELETE FROM messages WHERE id = ? RETURNING bytes').pluck();
    this.rangeSizeStmt = this.db.prepare(
      'SELECT count(*) AS n, coalesce(sum(bytes), 0) AS b FROM messages WHERE id BETWEEN ? AND ?',
    );
    this.rangeDeleteStmt = this.db.prepare('DELETE FROM messages WHERE id BETWEEN ? AND ?');
    this.tailFloor =
      (this.db.prepare('SELECT coalesce(max(id), 0) FROM messages').pluck().get() as number) ?? 0;
    this.peekStmt = this.db.prepare(
      'SELECT id, topic, payload, meter, seq FROM messages WHERE id > ? ORDER BY id LIMIT ?',
    );

    // What an ack moves to the replay window: rows not kept already (a replayed row acked again
    // keeps its first acknowledgement time, so the window is not stretched by replays).
    this.keptBytesSinceStmt = this.db
      .prepare('SELECT coalesce(sum(bytes), 0) FROM kept WHERE rowid >= ?')
      .pluck();
    this.keepStmt = this.db.prepare(
      `INSERT OR IGNORE INTO kept (meter, seq, topic, payload, bytes, ts, acked_at)
       SELECT meter, seq, topic, payload, bytes, ts, ? FROM messages WHERE id BETWEEN ? AND ?`,
    );
    // Seq first in the index (migration 4): one reading is a point look-up; the next one kept after
    // a hole is found in seq order, skipping other meters' entries, which a range of a meter's seqs
    // would scan all of (0.05 s for one meter of 440 at a million kept rows, against 0.01 s).
    this.keptOneStmt = this.db.prepare(
      'SELECT topic, payload, bytes, ts FROM kept WHERE seq = ? AND meter = ?',
    );
    this.keptNextStmt = this.db
      .prepare('SELECT seq FROM kept WHERE seq > ? AND seq <= ? AND meter = ? ORDER BY seq LIMIT 1')
      .pluck();
    this.queuedInRangeStmt = this.db
      .prepare('SELECT seq FROM messages WHERE meter = ? AND seq BETWEEN ? AND ?')
      .pluck();

    this.keptOlderStmt = this.db.prepare(
      'SELECT count(*) AS n, coalesce(sum(bytes), 0) AS b FROM kept WHERE acked_at < ?',
    );
    this.keptDeleteOlderStmt = this.db.prepare('DELETE FROM kept WHERE acked_at < ?');
    this.keptOldestStmt = this.db.prepare('SELECT meter, seq, bytes FROM kept ORDER BY acked_at LIMIT 512');
    this.keptDeleteStmt = this.db.prepare('DELETE FROM kept WHERE meter = ? AND seq = ?');

    this.appendTx = this.db.transaction((items: readonly OutboxItem[], rows: OutboxRow[]) =>
      this.appendInTx(items, rows),
    );
    this.ackTx = this.db.transaction((ids: readonly number[]) => this.ackInTx(ids));
    this.replayTx = this.db.transaction((meter: string, from: number, to: number, rows: OutboxRow[]) =>
      this.replayInTx(meter, from, to, rows),
    );
  }

  /**
   * Assigns each item the next sequence number of its meter, stores the built readings and enforces
   * `maxBytes`, all in one transaction: either every item of the call is committed or none is.
   * Callers should pass all readings of one poll cycle (or one event-loop tick) in one call, since
   * a commit costs far more than a row.
   */
  append(items: readonly OutboxItem[]): Reading[] {
    this.assertOpen();
    if (items.length === 0) return [];
    const rows: OutboxRow[] = [];
    let readings: Reading[];
    this.evictedInTx = false;
    try {
      readings = this.appendTx(items, rows);
    } catch (err) {
      // The transaction rolled back, so the in-memory mirror of the counters must as well.
      this.loadState();
      throw err;
    }
    this.remember(rows);
    this.notify();
    return readings;
  }

  /** Rows after `afterId`, oldest first; pass 0 to start at the oldest row. */
  peek(afterId: number, limit: number): OutboxRow[] {
    this.assertOpen();
    if (afterId < this.tailFloor) return this.peekStmt.all(afterId, limit) as OutboxRow[];
    // Rows at or below afterId have been handed out; forget them (a rewind reads SQLite).
    const tail = this.tail;
    let head = this.tailHead;
    while (head < tail.length && tail[head]!.id <= afterId) {
      this.tailFloor = tail[head]!.id;
      tail[head++] = undefined;
    }
    if (head === tail.length) {
      tail.length = 0;
      head = 0;
    }
    this.tailHead = head;
    this.tailFloor = Math.max(this.tailFloor, afterId);
    return tail.slice(head, head + limit) as OutboxRow[];
  }

  /**
   * Takes the given rows out of the queue into the replay window (ids already gone are ignored);
   * returns how many it took.
   */
  ack(ids: readonly number[]): number {
    this.assertOpen();
    if (ids.length === 0) return 0;
    try {
      const deleted = this.ackTx(ids);
      // The publisher normally acks rows it has already peeked past; a caller that acks rows
      // still in the tail must not see them again.
      const first = this.tail[this.tailHead];
      if (first && ids.some((id) => id >= first.id)) {
        const acked = new Set(ids);
        this.tail = this.liveTail().filter((r) => !acked.has(r.id));
        this.tailHead = 0;
      }
      return deleted;
    } catch (err) {
      this.loadState();
      throw err;
    }
  }

  stats(): OutboxStats {
    this.assertOpen();
    const oldestTs = this.messages > 0 ? (this.oldestTsStmt.get() as number | undefined) : undefined;
    return { messages: this.messages, bytes: this.bytes, oldestTs: oldestTs ?? null, dropped: this.dropped };
  }

  keptStats(): KeptStats {
    this.assertOpen();
    return { messages: this.kept, bytes: this.keptBytes };
  }

  /** Each meter's newest sequence number (the last one handed out), for ingest to spot a missing tail. */
  highWater(): Record<string, number> {
    this.assertOpen();
    const out: Record<string, number> = {};
    for (const [meter, state] of this.meters) if (state.nextSeq > FIRST_SEQ) out[meter] = state.nextSeq - 1;
    return out;
  }

  /**
   * Puts the meter's readings `from`..`to` (inclusive) back in the queue from the replay window,
   * in seq order, so that the publisher sends them again. Readings still queued are left alone;
   * those numbered here and held no more are reported as missing; seqs not yet numbered are
   * ignored. At most MAX_REPLAY_PER_CALL are queued, and never past `maxBytes`, so a replay
   * cannot push live readings out: the rest is left for the next request.
   */
  replay(meter: string, from: number, to: number): ReplayResult {
    this.assertOpen();
    const rows: OutboxRow[] = [];
    const last = Math.min(to, this.nextSeq(meter) - 1);
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from > last || from < FIRST_SEQ) {
      return { queued: 0, pending: 0, missing: [] };
    }
    let result: ReplayResult;
    try {
      result = this.replayTx(meter, from, last, rows);
    } catch (err) {
      this.loadState();
      throw err;
    }
    this.remember(rows);
    if (rows.length > 0) this.notify();
    return result;
  }

  /** Messages dropped because the outbox was full, per meter, since the outbox file was created. */
  droppedByMeter(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [meter, state] of this.meters) if (state.dropped > 0) out[meter] = state.dropped;
    return out;
  }

  /** The sequence number the meter's next reading will get. */
  nextSeq(meter: string): number {
    return this.meters.get(meter)?.nextSeq ?? FIRST_SEQ;
  }

  /**
   * Continues a meter's numbering after readings published before this outbox existed (history
   * imported from another system or a simulation), so its `seq` stays unique and gap-free for
   * consumers. Only for a meter that has no number here yet; anything else would reuse or skip.
   */
  continueNumberingAt(meter: string, nextSeq: number): void {
    if (!Number.isSafeInteger(nextSeq) || nextSeq < FIRST_SEQ) {
      throw new RangeError(`next seq for ${meter} must be an integer ≥ ${FIRST_SEQ}, got ${nextSeq}`);
    }
    if (this.meters.has(meter)) {
      throw new Error(
        `meter ${meter} already has readings numbered in this outbox (next ${this.nextSeq(meter)})`,
      );
    }
    this.upsertMeterStmt.run(meter, nextSeq, 0);
    this.meters.set(meter, { nextSeq, dropped: 0 });
  }

  /**
   * Calls `listener` synchronously after every committed append; returns the unsubscribe function.
   * Listeners must not throw: the append has already been committed when they run.
   */
  onAppend(listener: OutboxListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    this.db.close();
  }

  /** Keeps freshly committed rows for `peek`, within TAIL_MAX. */
  private remember(rows: OutboxRow[]): void {
    if (this.evictedInTx) {
      // Eviction deleted rows that may be in the tail: let SQLite answer for everything so far.
      this.tail = [];
      this.tailHead = 0;
      this.tailFloor = rows.at(-1)?.id ?? this.tailFloor;
      return;
    }
    for (const row of rows) this.tail.push(row);
    if (this.tail.length - this.tailHead > TAIL_MAX) {
      const live = this.liveTail();
      const excess = live.length - TAIL_MAX;
      this.tailFloor = live[excess - 1]!.id;
      this.tail = live.slice(excess);
      this.tailHead = 0;
    }
  }

  /** The rows of the tail not handed out yet. */
  private liveTail(): OutboxRow[] {
    return this.tail.slice(this.tailHead) as OutboxRow[];
  }

  private appendInTx(items: readonly OutboxItem[], rows: OutboxRow[]): Reading[] {
    const readings: Reading[] = [];
    const touched = new Set<string>();
    const droppedBefore = this.dropped;
    for (const item of items) {
      let state = this.meters.get(item.meter);
      if (!state) {
        state = { nextSeq: FIRST_SEQ, dropped: 0 };
        this.meters.set(item.meter, state);
      }
      const seq = state.nextSeq;
      const reading = item.build(seq);
      if (reading.seq !== seq || reading.meter !== item.meter) {
        throw new Error(
          `outbox item for meter ${item.meter} built a reading for ${reading.meter} seq ${reading.seq}, expected seq ${seq}`,
        );
      }
      const payload = JSON.stringify(reading);
      const bytes = Buffer.byteLength(payload);
      const info = this.insertStmt.run(item.meter, seq, item.topic, reading.ts, payload, bytes);
      rows.push({ id: Number(info.lastInsertRowid), topic: item.topic, payload, meter: item.meter, seq });
      state.nextSeq = seq + 1;
      this.messages += 1;
      this.bytes += bytes;
      if (this.bytes > this.maxBytes) this.evictOldest(touched);
      readings.push(reading);
    }
    // A meter's number is in its rows (the view meter_seq); only a meter that lost rows to the
    // byte budget gets its number and drop count written here, with the deletes.
    for (const meter of touched) {
      const state = this.meters.get(meter);
      if (state) this.upsertMeterStmt.run(meter, state.nextSeq, state.dropped);
    }
    this.setCounterStmt.run(this.messages, 'messages');
    this.setCounterStmt.run(this.bytes, 'bytes');
    if (this.dropped !== droppedBefore) this.setCounterStmt.run(this.dropped, 'dropped');
    return readings;
  }

  /** Deletes the oldest rows until the byte budget holds again, counting each per meter. */
  private evictOldest(touched: Set<string>): void {
    this.evictedInTx = true;
    while (this.bytes > this.maxBytes && this.messages > 0) {
      const victims = this.oldestStmt.all(64) as { id: number; meter: string; bytes: number }[];
      if (victims.length === 0) break;
      for (const victim of victims) {
        if (this.bytes <= this.maxBytes) break;
        this.deleteStmt.get(victim.id);
        this.messages -= 1;
        this.bytes -= victim.bytes;
        this.dropped += 1;
        const state = this.meters.get(victim.meter);
        if (state) {
          state.dropped += 1;
          touched.add(victim.meter);
        }
      }
    }
  }

  /** Deletes runs of consecutive ids with one range statement each (acks mostly come in order). */
  private ackInTx(ids: readonly number[]): number {
    const sorted = [...ids].sort((a, b) => a - b);
    const now = this.now();
    let keptChanged = false;
    let deleted = 0;
    let start = 0;
    for (let i = 1; i <= sorted.length; i++) {
      if (i < sorted.length && sorted[i]! <= sorted[i - 1]! + 1) continue;
      const lo = sorted[start]!;
      const hi = sorted[i - 1]!;
      start = i;
      const { n, b } = this.rangeSizeStmt.get(lo, hi) as { n: number; b: number };
      if (n === 0) continue;
      if (this.keepMs > 0) {
        // Rows already kept (a replay acked again) are ignored by the insert. Almost always none
        // is, and then what was kept is the whole range: counting the fresh rows beforehand cost
        // a look-up in the window per row, on every ack.
        const { changes, lastInsertRowid } = this.keepStmt.run(now, lo, hi);
        if (changes > 0) {
          const fresh =
            changes === n
              ? b
              : // One statement's rows get consecutive rowids, the last of them lastInsertRowid.
                (this.keptBytesSinceStmt.get(Number(lastInsertRowid) - changes + 1) as number);
          this.kept += changes;
          this.keptBytes += fresh;
          keptChanged = true;
        }
      } else {
        // With no replay window the rows vanish here: their meters' numbers are written first.
        this.numberAckedStmt.run(lo, hi);
      }
      this.rangeDeleteStmt.run(lo, hi);
      deleted += n;
      this.messages -= n;
      this.bytes -= b;
    }
    if (deleted > 0) {
      this.setCounterStmt.run(this.messages, 'messages');
      this.setCounterStmt.run(this.bytes, 'bytes');
    }
    if (this.keepMs > 0 && (now - this.lastPrune >= PRUNE_EVERY_MS || this.keptBytes > this.keepMaxBytes)) {
      this.pruneKept(now);
    } else if (keptChanged) {
      this.setCounterStmt.run(this.kept, 'kept');
      this.setCounterStmt.run(this.keptBytes, 'kept_bytes');
    }
    return deleted;
  }

  private replayInTx(meter: string, from: number, to: number, rows: OutboxRow[]): ReplayResult {
    const queuedSeqs = new Set(this.queuedInRangeStmt.all(meter, from, to) as number[]);
    const budget = Math.floor(this.maxBytes * 0.9);
    const missing: [number, number][] = [];
    const miss = (seq: number) => {
      const run = missing.at(-1);
      if (run && run[1] === seq - 1) run[1] = seq;
      else missing.push([seq, seq]);
    };
    let queued = 0;
    let seq = from;
    while (seq <= to) {
      if (queuedSeqs.has(seq)) {
        seq++;
        continue;
      }
      const row = this.keptOneStmt.get(seq, meter) as
        { topic: string; payload: string; bytes: number; ts: number } | undefined;
      if (!row) {
        // Not kept, nor is any seq up to the meter's next kept one: all missing but those queued.
        const next = (this.keptNextStmt.get(seq, to, meter) as number | undefined) ?? to + 1;
        for (; seq < next; seq++) if (!queuedSeqs.has(seq)) miss(seq);
        continue;
      }
      if (queued >= MAX_REPLAY_PER_CALL || this.bytes + row.bytes > budget) break;
      const info = this.insertStmt.run(meter, seq, row.topic, row.ts, row.payload, row.bytes);
      rows.push({ id: Number(info.lastInsertRowid), topic: row.topic, payload: row.payload, meter, seq });
      this.messages += 1;
      this.bytes += row.bytes;
      queued += 1;
      seq++;
    }
    if (queued > 0) {
      this.setCounterStmt.run(this.messages, 'messages');
      this.setCounterStmt.run(this.bytes, 'bytes');
    }
    return { queued, pending: queuedSeqs.size, missing };
  }

  /** Ends the replay window of rows older than keepMs, then of the oldest while over keepMaxBytes. */
  private pruneKept(now: number): void {
    this.lastPrune = now;
    const cutoff = now - this.keepMs;
    const old = this.keptOlderStmt.get(cutoff) as { n: number; b: number };
    if (old.n > 0) {
      this.numberKeptOlderStmt.run(cutoff);
      this.keptDeleteOlderStmt.run(cutoff);
      this.kept -= old.n;
      this.keptBytes -= old.b;
    }
    while (this.keptBytes > this.keepMaxBytes && this.kept > 0) {
      const victims = this.keptOldestStmt.all() as { meter: string; seq: number; bytes: number }[];
      if (victims.length === 0) break;
      for (const v of victims) {
        if (this.keptBytes <= this.keepMaxBytes) break;
        this.numberOneStmt.run(v.meter, v.seq);
        this.keptDeleteStmt.run(v.meter, v.seq);
        this.kept -= 1;
        this.keptBytes -= v.bytes;
      }
    }
    this.setCounterStmt.run(this.kept, 'kept');
    this.setCounterStmt.run(this.keptBytes, 'kept_bytes');
  }

  /** Reloads the in-memory mirror of the counters and sequence numbers from the database. */
  private loadState(): void {
    this.messages = 0;
    this.bytes = 0;
    this.dropped = 0;
    this.kept = 0;
    this.keptBytes = 0;
    this.meters.clear();
    for (const row of this.db.prepare('SELECT name, value FROM counters').all() as {
      name: string;
      value: number;
    }[]) {
      if (row.name === 'messages') this.messages = row.value;
      else if (row.name === 'bytes') this.bytes = row.value;
      else if (row.name === 'dropped') this.dropped = row.value;
      else if (row.name === 'kept') this.kept = row.value;
      else if (row.name === 'kept_bytes') this.keptBytes = row.value;
    }
    for (const row of this.db.prepare('SELECT meter, next_seq, dropped FROM meter_seq').all() as {
      meter: string;
      next_seq: number;
      dropped: number;
    }[]) {
      this.meters.set(row.meter, { nextSeq: row.next_seq, dropped: row.dropped });
    }
  }

  private notify(): void {
    for (const listener of this.listeners) listener();
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('outbox is closed');
  }
}
