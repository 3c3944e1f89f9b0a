import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../adapters/sqlite/store.ts';
import { parseVeeConfig } from '../../services/metering/vee/config.ts';
import { Vee } from '../../services/metering/vee/service.ts';
import { energyReport, type ReportSources } from '../../services/money/reports/energy-report.ts';
import { parsePeriod } from '../../services/money/reports/period.ts';
import { parseScope, type CustomerMeter } from '../../services/money/reports/scope.ts';
import { AuditLog } from '../../services/platform/audit/audit-log.ts';
import { openBackofficeDb, type BackofficeDb } from '../../services/platform/db.ts';
import { at, hourlyReadings, smallTree, TARIFFS, TZ, whOfDays } from './report-fixture.ts';

/**
 * Retention deletes raw readings older than rawDays and keeps the roll-ups: a report's "same period
 * last year" must not change when it does, for a prepaid meter (interval consumption from the
 * roll-ups) nor a post-paid one (VEE's validated days, which after retention come from the
 * versions validated before or the roll-ups). Run, apply the store's own retention, run again.
 */

const CUSTOMERS: Record<string, CustomerMeter> = {
  R1: { type: 'student-room', postPaid: true },
  R2: { type: 'student-room', postPaid: false },
  H1: { type: 'staff-household', postPaid: false },
};
const NOW = at(2026, 12, 3, 9);

const open: { store: SqliteStore; db: BackofficeDb }[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) {
    await o.store.close();
    o.db.close();
  }
});

describe('energy report after raw retention', () => {
  it('"same period last year" is the same before and after retention, recomputed by hand', async () => {
    const store = SqliteStore.open({ path: ':memory:' });
    const db = openBackofficeDb(':memory:');
    open.push({ store, db });
    await store.writeReadings(hourlyReadings([2025, 10, 31], [2026, 12, 1]));
    store.compact();
    const vee = new Vee({
      store,
      raw: { readings: (m, from, to) => store.readings(m, from, to) },
      db,
      audit: new AuditLog(db, () => NOW),
      config: parseVeeConfig({}),
      timezone: TZ,
      kindOf: () => 'electricity',
      clock: () => NOW,
    });
    const src: ReportSources = {
      tree: smallTree(),
      store,
      tariffs: TARIFFS,
      customerOf: (m) => CUSTOMERS[m],
      validated: (q) => vee.intervals(q),
      heatUnit: 'kWh',
      clock: () => NOW,
    };
    const run = () =>
      energyReport(src, parseScope('building:B', src.tree), parsePeriod('month', '2026-11', TZ));

    const before = (await run()).utilities[0]!;
    // November 2025 of the building's meter, from the formula: complete, no gap.
    expect(before.lastYear.value).toBe(whOfDays('B', 2025, 11, 1, 30) / 1000);
    expect(before.lastYear.gaps).toBe(0);
    expect(before.lastYear.costFen).toBeGreaterThan(0);

    const gone = store.applyRetention({ now: NOW, rawDays: 30, holds: [] });
    expect(gone.readings).toBeGreaterThan(4 * 300 * 24);
    expect(await store.readings('R1', at(2025, 10, 1), at(2026, 10, 1))).toEqual([]);

    const after = (await run()).utilities[0]!;
    expect(after.lastYear).toEqual(before.lastYear);
    expect(after.vsLastYear).toEqual(before.vsLastYear);
    expect(after.total).toEqual(before.total);
  });
});
