import { expect } from 'vitest';
import type { Quantity } from '../../config/schemas/quantities.ts';
import type { StoredReading } from '../../services/metering/storage.ts';
import { prng } from '../helpers/prng.ts';

/**
 * The roll-up definition both stores keep (README, "Ingest and storage"), recomputed here from the
 * readings by plain code, not by either store's, and readings that exercise it: used by
 * rollups-agree.test.ts and test/influx/rollup-migration.test.ts.
 */

export const MIN = 60_000;
export const SLOT = 15 * MIN;
export const DAY = 86_400_000;
export const OFFSET_MIN = 480;
/** Local midnight (Asia/Shanghai) of 2026-01-05. */
export const D0 = Date.UTC(2026, 0, 5) - OFFSET_MIN * MIN;
export const DAYS = 2;

export const LAST: ReadonlySet<Quantity> = new Set([
  'energy_import_kwh',
  'energy_export_kwh',
  'volume_m3',
  'heat_kwh',
  'relay_closed',
  'breaker_closed',
]);

export interface Rollup {
  start: number;
  readings: number;
  values: Partial<Record<Quantity, number>>;
  powerKwMax?: number;
}

/**
 * A meter read every `every` ms for two days: a register and instantaneous values; one poll in
 * seven failed, one in nine uncertain with an implausible register jump (and wild power and
 * voltage); some slots with nothing but uncertain or error readings; the relay (and breaker) open
 * from 10:00 to 16:00 local on the first day; then one good reading two days later, which closes
 * the days in the embedded store.
 */
export function meterReadings(
  meter: string,
  every: number,
  seed: number,
  span: { from?: number; days?: number; firstAt?: number; closing?: boolean } = {},
): StoredReading[] {
  const from = span.from ?? D0;
  const days = span.days ?? DAYS;
  const rand = prng(seed);
  const out: StoredReading[] = [];
  let register = 1000 + seed;
  let seq = 1;
  const base = (ts: number) => ({
    meter,
    seq: seq++,
    ts,
    site: 'east',
    gateway: 'gw-east-1',
    kind: 'electricity' as const,
  });
  for (let ts = from + (span.firstAt ?? 7_000); ts < from + days * DAY; ts += every) {
    const slot = Math.floor(ts / SLOT);
    const open = ts >= from + 2 * 3_600_000 && ts < from + 8 * 3_600_000;
    const power = open ? 0 : 0.5 + rand() * 4;
    register += power * (every / 3_600_000);
    const roll = rand();
    const uncertainOnly = slot % 23 === 5;
    const errorOnly = slot % 29 === 7;
    if (errorOnly || (!uncertainOnly && roll < 1 / 7)) {
      out.push({
        ...base(ts),
        quality: 'error',
        values: {},
        error: { code: 'MODBUS_TIMEOUT', message: 'no answer' },
      });
    } else if (uncertainOnly || roll < 1 / 7 + 1 / 9) {
      out.push({
        ...base(ts),
        quality: 'uncertain',
        flags: ['IMPLAUSIBLE_STEP'],
        values: {
          energy_import_kwh: register + 90_000,
          power_kw: 250 + rand(),
          voltage_v: 400,
          relay_closed: open ? 1 : 0,
          breaker_closed: open ? 1 : 0,
        },
      });
    } else {
      out.push({
        ...base(ts),
        quality: 'good',
        values: {
          energy_import_kwh: Math.round(register * 100) / 100,
          power_kw: power,
          voltage_v: 225 + rand() * 10,
          relay_closed: open ? 0 : 1,
          breaker_closed: open ? 0 : 1,
        },
      });
    }
  }
  if (span.closing ?? true)
    out.push({
      ...base(from + (days + 2) * DAY),
      quality: 'good',
      values: { energy_import_kwh: register + 1 },
    });
  return out;
}

/** The definition, computed here from the readings (not by either store's code). */
export function expectedSlots(readings: readonly StoredReading[], from: number, to: number): Rollup[] {
  const bySlot = new Map<number, StoredReading[]>();
  for (const r of readings) {
    if (r.ts < from || r.ts >= to) continue;
    const start = r.ts - (r.ts % SLOT);
    bySlot.set(start, [...(bySlot.get(start) ?? []), r]);
  }
  return [...bySlot.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([start, rs]) => {
      const good = rs.filter((r) => r.quality === 'good');
      const values: Partial<Record<Quantity, number>> = {};
      const quantities = new Set(good.flatMap((r) => Object.keys(r.values) as Quantity[]));
      for (const q of quantities) {
        const vs = good.map((r) => r.values[q]).filter((v): v is number => v !== undefined);
        values[q] = LAST.has(q) ? vs[vs.length - 1]! : vs.reduce((s, v) => s + v, 0) / vs.length;
      }
      const powers = good.map((r) => r.values.power_kw).filter((v): v is number => v !== undefined);
      const slot: Rollup = { start, readings: rs.length, values };
      if (powers.length > 0) slot.powerKwMax = Math.max(...powers);
      return slot;
    });
}

export function expectedDays(slots: readonly Rollup[]): Rollup[] {
  const days = new Map<number, Rollup[]>();
  for (const s of slots) {
    const day = Math.floor((s.start + OFFSET_MIN * MIN) / DAY) * DAY - OFFSET_MIN * MIN;
    days.set(day, [...(days.get(day) ?? []), s]);
  }
  return [...days.entries()].map(([start, ss]) => {
    const values: Partial<Record<Quantity, number>> = {};
    for (const q of new Set(ss.flatMap((s) => Object.keys(s.values) as Quantity[]))) {
      const vs = ss.map((s) => s.values[q]).filter((v): v is number => v !== undefined);
      values[q] = LAST.has(q) ? vs[vs.length - 1]! : vs.reduce((s, v) => s + v, 0) / vs.length;
    }
    const maxes = ss.map((s) => s.powerKwMax).filter((v): v is number => v !== undefined);
    const day: Rollup = { start, readings: ss.reduce((n, s) => n + s.readings, 0), values };
    if (maxes.length > 0) day.powerKwMax = Math.max(...maxes);
    return day;
  });
}

/** Field by field: counts, last values and maxima exactly; means to 1e-12 (summation order). */
export function expectSame(got: readonly Rollup[], want: readonly Rollup[], what: string): void {
  expect(
    got.map((r) => r.start),
    `${what}: slots`,
  ).toEqual(want.map((r) => r.start));
  got.forEach((g, i) => {
    const w = want[i]!;
    const at = `${what} at ${new Date(w.start).toISOString()}`;
    expect(g.readings, `${at}: readings`).toBe(w.readings);
    expect(g.powerKwMax, `${at}: powerKwMax`).toBe(w.powerKwMax);
    expect(Object.keys(g.values).sort(), `${at}: fields`).toEqual(Object.keys(w.values).sort());
    for (const [q, v] of Object.entries(w.values) as [Quantity, number][]) {
      if (LAST.has(q)) expect(g.values[q], `${at}: ${q}`).toBe(v);
      else
        expect(Math.abs(g.values[q]! - v), `${at}: ${q} ${g.values[q]} vs ${v}`).toBeLessThanOrEqual(
          Math.abs(v) * 1e-12,
        );
    }
  });
}
