import { describe, expect, it } from 'vitest';
import { validateCampus, type LoadedCampus } from '../../config/campus.ts';
import { CampusSchema } from '../../config/schemas/campus.ts';
import { heatingDetector } from '../../services/inspection/detection/heating.ts';
import {
  InputFileError,
  inputFromCsv,
  parseHeatingCsv,
  readingsCsv,
} from '../../services/inspection/detection/input.ts';
import type {
  DetectionInput,
  HeatingRegistration,
  MeterData,
} from '../../services/inspection/detection/types.ts';
import { mulberry32 } from '../../simulators/meters/random.ts';
import { campusFromScenario } from '../../simulators/scenario/live.ts';
import { officeBuildings } from './heating-buildings.ts';
import { campusScenario } from './heating-loads-support.ts';

const DAY = 86_400_000;
const START = Date.UTC(2025, 8, 1); // September into winter
const DAYS = 180;

/**
 * Ten office buildings through an autumn into winter; B1 gets a heater on a thermostat for the
 * last 20 days (1 % of its base load per K of cold), plainly seen when B1 is judged at all.
 */
function campus(heater: { days: number; perK: number } = { days: 20, perK: 0.01 }): DetectionInput {
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
    extra: (id, h, kw, cold, base) =>
      id === 'B1' && h >= (DAYS - heater.days) * 24 ? kw + heater.perK * base * cold : kw,
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

/** The input as a run at `at` saw it: every sample and temperature before `at`. */
function until(input: DetectionInput, at: number): DetectionInput {
  const meters = new Map<string, MeterData>();
  for (const [id, m] of input.meters) meters.set(id, { ...m, register: m.register.filter((s) => s.ts < at) });
  return { ...input, to: at, meters, weather: (input.weather ?? []).filter((w) => w.ts < at) };
}

describe('a unit registered as heated electrically, from its registration on', () => {
  // A heater five times the one above (5 % of the base load per K), on for the last 40 days.
  const input = campus({ days: 40, perK: 0.05 });
  const registeredAt = START + (DAYS - 10) * DAY;
  const reg: HeatingRegistration = { meter: 'B1', electricityMeter: 'B1', state: 'on', from: registeredAt };

  it('is not alerted once registered, however its load follows the cold', () => {
    const r = heatingDetector().run({ ...input, heating: [reg] });
    expect(r.findings.filter((f) => f.meter === 'B1')).toEqual([]);
    expect(b1(r)).toBeUndefined();
  });

  it('is judged, and its heater found, on a run before the registration took effect', () => {
    const before = until(input, registeredAt);
    const r = heatingDetector().run({ ...before, heating: [reg] });
    expect(b1(r)?.alert).toBe(true);
    expect(r.findings.map((f) => f.key)).toContain('electric-heating:B1');
    // The registration recorded later changes nothing about that run; from it on B1 is left out.
    const at = until(input, registeredAt + DAY);
    expect(b1(heatingDetector().run({ ...at, heating: [reg] }))).toBeUndefined();
  });
});

/**
 * A scenario campus whose households' electricity meters are the ten buildings (E-HH1 is B1), with
 * no account on E-HH1; `link` names E-HH1 as heat meter H-HU1's unit's electricity meter.
 */
function linkedCampus(link: boolean): LoadedCampus {
  const raw = campusFromScenario(campusScenario({ rooms: 1, households: 10 }), {
    ports: [15020, 15021, 15022],
    dataDir: 'var',
  }) as { sites: { gateways: { buses: { meters: Record<string, unknown>[] }[] }[] }[] };
  for (const site of raw.sites)
    for (const gw of site.gateways)
      for (const bus of gw.buses)
        for (const m of bus.meters) {
          if (m.id === 'E-HH1') delete m.account;
          if (link && m.id === 'H-HU1') m.electricityMeter = 'E-HH1';
        }
  return validateCampus(raw, { file: 'linked-campus.yaml', dir: '/tmp' });
}

/** The ten buildings as E-HH1…E-HH10, through the CSV files the detect CLI reads. */
function throughCsv(campus: LoadedCampus, input: DetectionInput, heating?: string): DetectionInput {
  const meters = new Map<string, MeterData>();
  for (const m of input.meters.values())
    meters.set(`E-HH${m.meter.slice(1)}`, { ...m, meter: `E-HH${m.meter.slice(1)}` });
  const weather = [
    'ts,outdoor_c',
    ...(input.weather ?? []).map((w) => `${new Date(w.ts).toISOString()},${w.outdoorC}`),
  ];
  return inputFromCsv({
    campus,
    readingsCsv: { name: 'readings.csv', text: readingsCsv({ ...input, meters }) },
    weatherCsv: { name: 'weather.csv', text: weather.join('\n') },
    ...(heating ? { heatingCsv: { name: 'heating.csv', text: heating } } : {}),
    from: input.from,
    to: input.to,
  });
}

describe("a heat-metered unit's electricity meter, linked in the campus file", () => {
  const input = campus();
  const score = (r: ReturnType<ReturnType<typeof heatingDetector>['run']>) =>
    r.scores.find((s) => s.id === 'E-HH1' && s.reason !== 'heating registered on');

  it('is judged without an account and without a registration', () => {
    // Unlinked and without an account, E-HH1 is no customer meter of the check.
    expect(score(heatingDetector().run(throughCsv(linkedCampus(false), input)))).toBeUndefined();
    const linked = throughCsv(linkedCampus(true), input);
    expect(linked.meters.get('E-HH1')!.heatMeters).toEqual(['H-HU1']);
    expect(score(heatingDetector().run(linked))?.alert).toBe(true);
  });

  it("a stop recorded on the heat meter reaches the unit's electricity: the finding names it", () => {
    const csv = [
      'meter,state,from,to,work_order,confirmed_by',
      `H-HU1,stopped,${new Date(START).toISOString()},,WO-H-1,wang.fang;zhao.lei`,
    ].join('\n');
    const linked = throughCsv(linkedCampus(true), input, csv);
    expect(linked.heating![0]!.electricityMeter).toBe('E-HH1');
    const f = heatingDetector()
      .run(linked)
      .findings.find((x) => x.key === 'electric-heating:E-HH1')!;
    expect(f.severity).toBe('high');
    expect(f.evidence.figures.heatingRegistration).toBe('H-HU1 stopped');
  });

  it('electric heating registered in the CSV (an electricity meter, state on) spares it from then on', () => {
    const at = (d: number) => new Date(START + d * DAY).toISOString();
    const csv = `meter,state,from,to,work_order,confirmed_by\nE-HH1,on,${at(DAYS - 30)},,,\n`;
    const r = heatingDetector().run(throughCsv(linkedCampus(true), input, csv));
    expect(r.findings.filter((f) => f.meter === 'E-HH1')).toEqual([]);
    // Registered only after the data ends: judged as before.
    const later = `meter,state,from,to,work_order,confirmed_by\nE-HH1,on,${at(DAYS + 1)},,,\n`;
    expect(score(heatingDetector().run(throughCsv(linkedCampus(true), input, later)))?.alert).toBe(true);
  });

  it('the campus file refuses a link that is not from a heat meter to an electricity meter', () => {
    const raw = campusFromScenario(campusScenario({ rooms: 1, households: 2 }), {
      ports: [15020, 15021, 15022],
      dataDir: 'var',
    }) as { sites: { gateways: { buses: { meters: Record<string, unknown>[] }[] }[] }[] };
    const meters = raw.sites[0]!.gateways.flatMap((g) => g.buses.flatMap((b) => b.meters));
    const set = (id: string, to: string) => {
      const copy = structuredClone(raw);
      for (const m of copy.sites[0]!.gateways.flatMap((g) => g.buses.flatMap((b) => b.meters)))
        if (m.id === id) m.electricityMeter = to;
      const r = CampusSchema.safeParse(copy);
      return r.success
        ? 'ok'
        : r.error.issues.map((i) => `${String(i.path.at(-1))}: ${i.message}`).join('; ');
    };
    expect(meters.some((m) => m.id === 'H-HU2')).toBe(true);
    expect(set('H-HU1', 'E-HH1')).toBe('ok');
    expect(set('H-HU1', 'E-NOPE')).toBe(
      'electricityMeter: electricityMeter "E-NOPE" is not a meter of the campus',
    );
    expect(set('H-HU1', 'H-HU2')).toBe(
      'electricityMeter: electricityMeter "H-HU2" is a heat meter, not an electricity meter',
    );
    expect(set('E-HH1', 'E-HH2')).toBe(
      "electricityMeter: E-HH1 is a electricity meter: only a heat meter names its unit's electricity meter",
    );
  });
});

describe('heating CSV: every inconsistent row names its line and the problem', () => {
  const campus = linkedCampus(true);
  const header = 'meter,state,from,to,work_order,confirmed_by,electricity_meter';
  const parse = (...lines: string[]) => {
    try {
      parseHeatingCsv({ name: 'heating.csv', text: [header, ...lines].join('\n') }, campus);
    } catch (e) {
      expect(e).toBeInstanceOf(InputFileError);
      return (e as Error).message;
    }
    return 'no error';
  };
  const T = '2026-11-01T00:00:00Z';
  const U = '2026-12-01T00:00:00Z';

  it.each([
    [
      [`E-HH2,stopped,${T},,,a;b,`],
      'heating.csv:2: meter "E-HH2" is an electricity meter: that registers electric heating, whose state is on (a stop is recorded on the unit\'s heat meter)',
    ],
    [
      [`E-HH2,on,${T},,,,E-HH3`],
      'heating.csv:2: electricity_meter "E-HH3" differs from meter "E-HH2": electric heating is registered on the unit\'s own electricity meter',
    ],
    [
      [`H-HU2,on,${T},,,,`, `H-HU1,on,${T},,,,E-HH2`],
      'heating.csv:3: electricity_meter "E-HH2" differs from "E-HH1", the electricity meter the campus file links to heat meter "H-HU1"',
    ],
    [
      [`E-HH2,on,${T},,,,`, `E-HH3,on,${T},${U},,,`, `E-HH2,on,${U},,,,`],
      'heating.csv:4: electric heating of "E-HH2" is already registered over this time (line 2)',
    ],
    [
      [`H-HU1,on,${T},,,,H-HU2`],
      'heating.csv:2: electricity_meter "H-HU2" is not an electricity meter of the campus',
    ],
  ])('%j', (lines, message) => {
    expect(parse(...lines)).toBe(message);
  });

  it('consistent rows parse: an electric registration, a linked stop, one after an ended one', () => {
    expect(parse(`E-HH2,on,${T},${U},,,`, `E-HH2,on,${U},,,,E-HH2`, `H-HU1,stopped,${T},,,a;b,E-HH1`)).toBe(
      'no error',
    );
  });
});
