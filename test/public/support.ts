import type { FastifyInstance } from 'fastify';
import { OutagesSettingsSchema } from '../../config/schemas/operations-desk.ts';
import { publicRoutes } from '../../services/backoffice/public/routes.ts';
import { SqliteStore } from '../../adapters/sqlite/store.ts';
import { BillRuns } from '../../services/money/billing/bill-run.ts';
import { CapacityApplications } from '../../services/operations/capacity/capacity.ts';
import { parsePeriod } from '../../services/money/billing/period.ts';
import { TariffStore } from '../../services/money/billing/tariff-store.ts';
import { parseTariffTable } from '../../services/money/billing/tariffs.ts';
import { campusTree } from '../../services/metering/live/tree.ts';
import { PlannedOutages } from '../../services/operations/outages/outages.ts';
import { buildApi } from '../../services/platform/http/app.ts';
import { Users } from '../../services/platform/auth/users.ts';
import { TEST_SCRYPT_COST } from '../auth/setup.ts';
import { fixtureAccounts, fixtureTariffInput } from '../billing/fixture.ts';
import { backoffice, billing, local, MemoryValidatedSource, TZ } from '../billing/support.ts';
import { setup as outageSetup } from '../outages/support.ts';

/**
 * The public window on real services: the billing fixture's accounts (with holders' names and a
 * payroll code that must never be public) billed for July, August and September 2026, its
 * tariffs as version 1 of the tariff store, planned outages on the demo campus, and the public
 * routes in the back office's own API builder. The clock stands at 2 October 2026 09:00 local.
 */

export const NOW = local(2026, 10, 2, 9);

/** Q3 2026 for every fixture meter: simple steady days, so every month bills. */
function quarterSource(): MemoryValidatedSource {
  const src = new MemoryValidatedSource();
  const perDay: Record<string, [string, number]> = {
    'E-E1-101': ['energy_import_kwh', 3.2],
    'E-H-12-301': ['energy_import_kwh', 14],
    'W-H-12-301': ['volume_m3', 0.4],
    'E-CAFE-01': ['energy_import_kwh', 120.5],
    'E-CAFE-02': ['energy_import_kwh', 20],
    'W-LAUNDRY': ['volume_m3', 2.45],
  };
  for (const [meter, [q, v]] of Object.entries(perDay)) {
    let register = 1000;
    for (const [m, n] of [
      [7, 31],
      [8, 31],
      [9, 30],
    ] as const) {
      src.setDays(
        meter,
        q as 'energy_import_kwh' | 'volume_m3',
        [2026, m, 1],
        Array.from({ length: n }, () => v),
        register,
      );
      register += v * n;
    }
  }
  return src;
}

export async function publicFixture() {
  const bo = backoffice(NOW);
  const tariffs = parseTariffTable(fixtureTariffInput);
  const runs = new BillRuns({ ...bo, tariffs, source: quarterSource(), timezone: TZ });
  for (const m of ['2026-07', '2026-08', '2026-09'])
    await runs.run(billing, { period: parsePeriod(m, TZ), accounts: fixtureAccounts });
  const store = new TariffStore({ db: bo.db, audit: bo.audit, clock: bo.clock });
  store.importInitial(fixtureTariffInput, 'fixture');
  // Outages on the demo campus, on the same clock.
  const o = outageSetup();
  o.time.now = NOW;
  const outages = new PlannedOutages({
    db: o.db,
    audit: o.audit,
    clock: bo.clock,
    tree: campusTree(o.campus),
    settings: OutagesSettingsSchema.parse({}),
    accounts: () => new Map([['E-E1-101', ['PRE-E1-101']]]),
  });
  // Capacity applications on the demo campus (no readings: the review finds no peak).
  const readings = SqliteStore.open({ path: ':memory:' });
  const capacity = new CapacityApplications({
    ...{ db: o.db, audit: o.audit, clock: bo.clock, tree: campusTree(o.campus), store: readings },
    feePerUnitFen: () => 20_000,
    ratingOf: () => undefined,
    dayStart: (ts) => ts - (ts % 86_400_000),
  });
  const users = new Users({ db: bo.db, audit: bo.audit, clock: bo.clock, scryptCost: TEST_SCRYPT_COST });
  const app: FastifyInstance = await buildApi({
    auth: users,
    routes: publicRoutes({
      ...{ outages, timezone: TZ, clock: bo.clock, campusName: 'Demo University (invented)' },
      ...{ tariffs: store, billRuns: runs, capacity },
    }),
  });
  return { ...bo, runs, store, outages, capacity, readings, app };
}
