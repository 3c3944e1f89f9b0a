import type { Actor } from '../../platform/auth/roles.ts';
import type { Fen } from '../billing/money.ts';
import { requireAccount, requireVerified } from './accounts.ts';
import type { PrepaidContext } from './context.ts';
import { assertCan } from './duties.ts';
import { assertAmount, CorrectionSchema, parse, refuse, TopUpSchema } from './inputs.ts';
import { book } from './ledger.ts';
import type { LedgerEntry, PaymentMethod } from './types.ts';

/**
 * Money in: sales (top-ups) with their payment references, each reference once, and a
 * supervisor's corrections. Both are booked on the ledger (ledger.ts).
 */

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

/**
 * Money paid through a payment provider (campus card, WeChat Pay or Alipay style), booked by the
 * payments service when the provider's signed notice or its answer to a query says the order is
 * paid. No person records it, so it belongs to no clerk's handover; `recordedBy` names the
 * provider's system actor. The reference is the provider's own transaction id: the same reference
 * filing as a counter sale (prepaid_payment_references) makes a second booking of one transaction
 * impossible, whatever path it comes by. Call it inside the caller's transaction when the caller
 * records its own row with it.
 */
export function creditFromProvider(
  ctx: PrepaidContext,
  input: {
    account: string;
    amountFen: Fen;
    method: PaymentMethod;
    reference: string;
    recordedBy: string;
    detail?: unknown;
  },
): LedgerEntry {
  assertAmount(input.amountFen);
  const key = paymentReferenceKey(input.reference);
  if (key === '') refuse('INVALID_REQUEST', 'reference: a provider payment needs its transaction id');
  return ctx.tx(() => {
    requireVerified(ctx, input.account);
    const dup = ctx.db.prepare('SELECT ledger_id FROM prepaid_payment_references WHERE key = ?').get(key) as
      { ledger_id: number } | undefined;
    if (dup) {
      refuse(
        'DUPLICATE_REFERENCE',
        `transaction ${input.reference} is already booked (ledger entry ${dup.ledger_id})`,
      );
    }
    const entry = book(ctx, input.recordedBy, input.account, {
      type: 'topup',
      amountFen: input.amountFen,
      recordedBy: input.recordedBy,
      method: input.method,
      reference: input.reference,
      ...(input.detail !== undefined ? { detail: input.detail } : {}),
    });
    ctx.db
      .prepare('INSERT INTO prepaid_payment_references (key, ledger_id) VALUES (?, ?)')
      .run(key, entry.id);
    return entry;
  });
}
