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
 *
 * While post-paid billing is in use, every customer meter of the campus file (`customerMeters`:
 * a meter with an account there) is held as a billed one is, billed yet or not: a meter added to
 * a post-paid account after its period began is billed for the whole period, its month's use
 * before the period counts towards its tiers, and VEE validates and estimates from raw readings
 * only. Without the hold a short rawDays deleted the period's start and its first bill was
 * blocked as "no meter yet", or priced at other tiers (test/attacks/retention-holds.test.ts).
 */
export function billingHolds(
  db: BackofficeDb,
  accounts: readonly BillingAccount[],
  customerMeters: readonly string[] = [],
): RetentionHold[] {
  const meters = new Set(accounts.flatMap((a) => a.meters.map((m) => m.meter)));
  if (meters.size === 0) return [];
  // The table is made by BillRuns at start; asked before any run it answers "nothing billed".
  const last = db.prepare('SELECT max(to_ts) AS open FROM bill_runs').get() as { open: number | null };
  const open = last.open ?? 0;
  const corrected = db
    .prepare('SELECT min(from_ts) AS first FROM bill_runs WHERE from_ts >= ?')
    .get(open - CORRECTION_WINDOW_MS) as { first: number | null };
  const from = Math.min(open, corrected.first ?? open);
  for (const m of customerMeters) meters.add(m);
  return [...meters].sort().map((meter) => ({ reason: 'billing-period-open', meter, from }));
}
