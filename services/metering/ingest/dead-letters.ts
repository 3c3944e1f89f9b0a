import Database from 'better-sqlite3';
import type { DeadLetterCode } from './validate.ts';

/** A message ingest could not turn into a reading, kept for operators to inspect. */
export interface DeadLetter {
  /** UTC ms when ingest rejected it. */
  ts: number;
  topic: string;
  code: DeadLetterCode;
  /** What is wrong, naming the field (zod issue paths) where there is one. */
  reason: string;
  /** The payload, cut to the store's limit: UTF-8 text, or base64 when it is not valid UTF-8. */
  payload: string;
  encoding: 'utf8' | 'base64';
  /** The size of the whole payload as received. */
  bytes: number;
  truncated: boolean;
}

export interface DeadLetterCounts {
  /** Every message ever dead-lettered, including those no longer kept. */
  total: number;
  byCode: Partial<Record<DeadLetterCode, number>>;
}

/**
 * Where ingest puts bad messages. Synchronous, so that the message can be acknowledged right
 * after: a store that needs network I/O must buffer internally. Bounded: it keeps the newest
 * messages and counts all of them.
 */
export interface DeadLetterStore {
  add(topic: string, payload: Uint8Array, code: DeadLetterCode, reason: string, ts?: number): void;
  /** The newest first. */
  recent(limit: number): DeadLetter[];
  counts(): DeadLetterCounts;
  close(): void;
}

export interface SqliteDeadLetterOptions {
  path: string;
  /** How many of the newest messages are kept (default 10,000). */
  maxRows?: number;
  /** Payload bytes kept per message (default 4 KiB). */
  maxPayloadBytes?: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Payload bytes as text where they are UTF-8, else base64, cut to `limit` bytes. */
export function payloadForStorage(
  payload: Uint8Array,
  limit: number,
): Pick<DeadLetter, 'payload' | 'encoding' | 'truncated'> {
  const truncated = payload.byteLength > limit;
  const kept = Buffer.from(payload.buffer, payload.byteOffset, Math.min(payload.byteLength, limit));
  try {
    return { payload: utf8.decode(kept), encoding: 'utf8', truncated };
  } catch {
    // A cut can split a multi-byte character of otherwise valid text: drop the partial tail.
    if (truncated) {
      for (let cut = 1; cut <= 3 && cut < kept.byteLength; cut++) {
        try {
          return {
            payload: utf8.decode(kept.subarray(0, kept.byteLength - cut)),
            encoding: 'utf8',
            truncated,
          };
        } catch {
          // try a shorter cut
        }
      }
    }
    return { payload: kept.toString('base64'), encoding: 'base64', truncated };
  }
}

/**
 * Dead letters in their own SQLite file (WAL): a table of the newest `maxRows` messages and a
 * table of counts per code that is never pruned.
 */
export class SqliteDeadLetterStore implements DeadLetterStore {
  private readonly db: Database.Database;
  private readonly maxRows: number;
  private readonly maxPayloadBytes: number;
  private readonly insert: (letter: DeadLetter) => void;
  private readonly selectRecent: Database.Statement<[number]>;
  private readonly selectCounts: Database.Statement<[]>;

  private constructor(db: Database.Database, options: SqliteDeadLetterOptions) {
    this.db = db;
    this.maxRows = Math.max(1, options.maxRows ?? 10_000);
    this.maxPayloadBytes = Math.max(16, options.maxPayloadBytes ?? 4096);
    const insertRow = db.prepare(
      `insert into dead_letters (ts, topic, code, reason, payload, encoding, bytes, truncated)
       values (@ts, @topic, @code, @reason, @payload, @encoding, @bytes, @truncated)`,
    );
    const count = db.prepare(
      'insert into dead_letter_counts (code, n) values (?, 1) on conflict(code) do update set n = n + 1',
    );
    const prune = db.prepare('delete from dead_letters where id <= ?');
    this.insert = db.transaction((letter: DeadLetter) => {
      const { lastInsertRowid } = insertRow.run({ ...letter, truncated: letter.truncated ? 1 : 0 });
      count.run(letter.code);
      // Ids only grow, so the newest maxRows are exactly those above this one.
      prune.run(Number(lastInsertRowid) - this.maxRows);
    });
    this.selectRecent = db.prepare('select * from dead_letters order by id desc limit ?');
    this.selectCounts = db.prepare('select code, n from dead_letter_counts');
  }

  static open(options: SqliteDeadLetterOptions): SqliteDeadLetterStore {
    const db = new Database(options.path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec(`
      create table if not exists dead_letters (
        id integer primary key autoincrement,
        ts integer not null,
        topic text not null,
        code text not null,
        reason text not null,
        payload text not null,
        encoding text not null,
        bytes integer not null,
        truncated integer not null
      );
      create table if not exists dead_letter_counts (code text primary key, n integer not null);
    `);
    return new SqliteDeadLetterStore(db, options);
  }

  add(topic: string, payload: Uint8Array, code: DeadLetterCode, reason: string, ts = Date.now()): void {
    this.insert({
      ts,
      topic,
      code,
      reason,
      bytes: payload.byteLength,
      ...payloadForStorage(payload, this.maxPayloadBytes),
    });
  }

  recent(limit: number): DeadLetter[] {
    const rows = this.selectRecent.all(limit) as (Omit<DeadLetter, 'truncated'> & { truncated: number })[];
    return rows.map(({ ts, topic, code, reason, payload, encoding, bytes, truncated }) => ({
      ts,
      topic,
      code,
      reason,
      payload,
      encoding,
      bytes,
      truncated: truncated === 1,
    }));
  }

  counts(): DeadLetterCounts {
    const rows = this.selectCounts.all() as { code: DeadLetterCode; n: number }[];
    const byCode: Partial<Record<DeadLetterCode, number>> = {};
    let total = 0;
    for (const { code, n } of rows) {
      byCode[code] = n;
      total += n;
    }
    return { total, byCode };
  }

  close(): void {
    this.db.close();
  }
}
