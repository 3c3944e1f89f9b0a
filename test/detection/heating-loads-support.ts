import { validateCampus, type LoadedCampus } from '../../config/campus.ts';
import { SqliteStore } from '../../adapters/sqlite/store.ts';
import { inputFromStore } from '../../services/inspection/detection/input.ts';
import type {
  DetectionInput,
  HeatingRegistration,
  WeatherSample,
} from '../../services/inspection/detection/types.ts';
import { dayInfo, outdoorC } from '../../simulators/meters/load-profiles.ts';
import { campusFromScenario, scenarioBuses } from '../../simulators/scenario/live.ts';
import { renderScenario } from '../../simulators/scenario/render.ts';
import {
  parseScenario,
  type Scenario,
  type ScenarioInput,
  type ScenarioNodeInput,
} from '../../simulators/scenario/schema.ts';

/** Shared by the detection tests of illegal loads, heating, input and the CLI (one owner). */

export const MIN = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;

/** A dorm building with rooms on one line (accounts ROOM-…), staff households with heat meters. */
export function campusScenario(opts: {
  rooms?: number;
  households?: number;
  start?: string;
  stopped?: Record<string, { from: string; to?: string }[]>;
  injections?: ScenarioInput['injections'];
}): Scenario {
  const rooms = opts.rooms ?? 4;
  const households = opts.households ?? 0;
  const modbus = (id: string, profile: string, bus: string, unitId: number, account?: string) => ({
    via: 'modbus' as const,
    id,
    profile,
    bus,
    unitId,
    ...(account ? { account } : {}),
  });
  const nodes: ScenarioNodeInput[] = [
    {
      id: 'D1',
      site: 'main',
      utility: 'electricity',
      kind: 'building',
      role: 'dorm',
      meter: modbus('E-D1', 'eastron-sdm630', 'mains', 1),
    },
  ];
  for (let r = 1; r <= rooms; r++) {
    nodes.push({
      id: `R${r}`,
      site: 'main',
      utility: 'electricity',
      kind: 'unit',
      role: 'dorm-room',
      parent: 'D1',
      load: 'dorm-room',
      meter: modbus(`E-R${r}`, r % 2 ? 'hiking-dds238-2' : 'eastron-sdm120', 'rooms', r, `ROOM-R${r}`),
    });
  }
  if (households > 0) {
    nodes.push({
      id: 'S1',
      site: 'main',
      utility: 'electricity',
      kind: 'building',
      meter: modbus('E-S1', 'eastron-sdm630', 'mains', 2),
    });
  }
  for (let h = 1; h <= households; h++) {
    nodes.push({
      id: `HH${h}`,
      site: 'main',
      utility: 'electricity',
      kind: 'unit',
      role: 'staff-household',
      parent: 'S1',
      load: 'staff-household',
      meter: modbus(`E-HH${h}`, 'chint-ddsu666', 'homes', h, `HH-${h}`),
    });
    nodes.push({
      id: `HU${h}`,
      site: 'main',
      utility: 'heat',
      kind: 'unit',
      load: 'staff-household',
      meter: modbus(`H-HU${h}`, 'mbus-heat-converter', 'homes', 100 + h, `HH-${h}`),
      heatingStopped: opts.stopped?.[`HU${h}`] ?? [],
    });
  }
  return parseScenario({
    name: 'detection test campus',
    seed: 11,
    start: opts.start ?? '2026-12-01T00:00:00+08:00',
    sites: [
      {
        id: 'main',
        buses: [
          { id: 'mains', type: 'modbus-tcp' },
          { id: 'rooms', type: 'rtu-over-tcp' },
          { id: 'homes', type: 'rtu-over-tcp' },
        ],
      },
    ],
    nodes,
    injections: opts.injections ?? [],
  });
}

export function scenarioCampus(scenario: Scenario): LoadedCampus {
  const raw = campusFromScenario(scenario, {
    ports: scenarioBuses(scenario).map((_, i) => 15020 + i),
    dataDir: 'var',
  });
  return validateCampus(raw, { file: 'scenario-campus.yaml', dir: '/tmp' });
}

/** The scenario's heating registrations as the heating desk would have recorded them. */
export function scenarioRegistrations(scenario: Scenario): HeatingRegistration[] {
  const out: HeatingRegistration[] = [];
  for (const n of scenario.nodes) {
    if (n.utility !== 'heat' || !n.meter) continue;
    if (n.heatingStopped.length === 0)
      out.push({ meter: n.meter.id, state: 'on', from: scenario.start - 30 * DAY });
    for (const w of n.heatingStopped) {
      out.push({
        meter: n.meter.id,
        state: 'stopped',
        from: w.from,
        ...(Number.isFinite(w.to) ? { to: w.to } : {}),
        workOrder: `WO-${n.id}`,
        confirmedBy: ['wang.fang', 'zhao.lei'],
      });
    }
  }
  return out;
}

/** Hourly outdoor temperature of the scenario's synthetic weather. */
export function scenarioWeather(scenario: Scenario, from: number, to: number): WeatherSample[] {
  const out: WeatherSample[] = [];
  const offset = scenario.utcOffsetMinutes * MIN;
  for (let t = from; t < to; t += HOUR) {
    const local = t + offset;
    const day = dayInfo(Math.floor(local / DAY), scenario.seed);
    out.push({ ts: t, outdoorC: outdoorC(day, (((local % DAY) + DAY) % DAY) / HOUR) });
  }
  return out;
}

export interface Rendered {
  scenario: Scenario;
  campus: LoadedCampus;
  store: SqliteStore;
  input: DetectionInput;
}

/** Renders the scenario into an in-memory SQLite store and reads the input back from it. */
export async function renderInput(
  scenario: Scenario,
  opts: { days: number; stepMs: number; weather?: boolean; physicsStep?: number },
): Promise<Rendered> {
  const campus = scenarioCampus(scenario);
  const store = SqliteStore.open({ path: ':memory:' });
  const to = scenario.start + opts.days * DAY;
  await renderScenario(scenario, {
    from: scenario.start,
    to,
    stepMs: opts.stepMs,
    writer: store,
    truth: 'totals',
    ...(opts.physicsStep ? { physicsStep: opts.physicsStep } : {}),
  });
  const roles = new Map(
    scenario.nodes.filter((n) => n.meter && n.role).map((n) => [n.meter!.id, n.role!] as [string, string]),
  );
  const input = await inputFromStore(store, campus, {
    from: scenario.start,
    to: to + 1,
    heating: scenarioRegistrations(scenario),
    roles,
    ...(opts.weather ? { weather: scenarioWeather(scenario, scenario.start, to + 1) } : {}),
  });
  return { scenario, campus, store, input };
}
