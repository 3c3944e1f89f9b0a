import { SqliteStore } from '../../adapters/sqlite/store.ts';
import { CollectionSettingsSchema } from '../../config/schemas/collection.ts';
import { Collection } from '../../services/money/collection/collection.ts';
import { heatingFeeGate } from '../../services/money/heating/fee-gate.ts';
import { HeatingFees } from '../../services/money/heating/fees.ts';
import { HeatingUnits } from '../../services/money/heating/units.ts';
import { HeatingDesk } from '../../services/operations/heating/desk.ts';
import { SpotChecks } from '../../services/operations/heating/spot-checks.ts';
import type { Actor } from '../../services/platform/auth/roles.ts';
import { ServiceError } from '../../services/platform/errors.ts';
import { setup } from '../outages/support.ts';
import { auditAndRows, expectRefusedUnchanged } from '../helpers/refused.ts';

/**
 * The heating desk on the demo campus (heat meters H-E-H01…H-W-H12), with its fees, post-paid
 * collection and the spot checks over a real in-memory reading store, all on one back-office
 * database and audit log, at T0 = 1 December 2026 08:00 in Asia/Shanghai on a movable clock.
 */

export const user = (id: string, ...roles: Actor['roles']): Actor => ({ id, kind: 'user', roles });
export const desk1 = user('desk.wu', 'heating-desk');
export const desk2 = user('desk.he', 'heating-desk');
export const fixer1 = user('maint.sun', 'maintenance');
export const fixer2 = user('maint.ma', 'maintenance');
export const fixer3 = user('maint.gao', 'maintenance');
export const inspector = user('insp.chen', 'inspector');
export const billing = user('bill.zhao', 'billing');
export const cashier = user('clerk.wang', 'clerk');
export const TZ = 'Asia/Shanghai';
export const DAY = 86_400_000;

export function heatingFixture() {
  const s = setup();
  const store = SqliteStore.open({ path: ':memory:' });
  const { db, audit, clock } = s;
  const units = new HeatingUnits({
    ...{ db, audit, clock, timezone: TZ },
    isHeatMeter: (id) => s.tree.nodes[id]?.kind === 'heat',
  });
  const fees = new HeatingFees({ db, audit, clock, timezone: TZ, units });
  const collection = new Collection({
    ...{ db, audit, clock, timezone: TZ },
    settings: CollectionSettingsSchema.parse({}),
    runs: {
      get: (id) => {
        const run = fees.run(id);
        if (!run) throw new Error(`no run ${id}`);
        return run;
      },
    },
  });
  const desk = new HeatingDesk({
    db,
    audit,
    clock,
    tree: s.tree,
    fees: heatingFeeGate({ units, fees, collection }),
  });
  const spots = new SpotChecks({ db, audit, clock, store, desk });
  return { ...s, store, units, fees, collection, desk, spots };
}
export type HeatingFixture = ReturnType<typeof heatingFixture>;

/** A stop carried through: applied, dispatched to two, locked an hour ago, signed by the second. */
export function signedStop(f: HeatingFixture, unit: string, lockedAgoMs = 3_600_000) {
  const a = f.desk.apply(desk1, {
    kind: 'stop',
    unit,
    applicant: `Household ${unit}`,
    reason: 'away for the winter',
  });
  const lockedAt = f.time.now;
  f.desk.dispatch(desk1, a.id, [fixer1.id, fixer2.id]);
  f.time.now += lockedAgoMs;
  f.desk.valve(fixer1, a.id, { at: lockedAt, seal: `S-${unit}` });
  return f.desk.sign(fixer2, a.id);
}

/** The call is refused with `code`, and neither the applications nor the audit log changed. */
export function expectRefused(f: HeatingFixture, code: string, fn: () => unknown): ServiceError {
  return expectRefusedUnchanged(auditAndRows(f.db, 'heating_applications'), code, fn);
}
