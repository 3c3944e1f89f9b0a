import { expect, it } from 'vitest';
import { intervalConsumption } from '../../services/metering/consumption/consumption.ts';
import type {
  Installation,
  IntervalConsumption,
  ReadingStore,
  Step,
  StoredReading,
} from '../../services/metering/storage.ts';
import { prng } from '../helpers/prng.ts';

/**
 * Consumption past retention, part of the contract suite (test/storage/contract.ts): a meter's
 * consumption by day and by month computed from raw readings, then again once retention has
 * deleted them and only the 15-minute roll-ups are left, on each store.
 */
export interface RetentionHooks {
  /** The latest instant the test's data may reach (InfluxDB drops raw readings by its own clock). */
  latestEnd(): number;
  /** Deletes every raw reading before `before` through the store's own retention; resolves once gone. */
  expireRaw(store: ReadingStore, before: number): Promise<void>;
}

const MIN = 60_000;
const DAY = 86_400_000;
const TZ = 'Asia/Shanghai';
const OFFSET = 8 * 3_600_000;

/** Local midnight in Asia/Shanghai (no daylight saving) of a calendar date; `month` 0-based, may overflow. */
function localMidnight(year: number, month: number, day = 1): number {
  return Date.UTC(year, month, day) - OFFSET;
}

/** The first of the local month at or before `ts`. */
function monthStartBefore(ts: number): { year: number; month: number } {
  const d = new Date(ts + OFFSET);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() };
}

interface Truth {
  readings: StoredReading[];
  installations: Installation[];
  /** The meter's register (0.01 kWh counts, across installations as one monotone total) at a reading ts. */
  total: Map<number, number>;
}

/**
 * A meter read every `every` ms at `offset` past each step, from `from` to `to`: its register in
 * 0.01 kWh counts (a real 8-digit counter with two decimals), 0–1.5 kWh a quarter hour, some
 * polls failed, an outage of `outage` with no reading at all, and optionally an exchange at `swap`
 * (the old device near its 99,999.99 wrap, so it rolls over first; the new one from 12.34).
 */
function meterYear(opts: {
  meter: string;
  from: number;
  to: number;
  every: number;
  offset: number;
  seed: number;
  outage?: [number, number];
  swap?: number;
  /** The old device's register at the start, in counts. */
  startCounts?: number;
}): Truth {
  const rand = prng(opts.seed);
  const readings: StoredReading[] = [];
  const total = new Map<number, number>();
  const rollover = 10_000_000; // counts: 100,000.00 kWh
  let counts = opts.startCounts ?? 9_900_000; // 99,000.00 kWh: near the wrap
  let newCounts = 1234; // 12.34 kWh on the new one
  let sum = 0;
  let lastOld = counts;
  let seq = 1;
  const perStep = (150 * opts.every) / (15 * MIN);
  for (let ts = opts.from + opts.offset; ts < opts.to; ts += opts.every) {
    const used = Math.floor(rand() * perStep);
    sum += used;
    const onNew = opts.swap !== undefined && ts >= opts.swap;
    if (onNew) newCounts += used;
    else counts = (counts + used) % rollover;
    if (opts.outage && ts >= opts.outage[0] && ts < opts.outage[1]) continue;
    const base = {
      meter: opts.meter,
      seq: seq++,
      ts,
      site: 'east',
      gateway: 'gw-east-1',
      kind: 'electricity' as const,
    };
    if (rand() < 0.01) {
      readings.push({
        ...base,
        quality: 'error',
        values: {},
        error: { code: 'MODBUS_TIMEOUT', message: 'no answer' },
      });
      continue;
    }
    const register = onNew ? newCounts : counts;
    if (!onNew) lastOld = counts;
    readings.push({ ...base, quality: 'good', values: { energy_import_kwh: register / 100 } });
    total.set(ts, sum);
  }
  const installations: Installation[] =
    opts.swap === undefined
      ? []
      : [
          {
            meter: opts.meter,
            serial: 'OLD',
            installedAt: opts.from - 10 * DAY,
            removedAt: opts.swap,
            // The installer reads the old device at removal: what it showed since its last poll.
            endRegister: lastOld / 100,
            rolloverAt: rollover / 100,
          },
          {
            meter: opts.meter,
            serial: 'NEW',
            installedAt: opts.swap,
            startRegister: 12.34,
            rolloverAt: rollover / 100,
          },
        ];
  return { readings, installations, total };
}

async function write(store: ReadingStore, readings: readonly StoredReading[]): Promise<void> {
  for (let i = 0; i < readings.length; i += 2000) await store.writeReadings(readings.slice(i, i + 2000));
}

export function consumptionPastRetention(
  getStore: () => ReadingStore,
  meterId: (n: string) => string,
  hooks: RetentionHooks,
): void {
  it('gives the same consumption by day and month from the roll-ups once raw readings are gone', async () => {
    const store = getStore();
    // Twelve calendar months ending at least 40 days before the latest instant allowed.
    const { year, month } = monthStartBefore(hooks.latestEnd() - 40 * DAY);
    const start = localMidnight(year, month - 12);
    const end = localMidnight(year, month);
    // Meter q: read on every quarter hour, as a load profile is; a rollover in its first weeks, an
    // exchange at 10:07 on a day in the eighth month and a two-day outage in the fourth.
    const q = meterYear({
      meter: meterId('q'),
      from: start - DAY,
      to: end + DAY,
      every: 15 * MIN,
      offset: 0,
      seed: 16,
      outage: [
        localMidnight(year, month - 9, 10) + 2 * 3_600_000,
        localMidnight(year, month - 9, 12) + 5 * 3_600_000,
      ],
      swap: localMidnight(year, month - 5, 17) + 10 * 3_600_000 + 7 * MIN,
    });
    // Meter f: read every 5 minutes, 20 s past each (a poll's latency), for three months.
    const fEnd = localMidnight(year, month - 9);
    const f = meterYear({
      meter: meterId('f'),
      from: start - DAY,
      to: fEnd + DAY,
      every: 5 * MIN,
      offset: 20_000,
      seed: 61,
      startCounts: 100_000,
    });
    await write(store, q.readings);
    await write(store, f.readings);

    const consumption = (meter: string, step: Step, to: number, installations: Installation[]) =>
      intervalConsumption(store, {
        meters: [meter],
        quantity: 'energy_import_kwh',
        from: start,
        to,
        step,
        timezone: TZ,
        installations,
      });
    const raw = {
      qDays: await consumption(meterId('q'), '1d', end, q.installations),
      qMonths: await consumption(meterId('q'), '1mo', end, q.installations),
      fDays: await consumption(meterId('f'), '1d', fEnd, []),
      fMonths: await consumption(meterId('f'), '1mo', fEnd, []),
    };
    // The year as the raw readings give it: a rollover, an exchange, gaps for the outage.
    expect(raw.qDays).toHaveLength(365);
    expect(raw.qMonths).toHaveLength(12);
    const statuses = (ivs: IntervalConsumption[]) => new Set(ivs.map((i) => i.status));
    expect(statuses(raw.qDays)).toEqual(new Set(['ok', 'gap', 'rollover', 'replacement']));
    expect(raw.qDays.filter((i) => i.status === 'gap')).toHaveLength(3);
    // The outage's month is known all the same: its boundaries were read.
    expect(raw.qMonths.map((i) => i.status).filter((s) => s !== 'ok')).toEqual(['rollover', 'replacement']);
    expect(raw.fDays.every((i) => i.status === 'ok')).toBe(true);

    await hooks.expireRaw(store, end + DAY + 1);
    // Every raw reading the queries below could read is gone (the embedded store keeps the day
    // still open as rows: retention deletes closed days only).
    expect(await store.readings(meterId('q'), start - 2 * DAY, end + 7 * 3_600_000)).toEqual([]);
    expect(await store.readings(meterId('f'), start - 2 * DAY, end + 7 * 3_600_000)).toEqual([]);

    // Meter q: the roll-ups hold each reading at its quarter hour, so every day and month is the
    // same as from the raw readings, to the register's 0.01 kWh and in fact to the last bit; the
    // outage's days stay gaps (no roll-ups there), never zeros.
    expect(await consumption(meterId('q'), '1d', end, q.installations)).toEqual(raw.qDays);
    expect(await consumption(meterId('q'), '1mo', end, q.installations)).toEqual(raw.qMonths);

    // Meter f: its slots' last readings sit 20 s off the place given to them, so a boundary's
    // register may differ from the raw readings' by what the meter used around it. Both lie
    // between the readings 15 minutes either side (interpolations of a rising register between
    // readings at most that far), which bounds each difference; over the three months the
    // differences do not add up (a day's end is the next day's start).
    const around = (b: number): number => {
      let lo = Infinity;
      let hi = -Infinity;
      for (const [ts, total] of f.total) {
        if (ts >= b - 15 * MIN && ts <= b + 15 * MIN) {
          lo = Math.min(lo, total);
          hi = Math.max(hi, total);
        }
      }
      return (hi - lo) / 100;
    };
    for (const [step, expected] of [
      ['1d', raw.fDays],
      ['1mo', raw.fMonths],
    ] as const) {
      const got = await consumption(meterId('f'), step, fEnd, []);
      expect(got.map((i) => [i.start, i.status])).toEqual(expected.map((i) => [i.start, i.status]));
      let drift = 0;
      got.forEach((iv, k) => {
        const diff = iv.value! - expected[k]!.value!;
        drift += diff;
        expect(Math.abs(diff)).toBeLessThanOrEqual(around(iv.start) + around(iv.end) + 1e-9);
      });
      expect(Math.abs(drift)).toBeLessThanOrEqual(around(start) + around(fEnd) + 1e-9);
      // Not trivially equal: the roll-ups really were read.
      expect(got.some((iv, k) => iv.value !== expected[k]!.value)).toBe(true);
    }
  }, 120_000);
}
