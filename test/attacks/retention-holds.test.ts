import { describe, expect, it } from 'vitest';
import { billingHolds } from '../../services/money/billing/retention-hold.ts';
import { parsePeriod } from '../../services/money/billing/period.ts';
import { type BillRun } from '../../services/money/billing/bill-run.ts';
import type { ReadingStore, RetentionPolicy } from '../../services/metering/storage.ts';
import { campusTree } from '../../services/metering/live/tree.ts';
import { veeHolds } from '../../services/metering/vee/retention-hold.ts';
import type { Actor } from '../../services/platform/auth/roles.ts';
import { accounts, campusWithReadings, NOW, period, TZ, billRunsOn } from '../billing/thread-campus.ts';
import { closedAfterEach } from '../helpers/closed-after-each.ts';

/**
 * The attack on retention's holds (money/billing/retention-hold.ts, metering/vee/retention-hold.ts)
 * and the store's roll-ups kept in the raw readings' stead: a meter added to a post-paid account
 * after its period began was held by nothing while it had no account, so a campus that keeps raw
 * readings for a short time (storage.retention.rawDays: 1) deleted the period's raw readings of
 * that meter before its first bill. Its bill must then be what it would have been with every raw
 * reading kept (the roll-ups' registers are the raw registers at each 15-minute boundary), not a
 * blocked meter and not another amount: recomputed here on an untouched copy of the same campus.
 */

const billing: Actor = { id: 'fin.zhang', kind: 'user', roles: ['billing'] };
const LATE = 'E-STAFF-3-201';

/** A back office's bill runs over the campus folder, in its own thread (thread-campus.ts). */
const backoffice = closedAfterEach((dir: string) => billRunsOn(dir, false));

const DAY = 86_400_000;
const UNHELD = 'H-HX-A-PRIMARY';
const firstDay = parsePeriod('2026-11-01..2026-11-02', TZ);
const lineOf = (r: BillRun, meter: string) => r.lines.find((l) => l.meter === meter);

describe('retention and a meter added to an account after its period began', () => {
  it('bills the meter as if its deleted raw readings were there', async () => {
    // The meter has no post-paid account yet when the first day of the month is billed.
    const before = accounts.filter((a) => !a.meters.some((m) => m.meter === LATE));
    const kept = await backoffice(await campusWithReadings());
    await kept.runs.run(billing, { period: firstDay, accounts: before });
    const reference = await kept.runs.run(billing, { period, accounts });
    expect(lineOf(reference, LATE)).toBeDefined();

    const pruned = await backoffice(await campusWithReadings());
    // A meter no one is billed on (the heat exchanger's primary side): nothing holds it.
    await pruned.store.writeReadings(
      Array.from({ length: 11 * 96 }, (_, i) => ({
        ...{ meter: UNHELD, ts: period.from - DAY + i * 900_000, seq: i + 1, quality: 'good' as const },
        ...{ values: { heat_kwh: 5000 + i }, site: 'east', gateway: 'gw', kind: 'heat' as const },
      })),
    );
    await pruned.runs.run(billing, { period: firstDay, accounts: before });
    // Retention runs while the meter has no post-paid account yet, with the holds the back office
    // gathers (parts/retention.ts): billing's, given the campus file's customer meters, and VEE's.
    const customers = Object.values(campusTree(pruned.campus).nodes)
      .filter((n) => n.account !== undefined)
      .map((n) => n.id);
    expect(customers).toContain(LATE);
    const holds = [...billingHolds(pruned.db, before, customers), ...veeHolds(pruned.db)];
    const policy: RetentionPolicy = { now: NOW, rawDays: 1, holds };
    const result = (
      pruned.store as ReadingStore & { applyRetention(p: RetentionPolicy): { readings: number } }
    ).applyRetention(policy);
    expect(result.readings).toBeGreaterThan(0);
    const raw = await pruned.store.readings(LATE, period.from, period.to);
    // Raw readings past rawDays go where nothing holds them…
    expect(result.readings).toBeGreaterThan(0);
    expect((await pruned.store.readings(UNHELD, period.from, NOW - 2 * DAY)).length).toBe(0);
    // …and those of its open period were kept, not left to the roll-ups (VEE validates raw only).
    expect(raw.length).toBeGreaterThanOrEqual(8 * 96);

    // The meter is added to its account; the period's first run bills it.
    const run = await pruned.runs.run(billing, { period, accounts });
    expect(run.blocked.filter((b) => b.meter === LATE)).toEqual([]);
    expect(lineOf(run, LATE)).toEqual(lineOf(reference, LATE));
    expect(run.totalFen).toBe(reference.totalFen);
    expect(run.digest).toBe(reference.digest);
  });
});
