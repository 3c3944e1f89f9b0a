import type { BackofficeDb } from '../../platform/db.ts';
import type { Fen } from '../billing/money.ts';

/**
 * The business office's takings in [from, to), straight from the two ledgers by SQL: prepaid sales
 * at the counter (top-ups a person recorded), post-paid payments the clerk recorded against
 * notices (credit set-offs moved no money and are left out), refunds paid out (negative). Online
 * top-ups (recorded by `payments:<provider>`) went to the provider's account, not through the
 * office: they are shown for information and reconciled with the provider (services/money/payments).
 */

export const RECON_METHODS = ['cash', 'card', 'transfer'] as const;
export type ReconMethod = (typeof RECON_METHODS)[number];

export interface Tally {
  count: number;
  fen: Fen;
}
export type ByMethod = Record<ReconMethod, Tally>;

export const emptyByMethod = (): ByMethod => ({
  cash: { count: 0, fen: 0 },
  card: { count: 0, fen: 0 },
  transfer: { count: 0, fen: 0 },
});

export interface Takings {
  prepaidSales: ByMethod;
  postpaid: ByMethod;
  /** Post-paid payments reversed (approved) in the half month, negative, by the payment's method. */
  reversals: ByMethod;
  refunds: ByMethod;
  /** Per method: sales + post-paid + reversals + refunds (reversals and refunds are negative). */
  net: Record<ReconMethod, Fen>;
  totalFen: Fen;
  online: Tally;
  /** Post-paid money per notice number (cash, card, transfer), for the inspection list. */
  perNotice: Record<string, Fen>;
}

const hasTable = (db: BackofficeDb, name: string) =>
  db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;

export function takingsBetween(db: BackofficeDb, from: number, to: number): Takings {
  const t: Takings = {
    prepaidSales: emptyByMethod(),
    postpaid: emptyByMethod(),
    reversals: emptyByMethod(),
    refunds: emptyByMethod(),
    net: { cash: 0, card: 0, transfer: 0 },
    totalFen: 0,
    online: { count: 0, fen: 0 },
    perNotice: {},
  };
  const add = (b: ByMethod, method: string, n: number, fen: number) => {
    const k = method as ReconMethod;
    b[k].count += n;
    b[k].fen += fen;
  };
  if (hasTable(db, 'prepaid_ledger')) {
    const rows = db
      .prepare(
        `SELECT type, method, instr(recorded_by, ':') > 0 AS online, COUNT(*) AS n, SUM(amount_fen) AS fen
           FROM prepaid_ledger WHERE at >= ? AND at < ? AND type IN ('topup', 'refund') AND method IS NOT NULL
          GROUP BY type, method, online`,
      )
      .all(from, to) as {
      type: 'topup' | 'refund';
      method: string;
      online: number;
      n: number;
      fen: number;
    }[];
    for (const r of rows) {
      if (r.type === 'topup' && r.online) {
        t.online.count += r.n;
        t.online.fen += r.fen;
      } else add(r.type === 'topup' ? t.prepaidSales : t.refunds, r.method, r.n, r.fen);
    }
  }
  if (hasTable(db, 'collection_payments')) {
    const rows = db
      .prepare(
        `SELECT n.number, p.method, COUNT(*) AS n, SUM(p.amount_fen) AS fen
           FROM collection_payments p JOIN payment_notices n ON n.id = p.notice
          WHERE p.at >= ? AND p.at < ? AND p.method <> 'credit' GROUP BY n.number, p.method`,
      )
      .all(from, to) as { number: string; method: string; n: number; fen: number }[];
    for (const r of rows) {
      add(t.postpaid, r.method, r.n, r.fen);
      t.perNotice[r.number] = (t.perNotice[r.number] ?? 0) + r.fen;
    }
  }
  // A reversal counts when it is approved: that is when the office gives the money back or
  // finds it was never taken.
  if (hasTable(db, 'payment_reversal_decisions')) {
    const rows = db
      .prepare(
        `SELECT n.number, p.method, COUNT(*) AS n, SUM(p.amount_fen) AS fen
           FROM payment_reversal_decisions d JOIN payment_reversals r ON r.id = d.reversal
           JOIN collection_payments p ON p.id = r.payment JOIN payment_notices n ON n.id = p.notice
          WHERE d.outcome = 'approved' AND d.decided_at >= ? AND d.decided_at < ? GROUP BY n.number, p.method`,
      )
      .all(from, to) as { number: string; method: string; n: number; fen: number }[];
    for (const r of rows) {
      add(t.reversals, r.method, r.n, -r.fen);
      t.perNotice[r.number] = (t.perNotice[r.number] ?? 0) - r.fen;
    }
  }
  for (const m of ['cash', 'card', 'transfer'] as const) {
    t.net[m] = t.prepaidSales[m].fen + t.postpaid[m].fen + t.reversals[m].fen + t.refunds[m].fen;
    t.totalFen += t.net[m];
  }
  return t;
}
