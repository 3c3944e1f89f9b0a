import { describe, expect, it } from 'vitest';
import { createHeating } from '../../services/backoffice/parts/heating.ts';
import { AlertStore } from '../../services/inspection/detection/alerts.ts';
import { heatingDetector } from '../../services/inspection/detection/heating.ts';
import type { DetectionInput, MeterData } from '../../services/inspection/detection/types.ts';
import { mulberry32 } from '../../simulators/meters/random.ts';
import { officeBuildings } from '../detection/heating-buildings.ts';
import { auditAndRows, expectRefusedUnchanged } from '../helpers/refused.ts';
import { heatingFixture, desk1, desk2, fixer1, inspector, DAY, type HeatingFixture } from './support.ts';

/**
 * Electric heating registered at the heating desk: a household's electricity meter (E-E-H01 on
 * the demo campus) recorded as heated electrically by a desk clerk, from when, for whom and why,
 * in the audit log; refused when back-dated, for a heat meter, for the clerk themselves, or over
 * a registration in force; ended the same way. Detection, given the desk's registrations as the
 * back office gives them, judges the unit's electricity before the registration and not from it on.
 */

const UNIT = 'E-E-H01';

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
      ended: null,
    });
    const entry = f.audit
      .query({ subject: `heating-unit:${UNIT}` })
      .find((e) => e.action === 'heating.electric-registered')!;
    expect(entry).toMatchObject({ actor: 'desk.wu', subject: `heating-unit:${UNIT}` });
    expect(JSON.parse(JSON.stringify(entry.after))).toMatchObject({ record: r.number, from: f.time.now });
    expect(h.electric.registrations()).toEqual([
      {
        meter: UNIT,
        electricityMeter: UNIT,
        state: 'on',
        from: f.time.now,
        workOrder: r.number,
        confirmedBy: ['desk.wu'],
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
    h.electric.register(desk1, {
      meter: UNIT,
      applicant: 'Household E-H01',
      reason: 'electric-heating tariff',
    });
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
