import { loadProfiles } from '../../config/profiles.ts';
import type { Quantity } from '../../config/schemas/quantities.ts';
import type { DetectionInput, MeterData, Sample } from '../../services/inspection/detection/types.ts';
import type { StoredReading } from '../../services/metering/storage.ts';
import { mulberry32 } from '../../simulators/meters/random.ts';
import { renderScenario, type RenderResult } from '../../simulators/scenario/render.ts';
import type { Scenario, ScenarioInput, ScenarioNodeInput } from '../../simulators/scenario/schema.ts';

/**
 * Test support for the detection engine: rendering a scenario into a DetectionInput (the way the
 * colleague's input.ts does it from the store, reduced to what the tests need), campus trees of
 * any size, and the theft transforms of Jokar, Arianpoo & Leung (2016) applied to a meter's
 * rendered consumption, plus benign confounders (legitimate changes that also move the upstream
 * meters).
 */

export const HOUR = 3_600_000;
export const DAY = 86_400_000;
const profiles = loadProfiles();

const REGISTER: Record<string, Quantity> = {
  electricity: 'energy_import_kwh',
  water: 'volume_m3',
  heat: 'heat_kwh',
};

export interface Rendered {
  scenario: Scenario;
  result: RenderResult;
  input: DetectionInput;
}

/** Renders `days` from the scenario start (optionally skipping `skipDays`) into a DetectionInput. */
export async function renderInput(
  scenario: Scenario,
  opts: { days: number; stepMs?: number; physicsStep?: number; skipDays?: number },
): Promise<Rendered> {
  const readings: StoredReading[] = [];
  const stepMs = opts.stepMs ?? HOUR;
  const from = scenario.start + (opts.skipDays ?? 0) * DAY;
  const to = from + opts.days * DAY;
  const result = await renderScenario(scenario, {
    from,
    to,
    stepMs,
    physicsStep: opts.physicsStep ?? Math.min(stepMs, 15 * 60_000),
    writer: { writeReadings: async (b) => void readings.push(...b) },
    profiles,
  });
  return { scenario, result, input: toInput(scenario, readings, from, to) };
}

/** The DetectionInput of rendered readings: the nearest metered ancestor is a meter's parent. */
export function toInput(
  scenario: Scenario,
  readings: readonly StoredReading[],
  from: number,
  to: number,
): DetectionInput {
  const nodes = new Map(scenario.nodes.map((n) => [n.id, n]));
  const meters = new Map<string, MeterData>();
  for (const n of scenario.nodes) {
    if (!n.meter) continue;
    let p = n.parent === undefined ? undefined : nodes.get(n.parent);
    while (p && !p.meter) p = p.parent === undefined ? undefined : nodes.get(p.parent);
    meters.set(n.meter.id, {
      meter: n.meter.id,
      kind: n.utility,
      ...(p?.meter ? { parent: p.meter.id } : {}),
      register: [],
      series: {},
      errors: [],
    });
  }
  for (const r of readings) {
    const m = meters.get(r.meter);
    if (!m) continue;
    if (r.quality === 'error') {
      m.errors!.push(r.ts);
      continue;
    }
    const v = r.values[REGISTER[m.kind]!];
    if (v !== undefined) m.register.push({ ts: r.ts, value: v });
    for (const q of ['relay_closed', 'breaker_closed', 'power_kw'] as const) {
      const x = r.values[q];
      if (x !== undefined) (m.series[q] ??= []).push({ ts: r.ts, value: x });
    }
  }
  return { timezone: scenario.timezone, from, to, meters };
}

// ---------------------------------------------------------------------------------------------
// Campus trees

export interface CampusOptions {
  seed?: number;
  start?: string;
  feeders?: number;
  buildingsPerFeeder?: number;
  roomsPerBuilding?: number;
  /** Staff households per building instead of dorm rooms, for every n-th building. */
  householdsEvery?: number;
  /** A water master with this many household meters. */
  waterUnits?: number;
  injections?: ScenarioInput['injections'];
}

/** A campus: supply → transformer → feeders → building mains → room (or household) meters. */
export function campusInput(o: CampusOptions = {}): ScenarioInput {
  const feeders = o.feeders ?? 2;
  const bpf = o.buildingsPerFeeder ?? 2;
  const rooms = o.roomsPerBuilding ?? 8;
  const nodes: ScenarioNodeInput[] = [];
  const buses: { id: string; type: 'modbus-tcp' | 'rtu-over-tcp' }[] = [{ id: 'mains', type: 'modbus-tcp' }];
  const opcua = (id: string, element: string) => ({ via: 'opcua' as const, id, substation: 'sub1', element });
  const modbus = (id: string, profile: string, bus: string, unitId: number) => ({
    via: 'modbus' as const,
    id,
    profile,
    bus,
    unitId,
  });
  const e = (n: Omit<ScenarioNodeInput, 'site' | 'utility'>) =>
    nodes.push({ site: 'main', utility: 'electricity', ...n });
  e({ id: 'supply', kind: 'supply', meter: opcua('E-IN', 'incomer') });
  const perFeeder = bpf * rooms * 0.5;
  e({
    id: 'T1',
    kind: 'transformer',
    parent: 'supply',
    meter: opcua('E-T1', 'T1'),
    loss: { ratedKva: Math.max(20, feeders * perFeeder * 1.6), noLoadKw: 0.2, loadLossKw: 1.5 },
  });
  let mainsUnit = 1;
  for (let f = 1; f <= feeders; f++) {
    e({
      id: `F${f}`,
      kind: 'feeder',
      parent: 'T1',
      meter: opcua(`E-F${f}`, `F${f}`),
      loss: { ratedKva: Math.max(8, perFeeder * 1.5), loadLossKw: Math.max(8, perFeeder * 1.5) * 0.03 },
    });
    for (let b = 1; b <= bpf; b++) {
      const B = `B${f}${b}`;
      const line = `line-${B}`;
      buses.push({ id: line, type: 'rtu-over-tcp' });
      e({
        id: B,
        kind: 'building',
        parent: `F${f}`,
        meter: modbus(`E-${B}`, 'eastron-sdm630', 'mains', mainsUnit++),
      });
      const households = o.householdsEvery !== undefined && ((f - 1) * bpf + b) % o.householdsEvery === 0;
      for (let r = 1; r <= rooms; r++) {
        const id = `${B}-${String(r).padStart(2, '0')}`;
        e({
          id,
          kind: 'unit',
          parent: B,
          load: households ? 'staff-household' : 'dorm-room',
          meter: modbus(
            `E-${id}`,
            households ? 'chint-ddsu666' : r % 4 === 0 ? 'eastron-sdm120' : 'hiking-dds238-2',
            line,
            r,
          ),
        });
      }
    }
  }
  const units = o.waterUnits ?? 0;
  if (units > 0) {
    buses.push({ id: 'wline', type: 'rtu-over-tcp' });
    nodes.push({
      id: 'WM',
      site: 'main',
      utility: 'water',
      kind: 'supply',
      leakShare: 0.02,
      meter: modbus('W-M', 'generic-water-meter', 'mains', 200),
    });
    for (let u = 1; u <= units; u++)
      nodes.push({
        id: `WU${u}`,
        site: 'main',
        utility: 'water',
        kind: 'unit',
        parent: 'WM',
        load: 'staff-household',
        meter: modbus(`W-U${u}`, 'generic-water-meter', 'wline', u),
      });
  }
  return {
    name: 'campus',
    seed: o.seed ?? 11,
    start: o.start ?? '2026-10-05T00:00:00+08:00',
    sites: [{ id: 'main', substations: [{ id: 'sub1' }], buses }],
    nodes,
    injections: o.injections ?? [],
  };
}

// ---------------------------------------------------------------------------------------------
// Theft transforms (Jokar et al. 2016) and benign confounders on rendered consumption

export type AttackType = 'h1' | 'h2' | 'h3' | 'h4' | 'h5' | 'h6';
export const ATTACKS: readonly AttackType[] = ['h1', 'h2', 'h3', 'h4', 'h5', 'h6'];

/** A transform of one day's consumption (T values). */
export type DayTransform = (x: readonly number[]) => number[];

export function jokar(type: AttackType, rand: () => number): DayTransform {
  const u = () => 0.1 + 0.7 * rand();
  switch (type) {
    case 'h1': {
      const alpha = u();
      return (x) => x.map((v) => alpha * v);
    }
    case 'h2':
      return (x) => {
        const T = x.length;
        const len = Math.max(Math.ceil(T / 6), Math.floor(T / 6 + rand() * (T / 2)));
        const start = Math.floor(rand() * (T - len));
        return x.map((v, t) => (t >= start && t < start + len ? 0 : v));
      };
    case 'h3':
      return (x) => x.map((v) => u() * v);
    case 'h4':
      return (x) => {
        const mean = x.reduce((s, v) => s + v, 0) / x.length;
        return x.map(() => u() * mean);
      };
    case 'h5':
      return (x) => {
        const mean = x.reduce((s, v) => s + v, 0) / x.length;
        return x.map(() => mean);
      };
    case 'h6':
      return (x) => [...x].reverse();
  }
}

/**
 * Applies `transform` to each local day of `meter`'s consumption inside [from, to) and rebuilds its
 * register. `alsoUpstream`: the change is real (a vacated room), so every metered ancestor changes
 * by the same amount; otherwise only this meter's record changes (theft).
 */
export function transformConsumption(
  input: DetectionInput,
  meterId: string,
  transform: DayTransform,
  window: { from: number; to: number },
  opts: { step: number; offsetMs?: number; alsoUpstream?: boolean },
): void {
  const meter = input.meters.get(meterId)!;
  const step = opts.step;
  const offset = opts.offsetMs ?? 8 * HOUR;
  const T = Math.round(DAY / step);
  const deltaAt = new Map<number, number>();
  const byTs = new Map(meter.register.map((s) => [s.ts, s.value]));
  const dayStart = (t: number) => Math.floor((t + offset) / DAY) * DAY - offset;
  const last = meter.register.at(-1)?.ts ?? window.from;
  for (let d = dayStart(window.from); d < Math.min(window.to, last); d += DAY) {
    const x: number[] = [];
    let ok = true;
    for (let t = 0; t < T; t++) {
      const a = byTs.get(d + t * step);
      const b = byTs.get(d + (t + 1) * step);
      if (a === undefined || b === undefined) ok = false;
      x.push(ok ? b! - a! : 0);
    }
    if (!ok || d < window.from || d + DAY > window.to) continue; // whole days only
    const y = transform(x);
    for (let t = 0; t < T; t++) deltaAt.set(d + t * step, y[t]! - x[t]!);
  }
  // The change of the interval starting at a sample shows in the register from the next sample on.
  const apply = (m: MeterData) => {
    let cum = 0;
    const out: Sample[] = [];
    for (const s of m.register) {
      out.push({ ts: s.ts, value: s.value + cum });
      cum += deltaAt.get(s.ts) ?? 0;
    }
    m.register = out;
  };
  apply(meter);
  if (opts.alsoUpstream) {
    for (let p = meter.parent; p !== undefined; p = input.meters.get(p)?.parent) apply(input.meters.get(p)!);
  }
}

export { mulberry32 };
