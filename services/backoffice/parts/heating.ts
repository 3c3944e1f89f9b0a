import type { Logger } from 'pino';
import type { LoadedCampus } from '../../../config/campus.ts';
import type { Actor } from '../../platform/auth/roles.ts';
import type { AuditLog } from '../../platform/audit/audit-log.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import { campusTree } from '../../metering/live/tree.ts';
import type { ReadingStore } from '../../metering/storage.ts';
import type { BillRun } from '../../money/billing/bill-run.ts';
import type { InvoiceChecks } from '../../money/billing/invoice-check.ts';
import type { Collection } from '../../money/collection/collection.ts';
import { heatingFeeGate } from '../../money/heating/fee-gate.ts';
import { HeatingFees } from '../../money/heating/fees.ts';
import { HeatPurchase } from '../../money/heating/purchase.ts';
import { heatPurchaseRoutes } from '../../money/heating/purchase-routes.ts';
import { heatingMoneyRoutes } from '../../money/heating/routes.ts';
import { HeatingUnits } from '../../money/heating/units.ts';
import { HeatingDesk } from '../../operations/heating/desk.ts';
import { AlertStore } from '../../inspection/detection/alerts.ts';
import { ElectricHeating } from '../../operations/heating/electric.ts';
import { electricHeatingRoutes } from '../../operations/heating/electric-routes.ts';
import { heatingDeskRoutes } from '../../operations/heating/routes.ts';
import { SpotChecks } from '../../operations/heating/spot-checks.ts';
import type { HeatingFeeGate } from '../../operations/heating/types.ts';
import type { DetectionSettings } from './detection.ts';
import type { RouteFn } from './api.ts';

/**
 * Heating: the desk's applications and work orders (operations), the certified areas, contracts and
 * season fees (money), and the inspectors' spot checks. The desk asks collection whether a start's
 * fee is paid (operations may not import money: the gate is handed over here); collection finds
 * the seasons' fee runs beside the bill runs; detection's "registered stopped" is the desk's signed
 * stops.
 */

export interface HeatingDeps {
  campus: LoadedCampus;
  db: BackofficeDb;
  audit: AuditLog;
  clock: Clock;
  store: ReadingStore;
}

export interface HeatingPart {
  units: HeatingUnits;
  fees: HeatingFees;
  desk: HeatingDesk;
  /** Units registered as heated electrically (detection leaves them out from then on). */
  electric: ElectricHeating;
  spots: SpotChecks;
  /** A desk over the same records on another clock: the demo's history is seeded through it. */
  deskAt(clock: Clock): HeatingDesk;
  /** Collection's bill-run source: a season's fee run, else the bill runs'. */
  withFeeRuns<R extends { get(id: string): BillRun }>(runs: R): { get(id: string): BillRun };
  /**
   * The fee gate asks this collection from now on (before it, every start waits); heat bills are
   * checked with these invoice checks.
   */
  attach(collection: Collection, invoices: InvoiceChecks): void;
  /** Heat purchase, once attached. */
  purchase(): HeatPurchase;
  /** Detection settings with the desk's signed stops and electric heating added to any given. */
  detection(settings: DetectionSettings | false | undefined): DetectionSettings | false;
  routes: RouteFn[];
}

export function createHeating(d: HeatingDeps): HeatingPart {
  const { db, audit, clock } = d;
  const timezone = d.campus.config.campus.timezone;
  const tree = campusTree(d.campus);
  const units = new HeatingUnits({
    ...{ db, audit, clock, timezone },
    isHeatMeter: (id) => tree.nodes[id]?.kind === 'heat',
  });
  const fees = new HeatingFees({ db, audit, clock, timezone, units });
  let collection: Collection | undefined;
  let purchase: HeatPurchase | undefined;
  const fee: HeatingFeeGate = {
    status: (unit, at) =>
      collection
        ? heatingFeeGate({ units, fees, collection }).status(unit, at)
        : {
            state: 'not-billed',
            account: null,
            notice: null,
            outstandingFen: null,
            detail: 'collection is not running',
          },
  };
  const deskAt = (c: Clock) => new HeatingDesk({ db, audit, clock: c, tree, fees: fee });
  const desk = deskAt(clock);
  const spots = new SpotChecks({ db, audit, clock, store: d.store, desk });
  // Read-only here: whether an inspector still has the unit's electric-heating alert to decide.
  const alerts = new AlertStore(db, audit, clock);
  const electric = new ElectricHeating({
    ...{ db, audit, clock, tree },
    undecidedAlerts: (meter) =>
      alerts
        .list({ meter, type: 'illegal-load', state: ['open', 'assigned', 'field-checked'] })
        .filter((a) => a.key === `electric-heating:${meter}`),
  });
  return {
    ...{ units, fees, desk, electric, spots, deskAt },
    withFeeRuns: (runs) => ({ get: (id) => fees.run(id) ?? runs.get(id) }),
    attach: (c, invoices) => {
      collection = c;
      const supplyPoints = d.campus.config.billing.supplyPoints;
      purchase = new HeatPurchase({ invoices, audit, supplyPoints, timezone });
    },
    purchase: () => purchase ?? fail('heat purchase is not attached to the invoice checks yet'),
    detection: (settings) => {
      if (settings === false) return false;
      const given = settings?.heating;
      return {
        ...settings,
        heating: () => [...desk.registrations(), ...electric.registrations(), ...(given?.() ?? [])],
      };
    },
    routes: [
      ...heatingDeskRoutes(desk, spots, clock),
      ...electricHeatingRoutes(electric),
      ...heatingMoneyRoutes({ units, fees, clock }),
      ...heatPurchaseRoutes(() => purchase ?? fail('heat purchase is not attached yet')),
    ],
  };
}

function fail(message: string): never {
  throw new Error(message);
}

/**
 * The demo's heating desk at its first start, carried out as staff would: each unit the scenario
 * has stopped is a stop applied and dispatched two hours before its window, locked at its start
 * and signed by two fitters (so detection's "registered stopped" rests on signed stops); a stop
 * waits for its lock in the fitters' work orders, and a start waits for its fee.
 */
export function seedDemoHeating(
  heating: HeatingPart,
  stops: readonly { unit: string; from: number }[],
  people: { desk: Actor; fitters: readonly [Actor, Actor] },
  pending: { stop: string; start: string },
  log: Logger,
): number {
  const [first, second] = people.fitters;
  const crew = [first.id, second.id];
  let n = 0;
  for (const s of stops) {
    const time = { now: s.from - 2 * 3_600_000 };
    const desk = heating.deskAt(() => time.now);
    try {
      const a = desk.apply(people.desk, {
        kind: 'stop',
        unit: s.unit,
        applicant: `Household ${s.unit}`,
        reason: 'away for the season',
      });
      desk.dispatch(people.desk, a.id, crew);
      time.now = s.from;
      desk.valve(first, a.id, { at: s.from, seal: `S-${s.unit}` });
      desk.sign(second, a.id);
      n++;
    } catch (err) {
      log.warn({ err, unit: s.unit }, 'demo heating stop not made');
    }
  }
  try {
    const stop = heating.desk.apply(people.desk, {
      kind: 'stop',
      unit: pending.stop,
      applicant: `Household ${pending.stop}`,
      reason: 'moving out',
    });
    heating.desk.dispatch(people.desk, stop.id, crew);
    heating.desk.apply(people.desk, {
      kind: 'start',
      unit: pending.start,
      applicant: `Household ${pending.start}`,
      reason: 'back from abroad',
    });
  } catch (err) {
    log.warn({ err }, 'demo heating applications not made');
  }
  return n;
}
