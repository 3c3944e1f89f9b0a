import { intervalConsumption } from '../../metering/consumption/consumption.ts';
import type { IntervalConsumption, ReadingStore } from '../../metering/storage.ts';
import type { Actor } from '../../platform/auth/roles.ts';
import { charge, monthOf } from '../billing/tariffs.ts';
import { accountView, requireVerified } from './accounts.ts';
import type { PrepaidContext } from './context.ts';
import { assertCan } from './duties.ts';
import { price } from './inputs.ts';
import { book } from './ledger.ts';
import { installations } from './meter-resets.ts';
import type { ConsumptionResult, SkipReason } from './types.ts';

/** Consumption debits: each local day per meter priced at the tariff in force, once. */

/** The cumulative register prepaid electricity is debited from. */
const METER_QUANTITY = 'energy_import_kwh' as const;

/**
 * Debits the account's metered consumption for the local days overlapping [from, to), read from
 * the store. Days not yet over, gaps and days already debited are skipped and listed.
 */
export async function debitConsumption(
  ctx: PrepaidContext,
  by: Actor,
  input: { account: string; from: number; to: number },
  store: ReadingStore,
): Promise<ConsumptionResult> {
  assertCan(by, 'consumption.debit');
  const account = accountView(ctx, input.account);
  if (account.tariffType !== 'verified') requireVerified(ctx, input.account);
  const intervals = await intervalConsumption(store, {
    meters: account.meters,
    quantity: METER_QUANTITY,
    from: input.from,
    to: input.to,
    step: '1d',
    timezone: ctx.tariffs.timezone,
    installations: account.meters.flatMap((m) => installations(ctx, m)),
  });
  return applyConsumption(ctx, by, input.account, intervals);
}

/**
 * Debits given interval consumption (what debitConsumption reads), idempotently per
 * (account, meter, interval). All debits of one call commit together with their audit entries.
 */
export function applyConsumption(
  ctx: PrepaidContext,
  by: Actor,
  accountId: string,
  intervals: readonly IntervalConsumption[],
): ConsumptionResult {
  assertCan(by, 'consumption.debit');
  return ctx.tx(() => {
    const row = requireVerified(ctx, accountId);
    const meters = new Set(accountView(ctx, accountId).meters);
    const now = ctx.clock();
    const tz = ctx.tariffs.timezone;
    const result: ConsumptionResult = { debited: [], skipped: [] };
    const sorted = [...intervals].sort((a, b) => a.start - b.start || (a.meter < b.meter ? -1 : 1));
    const sameOrOverlap = ctx.db.prepare(
      `SELECT interval_start, interval_end FROM prepaid_ledger
        WHERE type = 'debit' AND account_id = ? AND meter = ? AND interval_start < ? AND interval_end > ? LIMIT 1`,
    );
    const usedInMonth = ctx.db.prepare(
      `SELECT COALESCE(SUM(quantity_milli), 0) AS q FROM prepaid_ledger
        WHERE type = 'debit' AND account_id = ? AND month = ?`,
    );
    for (const iv of sorted) {
      const skip = (why: SkipReason) =>
        result.skipped.push({ meter: iv.meter, start: iv.start, end: iv.end, why });
      if (!meters.has(iv.meter)) {
        skip('not-on-account');
        continue;
      }
      if (iv.value === null || !Number.isFinite(iv.value) || iv.value < 0) {
        skip('no-value');
        continue;
      }
      if (iv.end > now) {
        skip('not-ended');
        continue;
      }
      const month = monthOf(iv.start, tz);
      if (monthOf(iv.end - 1, tz) !== month) {
        skip('crosses-month');
        continue;
      }
      const hit = sameOrOverlap.get(accountId, iv.meter, iv.end, iv.start) as
        { interval_start: number; interval_end: number } | undefined;
      if (hit) {
        skip(
          hit.interval_start === iv.start && hit.interval_end === iv.end
            ? 'already-debited'
            : 'overlaps-debited',
        );
        continue;
      }
      const prior = (usedInMonth.get(accountId, month) as { q: number }).q;
      const priced = price(ctx, () =>
        charge(ctx.tariffs, {
          utility: 'electricity',
          customerType: row.customer_type,
          intervals: [{ start: iv.start, end: iv.end, quantity: iv.value! }],
          priorUsage: { [month]: prior / 1000 },
        }),
      );
      result.debited.push(
        book(ctx, by.id, accountId, {
          type: 'debit',
          amountFen: priced.totalFen === 0 ? 0 : -priced.totalFen,
          recordedBy: by.id,
          meter: iv.meter,
          intervalStart: iv.start,
          intervalEnd: iv.end,
          quantityMilli: priced.quantityMilli,
          month,
          detail: { status: iv.status, components: priced.components },
        }),
      );
    }
    return result;
  });
}
