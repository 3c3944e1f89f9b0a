import { z } from 'zod';
import { hash01, hashSigned } from './random.ts';

/**
 * Seeded load shapes for campus consumers: hourly weekday and weekend shapes, a season term driven
 * by a synthetic outdoor temperature, academic vacations, a day-to-day factor, minute noise and
 * short appliance events. Every function here is pure in (load, seed, time).
 */
export const LoadProfileNameSchema = z.enum(['dorm-room', 'office', 'staff-household', 'business']);
export type LoadProfileName = z.infer<typeof LoadProfileNameSchema>;

export const MINUTE = 60_000;
export const DAY = 86_400_000;

/** What the shapes need to know about one local calendar day. */
export interface Day {
  index: number;
  weekend: boolean;
  month: number; // 0..11
  dayOfYear: number; // 0..365
  vacation: boolean;
  heatingSeason: boolean;
  meanOutdoorC: number;
}

/** Local calendar day `index` (days since 1970-01-01 in local time). */
export function dayInfo(index: number, seed: number): Day {
  const d = new Date(index * DAY);
  const month = d.getUTCMonth();
  const date = d.getUTCDate();
  const dayOfYear = Math.floor((index * DAY - Date.UTC(d.getUTCFullYear(), 0, 1)) / DAY);
  const weekday = (index + 4) % 7; // 1970-01-01 was a Thursday; 0 = Sunday
  // Academic calendar of a northern-hemisphere campus: summer break mid-July to August, winter
  // break mid-January to about 20 February; district heating from 15 November to 15 March.
  const vacation =
    (month === 6 && date >= 10) || month === 7 || (month === 0 && date >= 15) || (month === 1 && date <= 20);
  const heatingSeason =
    (month === 10 && date >= 15) || month === 11 || month <= 1 || (month === 2 && date <= 15);
  const meanOutdoorC =
    12 - 15 * Math.cos((2 * Math.PI * (dayOfYear - 20)) / 365) + 3 * hashSigned(seed, index, 11);
  return {
    index,
    weekend: weekday === 0 || weekday === 6,
    month,
    dayOfYear,
    vacation,
    heatingSeason,
    meanOutdoorC,
  };
}

export function outdoorC(day: Day, hour: number): number {
  return day.meanOutdoorC + 4 * Math.sin((2 * Math.PI * (hour - 9)) / 24);
}

interface LoadModel {
  weekday: readonly number[]; // kW at each hour
  weekend: readonly number[];
  /** Share of heating (below 16 °C) and cooling (above 24 °C) that is electric. */
  hvac: number;
  vacation: number;
  pf: number;
  /** Appliance events: chance per 15-minute block while awake, and their power. */
  eventChance: number;
  eventKw: number;
  water: { chance: number; flowM3h: number };
  heat: { flowM3h: number; nightSetback: number };
}

const SHAPES: Record<LoadProfileName, LoadModel> = {
  'dorm-room': {
    weekday: [
      0.35, 0.25, 0.12, 0.08, 0.08, 0.08, 0.15, 0.45, 0.35, 0.15, 0.12, 0.15, 0.35, 0.3, 0.15, 0.15, 0.2,
      0.35, 0.6, 0.75, 0.85, 0.95, 0.9, 0.6,
    ],
    weekend: [
      0.45, 0.35, 0.2, 0.1, 0.08, 0.08, 0.08, 0.12, 0.25, 0.4, 0.5, 0.55, 0.6, 0.55, 0.5, 0.5, 0.5, 0.55,
      0.65, 0.75, 0.85, 0.9, 0.85, 0.6,
    ],
    hvac: 1,
    vacation: 0.15,
    pf: 0.92,
    eventChance: 0.12,
    eventKw: 1.2,
    water: { chance: 0.3, flowM3h: 0.48 },
    heat: { flowM3h: 0.25, nightSetback: 1 },
  },
  office: {
    weekday: [
      0.4, 0.4, 0.4, 0.4, 0.4, 0.45, 0.5, 0.8, 2.5, 3.5, 3.5, 3.5, 3.0, 3.5, 3.5, 3.5, 3.5, 2.8, 1.2, 0.8,
      0.5, 0.5, 0.45, 0.4,
    ],
    weekend: [
      0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.45, 0.5, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.6, 0.5, 0.45, 0.4,
      0.4, 0.4, 0.4, 0.4,
    ],
    hvac: 1,
    vacation: 0.6,
    pf: 0.88,
    eventChance: 0.05,
    eventKw: 1.5,
    water: { chance: 0.2, flowM3h: 0.3 },
    heat: { flowM3h: 1.2, nightSetback: 0.6 },
  },
  'staff-household': {
    weekday: [
      0.3, 0.25, 0.2, 0.2, 0.2, 0.25, 0.6, 1.1, 0.7, 0.35, 0.3, 0.4, 0.8, 0.5, 0.3, 0.3, 0.4, 0.9, 1.6, 1.8,
      1.5, 1.2, 0.8, 0.45,
    ],
    weekend: [
      0.3, 0.25, 0.2, 0.2, 0.2, 0.2, 0.3, 0.6, 1.0, 0.9, 0.8, 1.0, 1.3, 0.9, 0.7, 0.7, 0.8, 1.1, 1.7, 1.9,
      1.6, 1.3, 0.9, 0.5,
    ],
    hvac: 0.8,
    vacation: 1,
    pf: 0.95,
    eventChance: 0.12,
    eventKw: 2.0,
    water: { chance: 0.25, flowM3h: 0.5 },
    heat: { flowM3h: 0.35, nightSetback: 0.9 },
  },
  business: {
    weekday: [0.8, 0.8, 0.8, 0.8, 0.8, 1.5, 3, 9, 8, 5, 5, 12, 14, 8, 5, 5, 8, 13, 12, 7, 5, 5, 2, 1],
    weekend: [0.8, 0.8, 0.8, 0.8, 0.8, 1.2, 2, 6, 6, 4, 4, 8, 10, 6, 4, 4, 6, 9, 8, 5, 4, 3, 1.5, 0.9],
    hvac: 0.5,
    vacation: 0.3,
    pf: 0.85,
    eventChance: 0.05,
    eventKw: 4,
    water: { chance: 0.6, flowM3h: 1.2 },
    heat: { flowM3h: 0.8, nightSetback: 0.7 },
  },
};

const MODELS: Record<LoadProfileName, LoadModel & { weekdayPeak: number; weekendPeak: number }> =
  Object.fromEntries(
    Object.entries(SHAPES).map(([name, m]) => [
      name,
      { ...m, weekdayPeak: Math.max(...m.weekday), weekendPeak: Math.max(...m.weekend) },
    ]),
  ) as Record<LoadProfileName, LoadModel & { weekdayPeak: number; weekendPeak: number }>;

function shapeAt(shape: readonly number[], hour: number): number {
  const h = Math.floor(hour) % 24;
  const f = hour - Math.floor(hour);
  return shape[h]! * (1 - f) + shape[(h + 1) % 24]! * f;
}

function activity(m: LoadModel, day: Day, hour: number): number {
  return shapeAt(day.weekend ? m.weekend : m.weekday, hour) * (day.vacation ? m.vacation : 1);
}

/** Local hour of day (fractional) of a local minute index. */
function hourOf(localMinute: number): number {
  return (((localMinute % 1440) + 1440) % 1440) / 60;
}

/** Active power in kW during local minute `localMinute` of `day`. */
export function electricPowerKw(load: LoadProfileName, seed: number, day: Day, localMinute: number): number {
  const m = MODELS[load];
  const hour = hourOf(localMinute);
  const t = outdoorC(day, hour);
  const season = 1 + m.hvac * (Math.max(0, 16 - t) * 0.03 + Math.max(0, t - 24) * 0.06);
  const dayFactor = 0.85 + 0.3 * hash01(seed, day.index, 1);
  const noise = 0.9 + 0.2 * hash01(seed, localMinute, 2);
  let p = activity(m, day, hour) * season * dayFactor * noise;
  const block = Math.floor(localMinute / 15);
  if (hour >= 7 && hash01(seed, block, 3) < m.eventChance * (day.vacation ? m.vacation : 1)) {
    const length = 3 + Math.floor(hash01(seed, block, 4) * 8);
    if (localMinute - block * 15 < length) p += m.eventKw;
  }
  return p;
}

export function powerFactor(load: LoadProfileName, seed: number, localMinute: number): number {
  return Math.min(1, MODELS[load].pf + 0.03 * hashSigned(seed, localMinute, 5));
}

/** Water flow in m³/h during a local minute: taps and showers run or they do not. */
export function waterFlowM3h(load: LoadProfileName, seed: number, day: Day, localMinute: number): number {
  const m = MODELS[load];
  const peak = day.weekend ? m.weekendPeak : m.weekdayPeak;
  const chance = (m.water.chance * activity(m, day, hourOf(localMinute))) / peak;
  if (hash01(seed, localMinute, 6) >= chance) return 0;
  return m.water.flowM3h * (0.7 + 0.6 * hash01(seed, localMinute, 7));
}

export interface HeatSample {
  flowM3h: number;
  supplyC: number;
  returnC: number;
}

/** District heating flow and temperatures during a local minute. */
export function heatSample(load: LoadProfileName, seed: number, day: Day, localMinute: number): HeatSample {
  const hour = hourOf(localMinute);
  const idle = 21 + 1.5 * hash01(seed, localMinute, 8);
  if (!day.heatingSeason) return { flowM3h: 0, supplyC: idle + 1, returnC: idle };
  const m = MODELS[load];
  const demand = Math.min(1, Math.max(0, (18 - outdoorC(day, hour)) / 30));
  const occupied = hour >= 6 && hour < 22 && !(load === 'office' && day.weekend);
  const flowM3h =
    m.heat.flowM3h *
    (0.5 + demand) *
    (occupied ? 1 : m.heat.nightSetback) *
    (0.95 + 0.1 * hash01(seed, localMinute, 9));
  const supplyC = 45 + 35 * demand + 0.5 * hashSigned(seed, localMinute, 10);
  const deltaK = 5 + 15 * demand * (occupied ? 1 : 0.8);
  return { flowM3h, supplyC, returnC: supplyC - deltaK };
}

/** Simulated supply voltage of phase `phase` at second `second`: 230 V with a daily swing and noise. */
export function voltageV(seed: number, second: number, phase: number, hour: number): number {
  return 230 + 3 * Math.sin((2 * Math.PI * (hour - 4)) / 24) - 2 + 1.5 * hashSigned(seed, second, 20 + phase);
}
