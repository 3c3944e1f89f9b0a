import { describe, expect, it } from 'vitest';
import { createHeating } from '../../services/backoffice/parts/heating.ts';
import { AlertStore } from '../../services/inspection/detection/alerts.ts';
import { heatingDetector } from '../../services/inspection/detection/heating.ts';
import type { DetectionInput, MeterData } from '../../services/inspection/detection/types.ts';
import { mulberry32 } from '../../simulators/meters/random.ts';
import { officeBuildings } from '../detection/heating-buildings.ts';
import { auditAndRows, expectRefusedUnchanged } from '../helpers/refused.ts';
import {
  heatingFixture,
  desk1,
  desk2,
  fixer1,
  inspector,
  user,
  DAY,
  type HeatingFixture,
} from './support.ts';

/**
 * Electric heating registered at the heating desk: a household's electricity meter (E-E-H01 on
 * the demo campus) proposed as heated electrically by a desk clerk, from when, for whom and why,
 * in the audit log; refused when back-dated, for a heat meter, for the clerk themselves, or over
 * a registration proposed or in force; in force once a supervisor independent of the clerk
 * approves it; refused or withdrawn proposals kept; ended the same way. Detection, given the desk's
 * approved registrations as the back office gives them, judges the unit's electricity before the
 * approval and not from it on.
 */

const UNIT = 'E-E-H01';
const supervisor = user('sup.li', 'supervisor');
const supervisor2 = user('sup.qian', 'supervisor');

function electric(f: HeatingFixture) {
  return createHeating({ campus: f.campus, db: f.db, audit: f.audit, clock: f.clock, store: f.store });
}
const refused = (f: HeatingFixture, code: string, fn: () => unknown) =>
  expectRefusedUnchanged(auditAndRows(f.db, 'heating_electric'), code, fn);

describe('the heating desk registers electric heating', () => {
  it('records who, for whom, why and from when, audited; the audit chain verifies', () => {
    const f = heatingFixture();
    const h = electric(f);
    const r = h.electric.register(desk1, {
      meter: UNIT,
      applicant: 'Household E-H01',
      reason: 'electric-heating tariff, contract EH-2026-07',
    });
    expect(r).toMatchObject({
      number: `EH-${r.id}`,
      meter: UNIT,
      from: f.time.now,
      recordedBy: 'desk.wu',
      recordedAt: f.time.now,
      applicant: { name: 'Household E-H01', staffId: null },
      state: 'proposed',
      decision: null,
      inForceFrom: null,
      ended: null,
    });
    const entry = f.audit
      .query({ subject: `heating-unit:${UNIT}` })
      .find((e) => e.action === 'heating.electric-proposed')!;
    expect(entry).toMatchObject({ actor: 'desk.wu', subject: `heating-unit:${UNIT}` });
    expect(JSON.parse(JSON.stringify(entry.after))).toMatchObject({ record: r.number, from: f.time.now });
    // A proposal silences nothing.
    expect(h.electric.registrations()).toEqual([]);
    const proposedAt = f.time.now;
    f.time.now += 3_600_000;
    const a = h.electric.approve(supervisor, r.id, 'contract seen');
    expect(a).toMatchObject({
      state: 'approved',
      decision: { by: 'sup.li', at: f.time.now, reason: 'contract seen' },
      // Approved an hour after its start: in force from the approval, not the proposal.
      inForceFrom: f.time.now,
    });
    expect(
      f.audit
        .query({ subject: `heating-unit:${UNIT}` })
        .find((e) => e.action === 'heating.electric-approved'),
    ).toMatchObject({ actor: 'sup.li' });
    expect(h.electric.registrations()).toEqual([
      {
        meter: UNIT,
        electricityMeter: UNIT,
        state: 'on',
        from: proposedAt + 3_600_000,
        workOrder: r.number,
        confirmedBy: ['desk.wu', 'sup.li'],
      },
    ]);
    expect(f.audit.verify().ok).toBe(true);
  });

  it('refuses, changing nothing: a heat meter, a back-dated start, the clerk for themselves, an overlap, maintenance', () => {
    const f = heatingFixture();
    const h = electric(f);
    const base = { meter: UNIT, applicant: 'Household E-H01', reason: 'tariff' };
    expect(
      refused(f, 'INVALID_APPLICATION', () => h.electric.register(desk1, { ...base, meter: 'H-E-H01' }))
        .message,
    ).toMatch(/H-E-H01 is not an electricity meter/);
    // Back-dated by a minute: it would excuse the heating used before the desk knew of it.
    expect(
      refused(f, 'INVALID_TIME', () => h.electric.register(desk1, { ...base, from: f.time.now - 60_000 }))
        .message,
    ).toMatch(/no earlier than it is recorded/);
    expect(
      refused(f, 'INVALID_APPLICATION', () => h.electric.register(desk1, { ...base, applicant: ' ' }))
        .message,
    ).toBe('the applicant is missing');
    expect(
      refused(f, 'INVALID_APPLICATION', () => h.electric.register(desk1, { ...base, reason: '' })).message,
    ).toBe('the reason (tariff or contract) is missing');
    refused(f, 'NOT_INDEPENDENT', () => h.electric.register(desk1, { ...base, applicantStaffId: 'Desk.Wu' }));
    refused(f, 'FORBIDDEN', () => h.electric.register(fixer1, base));
    // A registration starting in a week; another over it is refused, one before it too (open-ended).
    h.electric.register(desk1, { ...base, from: f.time.now + 7 * DAY });
    expect(refused(f, 'ELECTRIC_REGISTERED', () => h.electric.register(desk2, base)).message).toMatch(
      /E-E-H01 is registered heated electrically by EH-1/,
    );
  });

  it('ends it, audited; the unit may be registered again afterwards, not before', () => {
    const f = heatingFixture();
    const h = electric(f);
    const r = h.electric.register(desk1, { meter: UNIT, applicant: 'Household E-H01', reason: 'tariff' });
    // A proposal is withdrawn, not ended.
    refused(f, 'ELECTRIC_STATE', () => h.electric.end(desk2, r.id, 'not yet'));
    h.electric.approve(supervisor, r.id);
    f.time.now += 30 * DAY;
    const ended = h.electric.end(desk2, r.id, 'moved to district heating');
    expect(ended.ended).toEqual({ at: f.time.now, by: 'desk.he', reason: 'moved to district heating' });
    expect(
      f.audit.query({ subject: `heating-unit:${UNIT}` }).find((e) => e.action === 'heating.electric-ended'),
    ).toMatchObject({
      actor: 'desk.he',
      subject: `heating-unit:${UNIT}`,
    });
    expect(h.electric.registrations()[0]).toMatchObject({ from: r.from, to: f.time.now });
    refused(f, 'ELECTRIC_REGISTERED', () => h.electric.end(desk1, r.id, 'again'));
    refused(f, 'ELECTRIC_NOT_FOUND', () => h.electric.end(desk1, 99, 'none'));
    f.time.now += DAY;
    expect(
      h.electric.register(desk1, { meter: UNIT, applicant: 'Household E-H01', reason: 'back' }).number,
    ).toBe('EH-2');
  });
});

describe("a registration never closes an inspector's case", () => {
  it('is refused while the unit has an undecided electric-heating alert, allowed once it is decided', () => {
    const f = heatingFixture();
    const h = electric(f);
    const alerts = new AlertStore(f.db, f.audit, f.clock);
    const since = f.time.now - 20 * DAY;
    const finding = (meter: string) => ({
      ...{ type: 'illegal-load' as const, key: `electric-heating:${meter}`, severity: 'medium' as const },
      ...{ meter, score: 0.8, since, reason: 'electricity rises with cold weather' },
      evidence: { from: since, to: f.time.now, figures: {} },
    });
    // Another meter's alert is no bar.
    alerts.sync([finding(UNIT), finding('E-E-H02')]);
    const id = alerts.list({ meter: UNIT })[0]!.id;
    const base = { meter: UNIT, applicant: 'Household E-H01', reason: 'tariff' };
    alerts.assign(id, { inspector: inspector.id, actor: inspector });
    expect(refused(f, 'ELECTRIC_ALERT_OPEN', () => h.electric.register(desk1, base)).message).toMatch(
      new RegExp(`electric-heating alert ${id} \\(since ${new Date(since).toISOString()}\\)`),
    );
    alerts.dismiss(id, {
      notes: 'heater registered for the tariff from today; earlier use billed',
      actor: inspector,
    });
    expect(h.electric.register(desk1, base).number).toBe('EH-1');
    // An alert raised while a proposal waits is decided before the approval, too.
    const p = h.electric.register(desk1, { ...base, meter: 'E-E-H03' });
    alerts.sync([finding('E-E-H02'), finding('E-E-H03')]);
    refused(f, 'ELECTRIC_ALERT_OPEN', () => h.electric.approve(supervisor, p.id));
  });
});

describe("detection reads the desk's electric heating, as the back office hands it over", () => {
  const START = Date.UTC(2025, 8, 1);
  const DAYS = 180;
  /** Ten buildings into winter, B1 (as E-E-H01) with a heater on a thermostat for the last 40 days. */
  function buildings(): DetectionInput {
    const rand = mulberry32(3);
    const temp = new Float64Array(DAYS * 24);
    let spell = 0;
    for (let h = 0; h < temp.length; h++) {
      if (h % 24 === 0) spell = 0.7 * spell + 2.5 * (rand() - 0.5);
      temp[h] = 16 - (14 * h) / 24 / DAYS + spell * 2 + 3 * Math.sin((2 * Math.PI * ((h % 24) - 9)) / 24);
    }
    const input = officeBuildings({
      start: START,
      temp,
      rand,
      firstWeekday: 1,
      extra: (id, h, kw, cold, base) => (id === 'B1' && h >= (DAYS - 40) * 24 ? kw + 0.05 * base * cold : kw),
    });
    const meters = new Map<string, MeterData>();
    for (const m of input.meters.values()) {
      const id = m.meter === 'B1' ? UNIT : m.meter;
      meters.set(id, { ...m, meter: id });
    }
    return { ...input, meters };
  }
  const until = (input: DetectionInput, at: number): DetectionInput => ({
    ...input,
    to: at,
    meters: new Map(
      [...input.meters].map(([id, m]) => [id, { ...m, register: m.register.filter((s) => s.ts < at) }]),
    ),
    weather: (input.weather ?? []).filter((w) => w.ts < at),
  });

  it('before the registration the heater is found; from it on the unit is left out', () => {
    const f = heatingFixture();
    const registeredAt = START + (DAYS - 10) * DAY;
    f.time.now = registeredAt;
    const h = electric(f);
    const p = h.electric.register(desk1, {
      meter: UNIT,
      applicant: 'Household E-H01',
      reason: 'electric-heating tariff',
    });
    const proposed = h.detection(undefined);
    if (proposed === false) throw new Error('detection is on');
    // Proposed only: the heater is still found over the whole span.
    expect(
      heatingDetector()
        .run({ ...buildings(), heating: proposed.heating!() })
        .findings.map((x) => x.key),
    ).toContain(`electric-heating:${UNIT}`);
    h.electric.approve(supervisor, p.id);
    const settings = h.detection(undefined);
    if (settings === false) throw new Error('detection is on');
    const heating = settings.heating!();
    const input = buildings();
    const judged = (x: DetectionInput) =>
      heatingDetector()
        .run({ ...x, heating })
        .findings.filter((f) => f.meter === UNIT)
        .map((f) => f.key);
    expect(judged(until(input, registeredAt))).toEqual([`electric-heating:${UNIT}`]);
    expect(judged(input)).toEqual([]);
    // Ended: judged again (the heater is still there).
    f.time.now = START + DAYS * DAY - DAY;
    h.electric.end(desk2, 1, 'tariff cancelled');
    const after = h.detection(undefined);
    if (after === false) throw new Error('detection is on');
    expect(
      heatingDetector()
        .run({ ...input, heating: after.heating!() })
        .findings.map((x) => x.key),
    ).toContain(`electric-heating:${UNIT}`);
  });
});

describe('a registration takes two people', () => {
  const base = { meter: UNIT, applicant: 'Household E-H01', reason: 'tariff' };

  it('the desk cannot approve; nor the proposer holding both roles; nor the applicant', () => {
    const f = heatingFixture();
    const h = electric(f);
    const r = h.electric.register(desk1, base);
    refused(f, 'FORBIDDEN', () => h.electric.approve(desk2, r.id));
    refused(f, 'FORBIDDEN', () => h.electric.approve(inspector, r.id));
    const both = user('lead.fan', 'heating-desk', 'supervisor');
    const own = h.electric.register(both, { ...base, meter: 'E-E-H03' });
    refused(f, 'SELF_APPROVAL', () => h.electric.approve(both, own.id));
    refused(f, 'SELF_APPROVAL', () => h.electric.refuse(both, own.id, 'mine'));
    const forSup = h.electric.register(desk1, { ...base, meter: 'E-E-H02', applicantStaffId: 'sup.li' });
    refused(f, 'NOT_INDEPENDENT', () => h.electric.approve(supervisor, forSup.id));
    expect(h.electric.registrations()).toEqual([]);
    expect(h.electric.approve(supervisor2, forSup.id).state).toBe('approved');
    // Decided once: a second approval of the same record is refused.
    refused(f, 'ELECTRIC_STATE', () => h.electric.approve(supervisor, forSup.id));
  });

  it('refused and withdrawn proposals are kept and audited, never in force; the unit may be proposed again', () => {
    const f = heatingFixture();
    const h = electric(f);
    const r = h.electric.register(desk1, base);
    refused(f, 'INVALID_APPLICATION', () => h.electric.refuse(supervisor, r.id, '  '));
    expect(h.electric.refuse(supervisor, r.id, 'no contract on file')).toMatchObject({
      state: 'refused',
      decision: { by: 'sup.li', at: f.time.now, reason: 'no contract on file' },
      inForceFrom: null,
    });
    refused(f, 'ELECTRIC_STATE', () => h.electric.approve(supervisor2, r.id));
    refused(f, 'ELECTRIC_STATE', () => h.electric.withdraw(desk1, r.id, 'late'));
    const again = h.electric.register(desk1, base);
    expect(h.electric.withdraw(desk2, again.id, 'household changed its mind')).toMatchObject({
      state: 'withdrawn',
      decision: { by: 'desk.he', reason: 'household changed its mind' },
    });
    refused(f, 'FORBIDDEN', () => h.electric.withdraw(supervisor, again.id, 'x'));
    expect(h.electric.list().map((x) => [x.number, x.state])).toEqual([
      ['EH-2', 'withdrawn'],
      ['EH-1', 'refused'],
    ]);
    expect(h.electric.registrations()).toEqual([]);
    const actions = f.audit
      .query({ subject: `heating-unit:${UNIT}` })
      .map((e) => [e.action, e.actor])
      .sort();
    expect(actions).toEqual([
      ['heating.electric-proposed', 'desk.wu'],
      ['heating.electric-proposed', 'desk.wu'],
      ['heating.electric-refused', 'sup.li'],
      ['heating.electric-withdrawn', 'desk.he'],
    ]);
    expect(f.audit.verify().ok).toBe(true);
  });

  it('a proposal starting next week, approved now, is in force from next week', () => {
    const f = heatingFixture();
    const h = electric(f);
    const r = h.electric.register(desk1, { ...base, from: f.time.now + 7 * DAY });
    expect(h.electric.approve(supervisor, r.id).inForceFrom).toBe(f.time.now + 7 * DAY);
  });

  it("a record written by one clerk before proposals existed waits for a second person's approval", () => {
    const f = heatingFixture();
    const h = electric(f);
    const old = {
      ...{ meter: UNIT, applicant: { name: 'Household E-H01', staffId: null }, reason: 'tariff' },
      ...{
        from: f.time.now - 90 * DAY,
        recordedBy: 'desk.wu',
        recordedAt: f.time.now - 90 * DAY,
        ended: null,
      },
    };
    f.db.prepare('INSERT INTO heating_electric (meter, data) VALUES (?, ?)').run(UNIT, JSON.stringify(old));
    expect(h.electric.get(1)).toMatchObject({ state: 'proposed', decision: null, inForceFrom: null });
    expect(h.electric.registrations()).toEqual([]);
    refused(f, 'ELECTRIC_REGISTERED', () => h.electric.register(desk2, base));
    expect(h.electric.approve(supervisor, 1)).toMatchObject({ state: 'approved', inForceFrom: f.time.now });
    expect(h.electric.registrations()).toHaveLength(1);
  });
});
