import type { DetectionInput, MeterData } from '../../services/inspection/detection/types.ts';

const HOUR = 3_600_000;

/**
 * Ten office-like buildings on one feeder, hourly registers from `start`: each its own size, office
 * hours (8–18 on weekdays) and 3 % noise; `extra` adds what a test needs to a building's kW in an
 * hour (a heater, a plant, a wandering level) given the hour's cold (K below 15.5 °C) and the
 * building's base load. The outdoor temperature is the test's.
 */
export function officeBuildings(o: {
  start: number;
  temp: Float64Array;
  rand: () => number;
  /** Weekday (0 = Sunday) of the first day. */
  firstWeekday: number;
  extra?: (id: string, h: number, kw: number, cold: number, base: number) => number;
}): DetectionInput {
  const H = o.temp.length;
  const meters = new Map<string, MeterData>();
  for (let b = 1; b <= 10; b++) {
    const id = `B${b}`;
    const base = 5 + 10 * o.rand();
    const bump = 1 + o.rand();
    let reg = 100;
    const register = [{ ts: o.start, value: reg }];
    for (let h = 0; h < H; h++) {
      const hod = h % 24;
      const wd = (Math.floor(h / 24) + o.firstWeekday) % 7;
      const open = wd !== 0 && wd !== 6 && hod >= 8 && hod < 18;
      const cold = Math.max(0, 15.5 - o.temp[h]!);
      const kw = base * (1 + (open ? bump : 0)) * (1 + 0.03 * (o.rand() - 0.5) * 2);
      reg += o.extra ? o.extra(id, h, kw, cold, base) : kw;
      register.push({ ts: o.start + (h + 1) * HOUR, value: Math.round(reg * 100) / 100 });
    }
    meters.set(id, {
      meter: id,
      kind: 'electricity',
      parent: 'F',
      account: `acct-${id}`,
      register,
      series: {},
    });
  }
  const weather = Array.from(o.temp, (t, h) => ({ ts: o.start + h * HOUR, outdoorC: t }));
  return { timezone: 'UTC', from: o.start, to: o.start + H * HOUR, meters, weather };
}

/**
 * Hourly outdoor temperature: `trend(day)` (°C, day a fraction) plus spells of cold and warm weather
 * (each day keeps 70 % of the day before's spell and draws a new part) and a daily swing of ±3 °C,
 * warmest at 15:00. `rand` is drawn once a day, at midnight, so the buildings' draws follow on.
 */
export function outdoorTemps(
  hours: number,
  rand: () => number,
  trend: (day: number) => number,
): Float64Array {
  const temp = new Float64Array(hours);
  let spell = 0;
  for (let h = 0; h < hours; h++) {
    const day = h / 24;
    if (h % 24 === 0) spell = 0.7 * spell + 2.5 * (rand() - 0.5);
    temp[h] = trend(day) + spell * 2 + 3 * Math.sin((2 * Math.PI * ((h % 24) - 9)) / 24);
  }
  return temp;
}
