import type { BackofficeDb } from '../../platform/db.ts';
import type { RetentionHold } from '../../metering/storage.ts';
import type { BillingAccount } from './accounts.ts';
import { CORRECTION_WINDOW_MS } from './bill-run.ts';

/**
 * The raw readings post-paid billing still needs, per billed meter: everything since the end of
 * the last billed period (the open period, not billed yet: from the beginning when nothing was
 * ever billed), and the billed periods the next run re-prices when VEE corrects them (those
 * starting within CORRECTION_WINDOW_MS before the open period: an adjustment re-validates the
 * period from its raw readings, so a deleted day would turn into a spurious credit).
 */
export function billingHolds(db: BackofficeDb, accounts: readonly BillingAccount[]): RetentionHold[] {
  const meters = new Set(accounts.flatMap((a) => a.meters.map((m) => m.meter)));
  if (meters.size === 0) return [];
  // The table is made by BillRuns at start; asked before any run it answers "nothing billed".
  const last = db.prepare('SELECT max(to_ts) AS open FROM bill_runs').get() as { open: number | null };
  const open = last.open ?? 0;
  const corrected = db
    .prepare('SELECT min(from_ts) AS first FROM bill_runs WHERE from_ts >= ?')
    .get(open - CORRECTION_WINDOW_MS) as { first: number | null };
  const from = Math.min(open, corrected.first ?? open);
  return [...meters].sort().map((meter) => ({ reason: 'billing-period-open', meter, from }));
}
