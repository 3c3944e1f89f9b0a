import Database from 'better-sqlite3';
import type { ReplayAnswer, ReplayRange } from '../../../config/schemas/replay.ts';
import type { SeqIndex } from '../storage.ts';

/**
 * Ingest's end of the end-to-end acknowledgement (config/schemas/replay.ts): finds the readings
 * a gateway numbered that no store holds, asks that gateway to send them again, and when nobody
 * holds them any more says so, once, naming the meter and the range.
 *
 * Per meter it keeps `done` (every seq up to it is stored or declared lost) and `seen` (the
 * highest seq stored or announced by the gateway). In order, a stored reading moves `done` on by
 * one and nothing else happens. When `seen` runs ahead (a hole, or a tail announced and not
 * arrived) the meter waits `graceMs` — readings in flight arrive meanwhile — and then the store
 * itself is asked what is missing (so several ingest instances sharing the stream, and restarts,
 * agree), and the gateway is asked for exactly that.
 *
 * A range becomes lost when the gateway answers that it no longer holds it (past its replay
 * window, or dropped when its disk was full), when it was replayed `maxReplays` times and never
 * got stored (each replay dead-lettered, say), or when it stayed open longer than `giveUpMs`
 * (the gateway's window) with the gateway silent.
 *
 * Open gaps survive an ingest restart in the ledger file; `done` of every other meter is the
 * store's highest seq.
 */

export interface LostRange {
  meter: string;
  from: number;
  to: number;
  at: number;
  reason: string;
}

export interface GapTrackerOptions {
  index: SeqIndex;
  /** Where a meter is published from; meters outside the registry are not tracked. */
  placeOf(meter: string): { site: string; gateway: string } | undefined;
  /** Sends a replay request to one gateway. */
  request(site: string, gateway: string, ranges: ReplayRange[]): void;
  /** A range is lost for good (after it was recorded in the ledger). */
  onLost(lost: LostRange): void;
  ledgerPath: string;
  /** How long a hole may stay open before the store and the gateway are asked (default 10 s). */
  graceMs?: number;
  /** Between two requests for the same meter (default 30 s). */
  retryMs?: number;
  /** A hole open this long with no answer is lost (default 7 days, the gateway's default window). */
  giveUpMs?: number;
  /** Replays that never got stored before the range is declared lost (default 5). */
  maxReplays?: number;
  now?: () => number;
}

export interface GapStats {
  /** Meters with a hole being followed. */
  openMeters: number;
  /** Readings currently missing (as of the last check) over those meters. */
  missing: number;
  requests: number;
  lostRanges: number;
  lostReadings: number;
}

interface MeterGap {
  done: number;
  seen: number;
  /** When `done < seen` was first seen; null while in step. */
  since: number | null;
  lastAsk: number;
  replays: number;
  missing: number;
  /** Lost ranges above `done` (declared lost while an earlier hole was still open). */
  accounted: [number, number][];
}

/** Seqs asked of the store in one query at most. */
const CHECK_SPAN = 50_000;
const REQUEST_RANGES = 500;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS marks (
  meter TEXT PRIMARY KEY,
  done INTEGER NOT NULL,
  seen INTEGER NOT NULL,
  since INTEGER
);
CREATE TABLE IF NOT EXISTS lost (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  meter TEXT NOT NULL,
  from_seq INTEGER NOT NULL,
  to_seq INTEGER NOT NULL,
  at INTEGER NOT NULL,
  reason TEXT NOT NULL
);
`;

export class GapTracker {
  private readonly meters = new Map<string, MeterGap>();
  private readonly db: Database.Database;
  private readonly now: () => number;
  private readonly graceMs: number;
  private readonly retryMs: number;
  private readonly giveUpMs: number;
  private readonly maxReplays: number;
  private readonly stats = { requests: 0, lostRanges: 0, lostReadings: 0 };
  private checking = false;
  /** Meters whose marks changed since the ledger last wrote them. */
  private readonly dirty = new Set<string>();

  constructor(private readonly opts: GapTrackerOptions) {
    this.now = opts.now ?? Date.now;
    this.graceMs = opts.graceMs ?? 10_000;
    this.retryMs = opts.retryMs ?? 30_000;
    this.giveUpMs = opts.giveUpMs ?? 7 * 86_400_000;
    this.maxReplays = opts.maxReplays ?? 5;
    this.db = new Database(opts.ledgerPath);
    this.db.pragma('journal_mode = WAL');
    this.db.exec(SCHEMA);
    const lost = this.db
      .prepare('SELECT count(*) AS n, coalesce(sum(to_seq - from_seq + 1), 0) AS r FROM lost')
      .get() as {
      n: number;
      r: number;
    };
    this.stats.lostRanges = lost.n;
    this.stats.lostReadings = lost.r;
  }

  /**
   * Starting marks. `done` is what the ledger vouches for, never the store's highest seq: a hole
   * below it (a reading lost while a previous ingest was being killed, before it wrote its
   * marks) would otherwise be forgotten. A meter the ledger does not know (a first start on an
   * existing store) is verified from seq 1 — once, through the store's own index.
   */
  async seed(): Promise<void> {
    const storeMarks = await this.opts.index.seqMarks();
    const rows = this.db.prepare('SELECT meter, done, seen, since FROM marks').all() as {
      meter: string;
      done: number;
      seen: number;
      since: number | null;
    }[];
    const now = this.now();
    for (const row of rows) {
      if (!this.opts.placeOf(row.meter)) continue;
      const m = fresh(row.done);
      m.seen = Math.max(row.seen, storeMarks.get(row.meter) ?? 0);
      m.since = m.done < m.seen ? (row.since ?? now) : null;
      const lost = this.db
        .prepare(
          'SELECT from_seq AS a, to_seq AS b FROM lost WHERE meter = ? AND to_seq > ? ORDER BY from_seq',
        )
        .all(row.meter, m.done) as { a: number; b: number }[];
      m.accounted = lost.map((r) => [r.a, r.b]);
      this.meters.set(row.meter, m);
    }
    for (const [meter, seq] of storeMarks) {
      if (this.meters.has(meter) || !this.opts.placeOf(meter)) continue;
      const m = fresh(0);
      m.seen = seq;
      m.since = now;
      this.meters.set(meter, m);
      this.dirty.add(meter);
    }
  }

  /** A reading of the meter is stored. */
  stored(meter: string, seq: number): void {
    const m = this.meters.get(meter) ?? this.add(meter);
    if (!m) return;
    this.dirty.add(meter);
    if (seq === m.done + 1 && m.since === null) {
      m.done = seq;
      m.seen = Math.max(m.seen, seq);
      return;
    }
    if (seq === m.done + 1) m.done = seq;
    if (seq > m.seen) m.seen = seq;
    this.settle(m);
  }

  /** The gateway says the meter's last seq is `seq`. */
  announced(meter: string, seq: number): void {
    const m = this.meters.get(meter) ?? this.add(meter);
    if (!m || seq <= m.seen) return;
    this.dirty.add(meter);
    m.seen = seq;
    this.settle(m);
  }

  /** The gateway's answer to a request: what it replayed, what it no longer holds. */
  answered(answer: ReplayAnswer): void {
    const replayed = new Set<string>();
    for (const range of answer.ranges) {
      const m = this.meters.get(range.meter);
      if (!m) continue;
      if (range.queued > 0 && !replayed.has(range.meter)) {
        replayed.add(range.meter);
        m.replays += 1;
      }
      for (const [from, to] of range.missing) {
        if (to <= m.done) continue;
        this.lose(
          range.meter,
          Math.max(from, m.done + 1),
          to,
          `gateway ${answer.gateway} no longer holds them`,
        );
      }
    }
  }

  /** Asks the store about holes past their grace, and the gateways for what it lacks. */
  async check(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    const asks = new Map<string, { site: string; gateway: string; ranges: ReplayRange[] }>();
    try {
      const now = this.now();
      for (const [meter, m] of this.meters) {
        if (m.since === null || now - m.since < this.graceMs || now - m.lastAsk < this.retryMs) continue;
        this.dirty.add(meter);
        const to = Math.min(m.seen, m.done + CHECK_SPAN);
        m.accounted = m.accounted.filter(([, b]) => b > m.done);
        const missing = subtract(await this.opts.index.missingSeqs(meter, m.done + 1, to), m.accounted);
        const first = missing[0];
        m.done = first ? first[0] - 1 : to;
        m.missing = missing.reduce((n, [a, b]) => n + b - a + 1, 0);
        if (!first) {
          this.settle(m);
          continue;
        }
        if (m.replays >= this.maxReplays || now - m.since >= this.giveUpMs) {
          const why =
            m.replays >= this.maxReplays
              ? `replayed ${m.replays} times and never stored (see the dead letters)`
              : `still missing after ${Math.round((now - m.since) / 3_600_000)} h with no answer from the gateway`;
          for (const [a, b] of missing) this.lose(meter, a, b, why);
          // Everything up to `to` is now stored or lost.
          m.done = Math.max(m.done, to);
          this.settle(m);
          continue;
        }
        const place = this.opts.placeOf(meter)!;
        const key = `${place.site}/${place.gateway}`;
        const ask = asks.get(key) ?? { ...place, ranges: [] };
        asks.set(key, ask);
        for (const [from, rangeTo] of missing) ask.ranges.push({ meter, from, to: rangeTo });
        m.lastAsk = now;
      }
      for (const ask of asks.values()) {
        for (let i = 0; i < ask.ranges.length; i += REQUEST_RANGES) {
          this.stats.requests += 1;
          this.opts.request(ask.site, ask.gateway, ask.ranges.slice(i, i + REQUEST_RANGES));
        }
      }
      this.persist();
    } finally {
      this.checking = false;
    }
  }

  lost(limit = 100): LostRange[] {
    return (
      this.db
        .prepare(
          'SELECT meter, from_seq AS "from", to_seq AS "to", at, reason FROM lost ORDER BY id DESC LIMIT ?',
        )
        .all(limit) as LostRange[]
    ).reverse();
  }

  gapStats(): GapStats {
    let openMeters = 0;
    let missing = 0;
    for (const m of this.meters.values()) {
      if (m.since === null) continue;
      openMeters += 1;
      missing += m.missing;
    }
    return { openMeters, missing, ...this.stats };
  }

  close(): void {
    this.persist();
    this.db.close();
  }

  private add(meter: string): MeterGap | undefined {
    if (!this.opts.placeOf(meter)) return undefined;
    const m = fresh(0);
    this.meters.set(meter, m);
    return m;
  }

  private settle(m: MeterGap): void {
    if (m.done >= m.seen) {
      m.done = m.seen;
      m.since = null;
      m.replays = 0;
      m.missing = 0;
      m.lastAsk = -Infinity;
    } else if (m.since === null) {
      m.since = this.now();
    }
  }

  private lose(meter: string, from: number, to: number, reason: string): void {
    const m = this.meters.get(meter)!;
    this.dirty.add(meter);
    const at = this.now();
    this.db
      .prepare('INSERT INTO lost (meter, from_seq, to_seq, at, reason) VALUES (?, ?, ?, ?, ?)')
      .run(meter, from, to, at, reason);
    this.stats.lostRanges += 1;
    this.stats.lostReadings += to - from + 1;
    // Lost ranges are accounted for: `done` passes them once nothing before them is missing.
    if (from <= m.done + 1) m.done = Math.max(m.done, to);
    else m.accounted.push([from, to]);
    this.settle(m);
    this.opts.onLost({ meter, from, to, at, reason });
  }

  /** Writes the marks that changed, so that an ingest restart starts from what was verified. */
  private persist(): void {
    if (this.dirty.size === 0) return;
    const upsert = this.db.prepare(
      `INSERT INTO marks (meter, done, seen, since) VALUES (?, ?, ?, ?)
       ON CONFLICT(meter) DO UPDATE SET done = excluded.done, seen = excluded.seen, since = excluded.since`,
    );
    const tx = this.db.transaction(() => {
      for (const meter of this.dirty) {
        const m = this.meters.get(meter);
        if (m) upsert.run(meter, m.done, m.seen, m.since);
      }
    });
    tx();
    this.dirty.clear();
  }
}

function fresh(done: number): MeterGap {
  return { done, seen: done, since: null, lastAsk: -Infinity, replays: 0, missing: 0, accounted: [] };
}

/** `ranges` without the seqs in `minus` (both ascending, inclusive). */
export function subtract(ranges: [number, number][], minus: readonly [number, number][]): [number, number][] {
  if (minus.length === 0) return ranges;
  const sorted = [...minus].sort((p, q) => p[0] - q[0]);
  const out: [number, number][] = [];
  for (const [a, b] of ranges) {
    let start = a;
    for (const [x, y] of sorted) {
      if (y < start || x > b) continue;
      if (x > start) out.push([start, x - 1]);
      start = Math.max(start, y + 1);
    }
    if (start <= b) out.push([start, b]);
  }
  return out;
}
