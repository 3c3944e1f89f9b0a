import type {
  DetectionInput,
  HeatingRegistration,
  MeterData,
  Sample,
} from '../../../services/inspection/detection/types.ts';
import { mulberry32 } from '../../../simulators/meters/random.ts';
import { DAY, GRID_HOURS, GRID_START, HOUR, type RealBuilding, type RealData } from './data.ts';

/**
 * Campuses built from real buildings: feeders of about 8 buildings under an upstream meter that
 * measures the true sum plus a load-dependent technical loss (2–4 % of the feeder's energy), every
 * meter with 1 % noise per hour, registers as meters would report them (cumulative kWh, 0.01 kWh
 * resolution, no sample where the building's data has a gap). Cases change a building's reported
 * (or, for heaters, true) consumption before the registers are written.
 */

export const TIMEZONE = 'Europe/London';

export interface BuildingCopy {
  meter: string;
  feeder: string;
  building: RealBuilding;
  /** True consumption per grid hour (gaps filled from the building's own week profile). */
  truth: Float64Array;
  /** What its meter measures per hour before noise (a theft changes this only); NaN: no reading. */
  reported: Float64Array;
  /** A fault of the register itself, applied when the register is written. */
  fault?: { type: 'stop' | 'backwards' | 'silent'; fromHour: number };
  /** Multiplicative error growing linearly from 0 at `fromHour` to `drift` at the end (CT drift). */
  drift?: { fromHour: number; drift: number };
}

export interface Feeder {
  id: string;
  copies: BuildingCopy[];
  /** Drift of the feeder meter itself (an innocent feeder whose CT drifts). */
  drift?: { fromHour: number; drift: number };
}

export interface Campus {
  feeders: Feeder[];
  /** End of the data (exclusive grid hour) and its instant. */
  endHour: number;
  rand: () => number;
}

export function gaussian(rand: () => number): number {
  const u = Math.max(rand(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

/** Gaps filled with the building's median for the same hour of the week (for the upstream sum). */
function filled(e: Float64Array): Float64Array {
  const byHow: number[][] = Array.from({ length: 168 }, () => []);
  for (let h = 0; h < e.length; h++) if (e[h] === e[h]) byHow[(h + 72) % 168]!.push(e[h]!);
  const med = byHow.map((xs) => {
    xs.sort((a, b) => a - b);
    return xs.length ? xs[xs.length >> 1]! : 0;
  });
  const out = new Float64Array(e.length);
  for (let h = 0; h < e.length; h++) out[h] = e[h] === e[h] ? e[h]! : med[(h + 72) % 168]!;
  return out;
}

const filledCache = new WeakMap<RealBuilding, Float64Array>();

/**
 * `feeders` feeders of `size` buildings each from `pool` (distinct within a feeder; a building may
 * sit on two feeders, as an independent copy with its own noise and scale).
 */
export function buildCampus(
  data: RealData,
  pool: readonly RealBuilding[],
  seed: number,
  opts: { feeders: number; size: number; endHour: number },
): Campus {
  const rand = mulberry32(seed);
  const feeders: Feeder[] = [];
  for (let f = 0; f < opts.feeders; f++) {
    const order = [...pool].sort(() => rand() - 0.5);
    const id = `F${f + 1}`;
    const copies = order.slice(0, Math.min(opts.size, order.length)).map((b) => {
      let t = filledCache.get(b);
      if (!t) filledCache.set(b, (t = filled(b.electricity)));
      // A copy is the building at another size (0.7–1.3): same physics, different meter.
      const scale = 0.7 + 0.6 * rand();
      const truth = t.map((v) => v * scale);
      const reported = b.electricity.map((v) => v * scale);
      return { meter: `${id}-B${b.id}`, feeder: id, building: b, truth, reported };
    });
    feeders.push({ id, copies });
  }
  void data;
  return { feeders, endHour: opts.endHour, rand };
}

/** A Jokar et al. (2016) attack on one day's hourly values. */
export type DayAttack = (x: number[]) => number[];

/** Applies `attack` to the reported values of whole UTC days from `fromHour` to the end. */
export function attackDays(c: BuildingCopy, fromHour: number, endHour: number, attack: DayAttack): void {
  const first = Math.floor(fromHour / 24) * 24;
  for (let d = first; d + 24 <= endHour; d += 24) {
    const day = Array.from(c.reported.subarray(d, d + 24));
    if (day.some((v) => v !== v)) continue;
    const out = attack(day);
    for (let i = 0; i < 24; i++) if (d + i >= fromHour) c.reported[d + i] = out[i]!;
  }
}

export interface BuiltInput {
  input: DetectionInput;
  /** Meter id → building copy, and feeder meter ids. */
  copies: Map<string, BuildingCopy>;
  feeders: string[];
}

function registerOf(
  hourly: Float64Array,
  hasReading: (h: number) => boolean,
  endHour: number,
  rand: () => number,
  fault?: BuildingCopy['fault'],
): Sample[] {
  const out: Sample[] = [];
  let reg = 1000 + Math.floor(rand() * 50_000);
  out.push({ ts: GRID_START, value: reg });
  for (let h = 0; h < endHour; h++) {
    const v = hourly[h]!;
    let inc = v * (1 + 0.01 * gaussian(rand));
    if (fault && h >= fault.fromHour) {
      if (fault.type === 'stop') inc = 0;
      // Running backwards: the register counts the energy down.
      else if (fault.type === 'backwards') inc = -Math.abs(inc);
      else if (fault.type === 'silent') continue;
    }
    reg += inc;
    if (hasReading(h)) out.push({ ts: GRID_START + (h + 1) * HOUR, value: Math.round(reg * 100) / 100 });
  }
  return out;
}

/**
 * The DetectionInput of a campus: every building's register and every feeder meter's, from the
 * grid start to `endHour`, with the weather and heating registrations (buildings with gas heating
 * are registered as heated by their heat meter, their electricity meter named).
 */
export function campusInput(campus: Campus, data: RealData): BuiltInput {
  const { endHour, rand } = campus;
  const meters = new Map<string, MeterData>();
  const copies = new Map<string, BuildingCopy>();
  const heating: HeatingRegistration[] = [];
  for (const f of campus.feeders) {
    const sum = new Float64Array(endHour);
    for (const c of f.copies) {
      copies.set(c.meter, c);
      for (let h = 0; h < endHour; h++) sum[h]! += c.truth[h]!;
      const measured = c.reported.map((v, h) => {
        const fill = v === v ? v : c.truth[h]!;
        if (!c.drift || h < c.drift.fromHour) return fill;
        return (
          fill * (1 + (c.drift.drift * (h - c.drift.fromHour)) / Math.max(1, endHour - c.drift.fromHour))
        );
      });
      meters.set(c.meter, {
        meter: c.meter,
        kind: 'electricity',
        parent: f.id,
        account: `acct-${c.meter}`,
        role: 'building',
        register: registerOf(measured, (h) => c.reported[h] === c.reported[h], endHour, rand, c.fault),
        series: {},
      });
      if (c.building.gas)
        heating.push({ meter: `H-${c.meter}`, electricityMeter: c.meter, state: 'on', from: GRID_START });
    }
    // Technical loss: a no-load part and a part growing with the square of the load (I²R), 2–4 %
    // of the feeder's energy in all.
    let total = 0;
    let sq = 0;
    for (let h = 0; h < endHour; h++) {
      total += sum[h]!;
      sq += sum[h]! ** 2;
    }
    const share = 0.02 + 0.02 * rand();
    const noLoad = (0.3 * share * total) / endHour;
    const k2 = (0.7 * share * total) / Math.max(sq, 1e-9);
    const up = sum.map((s, h) => {
      const v = s + noLoad + k2 * s * s;
      if (!f.drift || h < f.drift.fromHour) return v;
      return v * (1 + (f.drift.drift * (h - f.drift.fromHour)) / Math.max(1, endHour - f.drift.fromHour));
    });
    meters.set(f.id, {
      meter: f.id,
      kind: 'electricity',
      register: registerOf(up, () => true, endHour, rand),
      series: {},
    });
  }
  const weather = [];
  for (let h = 0; h < endHour; h++) {
    const t = data.temperature[h]!;
    if (t === t) weather.push({ ts: GRID_START + h * HOUR, outdoorC: t });
  }
  return {
    input: {
      timezone: TIMEZONE,
      from: GRID_START,
      to: GRID_START + endHour * HOUR,
      meters,
      heating,
      weather,
    },
    copies,
    feeders: campus.feeders.map((f) => f.id),
  };
}

export const hourOf = (ts: number): number => Math.round((ts - GRID_START) / HOUR);
export { DAY, GRID_HOURS, HOUR };
