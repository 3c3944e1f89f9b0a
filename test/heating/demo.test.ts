import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SqliteStore } from '../../adapters/sqlite/store.ts';
import { validateCampus } from '../../config/campus.ts';
import { createHeating, seedDemoHeating } from '../../services/backoffice/parts/heating.ts';
import { openAuditLog } from '../../services/platform/audit/audit-log.ts';
import type { Actor } from '../../services/platform/auth/roles.ts';
import { openBackofficeDb } from '../../services/platform/db.ts';
import { demoScenario } from '../../simulators/scenario/demo.ts';
import { campusFromScenario } from '../../simulators/scenario/live.ts';
import { testLogger } from '../helpers/logger.ts';
import { T0 } from '../outages/support.ts';

const person = (id: string, role: Actor['roles'][number]): Actor => ({ id, kind: 'user', roles: [role] });

/**
 * The demo's heating desk: every unit the demo scenario stops for the season is a signed stop
 * (two fitters, locked at the window's start), so detection's registrations come from the desk; a
 * stop waits in the fitters' work orders and a start waits for its fee.
 */
describe('the demo heating desk', () => {
  it('registers the scenario’s stopped units through signed stops, with two applications pending', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'demo-heating-'));
    const scenario = demoScenario({ floors: 1, roomsPerFloor: 2, households: 10, start: T0 });
    const raw = campusFromScenario(scenario, {
      ports: Array.from({ length: 40 }, (_, i) => 21_500 + i),
      dataDir: dir,
    });
    const campus = validateCampus(raw, { file: join(dir, 'campus.yaml'), dir });
    const db = openBackofficeDb(join(dir, 'bo.db'));
    const clock = () => T0;
    const audit = openAuditLog(db, clock, join(dir, 'audit-key.json'));
    const store = SqliteStore.open({ path: ':memory:' });
    const heating = createHeating({ campus, db, audit, clock, store });
    const stops = scenario.nodes.flatMap((n) =>
      n.meter && n.utility === 'heat'
        ? n.heatingStopped.map((w) => ({ unit: n.meter!.id, from: w.from }))
        : [],
    );
    expect(stops.length).toBeGreaterThan(0);
    const people = {
      desk: person('demo.heating', 'heating-desk'),
      fitters: [person('demo.fitter', 'maintenance'), person('demo.fitter2', 'maintenance')] as const,
    };
    const made = seedDemoHeating(heating, stops, people, { stop: 'H-W-H04', start: 'H-E-H07' }, testLogger());
    expect(made).toBe(stops.length);
    expect(heating.desk.registrations().map((r) => [r.meter, r.from, r.confirmedBy])).toEqual(
      stops
        .map((s) => [s.unit, s.from, ['demo.fitter', 'demo.fitter2']])
        .sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    );
    // What detection is given: the desk's signed stops.
    const settings = heating.detection({});
    expect(
      settings &&
        settings.heating!()
          .map((r) => r.meter)
          .sort(),
    ).toEqual(stops.map((s) => s.unit).sort());
    expect(
      heating.desk
        .list({ crewMember: 'demo.fitter' })
        .filter((a) => a.state === 'dispatched')
        .map((a) => a.unit),
    ).toEqual(['H-W-H04']);
    expect(heating.desk.list({ state: 'awaiting-payment' }).map((a) => a.unit)).toEqual(['H-E-H07']);
    await store.close();
  });
});
