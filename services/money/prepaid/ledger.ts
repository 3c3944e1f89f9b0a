import type { Actor } from '../../platform/auth/roles.ts';
import { isFen, type Fen } from '../billing/money.ts';
import { requireAccount, requireVerified } from './accounts.ts';
import type { PrepaidContext } from './context.ts';
import { assertCan } from './duties.ts';
import { assertAmount, CorrectionSchema, parse, refuse, TopUpSchema } from './inputs.ts';
import type { EntryType, LedgerEntry, PaymentMethod } from './types.ts';

/**
 * The ledger in integer fen: the balance is the sum of an account's entries and nothing else.
 * Money in (top-ups, corrections) is booked here; every entry is appended with its audit entry.
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

/**
 * A payment reference as it is compared: the same receipt, card transaction or transfer number
 * whatever the letter case, full-width or half-width characters (a Chinese input method types
 * "ＰＡＹ-0001") or surrounding spaces.
 */
export function paymentReferenceKey(reference: string): string {
  return reference.normalize('NFKC').trim().toLowerCase();
}

/** A sale: money paid in at the counter (or by card or transfer), with its receipt reference. */
export function topUp(
  ctx: PrepaidContext,
  by: Actor,
  input: { account: string; amountFen: Fen; method: PaymentMethod; reference: string },
): LedgerEntry {
  assertCan(by, 'payments.record');
  assertAmount(input?.amountFen);
  const t = parse(TopUpSchema, input);
  const key = paymentReferenceKey(t.reference);
  if (key === '') refuse('INVALID_REQUEST', 'reference: a payment reference must have letters or digits');
  return ctx.tx(() => {
    requireVerified(ctx, t.account);
    // One payment, one reference, across methods: the same number booked again by card after
    // cash (or in other letters) would count the money twice.
    const dup = ctx.db
      .prepare(
        `SELECT l.account_id, l.method, l.reference FROM prepaid_payment_references r
           JOIN prepaid_ledger l ON l.id = r.ledger_id WHERE r.key = ?`,
      )
      .get(key) as { account_id: string; method: PaymentMethod; reference: string } | undefined;
    if (dup) {
      refuse(
        'DUPLICATE_REFERENCE',
        `reference ${t.reference} is already recorded as ${dup.method} ${dup.reference} on account ${dup.account_id} (references are compared across methods, whatever the letter case)`,
      );
    }
    const entry = book(ctx, by.id, t.account, {
      type: 'topup',
      amountFen: t.amountFen,
      recordedBy: by.id,
      method: t.method,
      reference: t.reference,
    });
    ctx.db
      .prepare('INSERT INTO prepaid_payment_references (key, ledger_id) VALUES (?, ?)')
      .run(key, entry.id);
    return entry;
  });
}

/**
 * Files the references of top-ups booked before references were compared this way. Where two old
 * top-ups share a key (both were booked before), the first keeps it; both stay in the ledger.
 */
export function fileOldPaymentReferences(ctx: PrepaidContext): void {
  const missing = ctx.db
    .prepare(
      `SELECT l.id, l.reference FROM prepaid_ledger l
         LEFT JOIN prepaid_payment_references r ON r.ledger_id = l.id
        WHERE l.type = 'topup' AND l.reference IS NOT NULL AND r.ledger_id IS NULL ORDER BY l.id`,
    )
    .all() as { id: number; reference: string }[];
  if (missing.length === 0) return;
  const file = ctx.db.prepare(
    'INSERT OR IGNORE INTO prepaid_payment_references (key, ledger_id) VALUES (?, ?)',
  );
  ctx.tx(() => {
    for (const m of missing) file.run(paymentReferenceKey(m.reference), m.id);
  });
}

/** A supervisor's correction of a ledger (either sign), with the reason. */
export function correct(
  ctx: PrepaidContext,
  by: Actor,
  input: { account: string; amountFen: Fen; reason: string },
): LedgerEntry {
  assertCan(by, 'ledger.correct');
  assertAmount(input?.amountFen, true);
  const c = parse(CorrectionSchema, input);
  return ctx.tx(() => {
    requireAccount(ctx, c.account);
    return book(ctx, by.id, c.account, {
      type: 'correction',
      amountFen: c.amountFen,
      recordedBy: by.id,
      reason: c.reason,
    });
  });
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
