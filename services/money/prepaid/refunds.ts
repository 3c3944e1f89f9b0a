import type { Actor } from '../../platform/auth/roles.ts';
import type { Fen } from '../billing/money.ts';
import { requireAccount } from './accounts.ts';
import type { PrepaidContext } from './context.ts';
import { assertCan, assertNotSelfApproval } from './duties.ts';
import { assertAmount, DecisionSchema, parse, refuse, RefundSchema } from './inputs.ts';
import { book, refundable } from './ledger.ts';
import { decide, getRequest, insertRequest, pendingOf } from './requests.ts';
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
    const id = insertRequest(ctx, 'refund', r.account, by.id, {
      reason: r.reason,
      amount_fen: r.amountFen,
      method: r.method,
    });
    const req = getRequest(ctx, id);
    ctx.audit.append({
      actor: by.id,
      action: 'refund.request',
      subject: `refund-request:${id}`,
      after: req,
      reason: r.reason,
    });
    return req;
  });
}

/** A supervisor other than the requester approves: the refund is booked, if the balance still allows it. */
export function approveRefund(ctx: PrepaidContext, by: Actor, requestId: number): LedgerEntry {
  assertCan(by, 'refunds.approve');
  return ctx.tx(() => {
    const req = pendingOf(ctx, requestId, 'refund');
    assertNotSelfApproval(req.requestedBy, by, 'approve it', { db: ctx.db, now: ctx.clock() });
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
  assertCan(by, 'refunds.approve');
  const d = parse(DecisionSchema, decision);
  return ctx.tx(() => {
    const req = pendingOf(ctx, requestId, 'refund');
    assertNotSelfApproval(req.requestedBy, by, 'approve it', { db: ctx.db, now: ctx.clock() });
    return decide(ctx, by, req, 'rejected', d.reason);
  });
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
