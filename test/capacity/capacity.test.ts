import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../adapters/sqlite/store.ts';
import { floorToStep } from '../../services/metering/consumption/zone.ts';
import type { StoredReading } from '../../services/metering/storage.ts';
import { CapacityApplications } from '../../services/operations/capacity/capacity.ts';
import type { Actor } from '../../services/platform/auth/roles.ts';
import { expectRefused, HOUR, operator, setup, supervisor, T0 } from '../outages/support.ts';

/**
 * Capacity increases on the demo campus: the canteen (E-E-CANTEEN) hangs on the east substation's
 * incomer E-E-SUB1-IN, rated 400 kW here. The incomer drew a steady 200 kW for ten days with one
 * quarter hour at 320 kW: its peak is 320 kW, 80 kW of headroom. 50 kVA fits (fee 50 × ¥200.00 =
 * ¥10,000.00); 100 kVA does not. Two supervisors approve, independent of the clerk who recorded it,
 * the operator who reviewed it and each other; an operator records the work order done.
 */

const user = (id: string, ...roles: Actor['roles']): Actor => ({ id, kind: 'user', roles });
const clerk = user('clerk.wang', 'clerk');
const sup2 = user('sup.zhao', 'supervisor');
const lead = user('lead.sun', 'clerk', 'supervisor');
const Q = 15 * 60_000;

let store: SqliteStore | undefined;
afterEach(async () => {
  await store?.close();
});

async function fixture() {
  const s = setup();
  store = SqliteStore.open({ path: ':memory:' });
  const readings: StoredReading[] = [];
  let kwh = 10_000;
  const from = T0 - 10 * 24 * HOUR;
  for (let ts = from, seq = 0; ts <= T0; ts += Q, seq++) {
    readings.push({
      ...{ meter: 'E-E-SUB1-IN', ts, seq, quality: 'good', site: 'east', gateway: 'gw', kind: 'electricity' },
      values: { energy_import_kwh: kwh },
    });
    // The quarter hour ending 3 days before T0 at 320 kW, every other at 200 kW.
    kwh += ts + Q === T0 - 3 * 24 * HOUR ? 80 : 50;
  }
  await store.writeReadings(readings);
  const capacity = new CapacityApplications({
    ...{ db: s.db, audit: s.audit, clock: s.clock, tree: s.tree, store },
    feePerUnitFen: (u) => (u === 'electricity' ? 20_000 : undefined),
    ratingOf: (m) => (m === 'E-E-SUB1-IN' ? 400 : undefined),
    dayStart: (ts) => floorToStep(ts, '1d', 'Asia/Shanghai'),
  });
  return { ...s, capacity };
}

const canteen = {
  utility: 'electricity' as const,
  meter: 'E-E-CANTEEN',
  applicant: 'BIZ-E-CANTEEN',
  reason: 'New ovens',
};

describe('capacity increase applications', () => {
  it('are reviewed against the measured peak and headroom of the element above, with the fee fixed', async () => {
    const f = await fixture();
    const a = f.capacity.apply(clerk, {
      ...canteen,
      increase: 50,
      attachments: [{ name: 'load-list.pdf', sha256: 'a'.repeat(64) }],
    });
    const r = await f.capacity.review(operator, a.id, 'checked the single-line diagram');
    expect(r.review).toMatchObject({ element: 'E-E-SUB1-IN', rating: 400, fits: true, feeFen: 1_000_000 });
    expect(r.review!.peak).toBeCloseTo(320, 9);
    expect(r.review!.headroom).toBeCloseTo(80, 9);
    expect(r.review!.peakAt).toBe(T0 - 3 * 24 * HOUR);
    // One peak a day for the chart; the day of the peak shows it, the others 200 kW.
    expect(r.review!.daily.length).toBeGreaterThanOrEqual(10);
    expect(Math.max(...r.review!.daily.map(([, v]) => v))).toBeCloseTo(320, 9);
    expect(r.review!.daily.filter(([, v]) => Math.abs(v - 200) < 1e-9).length).toBe(
      r.review!.daily.length - 1,
    );

    const big = f.capacity.apply(clerk, { ...canteen, increase: 100 });
    expect((await f.capacity.review(operator, big.id, 'too much?')).review).toMatchObject({
      fits: false,
      feeFen: 2_000_000,
    });
  });

  it('needs two independent supervisors, then a work order done; refuses bad input', async () => {
    const f = await fixture();
    expectRefused(f.db, 'INVALID_APPLICATION', () => f.capacity.apply(clerk, { ...canteen, increase: 2.5 }));
    expectRefused(f.db, 'INVALID_APPLICATION', () =>
      f.capacity.apply(clerk, { ...canteen, meter: 'W-E1', increase: 5 }),
    );
    expectRefused(f.db, 'FORBIDDEN', () => f.capacity.apply(supervisor, { ...canteen, increase: 5 }));
    const a = f.capacity.apply(lead, { ...canteen, increase: 50 });
    expectRefused(f.db, 'APPLICATION_STATE', () => f.capacity.approve(supervisor, a.id)); // not reviewed
    await f.capacity.review(operator, a.id, 'ok');
    // Whoever recorded it does not approve it, even holding the role.
    expectRefused(f.db, 'SELF_APPROVAL', () => f.capacity.approve(lead, a.id));
    expect(f.capacity.approve(supervisor, a.id).state).toBe('approved-once');
    // The same supervisor twice is one person.
    expectRefused(f.db, 'SELF_APPROVAL', () => f.capacity.approve(supervisor, a.id));
    expect(f.capacity.approve(sup2, a.id)).toMatchObject({ state: 'approved', decidedAt: T0 });
    expect(f.capacity.done(operator, a.id).state).toBe('done');
    expect(f.audit.query({ subject: `capacity:${a.id}` }).map((e) => [e.action, e.actor])).toEqual([
      ['capacity.apply', 'lead.sun'],
      ['capacity.review', 'op.zhao'],
      ['capacity.approve', 'sup.li'],
      ['capacity.approve', 'sup.zhao'],
      ['capacity.done', 'op.zhao'],
    ]);
  });
});
