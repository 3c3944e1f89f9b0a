import type { BackofficeDb, Clock } from '../../platform/db.ts';
import { outageWording, type OutageNoticeFacts, type OutageNoticeKind } from './notice-words.ts';
import type { PlannedOutage, PlannedOutages } from './outages.ts';

/**
 * An approved outage's notice to every affected account that has a contact, through the
 * customer-notice channels (email to each customer's sign-in address, the campus messaging
 * platform's webhook per account), ahead of the window, once; and a second message withdrawing it
 * if the outage is cancelled.
 *
 * The channels are the notifier's (services/money/notices): given by the composition root, as
 * operations may not import money. Any object with this shape will do.
 *
 * Once, across crashes and restarts:
 * - The deliveries of an outage (one row per kind, channel and recipient, UNIQUE) are written in one
 *   transaction with a marker that they were; a crash before it leaves nothing, so the next start
 *   writes them; after it, they are there. Work is read from the outages table, never from memory,
 *   so a restart finds every approval or cancellation not yet turned into deliveries.
 * - A delivery is sent, then recorded sent. A crash between the two sends that one message again at
 *   the next start, with the same id, by which receivers de-duplicate (at least once; never a
 *   notice lost). A sent delivery is never sent again.
 * - A notice not yet sent when the window starts is recorded `late` and not sent: an "ahead" notice
 *   arriving during the outage would mislead.
 * - Cancelled before it was sent: the pending notice is recorded `withdrawn` and nobody is told
 *   anything. Cancelled after: everyone who was (or may have been: a delivery tried) told gets the
 *   withdrawal.
 */

/** Receivers de-duplicate by id; outage notices number from here so they never share one with a customer notice. */
export const OUTAGE_NOTICE_ID_BASE = 2 ** 40;

export interface OutageNoticeMessage {
  /** OUTAGE_NOTICE_ID_BASE + the delivery's row id: the same on every retry and after a restart. */
  id: number;
  account: string;
  /**
   * 'outage-ahead' or 'outage-withdrawn'. Typed as a string, and `level` as the customer notices'
   * own, so that the notifier's channels (whose messages carry their own kinds) fit as they are.
   */
  kind: string;
  level: number | null;
  to: string;
  subject: string;
  text: string;
  payload: Record<string, unknown>;
}

export interface OutageChannel {
  readonly channel: string;
  /** true: one message per customer contact with an email address; false: one per account. */
  readonly perCustomer: boolean;
  send(message: OutageNoticeMessage): Promise<void>;
}

export interface OutageContact {
  email: string | null;
  language: 'zh' | 'en';
}

export interface OutageNoticesOptions {
  db: BackofficeDb;
  outages: PlannedOutages;
  channels: readonly OutageChannel[];
  contacts: (account: string) => readonly OutageContact[];
  timezone: string;
  clock: Clock;
  /** Further tries of a refused delivery (default 3); the first retry after 30 s, doubling. */
  retries?: number;
  retryBaseMs?: number;
  onFailed?: (d: { id: number; channel: string; recipient: string; error: string }) => void;
}

export type DeliveryStatus = 'pending' | 'sent' | 'failed' | 'late' | 'withdrawn';

export interface OutageDelivery {
  id: number;
  outage: number;
  kind: OutageNoticeKind;
  account: string;
  channel: string;
  recipient: string;
  language: string;
  status: DeliveryStatus;
  attempts: number;
  lastError: string | null;
  sentAt: number | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS outage_notice_rounds (
  outage_id INTEGER NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('outage-ahead', 'outage-withdrawn')),
  at INTEGER NOT NULL,
  PRIMARY KEY (outage_id, kind)
);
CREATE TABLE IF NOT EXISTS outage_notices (
  id INTEGER PRIMARY KEY,
  outage_id INTEGER NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('outage-ahead', 'outage-withdrawn')),
  account TEXT NOT NULL,
  channel TEXT NOT NULL,
  recipient TEXT NOT NULL,
  language TEXT NOT NULL,
  subject TEXT NOT NULL,
  body TEXT NOT NULL,
  facts TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'late', 'withdrawn')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at INTEGER NOT NULL,
  last_error TEXT,
  sent_at INTEGER,
  UNIQUE (outage_id, kind, channel, recipient)
);
CREATE INDEX IF NOT EXISTS outage_notices_pending ON outage_notices (status, next_at);
`;

interface Row {
  id: number;
  outage_id: number;
  kind: OutageNoticeKind;
  account: string;
  channel: string;
  recipient: string;
  language: string;
  subject: string;
  body: string;
  facts: string;
  status: DeliveryStatus;
  attempts: number;
  last_error: string | null;
  sent_at: number | null;
}

export class OutageNotices {
  private readonly retries: number;
  private readonly retryBaseMs: number;
  private readonly channels = new Map<string, OutageChannel>();
  private work: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly o: OutageNoticesOptions) {
    this.retries = o.retries ?? 3;
    this.retryBaseMs = o.retryBaseMs ?? 30_000;
    for (const c of o.channels) this.channels.set(c.channel, c);
    o.db.exec(SCHEMA);
  }

  /** Turns approvals and cancellations into deliveries, then sends what is due; one round at a time. */
  kick(): Promise<void> {
    if (this.closed) return this.work;
    const round = this.work
      .catch(() => {})
      .then(() => {
        this.prepare();
        return this.deliver();
      });
    this.work = round.catch(() => {});
    return round;
  }

  settled(): Promise<void> {
    return this.work;
  }

  /** Writes the deliveries of every published outage not yet done; returns how many outages. */
  prepare(): number {
    const now = this.o.clock();
    const done = this.o.db.prepare('SELECT 1 FROM outage_notice_rounds WHERE outage_id = ? AND kind = ?');
    let n = 0;
    // Published and not over: approved ones are announced, cancelled ones withdrawn.
    for (const o of this.o.outages.list({ endsAfter: now, limit: 10_000 })) {
      if (o.publishedAt === null) continue;
      if (o.state === 'approved' && now < o.startsAt && !done.get(o.id, 'outage-ahead')) {
        this.o.db.transaction(() => this.announce(o, now))();
        n++;
      } else if (o.state === 'cancelled' && !done.get(o.id, 'outage-withdrawn')) {
        this.o.db.transaction(() => this.withdraw(o, now))();
        n++;
      }
    }
    return n;
  }

  private insert(o: PlannedOutage, kind: OutageNoticeKind, account: string, now: number) {
    const place = o.affected.buildings.find((b) => b.accounts.includes(account))?.name ?? o.affected.nodeName;
    const facts: OutageNoticeFacts = {
      ...{ outage: o.id, kind, utility: o.utility, place },
      ...{ startsAt: o.startsAt, endsAt: o.endsAt, reason: o.reason },
    };
    const add = this.o.db.prepare(
      `INSERT OR IGNORE INTO outage_notices
         (outage_id, kind, account, channel, recipient, language, subject, body, facts, status, next_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)`,
    );
    return (channel: OutageChannel, recipient: string, language: 'zh' | 'en') => {
      const w = outageWording(facts, language, this.o.timezone);
      add.run(
        o.id,
        kind,
        account,
        channel.channel,
        recipient,
        language,
        w.subject,
        w.text,
        JSON.stringify(facts),
        now,
      );
    };
  }

  private announce(o: PlannedOutage, now: number): void {
    for (const account of o.affected.accounts) {
      const add = this.insert(o, 'outage-ahead', account, now);
      for (const c of this.channels.values()) {
        if (!c.perCustomer) add(c, account, 'zh');
        else for (const p of this.o.contacts(account)) if (p.email) add(c, p.email, p.language);
      }
    }
    this.o.db
      .prepare("INSERT INTO outage_notice_rounds (outage_id, kind, at) VALUES (?, 'outage-ahead', ?)")
      .run(o.id, now);
  }

  private withdraw(o: PlannedOutage, now: number): void {
    // Not sent yet: nobody was told, nobody is.
    this.o.db
      .prepare(
        `UPDATE outage_notices SET status = 'withdrawn'
          WHERE outage_id = ? AND kind = 'outage-ahead' AND status = 'pending' AND attempts = 0`,
      )
      .run(o.id);
    const told = this.o.db
      .prepare(
        `SELECT * FROM outage_notices WHERE outage_id = ? AND kind = 'outage-ahead' AND status IN ('sent', 'failed', 'pending')`,
      )
      .all(o.id) as Row[];
    for (const r of told) {
      const c = this.channels.get(r.channel);
      if (!c) continue;
      // A delivery tried but not yet sent is stopped too: the withdrawal says what holds.
      if (r.status === 'pending')
        this.o.db.prepare("UPDATE outage_notices SET status = 'withdrawn' WHERE id = ?").run(r.id);
      this.insert(o, 'outage-withdrawn', r.account, now)(c, r.recipient, r.language === 'en' ? 'en' : 'zh');
    }
    this.o.db
      .prepare("INSERT INTO outage_notice_rounds (outage_id, kind, at) VALUES (?, 'outage-withdrawn', ?)")
      .run(o.id, now);
  }

  /** Sends every delivery that is due; a refusal is recorded and tried again later. */
  async deliver(): Promise<void> {
    const due = this.o.db
      .prepare(`SELECT * FROM outage_notices WHERE status = 'pending' AND next_at <= ? ORDER BY id LIMIT 500`)
      .all(this.o.clock()) as Row[];
    for (const d of due) {
      if (this.closed) return;
      const c = this.channels.get(d.channel);
      if (!c) continue;
      const facts = JSON.parse(d.facts) as OutageNoticeFacts;
      // Read again: a cancellation may have withdrawn it since the list was read.
      const current = this.o.db.prepare('SELECT status FROM outage_notices WHERE id = ?').get(d.id) as {
        status: DeliveryStatus;
      };
      if (current.status !== 'pending') continue;
      if (d.kind === 'outage-ahead' && this.o.clock() >= facts.startsAt) {
        this.o.db.prepare("UPDATE outage_notices SET status = 'late' WHERE id = ?").run(d.id);
        continue;
      }
      try {
        await c.send({
          id: OUTAGE_NOTICE_ID_BASE + d.id,
          account: d.account,
          kind: d.kind,
          level: null,
          to: d.recipient,
          subject: d.subject,
          text: d.body,
          payload: {
            ...{ kind: d.kind, account: d.account, outage: facts.outage, utility: facts.utility },
            ...{ place: facts.place, startsAt: facts.startsAt, endsAt: facts.endsAt, reason: facts.reason },
            text: {
              zh: outageWording(facts, 'zh', this.o.timezone),
              en: outageWording(facts, 'en', this.o.timezone),
            },
          },
        });
        this.o.db
          .prepare(
            "UPDATE outage_notices SET status = 'sent', attempts = attempts + 1, sent_at = ? WHERE id = ?",
          )
          .run(this.o.clock(), d.id);
      } catch (err) {
        const error = ((err as Error).message || String(err)).slice(0, 500);
        const attempts = d.attempts + 1;
        const failed = attempts > this.retries;
        this.o.db
          .prepare(
            'UPDATE outage_notices SET status = ?, attempts = ?, last_error = ?, next_at = ? WHERE id = ?',
          )
          .run(
            failed ? 'failed' : 'pending',
            attempts,
            error,
            this.o.clock() + this.retryBaseMs * 2 ** (attempts - 1),
            d.id,
          );
        if (failed) this.o.onFailed?.({ id: d.id, channel: d.channel, recipient: d.recipient, error });
      }
    }
  }

  /** The deliveries of one outage, in order. */
  deliveries(outage: number): OutageDelivery[] {
    const rows = this.o.db
      .prepare('SELECT * FROM outage_notices WHERE outage_id = ? ORDER BY id')
      .all(outage) as Row[];
    return rows.map((r) => ({
      ...{ id: r.id, outage: r.outage_id, kind: r.kind, account: r.account, channel: r.channel },
      ...{ recipient: r.recipient, language: r.language, status: r.status, attempts: r.attempts },
      ...{ lastError: r.last_error, sentAt: r.sent_at },
    }));
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.work.catch(() => {});
  }
}
