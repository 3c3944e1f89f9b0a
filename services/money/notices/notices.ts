import type { AuditLog } from '../../platform/audit/audit-log.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import { factsOf } from './events.ts';
import { wording, type NoticeFacts } from './messages.ts';
import type { NoticeKind, Notifier } from './notifier.ts';
import { NOTICES_SCHEMA } from './schema.ts';

/**
 * Notices to customers: low balance (two levels), cut-off ahead, restored. The service reads the
 * audit log from its cursor (at start, and after each committed entry), turns the entries that
 * matter (events.ts) into one recorded event each, and one delivery per channel and recipient;
 * then sends the pending deliveries, retrying a refused one with a growing wait until
 * `retries` more tries are spent, when it is recorded as failed with the channel's error.
 *
 * An account's meters each raise their own cut-off or restore: one account is told once per
 * episode (a cut-off ahead is not said again until something else was said to it).
 * A crash between a send and its record sends that one again at the next start (at least once);
 * receivers de-duplicate by the notice id, which each message carries.
 */

export interface Contact {
  /** An e-mail address, or null: no email for this one. */
  email: string | null;
  language: 'zh' | 'en';
}

export interface NoticesOptions {
  db: BackofficeDb;
  audit: AuditLog;
  notifiers: readonly Notifier[];
  /** The customers of an account who get email (their sign-ins' addresses and languages). */
  contacts: (account: string) => readonly Contact[];
  timezone: string;
  clock?: Clock;
  /** Further tries of a refused delivery (default 3); the first retry after 2 s, doubling. */
  retries?: number;
  retryBaseMs?: number;
  /** Told about a delivery that failed for good (the caller logs it). */
  onFailed?: (d: { id: number; channel: string; recipient: string; error: string }) => void;
  /** Told about a round that failed (the database, a contact lookup); the next entry tries again. */
  onError?: (err: unknown) => void;
}

export interface NoticeRecord {
  id: number;
  at: number;
  account: string;
  kind: NoticeKind;
  level: number | null;
  sourceSeq: number;
  deliveries: {
    id: number;
    channel: string;
    recipient: string;
    status: string;
    attempts: number;
    lastError: string | null;
    sentAt: number | null;
  }[];
}

interface DeliveryRow {
  id: number;
  event_id: number;
  channel: string;
  recipient: string;
  subject: string;
  body: string;
  attempts: number;
  account_id: string;
  kind: NoticeKind;
  level: number | null;
  facts: string;
}

export class Notices {
  private readonly clock: Clock;
  private readonly retries: number;
  private readonly retryBaseMs: number;
  private readonly channels = new Map<string, Notifier>();
  private work: Promise<void> = Promise.resolve();
  private readonly unsubscribe: () => void;
  private closed = false;

  constructor(private readonly o: NoticesOptions) {
    this.clock = o.clock ?? Date.now;
    this.retries = o.retries ?? 3;
    this.retryBaseMs = o.retryBaseMs ?? 2_000;
    for (const n of o.notifiers) this.channels.set(n.channel, n);
    o.db.exec(NOTICES_SCHEMA);
    // A new back office starts reading at the present: old alarms are not announced late.
    o.db.prepare('INSERT OR IGNORE INTO notice_cursor (id, seq) VALUES (1, ?)').run(o.audit.head()?.seq ?? 0);
    this.unsubscribe = o.audit.onAppend(() => void this.kick().catch((err: unknown) => o.onError?.(err)));
  }

  /** Reads what is new in the audit log and sends what is due; runs one at a time. */
  kick(): Promise<void> {
    if (this.closed) return this.work;
    // A failed round (the caller hears of it) must not stop every later one: chain on settled.
    const round = this.work
      .catch(() => {})
      .then(() => {
        this.record();
        return this.deliver();
      });
    this.work = round.catch(() => {});
    return round;
  }

  /** Resolves when no reading or sending is under way. */
  settled(): Promise<void> {
    return this.work;
  }

  /** Records the events of audit entries after the cursor; synchronous, one transaction per batch. */
  record(): number {
    let recorded = 0;
    for (;;) {
      const cursor = (
        this.o.db.prepare('SELECT seq FROM notice_cursor WHERE id = 1').get() as { seq: number }
      ).seq;
      const entries = this.o.audit.query({ afterSeq: cursor, limit: 500 });
      if (entries.length === 0) return recorded;
      this.o.db.transaction(() => {
        for (const e of entries) {
          const facts = factsOf(this.o.db, e);
          if (facts && !this.repeats(facts)) {
            this.recordEvent(e.seq, facts);
            recorded++;
          }
        }
        this.o.db.prepare('UPDATE notice_cursor SET seq = ? WHERE id = 1').run(entries.at(-1)!.seq);
      })();
    }
  }

  /** A cut-off ahead or a restore already said, with nothing said to the account since. */
  private repeats(f: NoticeFacts): boolean {
    if (f.kind === 'low-balance') return false;
    const last = this.o.db
      .prepare('SELECT kind FROM notice_events WHERE account_id = ? ORDER BY id DESC LIMIT 1')
      .get(f.account) as { kind: NoticeKind } | undefined;
    return last?.kind === f.kind;
  }

  private recordEvent(seq: number, f: NoticeFacts): void {
    const event = Number(
      this.o.db
        .prepare(
          'INSERT INTO notice_events (source_seq, at, account_id, kind, level, facts) VALUES (?, ?, ?, ?, ?, ?)',
        )
        .run(seq, f.at, f.account, f.kind, f.level, JSON.stringify(f)).lastInsertRowid,
    );
    const add = this.o.db.prepare(
      `INSERT OR IGNORE INTO notices (event_id, channel, recipient, language, subject, body, status, next_at)
       VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)`,
    );
    for (const n of this.channels.values()) {
      const to = n.perCustomer
        ? this.o.contacts(f.account).filter((c): c is Contact & { email: string } => !!c.email)
        : [{ email: f.account, language: 'zh' as const }];
      for (const c of to) {
        const w = wording(f, c.language, this.o.timezone);
        add.run(event, n.channel, c.email, c.language, w.subject, w.text, this.clock());
      }
    }
  }

  /** Sends every delivery that is due; a refusal is recorded and tried again later. */
  async deliver(): Promise<void> {
    const due = this.o.db
      .prepare(
        `SELECT n.id, n.event_id, n.channel, n.recipient, n.subject, n.body, n.attempts, e.account_id, e.kind, e.level, e.facts
           FROM notices n JOIN notice_events e ON e.id = n.event_id
          WHERE n.status = 'pending' AND n.next_at <= ? ORDER BY n.id LIMIT 200`,
      )
      .all(this.clock()) as DeliveryRow[];
    for (const d of due) {
      const n = this.channels.get(d.channel);
      if (!n) continue;
      const facts = JSON.parse(d.facts) as NoticeFacts;
      const both = { zh: wording(facts, 'zh', this.o.timezone), en: wording(facts, 'en', this.o.timezone) };
      try {
        await n.send({
          id: d.id,
          account: d.account_id,
          kind: d.kind,
          level: d.level,
          to: d.recipient,
          subject: d.subject,
          text: d.body,
          payload: {
            kind: d.kind,
            account: d.account_id,
            level: d.level,
            balanceFen: facts.balanceFen,
            at: facts.at,
            text: both,
          },
        });
        this.o.db
          .prepare("UPDATE notices SET status = 'sent', attempts = attempts + 1, sent_at = ? WHERE id = ?")
          .run(this.clock(), d.id);
      } catch (err) {
        const error = ((err as Error).message || String(err)).slice(0, 500);
        const attempts = d.attempts + 1;
        const failed = attempts > this.retries;
        this.o.db
          .prepare('UPDATE notices SET status = ?, attempts = ?, last_error = ?, next_at = ? WHERE id = ?')
          .run(
            failed ? 'failed' : 'pending',
            attempts,
            error,
            this.clock() + this.retryBaseMs * 2 ** (attempts - 1),
            d.id,
          );
        if (failed) this.o.onFailed?.({ id: d.id, channel: d.channel, recipient: d.recipient, error });
      }
    }
  }

  /** The notices of an account (or all), newest first, with each delivery. */
  list(account?: string, limit = 100): NoticeRecord[] {
    const events = this.o.db
      .prepare(`SELECT * FROM notice_events WHERE (? IS NULL OR account_id = ?) ORDER BY id DESC LIMIT ?`)
      .all(account ?? null, account ?? null, limit) as {
      id: number;
      at: number;
      account_id: string;
      kind: NoticeKind;
      level: number | null;
      source_seq: number;
    }[];
    const deliveries = this.o.db.prepare('SELECT * FROM notices WHERE event_id = ? ORDER BY id');
    return events.map((e) => ({
      id: e.id,
      at: e.at,
      account: e.account_id,
      kind: e.kind,
      level: e.level,
      sourceSeq: e.source_seq,
      deliveries: (
        deliveries.all(e.id) as {
          id: number;
          channel: string;
          recipient: string;
          status: string;
          attempts: number;
          last_error: string | null;
          sent_at: number | null;
        }[]
      ).map((d) => ({
        id: d.id,
        channel: d.channel,
        recipient: d.recipient,
        status: d.status,
        attempts: d.attempts,
        lastError: d.last_error,
        sentAt: d.sent_at,
      })),
    }));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe();
    await this.work.catch(() => {});
    for (const n of this.channels.values()) await n.close?.();
  }
}
