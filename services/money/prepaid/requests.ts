import type { Actor, Permission } from '../../platform/auth/roles.ts';
import type { PrepaidContext } from './context.ts';
import { assertCan, assertNotSelfApproval } from './duties.ts';
import { DecisionSchema, parse, refuse } from './inputs.ts';
import type { PaymentMethod, PrepaidRequest } from './types.ts';

/**
 * The two-person requests (refunds, meter resets, free quota): one person asks, another decides;
 * each decision is audited with the status before and after.
 */

export interface RequestRow {
  id: number;
  kind: PrepaidRequest['kind'];
  account_id: string;
  status: PrepaidRequest['status'];
  requested_by: string;
  requested_at: number;
  decided_by: string | null;
  decided_at: number | null;
  decision_reason: string | null;
  reason: string | null;
  amount_fen: number | null;
  method: PaymentMethod | null;
  meter: string | null;
  reset_at: number | null;
  register_before: number | null;
  register_after: number | null;
  period: string | null;
  kwh_milli: number | null;
  ledger_id: number | null;
}

export function toRequest(r: RequestRow): PrepaidRequest {
  return {
    id: r.id,
    kind: r.kind,
    accountId: r.account_id,
    status: r.status,
    requestedBy: r.requested_by,
    requestedAt: r.requested_at,
    decidedBy: r.decided_by,
    decidedAt: r.decided_at,
    decisionReason: r.decision_reason,
    reason: r.reason,
    amountFen: r.amount_fen,
    method: r.method,
    meter: r.meter,
    resetAt: r.reset_at,
    registerBefore: r.register_before,
    registerAfter: r.register_after,
    period: r.period,
    kwhMilli: r.kwh_milli,
    ledgerId: r.ledger_id,
  };
}

export function getRequest(ctx: PrepaidContext, id: number): PrepaidRequest {
  const r = ctx.db.prepare('SELECT * FROM prepaid_requests WHERE id = ?').get(id) as RequestRow | undefined;
  if (!r) refuse('REQUEST_NOT_FOUND', `no request ${id}`);
  return toRequest(r);
}

export function pendingRequests(ctx: PrepaidContext, kind?: PrepaidRequest['kind']): PrepaidRequest[] {
  const rows = ctx.db
    .prepare(
      `SELECT * FROM prepaid_requests WHERE status = 'pending' AND (? IS NULL OR kind = ?) ORDER BY id`,
    )
    .all(kind ?? null, kind ?? null) as RequestRow[];
  return rows.map(toRequest);
}

export function insertRequest(
  ctx: PrepaidContext,
  kind: PrepaidRequest['kind'],
  account: string,
  requestedBy: string,
  fields: Record<string, string | number | null>,
): number {
  const cols = Object.keys(fields);
  const info = ctx.db
    .prepare(
      `INSERT INTO prepaid_requests (kind, account_id, status, requested_by, requested_at${cols.map((c) => `, ${c}`).join('')})
       VALUES (?, ?, 'pending', ?, ?${cols.map(() => ', ?').join('')})`,
    )
    .run(kind, account, requestedBy, ctx.clock(), ...Object.values(fields));
  return Number(info.lastInsertRowid);
}

export function pendingOf(
  ctx: PrepaidContext,
  requestId: number,
  kind: PrepaidRequest['kind'],
): PrepaidRequest {
  if (!Number.isSafeInteger(requestId)) refuse('REQUEST_NOT_FOUND', `no request ${String(requestId)}`);
  const req = getRequest(ctx, requestId);
  if (req.kind !== kind)
    refuse('REQUEST_NOT_FOUND', `request ${requestId} is a ${req.kind} request, not ${kind}`);
  if (req.status !== 'pending')
    refuse('REQUEST_NOT_PENDING', `request ${requestId} is already ${req.status}`);
  return req;
}

export function quotaRequest(ctx: PrepaidContext, requestId: number): PrepaidRequest {
  if (!Number.isSafeInteger(requestId)) refuse('REQUEST_NOT_FOUND', `no request ${String(requestId)}`);
  const req = getRequest(ctx, requestId);
  if (req.kind !== 'free-quota') refuse('REQUEST_NOT_FOUND', `request ${requestId} is not a free quota`);
  if (req.status === 'approved')
    refuse('QUOTA_ALREADY_CONFIRMED', `free quota ${requestId} is already confirmed`);
  if (req.status !== 'pending') refuse('REQUEST_NOT_PENDING', `free quota ${requestId} was ${req.status}`);
  return req;
}

export function decide(
  ctx: PrepaidContext,
  by: Actor,
  req: PrepaidRequest,
  status: 'approved' | 'rejected',
  reason: string | undefined,
  ledgerId?: number,
): PrepaidRequest {
  ctx.db
    .prepare(
      `UPDATE prepaid_requests SET status = ?, decided_by = ?, decided_at = ?, decision_reason = ?, ledger_id = ?
        WHERE id = ? AND status = 'pending'`,
    )
    .run(status, by.id, ctx.clock(), reason ?? null, ledgerId ?? null, req.id);
  const after = getRequest(ctx, req.id);
  const verb = { refund: 'refund', 'meter-reset': 'meter-reset', 'free-quota': 'free-quota' }[req.kind];
  const action =
    status === 'rejected'
      ? `${verb}.reject`
      : req.kind === 'free-quota'
        ? 'free-quota.confirm'
        : `${verb}.approve`;
  ctx.audit.append({
    actor: by.id,
    action,
    subject: `${req.kind}:${req.id}`,
    before: { status: req.status },
    after: { status: after.status, ledgerId: after.ledgerId },
    ...(reason ? { reason } : {}),
  });
  return after;
}

/**
 * Records a request of `kind` waiting for a second person, audited as `action` on `subject` with
 * the request as it stands. Runs inside the caller's transaction, after its own checks.
 */
export function recordRequest(
  ctx: PrepaidContext,
  by: Actor,
  kind: PrepaidRequest['kind'],
  account: string,
  fields: Record<string, string | number | null>,
  audit: { action: string; subject: (id: number) => string; reason?: string },
): PrepaidRequest {
  const id = insertRequest(ctx, kind, account, by.id, fields);
  const req = getRequest(ctx, id);
  ctx.audit.append({
    actor: by.id,
    action: audit.action,
    subject: audit.subject(id),
    after: req,
    ...(audit.reason === undefined ? {} : { reason: audit.reason }),
  });
  return req;
}

/** Refuses the requester, and any account linked to them, as the second person on `req`. */
export function assertSecondPerson(ctx: PrepaidContext, by: Actor, req: PrepaidRequest): void {
  assertNotSelfApproval(req.requestedBy, by, 'approve it', { db: ctx.db, now: ctx.clock() });
}

/**
 * A second person (holding `permission`) rejects a pending request, found by `pending` (which
 * refuses one of another kind or already decided), with an optional reason.
 */
export function rejectRequest(
  ctx: PrepaidContext,
  by: Actor,
  permission: Permission,
  requestId: number,
  decision: { reason?: string },
  pending: (ctx: PrepaidContext, requestId: number) => PrepaidRequest,
): PrepaidRequest {
  assertCan(by, permission);
  const d = parse(DecisionSchema, decision);
  return ctx.tx(() => {
    const req = pending(ctx, requestId);
    assertSecondPerson(ctx, by, req);
    return decide(ctx, by, req, 'rejected', d.reason);
  });
}
