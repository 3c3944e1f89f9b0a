import type { AuditLog } from '../../platform/audit/audit-log.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import { refusePayment } from './errors.ts';

/**
 * The clerk's queue of payment mismatches: money the provider and the ledger disagree about. Two
 * parts file into it: taking payments (a second payment of one order, a booking refused after the
 * provider took the money) and the daily reconciliation (missing, extra, amount). Each difference
 * is filed once per provider, kind and transaction, audited; a clerk closes it with a note of what
 * was done, audited, and it is never reopened.
 */

export type MismatchKind = 'missing' | 'extra' | 'amount' | 'second-payment';

export interface Mismatch {
  id: number;
  provider: string;
  date: string;
  kind: MismatchKind;
  transactionId: string;
  orderNo: string | null;
  accountId: string | null;
  statementFen: number | null;
  ledgerFen: number | null;
  foundAt: number;
  resolvedBy: string | null;
  resolvedAt: number | null;
  note: string | null;
}

/** A difference as the part that found it files it. */
export interface MismatchFiling {
  transactionId: string;
  paidAt: number;
  amountFen: number | null;
  orderNo: string | null;
  accountId: string | null;
  ledgerFen: number | null;
  /** The reconciled day (YYYY-MM-DD); none when found while taking a payment. */
  date?: string;
}

interface MismatchRow {
  id: number;
  provider: string;
  date: string;
  kind: MismatchKind;
  transaction_id: string;
  order_no: string | null;
  account_id: string | null;
  statement_fen: number | null;
  ledger_fen: number | null;
  found_at: number;
  resolved_by: string | null;
  resolved_at: number | null;
  note: string | null;
}

const toMismatch = (r: MismatchRow): Mismatch => ({
  id: r.id,
  provider: r.provider,
  date: r.date,
  kind: r.kind,
  transactionId: r.transaction_id,
  orderNo: r.order_no,
  accountId: r.account_id,
  statementFen: r.statement_fen,
  ledgerFen: r.ledger_fen,
  foundAt: r.found_at,
  resolvedBy: r.resolved_by,
  resolvedAt: r.resolved_at,
  note: r.note,
});

export interface MismatchQueueDeps {
  db: BackofficeDb;
  audit: AuditLog;
  clock: Clock;
  /** Who files: the payments system's own actor, in the audit log. */
  filer: string;
}

export class MismatchQueue {
  constructor(private readonly d: MismatchQueueDeps) {}

  /** Files a mismatch once (per provider, kind and transaction); returns whether it is new. */
  file(provider: string, kind: MismatchKind, m: MismatchFiling): boolean {
    const info = this.d.db
      .prepare(
        `INSERT OR IGNORE INTO payment_mismatches (provider, date, kind, transaction_id, order_no, account_id, statement_fen, ledger_fen, found_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        provider,
        m.date ?? '',
        kind,
        m.transactionId,
        m.orderNo,
        m.accountId,
        m.amountFen,
        m.ledgerFen,
        this.d.clock(),
      );
    if (info.changes === 0) return false;
    this.d.audit.append({
      actor: this.d.filer,
      action: 'payment.mismatch',
      subject: `payment-mismatch:${Number(info.lastInsertRowid)}`,
      after: { provider, kind, ...m },
    });
    return true;
  }

  /** Open mismatches (or all), oldest first. */
  list(open = true): Mismatch[] {
    return (
      this.d.db
        .prepare(`SELECT * FROM payment_mismatches ${open ? 'WHERE resolved_at IS NULL' : ''} ORDER BY id`)
        .all() as MismatchRow[]
    ).map(toMismatch);
  }

  /** A clerk closes a mismatch with what was done about it; audited, and never reopened. */
  resolve(by: string, id: number, note: string): Mismatch {
    const { db, audit, clock } = this.d;
    return db.transaction(() => {
      const r = db.prepare('SELECT * FROM payment_mismatches WHERE id = ?').get(id) as
        MismatchRow | undefined;
      if (!r) refusePayment('MISMATCH_NOT_FOUND', `no reconciliation mismatch ${id}`);
      if (r.resolved_at !== null)
        refusePayment('MISMATCH_RESOLVED', `mismatch ${id} was resolved by ${r.resolved_by}`);
      db.prepare('UPDATE payment_mismatches SET resolved_by = ?, resolved_at = ?, note = ? WHERE id = ?').run(
        by,
        clock(),
        note,
        id,
      );
      const after = toMismatch(
        db.prepare('SELECT * FROM payment_mismatches WHERE id = ?').get(id) as MismatchRow,
      );
      audit.append({
        actor: by,
        action: 'payment.mismatch-resolved',
        subject: `payment-mismatch:${id}`,
        before: toMismatch(r),
        after,
        reason: note,
      });
      return after;
    })();
  }
}
