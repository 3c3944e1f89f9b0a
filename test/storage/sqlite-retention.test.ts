import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../adapters/sqlite/store.ts';
import { intervalConsumption } from '../../services/metering/consumption/consumption.ts';
import type { RetentionHold, StoredReading } from '../../services/metering/storage.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'campus-sqlite-retention-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

const DAY = 86_400_000;
const SLOT = 900_000;
const T0 = Date.UTC(2026, 0, 1) - 8 * 3_600_000; // local midnight in Asia/Shanghai
const DAYS = 40;
const NOW = T0 + DAYS * DAY;
const METERS = ['E-A', 'E-B'];

/** Every 5 minutes: a register in 0.01 kWh steps, a power in W decoded to kW, an error now and then. */
function readingsOf(meter: string): StoredReading[] {
  const out: StoredReading[] = [];
  let register = meter === 'E-A' ? 100_000 : 5_000;
  for (let i = 0; i < DAYS * 288; i++) {
    const ts = T0 + i * 300_000 + 1234;
    const base = { meter, seq: i + 1, ts, site: 'east', gateway: 'gw-1', kind: 'electricity' as const };
    if (i % 101 === 50) {
      out.push({
        ...base,
        quality: 'error',
        values: {},
        error: { code: 'MODBUS_TIMEOUT', message: 'no answer' },
      });
      continue;
    }
    const watts = 800 + ((i * 37) % 1900);
    register += Math.round(watts / 120);
    out.push({
      ...base,
      quality: 'good',
      values: { energy_import_kwh: register * 0.01, power_kw: watts * 0.001 },
    });
  }
  return out;
}

async function filledStore(): Promise<{ store: SqliteStore; readings: Map<string, StoredReading[]> }> {
  const store = SqliteStore.open({
    path: path.join(dir, `r-${++files}.sqlite`),
    dailyUtcOffsetMinutes: 480,
    // A wall clock far ahead: days close by the readings alone, whenever the test runs.
    clock: () => Date.UTC(2100, 0, 1),
  });
  const readings = new Map(METERS.map((m) => [m, readingsOf(m)]));
  for (const rs of readings.values())
    for (let i = 0; i < rs.length; i += 1000) await store.writeReadings(rs.slice(i, i + 1000));
  store.compact();
  return { store, readings };
}

/** The start of the UTC day holding the age limit: raw readings from there on stay. */
const AGE_DAY_START = Math.floor((NOW - 10 * DAY) / DAY) * DAY;
const policy = (holds: RetentionHold[] = []) => ({ now: NOW, rawDays: 10, holds });

/** The first ts a meter still has raw readings for. */
async function firstRaw(store: SqliteStore, meter: string): Promise<number | undefined> {
  return (await store.readings(meter, 0, NOW + DAY))[0]?.ts;
}

describe('SqliteStore retention and roll-ups', () => {
  it('keeps 15-minute and daily roll-ups that agree with the raw readings they replace', async () => {
    const { store, readings } = await filledStore();
    // Consumption per campus day from raw readings, before anything is deleted.
    const tz = { timezone: 'Asia/Shanghai' };
    const before = await intervalConsumption(store, {
      meters: ['E-A'],
      quantity: 'energy_import_kwh',
      from: T0 + DAY,
      to: T0 + 20 * DAY,
      step: '1d',
      ...tz,
    });
    // While raw chunks exist, 15-minute roll-ups are computed from them; retention stores them.
    const slotsBefore = await store.rollups('E-A', '15m', T0, T0 + 2 * DAY);
    const result = store.applyRetention(policy());
    expect(result.chunks).toBeGreaterThan(2 * 25);
    expect(await store.readings('E-A', T0, T0 + 20 * DAY)).toEqual([]);

    // Recomputed by hand from the generated readings: the last good register and mean power of a slot.
    const raw = readings.get('E-A')!;
    const slots = await store.rollups('E-A', '15m', T0, T0 + 2 * DAY);
    expect(slots).toHaveLength(2 * 96);
    expect(slots).toEqual(slotsBefore);
    for (const slot of [slots[0]!, slots[57]!, slots[150]!]) {
      const inSlot = raw.filter((r) => r.ts >= slot.start && r.ts < slot.start + SLOT);
      const good = inSlot.filter((r) => r.quality === 'good');
      expect(slot.readings).toBe(inSlot.length);
      expect(slot.values.energy_import_kwh).toBe(good.at(-1)!.values.energy_import_kwh);
      const powers = good.map((r) => r.values.power_kw!);
      expect(slot.values.power_kw).toBeCloseTo(powers.reduce((a, b) => a + b, 0) / powers.length, 12);
      expect(slot.powerKwMax).toBe(Math.max(...powers));
    }
    const days = await store.rollups('E-A', '1d', T0, T0 + 20 * DAY);
    expect(days.map((d) => d.start)).toEqual(Array.from({ length: 20 }, (_, i) => T0 + i * DAY));
    expect(days[3]!.readings).toBe(raw.filter((r) => r.ts >= T0 + 3 * DAY && r.ts < T0 + 4 * DAY).length);
    // The difference of consecutive daily last registers is each day's consumption as it was
    // computed from raw readings (those end on the last reading of the day, as the roll-up does).
    for (let d = 1; d < 19; d++) {
      const fromRollups = days[d + 1]!.values.energy_import_kwh! - days[d]!.values.energy_import_kwh!;
      const fromRaw = before.find((c) => c.start === T0 + (d + 1) * DAY);
      expect(fromRaw?.status).toBe('ok');
      // Interval consumption interpolates to midnight; the roll-up takes the last reading (5 min
      // before): they agree within one 5-minute step of the largest power.
      expect(Math.abs(fromRollups - fromRaw!.value!)).toBeLessThan(2.7 * (5 / 60) * 2);
    }
    await store.close();
  });

  it('deletes raw readings past the age limit only; the open day and the last rawDays stay', async () => {
    const { store } = await filledStore();
    store.applyRetention(policy());
    // Raw readings go by whole UTC days (the chunks), so the day holding the limit stays whole.
    for (const m of METERS) expect(await firstRaw(store, m)).toBe(AGE_DAY_START + 1234);
    // Twice changes nothing more.
    expect(store.applyRetention(policy())).toEqual({ chunks: 0, readings: 0, heldMeters: 0 });
    await store.close();
  });

  it('keeps every reading of an open billing period', async () => {
    const { store } = await filledStore();
    const from = T0 + 5 * DAY;
    const r = store.applyRetention(policy([{ reason: 'billing-period-open', meter: 'E-A', from }]));
    expect(r.heldMeters).toBe(1);
    expect((await firstRaw(store, 'E-A'))! <= from).toBe(true);
    expect((await store.readings('E-A', from, from + DAY)).length).toBe(288);
    expect(await firstRaw(store, 'E-B')).toBe(AGE_DAY_START + 1234);
    // The period is closed: the next run deletes what it held.
    store.applyRetention(policy());
    expect(await firstRaw(store, 'E-A')).toBe(AGE_DAY_START + 1234);
    await store.close();
  });

  it('keeps the readings of a day VEE has not validated', async () => {
    const { store } = await filledStore();
    const day = T0 + 12 * DAY;
    store.applyRetention(policy([{ reason: 'day-unvalidated', meter: 'E-B', from: day }]));
    expect((await store.readings('E-B', day, day + DAY)).length).toBe(288);
    expect(await store.readings('E-A', day, day + DAY)).toEqual([]);
    await store.close();
  });

  it('keeps every meter’s readings around an open gap', async () => {
    const { store } = await filledStore();
    const gapFrom = T0 + 17 * DAY;
    const r = store.applyRetention(policy([{ reason: 'gap-open', from: gapFrom }]));
    expect(r.heldMeters).toBe(2);
    for (const m of METERS) expect((await store.readings(m, gapFrom, gapFrom + DAY)).length).toBe(288);
    expect(await store.readings('E-A', gapFrom - 2 * DAY, gapFrom - DAY)).toEqual([]);
    await store.close();
  });

  it('refuses a retention of less than a day', async () => {
    const { store } = await filledStore();
    expect(() => store.applyRetention({ now: NOW, rawDays: 0, holds: [] })).toThrow(/rawDays/);
    await store.close();
  });
});
