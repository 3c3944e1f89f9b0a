import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { ensureAuditKey, type AuditKey } from './audit-key.ts';
import { appendOnlyTriggers, type BackofficeDb, type Clock } from '../db.ts';
import { canonicalJson } from './canonical-json.ts';

/**
 * The tamper-evident audit log: every state change of the back office, appended with who, when,
 * what it was before and after, and why. Each entry carries the hash of the previous one, so a
 * changed, inserted or deleted row breaks the chain from that entry on; a deleted *tail* is found
 * by comparing with a published chain head. There is no update or delete path in this code, and
 * triggers refuse UPDATE and DELETE on the table to anyone using the database normally.
 */

export interface AuditInput {
  /** User name or API token name of who did it; `system:<service>` for automatic actions. */
  actor: string;
  /** Dotted verb, e.g. `ledger.topup`, `relay.request`, `relay.approve`, `user.create`. */
  action: string;
  /** What it was done to, e.g. `account:E1-101`, `relay-request:42`, `user:li.wei`. */
  subject: string;
  before?: unknown;
  after?: unknown;
  reason?: string;
}

export interface AuditEntry {
  seq: number;
  at: number;
  actor: string;
  action: string;
  subject: string;
  before: unknown;
  after: unknown;
  reason: string | null;
  prevHash: string;
  hash: string;
}

export interface ChainHead {
  seq: number;
  hash: string;
  at: number;
}

export type VerifyResult =
  | { ok: true; entries: number; head: ChainHead | null }
  | { ok: false; entries: number; firstBroken: { seq: number; problem: string } };

/** The hash before the first entry. */
export const GENESIS_HASH = '0'.repeat(64);

const SCHEMA = `
CREATE TABLE IF NOT EXISTS audit_log (
  seq INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  subject TEXT NOT NULL,
  before TEXT,
  after TEXT,
  reason TEXT,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL,
  mac TEXT
);
CREATE INDEX IF NOT EXISTS audit_log_subject ON audit_log (subject, seq);
CREATE INDEX IF NOT EXISTS audit_log_actor ON audit_log (actor, seq);
${appendOnlyTriggers('audit_log', 'the audit log is append-only', 'audit_log', ['seq'])}`;

interface Row {
  seq: number;
  at: number;
  actor: string;
  action: string;
  subject: string;
  before: string | null;
  after: string | null;
  reason: string | null;
  prev_hash: string;
  hash: string;
  mac: string | null;
}

/** The MAC of an entry: HMAC-SHA256 of its hash under the audit key (audit-key.ts). */
export function entryMac(key: Buffer, hash: string): string {
  return createHmac('sha256', key).update(hash).digest('hex');
}

/** The hash of an entry: SHA-256 over the canonical JSON of every field but the hash itself. */
export function entryHash(e: Omit<AuditEntry, 'hash'>): string {
  return createHash('sha256')
    .update(
      canonicalJson({
        seq: e.seq,
        at: e.at,
        actor: e.actor,
        action: e.action,
        subject: e.subject,
        before: e.before ?? null,
        after: e.after ?? null,
        reason: e.reason ?? null,
        prevHash: e.prevHash,
      }),
    )
    .digest('hex');
}

function fromRow(r: Row): AuditEntry {
  return {
    seq: r.seq,
    at: r.at,
    actor: r.actor,
    action: r.action,
    subject: r.subject,
    before: r.before === null ? null : (JSON.parse(r.before) as unknown),
    after: r.after === null ? null : (JSON.parse(r.after) as unknown),
    reason: r.reason,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

/** A WHERE clause built up from filters: `add` keeps a condition only when its value is given. */
function conditions() {
  const where: string[] = [];
  const args: (string | number)[] = [];
  const add = (clause: string, arg: string | number | undefined): void => {
    if (arg === undefined) return;
    where.push(clause);
    args.push(arg);
  };
  return { where, args, add };
}

/** A LIKE pattern (ESCAPE backslash) for text starting with `p`, its own %, _ and backslash taken literally. */
const startsWith = (p: string | undefined): string | undefined =>
  p === undefined ? undefined : `${p.replace(/[\\%_]/g, '\\$&')}%`;

export interface AuditQuery {
  subject?: string;
  actor?: string;
  /** Prefix match, e.g. `relay.` */
  action?: string;
  from?: number;
  to?: number;
  afterSeq?: number;
  /** At most this many entries (1 to 10,000; 1000 unless given). */
  limit?: number;
  /** The newest entries first (for "the last 20 changes"); oldest first unless given. */
  newestFirst?: boolean;
}

/** One page of a search, newest first (the audit page and `GET /api/audit/entries`). */
export interface AuditSearch {
  /** Exactly this actor. */
  actor?: string;
  /** A prefix of the action key: `ledger.` or `ledger.topup`. */
  action?: string;
  /** A prefix of the subject: `account:` or `account:E1-101` (exact ids are prefixes of themselves). */
  subject?: string;
  /** UTC ms, inclusive. */
  from?: number;
  /** UTC ms, exclusive. */
  to?: number;
  /**
   * Only entries up to this sequence number: the head when the first page was read, so entries
   * appended while someone pages do not shift every later page by one.
   */
  maxSeq?: number;
  offset?: number;
  /** 1 to 200; 50 unless given. */
  limit?: number;
}

export interface AuditSearchPage {
  entries: AuditEntry[];
  /** How many entries match in all (up to maxSeq). */
  total: number;
  /** The maxSeq the page was read at: pass it back for the next page. */
  maxSeq: number;
  offset: number;
  limit: number;
}

/** The triggers that refuse UPDATE and DELETE; `missingTriggers` names any that were dropped. */
export const APPEND_ONLY_TRIGGERS = [
  'audit_log_no_update',
  'audit_log_no_delete',
  'audit_log_no_replace',
] as const;

export class AuditLog {
  private readonly insert;
  private readonly last;
  private readonly hashAt;
  private readonly appendTx;
  private readonly listeners = new Set<(e: AuditEntry) => void>();

  /**
   * Creates the table and its triggers if they are missing, unless `db` was opened read-only
   * (`audit verify` opens it so, to look at the evidence without touching it).
   */
  constructor(
    private readonly db: BackofficeDb,
    private readonly clock: Clock = Date.now,
    /**
     * The MAC key (audit-key.ts): entries from `since` on are written with, and verified against,
     * an HMAC of their hash. Without it entries carry no MAC and verify checks none.
     */
    private readonly key: AuditKey | null = null,
  ) {
    if (!db.readonly) {
      db.exec(SCHEMA);
      const columns = db.prepare('PRAGMA table_info(audit_log)').all() as { name: string }[];
      if (!columns.some((c) => c.name === 'mac')) db.exec('ALTER TABLE audit_log ADD COLUMN mac TEXT');
    }
    this.insert = db.prepare(
      `INSERT INTO audit_log (seq, at, actor, action, subject, before, after, reason, prev_hash, hash, mac)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.last = db.prepare('SELECT seq, hash, at FROM audit_log ORDER BY seq DESC LIMIT 1');
    this.hashAt = db.prepare('SELECT hash FROM audit_log WHERE seq = ?').pluck();
    // Reading the last entry and inserting the next one are one step, also when `append` is called
    // outside a transaction; inside the caller's transaction this becomes a savepoint.
    this.appendTx = db.transaction((input: AuditInput) => this.appendNow(input));
  }

  /**
   * Appends one entry. Synchronous on purpose: call it inside the same `db.transaction` as the
   * change it records, so both commit or neither does.
   */
  append(input: AuditInput): AuditEntry {
    if (!input.actor || !input.action || !input.subject) {
      throw new Error('an audit entry needs an actor, an action and a subject');
    }
    const entry = this.appendTx(input);
    for (const l of this.listeners) queueMicrotask(() => this.notifyCommitted(l, entry));
    return entry;
  }

  private appendNow(input: AuditInput): AuditEntry {
    const prev = this.last.get() as { seq: number; hash: string; at: number } | undefined;
    const partial = {
      seq: (prev?.seq ?? 0) + 1,
      // Never earlier than the entry before, even if the wall clock stepped back.
      at: Math.max(this.clock(), prev?.at ?? 0),
      actor: input.actor,
      action: input.action,
      subject: input.subject,
      // Round-tripped through JSON so the stored, hashed and returned values are the same.
      before: input.before === undefined ? null : (JSON.parse(canonicalJson(input.before)) as unknown),
      after: input.after === undefined ? null : (JSON.parse(canonicalJson(input.after)) as unknown),
      reason: input.reason ?? null,
      prevHash: prev?.hash ?? GENESIS_HASH,
    };
    const entry: AuditEntry = { ...partial, hash: entryHash(partial) };
    this.insert.run(
      entry.seq,
      entry.at,
      entry.actor,
      entry.action,
      entry.subject,
      entry.before === null ? null : canonicalJson(entry.before),
      entry.after === null ? null : canonicalJson(entry.after),
      entry.reason,
      entry.prevHash,
      entry.hash,
      this.key && entry.seq >= this.key.since ? entryMac(this.key.key, entry.hash) : null,
    );
    return entry;
  }

  /**
   * Tells a listener about an entry once the caller's transaction is over, and only if it
   * committed: an entry rolled back with its change must not be published as the chain head.
   */
  private notifyCommitted(listener: (e: AuditEntry) => void, entry: AuditEntry): void {
    if (!this.db.open) return;
    if (this.db.inTransaction) {
      // A transaction held open across awaits (manual BEGIN): ask again when it may be over.
      setTimeout(() => this.notifyCommitted(listener, entry), 10);
      return;
    }
    if (this.hashAt.get(entry.seq) !== entry.hash) return;
    try {
      listener(entry);
    } catch {
      // A failing listener (a publisher that is down) must not take the back office with it on an
      // uncaught exception; listeners report their own faults.
    }
  }

  /**
   * Called after each committed append (on a microtask, outside the caller's transaction); never
   * for an entry whose transaction rolled back.
   */
  onAppend(listener: (e: AuditEntry) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Append-only triggers that are missing: someone dropped them to edit or delete entries. */
  missingTriggers(): string[] {
    const present = new Set(
      this.db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'")
        .pluck()
        .all() as string[],
    );
    return APPEND_ONLY_TRIGGERS.filter((t) => !present.has(t));
  }

  head(): ChainHead | null {
    const r = this.last.get() as ChainHead | undefined;
    return r ?? null;
  }

  query(q: AuditQuery = {}): AuditEntry[] {
    const { where, args, add } = conditions();
    add('subject = ?', q.subject);
    add('actor = ?', q.actor);
    add("action LIKE ? ESCAPE '\\'", startsWith(q.action));
    add('at >= ?', q.from);
    add('at < ?', q.to);
    add('seq > ?', q.afterSeq);
    const limit = Number.isFinite(q.limit) ? Math.min(Math.max(1, Math.trunc(q.limit!)), 10_000) : 1000;
    const sql =
      `SELECT * FROM audit_log${where.length ? ` WHERE ${where.join(' AND ')}` : ''}` +
      ` ORDER BY seq${q.newestFirst ? ' DESC' : ''} LIMIT ${limit}`;
    return (this.db.prepare(sql).all(...args) as Row[]).map(fromRow);
  }

  /**
   * One page of matching entries, newest first, with the number that match in all: the database
   * filters and counts, so a log of a million entries is never sent to a browser to be filtered.
   */
  search(q: AuditSearch = {}): AuditSearchPage {
    const { where, args, add } = conditions();
    const maxSeq = q.maxSeq ?? this.head()?.seq ?? 0;
    add('seq <= ?', maxSeq);
    add('actor = ?', q.actor);
    add("action LIKE ? ESCAPE '\\'", startsWith(q.action));
    add("subject LIKE ? ESCAPE '\\'", startsWith(q.subject));
    add('at >= ?', q.from);
    add('at < ?', q.to);
    const limit = Math.min(Math.max(1, Math.trunc(q.limit ?? 50)), 200);
    const offset = Math.max(0, Math.trunc(q.offset ?? 0));
    const clause = ` WHERE ${where.join(' AND ')}`;
    const total = this.db
      .prepare(`SELECT count(*) FROM audit_log${clause}`)
      .pluck()
      .get(...args) as number;
    const rows = this.db
      .prepare(`SELECT * FROM audit_log${clause} ORDER BY seq DESC LIMIT ? OFFSET ?`)
      .all(...args, limit, offset) as Row[];
    return { entries: rows.map(fromRow), total, maxSeq, offset, limit };
  }

  /** The action keys in the log (of one actor, when given): the audit page's action filter. */
  actions(actor?: string): string[] {
    return (
      actor === undefined
        ? this.db.prepare('SELECT DISTINCT action FROM audit_log ORDER BY action')
        : this.db.prepare('SELECT DISTINCT action FROM audit_log WHERE actor = ? ORDER BY action')
    )
      .pluck()
      .all(...(actor === undefined ? [] : [actor])) as string[];
  }

  /**
   * Walks the whole chain and names the first entry that does not fit: a row whose content no
   * longer matches its hash (edited), whose prevHash is not its predecessor's hash, or a gap in
   * the sequence (deleted rows). With `expectedHead` (a published head), also finds a log cut
   * short or rewritten after that head was published.
   */
  verify(expectedHead?: { seq: number; hash: string }): VerifyResult {
    let prevHash = GENESIS_HASH;
    let expectedSeq = 1;
    let entries = 0;
    let head: ChainHead | null = null;
    for (const row of this.db.prepare('SELECT * FROM audit_log ORDER BY seq').iterate() as Iterable<Row>) {
      entries++;
      const broken = (problem: string): VerifyResult => ({
        ok: false,
        entries,
        firstBroken: { seq: row.seq, problem },
      });
      if (row.seq !== expectedSeq) {
        return {
          ok: false,
          entries,
          firstBroken: {
            seq: expectedSeq,
            problem: `entry ${expectedSeq}${row.seq > expectedSeq + 1 ? `–${row.seq - 1}` : ''} missing (deleted?); next entry is ${row.seq}`,
          },
        };
      }
      let entry: AuditEntry;
      try {
        entry = fromRow(row);
      } catch {
        return broken(`entry ${row.seq} holds unreadable before/after data`);
      }
      if (row.prev_hash !== prevHash) {
        return broken(`entry ${row.seq} does not follow entry ${row.seq - 1} (prevHash differs)`);
      }
      const { hash: _stored, ...content } = entry;
      if (entryHash(content) !== row.hash) {
        return broken(`entry ${row.seq} was changed after it was written (content does not match its hash)`);
      }
      if (this.key && row.seq >= this.key.since && !macMatches(this.key.key, row)) {
        return broken(
          `entry ${row.seq} does not carry the audit key's MAC: it was written or rewritten by someone without the key (every later hash may have been recomputed to match)`,
        );
      }
      if (expectedHead && row.seq === expectedHead.seq && row.hash !== expectedHead.hash) {
        return broken(`entry ${row.seq} differs from the published chain head (history rewritten)`);
      }
      prevHash = row.hash;
      expectedSeq++;
      head = { seq: row.seq, hash: row.hash, at: row.at };
    }
    if (expectedHead && (head?.seq ?? 0) < expectedHead.seq) {
      return {
        ok: false,
        entries,
        firstBroken: {
          seq: (head?.seq ?? 0) + 1,
          problem: `the log ends at entry ${head?.seq ?? 0} but entry ${expectedHead.seq} was published (entries deleted)`,
        },
      };
    }
    return { ok: true, entries, head };
  }
}

function macMatches(key: Buffer, row: Row): boolean {
  if (typeof row.mac !== 'string' || !/^[0-9a-f]{64}$/.test(row.mac)) return false;
  return timingSafeEqual(Buffer.from(row.mac, 'hex'), Buffer.from(entryMac(key, row.hash), 'hex'));
}

/**
 * The back office's audit log with its MAC key from `keyFile`, made on first use to cover every
 * entry after the newest one now.
 */
export function openAuditLog(db: BackofficeDb, clock: Clock, keyFile: string): AuditLog {
  const hasTable = db
    .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_log'")
    .get();
  const head = hasTable
    ? ((db.prepare('SELECT max(seq) FROM audit_log').pluck().get() as number | null) ?? 0)
    : 0;
  return new AuditLog(db, clock, ensureAuditKey(keyFile, head));
}
