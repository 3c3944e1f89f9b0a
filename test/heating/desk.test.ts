import { describe, expect, it } from 'vitest';
import { T0 } from '../outages/support.ts';
import {
  billing,
  cashier,
  DAY,
  desk1,
  desk2,
  expectRefused,
  fixer1,
  fixer2,
  fixer3,
  heatingFixture,
  signedStop,
  user,
  type HeatingFixture,
} from './support.ts';

/**
 * The heating desk (DOMAIN.md "Heating start/stop"): a stop registers a unit "stopped" for
 * detection only once its valve is locked and two distinct maintenance staff of its crew signed —
 * never the applicant, the desk clerk, or one person twice; a start for a household not on the
 * payroll waits until post-paid collection has its season's fee paid.
 */

describe('a heating stop', () => {
  it('registers the unit stopped only once locked and signed by two of its crew, then reports it', () => {
    const f = heatingFixture();
    const a = f.desk.apply(desk1, {
      kind: 'stop',
      unit: 'H-E-H03',
      applicant: 'Li household',
      reason: 'abroad',
    });
    expect(a).toMatchObject({ number: `HA-${a.id}`, state: 'accepted', fee: null });
    const d = f.desk.dispatch(desk2, a.id, ['maint.sun', 'Maint.Ma ']);
    expect(d.order).toMatchObject({
      number: `WO-H-${a.id}`,
      crew: ['maint.sun', 'maint.ma'],
      dispatchedBy: 'desk.he',
    });
    f.time.now = T0 + 2 * 3_600_000;
    const locked = f.desk.valve(fixer1, a.id, { at: T0 + 3_600_000, seal: 'S-0042' });
    expect(locked.valve).toMatchObject({
      action: 'locked',
      at: T0 + 3_600_000,
      seal: 'S-0042',
      by: 'maint.sun',
    });
    // One signature registers nothing: detection would otherwise trust one person's word.
    expect(f.desk.registrations()).toEqual([]);
    const signed = f.desk.sign(fixer2, a.id);
    expect(signed).toMatchObject({ state: 'stopped', reportedAt: T0 + 2 * 3_600_000 });
    expect(f.desk.registrations()).toEqual([
      {
        meter: 'H-E-H03',
        state: 'stopped',
        from: T0 + 3_600_000,
        workOrder: `WO-H-${a.id}`,
        confirmedBy: ['maint.sun', 'maint.ma'],
      },
    ]);
    expect(f.desk.stoppedAt('H-E-H03', T0 + 3_600_000 - 1)).toBeUndefined();
    expect(f.audit.query({ subject: `heating:${a.id}` }).map((e) => [e.action, e.actor])).toEqual([
      ['heating.apply-stop', 'desk.wu'],
      ['heating.dispatch', 'desk.he'],
      ['heating.valve-locked', 'maint.sun'],
      ['heating.sign-stop', 'maint.ma'],
    ]);
    expect(f.audit.query({ subject: 'heating-unit:H-E-H03' }).map((e) => e.action)).toEqual([
      'heating.stop-reported',
    ]);
    // A unit already stopped is not stopped twice.
    expectRefused(f, 'INVALID_APPLICATION', () =>
      f.desk.apply(desk1, { kind: 'stop', unit: 'H-E-H03', applicant: 'Li household', reason: 'again' }),
    );
  });

  it('cannot be signed by the applicant, the desk clerk, one person twice, or anyone off its crew', () => {
    const f = heatingFixture();
    // The applicant is a maintenance worker living on campus: the desk may not send them.
    const insider = f.desk.apply(desk1, {
      kind: 'stop',
      unit: 'H-E-H05',
      applicant: 'Sun household',
      applicantStaffId: 'maint.sun',
      reason: 'moving out',
    });
    expectRefused(f, 'NOT_INDEPENDENT', () => f.desk.dispatch(desk1, insider.id, ['maint.sun', 'maint.ma']));
    // Nor may the desk clerk who handles it put themselves on the crew (even holding maintenance).
    const both = user('desk.wu', 'heating-desk', 'maintenance');
    expectRefused(f, 'NOT_INDEPENDENT', () => f.desk.dispatch(both, insider.id, ['desk.wu', 'maint.ma']));
    // A stop needs two people, not one named twice.
    expectRefused(f, 'INVALID_APPLICATION', () =>
      f.desk.dispatch(desk1, insider.id, ['maint.ma', 'MAINT.MA']),
    );
    f.desk.dispatch(desk1, insider.id, ['maint.ma', 'maint.gao']);
    f.time.now += 3_600_000;
    // Off the crew: the applicant themselves, and an API token with the role.
    const applicant = user('maint.sun', 'maintenance');
    expectRefused(f, 'NOT_ON_CREW', () => f.desk.valve(applicant, insider.id, { at: T0, seal: 'S-1' }));
    const token = { id: 'token:maint', kind: 'token' as const, roles: ['maintenance' as const] };
    expectRefused(f, 'NOT_ON_CREW', () => f.desk.valve(token, insider.id, { at: T0, seal: 'S-1' }));
    // A lock without its seal, at a time in the future or before the dispatch, is refused.
    expectRefused(f, 'INVALID_APPLICATION', () => f.desk.valve(fixer2, insider.id, { at: T0 }));
    expectRefused(f, 'INVALID_TIME', () =>
      f.desk.valve(fixer2, insider.id, { at: f.time.now + 1, seal: 'S-1' }),
    );
    expectRefused(f, 'INVALID_TIME', () => f.desk.valve(fixer2, insider.id, { at: T0 - 1, seal: 'S-1' }));
    f.desk.valve(fixer2, insider.id, { at: T0 + 60_000, seal: 'S-1' });
    // The one who locked it cannot sign a second time as the second person.
    expectRefused(f, 'NOT_INDEPENDENT', () => f.desk.sign(fixer2, insider.id));
    expectRefused(f, 'NOT_ON_CREW', () => f.desk.sign(fixer1, insider.id));
    expect(f.desk.registrations()).toEqual([]);
    expect(f.desk.sign(fixer3, insider.id).state).toBe('stopped');
    expect(f.desk.registrations().map((r) => r.confirmedBy)).toEqual([['maint.ma', 'maint.gao']]);
    // Maintenance may not record applications; the desk may not lock valves.
    expectRefused(f, 'FORBIDDEN', () =>
      f.desk.apply(fixer1, { kind: 'stop', unit: 'H-E-H06', applicant: 'x', reason: 'y' }),
    );
  });

  it('refuses an unknown unit or a second open application for one unit', () => {
    const f = heatingFixture();
    expect(
      expectRefused(f, 'INVALID_APPLICATION', () =>
        f.desk.apply(desk1, { kind: 'stop', unit: 'E-E1-101', applicant: 'x', reason: 'y' }),
      ).message,
    ).toBe('E-E1-101 is not a heat meter of the campus');
    f.desk.apply(desk1, { kind: 'stop', unit: 'H-E-H07', applicant: 'x', reason: 'y' });
    expectRefused(f, 'APPLICATION_OPEN', () =>
      f.desk.apply(desk1, { kind: 'start', unit: 'H-E-H07', applicant: 'x', reason: 'y' }),
    );
  });

  // The route checks these too; the service checks again for every other caller (the demo seed).
  it('refuses an application without an applicant or a reason, in the words the electric desk uses', () => {
    const f = heatingFixture();
    const base = { kind: 'stop' as const, unit: 'H-E-H07', applicant: 'Li household', reason: 'away' };
    expect(
      expectRefused(f, 'INVALID_APPLICATION', () => f.desk.apply(desk1, { ...base, applicant: '  ' }))
        .message,
    ).toBe('the applicant is missing');
    expect(
      expectRefused(f, 'INVALID_APPLICATION', () => f.desk.apply(desk1, { ...base, reason: '' })).message,
    ).toBe('the reason is missing');
    const a = f.desk.apply(desk1, {
      ...base,
      applicant: ' Li household ',
      applicantStaffId: '  ',
      reason: ' away ',
    });
    expect(a.applicant).toMatchObject({ name: 'Li household', staffId: null });
    expect(a.reason).toBe('away');
  });
});

/** The season 2026-2027 at ¥24.00 per m², its fees issued through collection. */
function billedSeason(f: HeatingFixture) {
  f.time.now = T0 - 30 * DAY;
  const common = { customerType: 'staff-household', validFrom: '2026-10-01', reason: 'certified' };
  f.units.record(desk1, {
    ...common,
    unit: 'H-W-H01',
    account: 'HH-W-H01',
    holder: 'Zhou household',
    areaCentiM2: 8_250,
    certificate: 'HC-W-01',
  });
  f.units.record(desk1, {
    ...common,
    unit: 'H-W-H02',
    account: 'HH-W-H02',
    holder: 'Qian household',
    payrollCode: 'P-0002',
    areaCentiM2: 10_000,
    certificate: 'HC-W-02',
  });
  f.fees.defineSeason(billing, {
    id: '2026-2027',
    firstDay: '2026-11-15',
    lastDay: '2027-03-15',
    pricePerM2Fen: 2_400,
  });
  f.fees.bill(billing, '2026-2027');
  f.collection.publish(billing, { run: 'br-heat-2026-2027' });
  f.time.now = T0 - 20 * DAY;
  f.collection.confirm(billing, 'ft-br-heat-2026-2027');
  f.time.now = T0;
}

describe('a heating start', () => {
  it('waits until the fee is paid through collection, unless on the payroll', () => {
    const f = heatingFixture();
    billedSeason(f);
    const a = f.desk.apply(desk1, {
      kind: 'start',
      unit: 'H-W-H01',
      applicant: 'Zhou household',
      reason: 'back',
    });
    // 82.50 m² × ¥24.00 = ¥1 980.00.
    expect(a).toMatchObject({ state: 'awaiting-payment', fee: { state: 'unpaid', outstandingFen: 198_000 } });
    const notice = a.fee!.notice!;
    expectRefused(f, 'FEE_UNPAID', () => f.desk.dispatch(desk1, a.id, ['maint.sun']));
    const pay = (amountFen: number, reference: string) =>
      f.collection.pay(cashier, {
        notice,
        account: 'HH-W-H01',
        period: 'heat-2026-2027',
        method: 'cash',
        amountFen,
        reference,
      });
    pay(100_000, 'R-1');
    expectRefused(f, 'FEE_UNPAID', () => f.desk.dispatch(desk1, a.id, ['maint.sun']));
    pay(98_000, 'R-2');
    const d = f.desk.dispatch(desk1, a.id, ['maint.sun']);
    expect(d).toMatchObject({ state: 'dispatched', fee: { state: 'paid', outstandingFen: 0 } });
    f.time.now += 3_600_000;
    f.desk.valve(fixer1, a.id, { at: f.time.now - 60_000 });
    expect(f.desk.householdSigned(fixer1, a.id, 'Zhou Min').state).toBe('started');
    expect(f.audit.query({ subject: `heating:${a.id}` }).map((e) => e.action)).toEqual([
      'heating.apply-start',
      'heating.fee-paid',
      'heating.dispatch',
      'heating.valve-opened',
      'heating.household-signed',
    ]);

    // On the payroll the fee is deducted from salary: accepted at once.
    const staff = f.desk.apply(desk1, {
      kind: 'start',
      unit: 'H-W-H02',
      applicant: 'Qian household',
      reason: 'cold',
    });
    expect(staff).toMatchObject({ state: 'accepted', fee: { state: 'payroll' } });
    // A unit with neither certificate nor contract has no fee to pay yet: it waits.
    const unknown = f.desk.apply(desk1, { kind: 'start', unit: 'H-W-H03', applicant: 'x', reason: 'y' });
    expect(unknown).toMatchObject({ state: 'awaiting-payment', fee: { state: 'not-billed' } });
  });

  it('ends the stop registration at the moment its valve is opened', () => {
    const f = heatingFixture();
    billedSeason(f);
    f.units.record(desk1, {
      unit: 'H-W-H02',
      account: 'HH-W-H02',
      holder: 'Qian household',
      customerType: 'staff-household',
      payrollCode: 'P-0002',
      validFrom: '2026-11-01',
      areaCentiM2: 10_000,
      certificate: 'HC-W-02',
      reason: 're-measured',
    });
    const stop = signedStop(f, 'H-W-H02');
    const from = stop.valve!.at;
    f.time.now += DAY;
    const start = f.desk.apply(desk1, {
      kind: 'start',
      unit: 'H-W-H02',
      applicant: 'Qian household',
      reason: 'cold',
    });
    f.desk.dispatch(desk1, start.id, ['maint.gao']);
    f.time.now += 3_600_000;
    const openedAt = f.time.now - 600_000;
    f.desk.valve(fixer3, start.id, { at: openedAt });
    expect(f.desk.registrations()).toEqual([
      expect.objectContaining({ meter: 'H-W-H02', from, to: openedAt }),
    ]);
    expect(f.desk.stoppedAt('H-W-H02', openedAt - 1)).toBeDefined();
    expect(f.desk.stoppedAt('H-W-H02', openedAt)).toBeUndefined();
  });
});
