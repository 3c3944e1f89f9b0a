import { describe, expect, it } from 'vitest';
import { heatingDetector } from '../../services/inspection/detection/heating.ts';
import type { DetectionInput, HeatingRegistration } from '../../services/inspection/detection/types.ts';
import { mulberry32 } from '../../simulators/meters/random.ts';
import { officeBuildings } from './heating-buildings.ts';

const DAY = 86_400_000;
const START = Date.UTC(2025, 8, 1); // September into winter
const DAYS = 180;

/**
 * Ten office buildings through an autumn into winter; B1 gets a heater on a thermostat for the
 * last 20 days (1 % of its base load per K of cold), plainly seen when B1 is judged at all.
 */
function campus(): DetectionInput {
  const rand = mulberry32(3);
  const H = DAYS * 24;
  const temp = new Float64Array(H);
  let spell = 0;
  for (let h = 0; h < H; h++) {
    if (h % 24 === 0) spell = 0.7 * spell + 2.5 * (rand() - 0.5);
    temp[h] = 16 - (14 * h) / 24 / DAYS + spell * 2 + 3 * Math.sin((2 * Math.PI * ((h % 24) - 9)) / 24);
  }
  return officeBuildings({
    start: START,
    temp,
    rand,
    firstWeekday: 1,
    extra: (id, h, kw, cold, base) => (id === 'B1' && h >= (DAYS - 20) * 24 ? kw + 0.01 * base * cold : kw),
  });
}

/** The campus with B1 carrying no account (so only a registration can bring it into the check). */
function withoutAccount(input: DetectionInput, heating: HeatingRegistration[]): DetectionInput {
  const meters = new Map(input.meters);
  const { account: _, ...b1 } = meters.get('B1')!;
  meters.set('B1', b1);
  return { ...input, meters, heating };
}

/** B1's electric-heating judgement (a registration's own meter also gets "heating registered on"). */
const b1 = (r: ReturnType<ReturnType<typeof heatingDetector>['run']>) =>
  r.scores.find((s) => s.id === 'B1' && s.reason !== 'heating registered on');

describe('electric heating reads the heating registrations', () => {
  const input = campus();

  it('a unit registered as heated electrically pays for its heating: it is not judged', () => {
    // Its registration names its electricity meter as the unit's heating meter, heating on.
    const reg: HeatingRegistration = { meter: 'B1', electricityMeter: 'B1', state: 'on', from: START };
    const r = heatingDetector().run({ ...input, heating: [reg] });
    expect(b1(r)).toBeUndefined();
    expect(r.findings.filter((f) => f.meter === 'B1')).toEqual([]);
    // The same heater unregistered is found (so the registration, not the data, left it out).
    expect(
      heatingDetector()
        .run(input)
        .scores.filter((s) => s.alert)
        .map((s) => s.id),
    ).toEqual(['B1']);
  });

  it('an electric heating registration that ended before the period is no excuse', () => {
    const reg: HeatingRegistration = {
      meter: 'B1',
      electricityMeter: 'B1',
      state: 'on',
      from: START,
      to: START + 60 * DAY,
    };
    expect(b1(heatingDetector().run({ ...input, heating: [reg] }))?.alert).toBe(true);
  });

  it("a unit's electricity meter named by its heat-meter registration is judged without an account", () => {
    // Without an account and without a registration B1 is no customer meter of the check.
    expect(b1(heatingDetector().run(withoutAccount(input, [])))).toBeUndefined();
    // Registered as heating stopped on its heat meter, its electricity meter named: judged, and a
    // heater in a unit whose heating was stopped is the more serious finding, naming the registration.
    const stopped: HeatingRegistration = {
      meter: 'H1',
      electricityMeter: 'B1',
      state: 'stopped',
      from: START,
      confirmedBy: ['a', 'b'],
    };
    const r = heatingDetector().run(withoutAccount(input, [stopped]));
    expect(b1(r)?.alert).toBe(true);
    const f = r.findings.find((x) => x.key === 'electric-heating:B1')!;
    expect(f.severity).toBe('high');
    expect(f.evidence.figures.heatingRegistration).toBe('H1 stopped');
  });
});
