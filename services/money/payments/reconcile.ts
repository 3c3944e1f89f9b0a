import type { AuditLog } from '../../platform/audit/audit-log.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import { localTimeToUtc } from '../../metering/consumption/zone.ts';
import { refusePayment } from './errors.ts';
import type { Payments } from './payments.ts';

/**
 * The daily reconciliation: the provider's statement file for a local day against what the ledger
 * booked through that provider for the day (payment_credits, by the provider's own payment time,
 * so both sides cut the day at the same instant). Each difference lands in the clerk's queue once:
 * - missing: the provider took the money and the ledger never booked it;
 * - extra: the ledger booked a payment the provider's statement does not have (reversed, or never paid);
 * - amount: both have it, with different amounts.
 * A statement line booked on another day (a clock at the edge of midnight) is matched all the
 * same, by transaction id. Refund lines are not the ledger's (a refund is booked when a supervisor
 * approves it) and are not compared here.
 */

export interface ReconciliationResult {
  provider: string;
  date: string;
  statementLines: number;
  ledgerLines: number;
  mismatches: {
    kind: 'missing' | 'extra' | 'amount';
    transactionId: string;
    orderNo: string | null;
    statementFen: number | null;
    ledgerFen: number | null;
    new: boolean;
  }[];
}

export interface ReconcileDeps {
  db: BackofficeDb;
  audit: AuditLog;
  payments: Payments;
  timezone: string;
  clock: Clock;
}

interface CreditRow {
  transaction_id: string;
  order_no: string;
  amount_fen: number;
  account_id: string;
}

export async function reconcile(
  d: ReconcileDeps,
  by: string,
  providerId: string,
  date: string,
): Promise<ReconciliationResult> {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m) refusePayment('INVALID_REQUEST', `date: a day is YYYY-MM-DD, got ${date}`);
  const [y, mo, da] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const from = localTimeToUtc(d.timezone, y, mo, da);
  const to = localTimeToUtc(d.timezone, y, mo, da + 1);
  const provider = d.payments.provider(providerId);
  let statement;
  try {
    statement = (await provider.statement(date)).filter((l) => l.kind === 'payment');
  } catch (err) {
    refusePayment('PROVIDER_UNAVAILABLE', (err as Error).message);
  }
  const creditQuery = `SELECT c.transaction_id, c.order_no, c.amount_fen, o.account_id FROM payment_credits c
    JOIN payment_orders o ON o.order_no = c.order_no WHERE c.provider = ?`;
  const booked = d.db
    .prepare(`${creditQuery} AND c.paid_at >= ? AND c.paid_at < ?`)
    .all(provider.id, from, to) as CreditRow[];
  const byTx = d.db.prepare(`${creditQuery} AND c.transaction_id = ?`);
  const orderOf = d.db.prepare('SELECT account_id FROM payment_orders WHERE order_no = ?');
  const result: ReconciliationResult = {
    provider: provider.id,
    date,
    statementLines: statement.length,
    ledgerLines: booked.length,
    mismatches: [],
  };
  return d.db.transaction(() => {
    const file = (
      kind: 'missing' | 'extra' | 'amount',
      x: {
        transactionId: string;
        orderNo: string | null;
        accountId: string | null;
        statementFen: number | null;
        ledgerFen: number | null;
        at: number;
      },
    ) => {
      const isNew = d.payments.queueMismatch(provider.id, kind, {
        transactionId: x.transactionId,
        paidAt: x.at,
        amountFen: x.statementFen,
        orderNo: x.orderNo,
        accountId: x.accountId,
        ledgerFen: x.ledgerFen,
        date,
      });
      result.mismatches.push({
        kind,
        transactionId: x.transactionId,
        orderNo: x.orderNo,
        statementFen: x.statementFen,
        ledgerFen: x.ledgerFen,
        new: isNew,
      });
    };
    const onStatement = new Set<string>();
    for (const line of statement) {
      onStatement.add(line.transactionId);
      const credit = byTx.get(provider.id, line.transactionId) as CreditRow | undefined;
      const account =
        credit?.account_id ??
        (orderOf.get(line.orderNo) as { account_id: string } | undefined)?.account_id ??
        null;
      const base = {
        transactionId: line.transactionId,
        orderNo: line.orderNo,
        accountId: account,
        statementFen: line.amountFen,
        at: line.at,
      };
      if (!credit) file('missing', { ...base, ledgerFen: null });
      else if (credit.amount_fen !== line.amountFen)
        file('amount', { ...base, ledgerFen: credit.amount_fen });
    }
    for (const c of booked) {
      if (!onStatement.has(c.transaction_id)) {
        file('extra', {
          transactionId: c.transaction_id,
          orderNo: c.order_no,
          accountId: c.account_id,
          statementFen: null,
          ledgerFen: c.amount_fen,
          at: from,
        });
      }
    }
    d.db
      .prepare(
        `INSERT INTO payment_reconciliations (provider, date, run_at, run_by, statement_lines, ledger_lines, mismatches)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        provider.id,
        date,
        d.clock(),
        by,
        result.statementLines,
        result.ledgerLines,
        result.mismatches.length,
      );
    d.audit.append({
      actor: by,
      action: 'payment.reconcile',
      subject: `payment-provider:${provider.id}`,
      after: {
        date,
        statementLines: result.statementLines,
        ledgerLines: result.ledgerLines,
        mismatches: result.mismatches.length,
      },
    });
    return result;
  })();
}

export interface Mismatch {
  id: number;
  provider: string;
  date: string;
  kind: 'missing' | 'extra' | 'amount' | 'second-payment';
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

interface MismatchRow {
  id: number;
  provider: string;
  date: string;
  kind: Mismatch['kind'];
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

/** The clerk's queue: open mismatches (or all), oldest first. */
export function mismatches(db: BackofficeDb, open = true): Mismatch[] {
  return (
    db
      .prepare(`SELECT * FROM payment_mismatches ${open ? 'WHERE resolved_at IS NULL' : ''} ORDER BY id`)
      .all() as MismatchRow[]
  ).map(toMismatch);
}

/** A clerk closes a mismatch with what was done about it; audited, and never reopened. */
export function resolveMismatch(d: ReconcileDeps, by: string, id: number, note: string): Mismatch {
  return d.db.transaction(() => {
    const r = d.db.prepare('SELECT * FROM payment_mismatches WHERE id = ?').get(id) as
      MismatchRow | undefined;
    if (!r) refusePayment('MISMATCH_NOT_FOUND', `no reconciliation mismatch ${id}`);
    if (r.resolved_at !== null)
      refusePayment('MISMATCH_RESOLVED', `mismatch ${id} was resolved by ${r.resolved_by}`);
    d.db
      .prepare('UPDATE payment_mismatches SET resolved_by = ?, resolved_at = ?, note = ? WHERE id = ?')
      .run(by, d.clock(), note, id);
    const after = toMismatch(
      d.db.prepare('SELECT * FROM payment_mismatches WHERE id = ?').get(id) as MismatchRow,
    );
    d.audit.append({
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
