import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputFileError, inputFromCsv, readingsCsv } from '../../services/inspection/detection/input.ts';
import type { LoadedCampus } from '../../config/campus.ts';
import { HOUR, MIN, campusScenario, renderInput, type Rendered } from './heating-loads-support.ts';

const heatingCsv = (r: Rendered) =>
  [
    'meter,state,from,to,work_order,confirmed_by',
    ...(r.input.heating ?? []).map((h) =>
      [
        h.meter,
        h.state,
        new Date(h.from).toISOString(),
        h.to === undefined ? '' : new Date(h.to).toISOString(),
        h.workOrder ?? '',
        (h.confirmedBy ?? []).join(';'),
      ].join(','),
    ),
  ].join('\n');

const weatherCsv = (r: Rendered) =>
  [
    'ts,outdoor_c',
    ...(r.input.weather ?? []).map((w) => `${new Date(w.ts).toISOString()},${w.outdoorC}`),
  ].join('\n');

describe('DetectionInput from CSV files', () => {
  let r: Rendered;
  beforeAll(async () => {
    const scenario = campusScenario({
      rooms: 2,
      households: 2,
      stopped: { HU2: [{ from: '2026-11-01T00:00:00+08:00' }] },
      injections: [{ type: 'heater', node: 'R1', kw: 1.2, from: '+5h', to: '+7h' }],
    });
    r = await renderInput(scenario, { days: 1, stepMs: 15 * MIN, weather: true });
  });
  afterAll(() => r.store.close());

  it('parses a good file to the same input as from the store', () => {
    const roles = new Map([...r.input.meters.values()].filter((m) => m.role).map((m) => [m.meter, m.role!]));
    const fromCsv = inputFromCsv({
      campus: r.campus,
      readingsCsv: { name: 'readings.csv', text: readingsCsv(r.input) },
      weatherCsv: { name: 'weather.csv', text: weatherCsv(r) },
      heatingCsv: { name: 'heating.csv', text: heatingCsv(r) },
      from: r.input.from,
      to: r.input.to,
      roles,
    });
    expect(fromCsv).toEqual(r.input);
    // Sanity: it is not empty, and the stop carries its two signatures.
    expect(fromCsv.meters.get('E-R1')!.series.pf!.length).toBe(97);
    expect(fromCsv.meters.get('H-HU1')!.series.supply_c!.length).toBe(97);
    expect(fromCsv.heating!.find((h) => h.state === 'stopped')!.confirmedBy).toEqual([
      'wang.fang',
      'zhao.lei',
    ]);
  });

  it('without from/to, the range is the readings’ own', () => {
    const x = inputFromCsv({ campus: r.campus, readingsCsv: { name: 'r.csv', text: readingsCsv(r.input) } });
    expect(x.from).toBe(r.scenario.start);
    expect(x.to).toBe(r.scenario.start + 24 * HOUR + 1);
  });

  const bad = (campus: LoadedCampus, file: 'readings' | 'weather' | 'heating', text: string): string => {
    const ok = 'meter,ts,quantity,value\nE-R1,2026-12-01T00:00:00Z,energy_import_kwh,1.5\n';
    try {
      inputFromCsv({
        campus,
        readingsCsv: { name: 'readings.csv', text: file === 'readings' ? text : ok },
        ...(file === 'weather' ? { weatherCsv: { name: 'weather.csv', text } } : {}),
        ...(file === 'heating' ? { heatingCsv: { name: 'heating.csv', text } } : {}),
      });
    } catch (e) {
      expect(e).toBeInstanceOf(InputFileError);
      return (e as Error).message;
    }
    return 'no error';
  };

  it.each([
    ['readings', 'meter,ts,value\n', /^readings\.csv:1: header has no column "quantity"/],
    [
      'readings',
      'meter,ts,quantity,value\nE-R1,2026-12-01T00:00:00Z,pf,0.9\nE-X9,2026-12-01T00:00:00Z,pf,1\n',
      /^readings\.csv:3: meter "E-X9" is not in the campus/,
    ],
    [
      'readings',
      'meter,ts,quantity,value\nE-R1,2026-12-01 08:00,pf,0.9\n',
      /^readings\.csv:2: ts "2026-12-01 08:00" is not an ISO 8601 UTC time/,
    ],
    [
      'readings',
      'meter,ts,quantity,value\nE-R1,2026-12-01T08:00:00+08:00,pf,0.9\n',
      /^readings\.csv:2: ts .* UTC/,
    ],
    [
      'readings',
      'meter,ts,quantity,value\n\nE-R1,2026-12-01T00:00:00Z,pf,abc\n',
      /^readings\.csv:3: value "abc" is not a number/,
    ],
    [
      'readings',
      'meter,ts,quantity,value\nE-R1,2026-12-01T00:00:00Z,watts,1\n',
      /^readings\.csv:2: quantity "watts"/,
    ],
    [
      'readings',
      'meter,ts,quantity,value\nE-R1,2026-12-01T00:00:00Z,flow_m3h,1\n',
      /^readings\.csv:2: a electricity meter has no flow_m3h/,
    ],
    [
      'readings',
      'meter,ts,quantity,value\nE-R1,2026-12-01T00:00:00Z,pf,1\nE-R1,2026-12-01T00:00:00Z,pf,0.9\n',
      /^readings\.csv:3: a second pf of E-R1 .* \(first on line 2\)/,
    ],
    [
      'readings',
      'meter,ts,quantity,value\nE-R1,2026-12-01T00:00:00Z,pf\n',
      /^readings\.csv:2: expected 4 fields, got 3/,
    ],
    [
      'weather',
      'ts,outdoor_c\n2026-12-01T00:00:00Z,-3.5\n2026-12-01T01:00:00Z,\n',
      /^weather\.csv:3: outdoor_c "" is not a number/,
    ],
    [
      'weather',
      'ts,outdoor_c\n2026-12-01T00:00:00Z,300\n',
      /^weather\.csv:2: outdoor_c 300 is not a plausible/,
    ],
    [
      'heating',
      'meter,state,from,to,work_order,confirmed_by\nH-HU1,stopped,2026-11-01T00:00:00Z,,WO-1,wang.fang\n',
      /^heating\.csv:2: a stop is confirmed by two different people/,
    ],
    [
      'heating',
      'meter,state,from,to,work_order,confirmed_by\nH-HU1,paused,2026-11-01T00:00:00Z,,,\n',
      /^heating\.csv:2: state "paused" must be on or stopped/,
    ],
    [
      'heating',
      'meter,state,from,to,work_order,confirmed_by\nE-R1,stopped,2026-11-01T00:00:00Z,,,a;b\n',
      /^heating\.csv:2: meter "E-R1" is an electricity meter: that registers electric heating, whose state is on/,
    ],
    [
      'heating',
      'meter,state,from,to,work_order,confirmed_by\nH-HU1,on,2026-11-02T00:00:00Z,2026-11-01T00:00:00Z,,\n',
      /^heating\.csv:2: to must be after from/,
    ],
  ] as const)('%s: bad rows name the file and line (%#)', (file, text, expected) => {
    expect(bad(r.campus, file, text)).toMatch(expected);
  });
});
