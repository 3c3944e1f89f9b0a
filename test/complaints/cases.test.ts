import { describe, expect, it } from 'vitest';
import { COMPLAINTS_ERRORS } from '../../services/inspection/complaints/errors.ts';
import {
  admin,
  desk,
  desk2,
  expectRefused,
  inspector,
  otherInspector,
  person,
  setup,
  supervisor,
} from './support.ts';

/**
 * The complaints desk: numbering per campus year, what each channel needs, assignment to the
 * dedicated staff only, links to real alerts, accounts, meters and inspectors, closing with an
 * outcome, and the audit trail of every step. The anonymity attacks are in anonymity.test.ts.
 */

const HOUR = 3_600_000;
const hotline = {
  channel: 'hotline' as const,
  kind: 'tip' as const,
  summary: 'Heater used in room E1-101 at night',
  details: 'Caller says the lights flicker when the heater runs.',
  anonymous: false,
  tipster: { name: 'Zhang Wei', phone: '138 0000 0001' },
};

describe('complaints and tips: intake and numbering', () => {
  it('numbers cases TS-<campus year>-<seq>, the sequence starting again each campus year', async () => {
    const f = await setup();
    expect(f.complaints.intake(desk, hotline).number).toBe('TS-2026-0001');
    expect(f.complaints.intake(desk, { ...hotline, summary: 'Water leak' }).number).toBe('TS-2026-0002');
    // 31 Dec 2026 16:30 UTC is already 1 Jan 2027 00:30 in Shanghai: the campus year is 2027.
    f.advance(Date.UTC(2026, 11, 31, 16, 30) - f.clock());
    expect(f.complaints.intake(desk, hotline).number).toBe('TS-2027-0001');
    // A box note emptied on 31 Dec (received then) is numbered in 2026, after the two.
    expect(
      f.complaints.intake(desk, {
        ...hotline,
        channel: 'box',
        box: 'East dorm 1 lobby',
        boxOpenedOn: '2026-12-31',
        receivedAt: Date.UTC(2026, 11, 31, 2),
        anonymous: true,
        tipster: {},
      }).number,
    ).toBe('TS-2026-0003');
  });

  it('refuses what a channel lacks, with a coded error naming it, and writes nothing', async () => {
    const f = await setup();
    const box = { ...hotline, channel: 'box' as const, anonymous: true };
    expect(expectRefused(f.db, 'INVALID_CASE', () => f.complaints.intake(desk, box)).message).toMatch(
      /box and the date it was emptied/,
    );
    expectRefused(f.db, 'INVALID_CASE', () =>
      f.complaints.intake(desk, { ...box, box: 'W2', boxOpenedOn: '2026-02-30' }),
    );
    expect(
      expectRefused(f.db, 'INVALID_CASE', () =>
        f.complaints.intake(desk, { ...box, box: 'W2', boxOpenedOn: '2026-11-02' }),
      ).message,
    ).toMatch(/future/);
    expectRefused(f.db, 'INVALID_CASE', () => f.complaints.intake(desk, { ...hotline, summary: '  ' }));
    expectRefused(f.db, 'INVALID_CASE', () =>
      f.complaints.intake(desk, { ...hotline, receivedAt: f.clock() + HOUR }),
    );
    expectRefused(f.db, 'INVALID_CASE', () =>
      f.complaints.intake(desk, { ...hotline, tipster: { phone: 'call me maybe' } }),
    );
    expectRefused(f.db, 'FORBIDDEN', () => f.complaints.intake(supervisor, hotline));
    expectRefused(f.db, 'FORBIDDEN', () => f.complaints.intake(inspector, hotline));
    // The box emptied today (campus date 2026-11-01) is fine.
    expect(f.complaints.intake(desk, { ...box, box: 'W2', boxOpenedOn: '2026-11-01' }).state).toBe('open');
  });
});

describe('complaints and tips: assignment, links, closing', () => {
  it('is assigned only to enabled complaints staff, linked to things that exist, and closed with an outcome', async () => {
    const f = await setup();
    const c = f.complaints.intake(desk, hotline);
    expectRefused(f.db, 'NOT_COMPLAINTS_STAFF', () =>
      f.complaints.assign(desk, c.number, { to: inspector.id }),
    );
    expectRefused(f.db, 'NOT_COMPLAINTS_STAFF', () => f.complaints.assign(desk, c.number, { to: 'nobody' }));
    expect(f.complaints.assign(desk, c.number, { to: desk2.id })).toMatchObject({
      state: 'assigned',
      assignee: desk2.id,
    });

    for (const [kind, ref] of [
      ['alert', String(f.alertId)],
      ['account', 'PRE-E1-101'],
      ['meter', 'E-E1-101'],
      ['inspection', otherInspector.id],
    ] as const)
      f.complaints.link(desk2, c.id, { kind, ref, note: 'see' });
    for (const [kind, ref] of [
      ['alert', '999'],
      ['alert', '1e3'],
      ['account', 'PRE-NOPE'],
      ['meter', 'E-NOPE'],
      ['inspection', desk.id],
      ['inspection', 'ghost'],
    ] as const)
      expectRefused(f.db, 'LINK_TARGET_UNKNOWN', () => f.complaints.link(desk2, c.id, { kind, ref }));
    expectRefused(f.db, 'LINK_EXISTS', () =>
      f.complaints.link(desk2, c.id, { kind: 'meter', ref: 'E-E1-101' }),
    );
    expect(f.complaints.unlink(desk2, c.id, { kind: 'account', ref: 'PRE-E1-101' }).links).toHaveLength(3);
    expectRefused(f.db, 'LINK_NOT_FOUND', () =>
      f.complaints.unlink(desk2, c.id, { kind: 'account', ref: 'PRE-E1-101' }),
    );

    const closed = f.complaints.close(desk2, c.number.toLowerCase(), {
      outcome: 'substantiated',
      note: 'Heater found on site (alert confirmed)',
    });
    expect(closed).toMatchObject({ state: 'closed', outcome: 'substantiated', closedBy: desk2.id });
    expectRefused(f.db, 'CASE_CLOSED', () =>
      f.complaints.link(desk2, c.id, { kind: 'meter', ref: 'E-R1-201' }),
    );
    expectRefused(f.db, 'CASE_CLOSED', () =>
      f.complaints.close(desk, c.id, { outcome: 'withdrawn', note: 'x' }),
    );
    expectRefused(f.db, 'CASE_NOT_FOUND', () => f.complaints.get(desk, 'TS-2026-0099'));

    // One audit entry per step, in order, each by whoever took it.
    const steps = f.audit.query({ subject: `complaint:${c.number}` }).map((e) => `${e.action} ${e.actor}`);
    expect(steps).toEqual([
      'complaint.record ts.liu',
      'complaint.assign ts.liu',
      ...Array(4).fill('complaint.link ts.ma'),
      'complaint.unlink ts.ma',
      'complaint.close ts.ma',
    ]);
    expect(f.audit.verify().ok).toBe(true);
  });

  it('a disabled member of the staff is not assigned, and an administrator assigns nothing', async () => {
    const f = await setup();
    await f.users.provisionUser({
      username: 'ts.gone',
      displayName: 'x',
      roles: ['complaints'],
      password: 'correct horse battery staple',
    });
    f.users.disable(person('admin.zhou', 'admin'), 'ts.gone', 'left');
    const c = f.complaints.intake(desk, hotline);
    expectRefused(f.db, 'NOT_COMPLAINTS_STAFF', () => f.complaints.assign(desk, c.id, { to: 'ts.gone' }));
    expectRefused(f.db, 'FORBIDDEN', () => f.complaints.assign(admin, c.id, { to: desk.id }));
  });

  it.each(Object.entries(COMPLAINTS_ERRORS))('%s has a status and a description', (_code, e) => {
    expect(e.status).toBeGreaterThanOrEqual(400);
    expect(e.description.length).toBeGreaterThan(20);
  });
});

describe('complaints and tips: who reads a case and its tipster', () => {
  it('an inspector reads a case while an alert linked to it is assigned to them, and no longer once it is reassigned', async () => {
    const f = await setup();
    const c = f.complaints.intake(desk, { ...hotline, anonymous: true });
    f.complaints.link(desk, c.id, { kind: 'alert', ref: String(f.alertId) });
    expect(f.complaints.list(inspector).map((x) => x.number)).toEqual([c.number]);
    expect(f.complaints.get(inspector, c.number).tipster.name).toBe('anonymous');
    expect(f.complaints.list(otherInspector)).toEqual([]);
    f.alerts.assign(f.alertId, { inspector: otherInspector.id, actor: otherInspector });
    expect(f.complaints.list(inspector)).toEqual([]);
    expectRefused(f.db, 'NOT_LINKED', () => f.complaints.get(inspector, c.number));
    expect(f.complaints.list(otherInspector).map((x) => x.number)).toEqual([c.number]);
  });

  it('tells the staff when the stored identity no longer matches the commitment audited at intake', async () => {
    const f = await setup();
    const c = f.complaints.intake(desk, { ...hotline, anonymous: true });
    expect(f.complaints.tipster(desk, c.id).commitmentHolds).toBe(true);
    // An insider with the database file swaps the tipster for someone else.
    f.db
      .prepare('UPDATE complaint_tipsters SET identity = ? WHERE case_id = ?')
      .run(JSON.stringify({ name: 'Someone Else', phone: '138 0000 0001' }), c.id);
    expect(f.complaints.tipster(desk, c.id)).toMatchObject({ name: 'Someone Else', commitmentHolds: false });
  });

  it("an API token never reads a tipster's identity, whatever role it was made for", async () => {
    const f = await setup();
    const c = f.complaints.intake(desk, { ...hotline, anonymous: true });
    const token = {
      id: 'token:crm-sync',
      kind: 'token' as const,
      roles: ['complaints' as const],
      scopes: ['complaints.view' as const, 'complaints.record' as const],
    };
    expect(f.complaints.get(token, c.id).tipster.name).toBe('anonymous');
    expectRefused(f.db, 'FORBIDDEN', () => f.complaints.tipster(token, c.id));
  });
});

describe('complaints and tips: the numbers recomputed from the audit log', () => {
  it('every case number follows from the order of the audited intakes and their campus year', async () => {
    const f = await setup();
    // 24 cases received across the campus new year, in an order that jumps between the years.
    const newYear = Date.UTC(2026, 11, 31, 16); // 1 Jan 2027 00:00 in Shanghai
    f.advance(newYear + 3 * 86_400_000 - f.clock());
    for (let i = 0; i < 24; i++) {
      const receivedAt = newYear + (((i * 7919) % 24) - 12) * 3_600_000 + (i % 2 ? 1 : -1);
      f.complaints.intake(desk, { ...hotline, summary: `case ${i}`, receivedAt });
    }
    const perYear = new Map<number, number>();
    const expected = f.audit.query({ action: 'complaint.record' }).map((e) => {
      const at = (e.after as { receivedAt: number }).receivedAt;
      const year = new Date(at + 8 * 3_600_000).getUTCFullYear(); // Shanghai has no DST
      perYear.set(year, (perYear.get(year) ?? 0) + 1);
      return [e.subject, `complaint:TS-${year}-${String(perYear.get(year)).padStart(4, '0')}`];
    });
    expect(expected.map(([subject]) => subject)).toEqual(expected.map(([, recomputed]) => recomputed));
    expect([...perYear.keys()].sort()).toEqual([2026, 2027]);
  });
});
