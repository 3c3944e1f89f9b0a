import { localTimeToUtc } from '../../metering/consumption/zone.ts';
import type { Actor } from '../../platform/auth/roles.ts';
import { toSafeNumber, toScaled } from '../billing/money.ts';
import { charge, type CustomerType } from '../billing/tariffs.ts';
import { requireVerified } from './accounts.ts';
import type { PrepaidContext } from './context.ts';
import { assertCan } from './duties.ts';
import { freeQuotaAllowanceMilli, termOf } from './free-quota.ts';
import { FreeQuotaSchema, parse, price, refuse } from './inputs.ts';
import { book } from './ledger.ts';
import { assertSecondPerson, decide, quotaRequest, recordRequest, rejectRequest } from './requests.ts';
import type { LedgerEntry, PrepaidRequest } from './types.ts';

/**
 * Free quota: credited in kWh by one person, booked in fen once a supervisor other than that
 * person confirms it, within what the free-electricity rules allow.
 */

/** An operator credits free electricity for a period; it counts only once a supervisor confirms. */
export function creditFreeQuota(
  ctx: PrepaidContext,
  by: Actor,
  input: { account: string; period: string; kwh: number },
): PrepaidRequest {
  assertCan(by, 'free-quota.credit');
  const q = parse(FreeQuotaSchema, input);
  const kwhMilli = toSafeNumber(toScaled(q.kwh, 3), 'kWh');
  return ctx.tx(() => {
    const row = requireVerified(ctx, q.account);
    const existing = ctx.db
      .prepare(
        `SELECT id FROM prepaid_requests WHERE kind = 'free-quota' AND account_id = ? AND period = ? AND status <> 'rejected'`,
      )
      .get(q.account, q.period) as { id: number } | undefined;
    if (existing)
      refuse('QUOTA_ALREADY_CREDITED', `${q.account} already has free quota ${existing.id} for ${q.period}`);
    if (ctx.quotaRules) {
      const allowed = freeQuotaAllowanceMilli(
        ctx.quotaRules,
        { customerType: row.customer_type, occupants: row.occupants ?? 0 },
        q.period,
      );
      if (BigInt(kwhMilli) > allowed) {
        refuse(
          'QUOTA_NOT_ELIGIBLE',
          `the rules give ${q.account} ${Number(allowed) / 1000} kWh for ${q.period}, not ${q.kwh}`,
        );
      }
    }
    assertWithinTermCap(ctx, q.account, q.period, kwhMilli, ['pending', 'approved']);
    valueQuota(ctx, row.customer_type, q.period, kwhMilli);
    return recordRequest(
      ctx,
      by,
      'free-quota',
      q.account,
      { period: q.period, kwh_milli: kwhMilli },
      { action: 'free-quota.credit', subject: (id) => `free-quota:${id}` },
    );
  });
}

/** A supervisor other than the crediting person confirms: the quota is booked in fen. */
export function confirmFreeQuota(ctx: PrepaidContext, by: Actor, requestId: number): LedgerEntry {
  assertCan(by, 'free-quota.confirm');
  return ctx.tx(() => {
    const req = quotaRequest(ctx, requestId);
    assertSecondPerson(ctx, by, req);
    const row = requireVerified(ctx, req.accountId);
    // Checked again against what is confirmed: the cap may have been lowered since the credit.
    assertWithinTermCap(ctx, req.accountId, req.period!, req.kwhMilli!, ['approved']);
    const value = valueQuota(ctx, row.customer_type, req.period!, req.kwhMilli!);
    const entry = book(ctx, by.id, req.accountId, {
      type: 'free-quota',
      amountFen: value.totalFen,
      recordedBy: req.requestedBy,
      approvedBy: by.id,
      quantityMilli: req.kwhMilli!,
      month: req.period!,
      requestId,
      detail: { period: req.period, kwh: req.kwhMilli! / 1000, components: value.components },
    });
    decide(ctx, by, req, 'approved', undefined, entry.id);
    return entry;
  });
}

export function rejectFreeQuota(
  ctx: PrepaidContext,
  by: Actor,
  requestId: number,
  decision: { reason?: string } = {},
): PrepaidRequest {
  return rejectRequest(ctx, by, 'free-quota.confirm', requestId, decision, quotaRequest);
}

/** The quota's kWh valued as if used evenly over its month, at the tariff then in force. */
export function valueQuota(
  ctx: PrepaidContext,
  customerType: CustomerType,
  period: string,
  kwhMilli: number,
) {
  const [y, m] = period.split('-').map(Number) as [number, number];
  const tz = ctx.tariffs.timezone;
  const priced = price(ctx, () =>
    charge(ctx.tariffs, {
      utility: 'electricity',
      customerType,
      intervals: [
        {
          start: localTimeToUtc(tz, y, m, 1),
          end: localTimeToUtc(tz, y, m + 1, 1),
          quantity: kwhMilli / 1000,
        },
      ],
    }),
  );
  if (priced.totalFen <= 0) refuse('INVALID_AMOUNT', `${kwhMilli / 1000} kWh is worth less than one fen`);
  return priced;
}

/**
 * Refuses a grant that would take the account's free quota in the period's term over the campus
 * file's cap (`prepaid.freeQuota`), counting the grants in `counted` states (pending ones too when
 * crediting, so that two grants waiting side by side cannot pass it together). A period in no term
 * gets nothing.
 */
function assertWithinTermCap(
  ctx: PrepaidContext,
  account: string,
  period: string,
  kwhMilli: number,
  counted: readonly ('pending' | 'approved')[],
): void {
  const { capKwhPerRoomPerTerm: cap, terms } = ctx.freeQuota;
  const term = termOf(terms, period);
  if (!term) refuse('QUOTA_NOT_ELIGIBLE', `${period} is in no free-quota term of the campus file`);
  const granted = (
    ctx.db
      .prepare(
        `SELECT COALESCE(SUM(kwh_milli), 0) AS milli FROM prepaid_requests
          WHERE kind = 'free-quota' AND account_id = ? AND status IN (${counted.map(() => '?').join(', ')})
            AND period IN (${term.periods.map(() => '?').join(', ')})`,
      )
      .get(account, ...counted, ...term.periods) as { milli: number }
  ).milli;
  const capMilli = Math.round(cap * 1000);
  if (granted + kwhMilli > capMilli) {
    refuse(
      'QUOTA_CAP_EXCEEDED',
      `${account} already has ${granted / 1000} kWh of free quota in the ${term.label} term (${term.periods[0]} to ${term.periods.at(-1)}); ${kwhMilli / 1000} kWh more would pass the cap of ${cap} kWh per room per term`,
    );
  }
}
