import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../adapters/sqlite/store.ts';
import { parseTariffTable, type TariffTable } from '../../services/money/billing/tariffs.ts';
import { energyReport, type EnergyReport } from '../../services/money/reports/energy-report.ts';
import { reportRoutes, type ReportRouteDeps } from '../../services/money/reports/routes.ts';
import { fixtureTariffInput } from '../billing/fixture.ts';
import { at, hourlyReadings, smallTree, TARIFFS, TZ } from '../reports/report-fixture.ts';

/**
 * The attack on sharing a report while it is computed (in-flight.ts, keyed in routes.ts): whoever
 * asks the same report meanwhile gets the first asker's answer, so the key must hold everything
 * that changes the answer. Who may see it is not in the key on purpose: the report depends on no
 * one's role (every holder of readings.view sees the same campus, building or customer type) and
 * the permission is checked before the handler runs; the language and the format are applied
 * after the sharing. What does change it: the scope, the period, each meter's customer, and the
 * tariff table in force. A tariff version approved while a yearly report computes must be in the
 * report asked after it, as it is in the next report asked once this one is done.
 */

const stores: SqliteStore[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
});

/** The same tariffs without the student-room price change of 2026-11-16: another version. */
const WITHOUT_CHANGE = parseTariffTable({
  timezone: TZ,
  tariffs: fixtureTariffInput.tariffs.filter(
    (t) =>
      t.utility === 'electricity' &&
      ((t.customerTypes.includes('student-room') && t.effectiveFrom === '2024-01-01') ||
        (t.customerTypes.includes('staff-household') && t.effectiveFrom === '2024-01-01')),
  ),
});

const roomsCost = (r: EnergyReport): number =>
  r.utilities.find((u) => u.utility === 'electricity')!.total.costFen ?? NaN;

describe('a report shared while it is computed', () => {
  it('is not shared with an ask made after a new tariff version is in force', async () => {
    const store = SqliteStore.open({ path: ':memory:' });
    stores.push(store);
    await store.writeReadings(hourlyReadings([2026, 11, 1], [2026, 12, 1]));
    let inForce: TariffTable = TARIFFS;
    const asked: TariffTable[] = [];
    const gates: (() => void)[] = [];
    const deps: ReportRouteDeps = {
      tree: smallTree(),
      store,
      tariffs: () => inForce,
      prepaidType: (account) => (account === 'HH-1' ? 'staff-household' : 'student-room'),
      billingAccounts: () => [],
      heatUnit: 'kWh',
      clock: () => at(2026, 12, 5),
      // The report's thread, held until the test lets it finish: the window in which it is shared.
      offload: async (job) => {
        asked.push(job.tariffs);
        await new Promise<void>((resolve) => gates.push(resolve));
        const customers = new Map(job.customers);
        return energyReport(
          {
            tree: deps.tree,
            store,
            tariffs: job.tariffs,
            heatUnit: 'kWh',
            customerOf: (m) => customers.get(m),
            clock: deps.clock,
          },
          job.scope,
          job.period,
        );
      },
    };
    const app = Fastify();
    for (const r of reportRoutes(deps)) r(app);
    await app.ready();
    const url = '/api/reports/energy?period=month&date=2026-11&scope=campus';
    const first = app.inject({ method: 'GET', url });
    while (asked.length < 1) await new Promise((r) => setTimeout(r, 5));
    inForce = WITHOUT_CHANGE; // a new version approved while the first is computed
    const second = app.inject({ method: 'GET', url });
    const sameAgain = app.inject({ method: 'GET', url: `${url}&lang=en` });
    // The second ask reaches the thread (if it is not wrongly shared) within moments.
    for (let i = 0; i < 200 && asked.length < 2; i++) await new Promise((r) => setTimeout(r, 5));
    for (const g of gates.splice(0)) g();
    const [a, b, c] = await Promise.all([first, second, sameAgain]);
    const [ra, rb, rc] = [a, b, c].map((x) => x.json() as EnergyReport);
    // The second ask was computed from the version in force when it was asked…
    expect(asked).toEqual([TARIFFS, WITHOUT_CHANGE]);
    // …and its cost differs from the first's by the student-room change it no longer has.
    expect(roomsCost(rb!)).not.toBe(roomsCost(ra!));
    // Asked under the same version, in another language: shared (the language is applied after).
    expect(rc).toEqual(rb);
    await app.close();
  });
});
