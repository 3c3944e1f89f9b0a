import type { AuditLog } from '../../platform/audit/audit-log.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import { localTimeToUtc } from '../../metering/consumption/zone.ts';
import { refusePayment } from './errors.ts';
import type { MismatchQueue } from './mismatch-queue.ts';
import type { PaymentProvider } from './provider.ts';

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
  /** The configured provider by id (refused when there is none). */
  provider: (id: string) => PaymentProvider;
  /** Where each difference is filed for the clerk, once. */
  queue: MismatchQueue;
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
  const provider = d.provider(providerId);
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
      const isNew = d.queue.file(provider.id, kind, {
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
