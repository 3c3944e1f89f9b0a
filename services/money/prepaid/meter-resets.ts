import { resetInstallations } from '../../metering/installations.ts';
import type { Installation } from '../../metering/storage.ts';
import type { Actor } from '../../platform/auth/roles.ts';
import { requireAccount, requireMeterOf } from './accounts.ts';
import type { PrepaidContext } from './context.ts';
import { assertCan } from './duties.ts';
import { MeterResetSchema, parse } from './inputs.ts';
import { book } from './ledger.ts';
import { assertSecondPerson, decide, pendingOf, recordRequest, rejectRequest } from './requests.ts';
import type { LedgerEntry, PrepaidRequest } from './types.ts';

/** Meter resets (register cleared or meter exchanged): requested by one person, approved by another. */

export function requestMeterReset(
  ctx: PrepaidContext,
  by: Actor,
  input: {
    account: string;
    meter: string;
    at: number;
    registerBefore?: number;
    registerAfter?: number;
    reason: string;
  },
): PrepaidRequest {
  assertCan(by, 'meter-reset.request');
  const m = parse(MeterResetSchema, input);
  return ctx.tx(() => {
    requireAccount(ctx, m.account);
    requireMeterOf(ctx, m.account, m.meter);
    return recordRequest(
      ctx,
      by,
      'meter-reset',
      m.account,
      {
        meter: m.meter,
        reset_at: m.at,
        register_before: m.registerBefore ?? null,
        register_after: m.registerAfter,
        reason: m.reason,
      },
      { action: 'meter-reset.request', subject: (id) => `meter-reset:${id}`, reason: m.reason },
    );
  });
}

export function approveMeterReset(ctx: PrepaidContext, by: Actor, requestId: number): LedgerEntry {
  assertCan(by, 'meter-reset.approve');
  return ctx.tx(() => {
    const req = pendingOf(ctx, requestId, 'meter-reset');
    assertSecondPerson(ctx, by, req);
    const entry = book(ctx, by.id, req.accountId, {
      type: 'meter-reset',
      amountFen: 0,
      recordedBy: req.requestedBy,
      approvedBy: by.id,
      meter: req.meter!,
      intervalStart: req.resetAt!,
      reason: req.reason!,
      requestId,
      detail: { registerBefore: req.registerBefore, registerAfter: req.registerAfter },
    });
    decide(ctx, by, req, 'approved', undefined, entry.id);
    return entry;
  });
}

export function rejectMeterReset(
  ctx: PrepaidContext,
  by: Actor,
  requestId: number,
  decision: { reason?: string } = {},
): PrepaidRequest {
  return rejectRequest(ctx, by, 'meter-reset.approve', requestId, decision, (c, id) =>
    pendingOf(c, id, 'meter-reset'),
  );
}

/**
 * The meter's register history as split by approved resets, for intervalConsumption: one
 * installation before the first reset, one between each pair, one open-ended after the last.
 * Empty when the meter was never reset (one open-ended installation is the default).
 */
export function installations(ctx: PrepaidContext, meter: string): Installation[] {
  return resetInstallations(ctx.db, meter);
}
