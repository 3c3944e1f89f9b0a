import type { Actor } from '../../platform/auth/roles.ts';
import type { Fen } from '../billing/money.ts';
import { requireAccount } from './accounts.ts';
import type { PrepaidContext } from './context.ts';
import { assertCan } from './duties.ts';
import { assertAmount, parse, refuse, RefundSchema } from './inputs.ts';
import { book, refundable } from './ledger.ts';
import { assertSecondPerson, decide, pendingOf, recordRequest, rejectRequest } from './requests.ts';
import type { LedgerEntry, PaymentMethod, PrepaidRequest } from './types.ts';

/** Refunds: a clerk asks, a supervisor other than the clerk approves, and only then is money booked out. */

/** A clerk asks to pay money back; nothing moves until a supervisor approves. */
export function requestRefund(
  ctx: PrepaidContext,
  by: Actor,
  input: { account: string; amountFen: Fen; method: PaymentMethod; reason: string },
): PrepaidRequest {
  assertCan(by, 'refunds.request');
  assertAmount(input?.amountFen);
  const r = parse(RefundSchema, input);
  return ctx.tx(() => {
    requireAccount(ctx, r.account);
    assertRefundable(ctx, r.account, r.amountFen);
    return recordRequest(
      ctx,
      by,
      'refund',
      r.account,
      { reason: r.reason, amount_fen: r.amountFen, method: r.method },
      { action: 'refund.request', subject: (id) => `refund-request:${id}`, reason: r.reason },
    );
  });
}

/** A supervisor other than the requester approves: the refund is booked, if the balance still allows it. */
export function approveRefund(ctx: PrepaidContext, by: Actor, requestId: number): LedgerEntry {
  assertCan(by, 'refunds.approve');
  return ctx.tx(() => {
    const req = pendingOf(ctx, requestId, 'refund');
    assertSecondPerson(ctx, by, req);
    assertRefundable(ctx, req.accountId, req.amountFen!);
    const entry = book(ctx, by.id, req.accountId, {
      type: 'refund',
      amountFen: -req.amountFen!,
      recordedBy: req.requestedBy,
      approvedBy: by.id,
      method: req.method!,
      reason: req.reason!,
      requestId,
    });
    decide(ctx, by, req, 'approved', undefined, entry.id);
    return entry;
  });
}

export function rejectRefund(
  ctx: PrepaidContext,
  by: Actor,
  requestId: number,
  decision: { reason?: string } = {},
): PrepaidRequest {
  return rejectRequest(ctx, by, 'refunds.approve', requestId, decision, (c, id) =>
    pendingOf(c, id, 'refund'),
  );
}

export function assertRefundable(ctx: PrepaidContext, account: string, amountFen: Fen): void {
  const max = refundable(ctx, account);
  if (amountFen > max) {
    refuse(
      'INSUFFICIENT_BALANCE',
      `a refund of ${amountFen} fen exceeds the refundable ${max} fen of ${account}`,
    );
  }
}
