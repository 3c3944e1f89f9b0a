import { isFen, type Fen } from '../billing/money.ts';
import type { PrepaidContext } from './context.ts';
import type { EntryType, LedgerEntry, PaymentMethod } from './types.ts';

/**
 * The ledger in integer fen: the balance is the sum of an account's entries and nothing else.
 * Every entry is appended here with its audit entry (money in is payments.ts).
 */

export interface LedgerRow {
  id: number;
  account_id: string;
  at: number;
  type: EntryType;
  amount_fen: number;
  recorded_by: string;
  approved_by: string | null;
  method: PaymentMethod | null;
  reference: string | null;
  reason: string | null;
  meter: string | null;
  interval_start: number | null;
  interval_end: number | null;
  quantity_milli: number | null;
  request_id: number | null;
  detail: string | null;
}

export interface NewEntry {
  type: EntryType;
  amountFen: Fen;
  recordedBy: string;
  approvedBy?: string;
  method?: PaymentMethod;
  reference?: string;
  reason?: string;
  meter?: string;
  intervalStart?: number;
  intervalEnd?: number;
  quantityMilli?: number;
  month?: string;
  requestId?: number;
  detail?: unknown;
}

export function toEntry(r: LedgerRow): LedgerEntry {
  return {
    id: r.id,
    accountId: r.account_id,
    at: r.at,
    type: r.type,
    amountFen: r.amount_fen,
    recordedBy: r.recorded_by,
    approvedBy: r.approved_by,
    method: r.method,
    reference: r.reference,
    reason: r.reason,
    meter: r.meter,
    intervalStart: r.interval_start,
    intervalEnd: r.interval_end,
    quantityMilli: r.quantity_milli,
    requestId: r.request_id,
    detail: r.detail === null ? null : (JSON.parse(r.detail) as unknown),
  };
}

/** The balance: the sum of the account's ledger entries, and nothing else. */
export function balance(ctx: PrepaidContext, id: string): Fen {
  const r = ctx.db
    .prepare('SELECT COALESCE(SUM(amount_fen), 0) AS fen FROM prepaid_ledger WHERE account_id = ?')
    .get(id) as { fen: number };
  return r.fen;
}

export function ledgerOf(ctx: PrepaidContext, id: string): LedgerEntry[] {
  return (
    ctx.db.prepare('SELECT * FROM prepaid_ledger WHERE account_id = ? ORDER BY id').all(id) as LedgerRow[]
  ).map(toEntry);
}

/** Where the account's consumption debits end so far (UTC ms), or null before the first one. */
export function lastDebitEnd(ctx: PrepaidContext, id: string): number | null {
  const row = ctx.db
    .prepare("SELECT MAX(interval_end) AS t FROM prepaid_ledger WHERE account_id = ? AND type = 'debit'")
    .get(id) as { t: number | null };
  return row.t;
}

/** What may be paid back: the balance less the free quota not yet used up by consumption. */
export function refundable(ctx: PrepaidContext, id: string): Fen {
  const r = ctx.db
    .prepare(
      `SELECT COALESCE(SUM(amount_fen), 0) AS balance,
              COALESCE(SUM(CASE WHEN type = 'free-quota' THEN amount_fen ELSE 0 END), 0) AS free,
              COALESCE(SUM(CASE WHEN type = 'debit' THEN -amount_fen ELSE 0 END), 0) AS used
         FROM prepaid_ledger WHERE account_id = ?`,
    )
    .get(id) as { balance: number; free: number; used: number };
  return Math.max(0, r.balance - Math.max(0, r.free - r.used));
}

/** Appends one ledger entry and its audit entry (with the balance before and after); call inside tx. */
export function book(ctx: PrepaidContext, actor: string, account: string, e: NewEntry): LedgerEntry {
  if (!isFen(e.amountFen)) throw new Error(`ledger amounts are whole fen, got ${e.amountFen}`);
  const before = balance(ctx, account);
  const info = ctx.db
    .prepare(
      `INSERT INTO prepaid_ledger (account_id, at, type, amount_fen, recorded_by, approved_by, method, reference,
         reason, meter, interval_start, interval_end, quantity_milli, month, request_id, detail)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .run(
      account,
      ctx.clock(),
      e.type,
      e.amountFen,
      e.recordedBy,
      e.approvedBy ?? null,
      e.method ?? null,
      e.reference ?? null,
      e.reason ?? null,
      e.meter ?? null,
      e.intervalStart ?? null,
      e.intervalEnd ?? null,
      e.quantityMilli ?? null,
      e.month ?? null,
      e.requestId ?? null,
      e.detail === undefined ? null : JSON.stringify(e.detail),
    );
  const entry = toEntry(
    ctx.db
      .prepare('SELECT * FROM prepaid_ledger WHERE id = ?')
      .get(Number(info.lastInsertRowid)) as LedgerRow,
  );
  const after = balance(ctx, account);
  ctx.audit.append({
    actor,
    action: `ledger.${e.type}`,
    subject: `account:${account}`,
    before: { balanceFen: before },
    after: { balanceFen: after, entry },
    ...(e.reason ? { reason: e.reason } : {}),
  });
  return entry;
}
