import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateCampus } from '../../config/campus.ts';
import { OutagesSettingsSchema } from '../../config/schemas/operations-desk.ts';
import {
  seedDemoCapacity,
  seedDemoOutages,
  seedDemoPlans,
} from '../../services/backoffice/parts/operations-desk.ts';
import { SqliteStore } from '../../adapters/sqlite/store.ts';
import { CapacityApplications } from '../../services/operations/capacity/capacity.ts';
import { UsePlans } from '../../services/metering/plans/plans.ts';
import { MemoryValidatedSource } from '../billing/support.ts';
import { openAuditLog } from '../../services/platform/audit/audit-log.ts';
import { openBackofficeDb } from '../../services/platform/db.ts';
import { campusTree } from '../../services/metering/live/tree.ts';
import { PlannedOutages } from '../../services/operations/outages/outages.ts';
import { demoScenario } from '../../simulators/scenario/demo.ts';
import { DEMO_CAPACITY, DEMO_OUTAGES, DEMO_PLANS } from '../../simulators/scenario/demo-outages.ts';
import { campusFromScenario } from '../../simulators/scenario/live.ts';
import { testLogger } from '../helpers/logger.ts';
import { T0 } from './support.ts';

/** The demo's outages and plans exist in the demo campus and pass the same rules as anyone's. */
describe('demo outages', () => {
  it('are planned and approved by two demo people on nodes of the demo campus, in the campus zone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'demo-outages-'));
    const scenario = demoScenario({ floors: 1, roomsPerFloor: 2, households: 4, start: T0 });
    const raw = campusFromScenario(scenario, {
      ports: Array.from({ length: 40 }, (_, i) => 21_000 + i),
      dataDir: dir,
    });
    const campus = validateCampus(raw, { file: join(dir, 'campus.yaml'), dir });
    const db = openBackofficeDb(join(dir, 'bo.db'));
    const outages = new PlannedOutages({
      db,
      audit: openAuditLog(db, () => T0, join(dir, 'audit-key.json')),
      clock: () => T0,
      tree: campusTree(campus),
      settings: OutagesSettingsSchema.parse({}),
    });
    const planner = { id: 'demo.operator', kind: 'user' as const, roles: ['operator' as const] };
    const approver = { id: 'demo.supervisor', kind: 'user' as const, roles: ['supervisor' as const] };
    const n = seedDemoOutages(
      outages,
      DEMO_OUTAGES,
      { planner, approver },
      'Asia/Shanghai',
      T0,
      testLogger(),
    );
    expect(n).toBe(DEMO_OUTAGES.length);
    const list = outages.list().sort((a, b) => a.startsAt - b.startsAt);
    // T0 is 1 December 08:00 local: three days on at 08:00, five days on at 09:00.
    expect(list.map((o) => [o.node, o.state, new Date(o.startsAt).toISOString()])).toEqual([
      ['E-E2-MAIN', 'approved', '2026-12-04T00:00:00.000Z'],
      ['W-W1', 'approved', '2026-12-06T01:00:00.000Z'],
    ]);
    expect(list[0]!.affected.rooms).toEqual(['E-E2-101', 'E-E2-102']);

    const plans = new UsePlans({
      ...{ db, audit: openAuditLog(db, () => T0, join(dir, 'audit-key.json')), clock: () => T0 },
      ...{ tree: campusTree(campus), timezone: 'Asia/Shanghai', source: new MemoryValidatedSource() },
    });
    expect(seedDemoPlans(plans, DEMO_PLANS, { planner, approver }, 2026, testLogger())).toBe(
      DEMO_PLANS.length,
    );
    expect(plans.list(2026).map((p) => [p.unit, p.state, p.meters])).toEqual([
      ['dorm-e1', 'approved', ['W-E1']],
      ['dorm-w1', 'approved', ['W-W1']],
    ]);

    const store = SqliteStore.open({ path: ':memory:' });
    const capacity = new CapacityApplications({
      ...{ db, audit: openAuditLog(db, () => T0, join(dir, 'audit-key.json')), clock: () => T0 },
      ...{ tree: campusTree(campus), store, feePerUnitFen: () => 20_000, ratingOf: () => undefined },
      dayStart: (ts) => ts,
    });
    const clerk = { id: 'demo.clerk', kind: 'user' as const, roles: ['clerk' as const] };
    const id = await seedDemoCapacity(capacity, DEMO_CAPACITY, { clerk, reviewer: planner }, testLogger());
    // This campus is rendered without the OPC UA substations, so the canteen's meter is a root of
    // the tree and its own element; in the running demo the feeder above it is.
    expect(capacity.get(id!)).toMatchObject({
      state: 'reviewed',
      review: { element: 'E-E-CANTEEN', feeFen: 800_000 },
    });
    await store.close();
  });
});
