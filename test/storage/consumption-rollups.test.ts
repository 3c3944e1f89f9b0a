import { describe, expect, it } from 'vitest';
import { SqliteStore } from '../../adapters/sqlite/store.ts';
import { intervalConsumption } from '../../services/metering/consumption/consumption.ts';
import type { ReadingStore, RegisterSlotQuery, StoredReading } from '../../services/metering/storage.ts';

/**
 * Roll-ups are read only where a meter's raw readings are gone: a report over raw readings costs
 * no roll-up query (at 10,000 meters on InfluxDB it would be 1,250 more queries), one past
 * retention reads them.
 */
const DAY = 86_400_000;
const T0 = Date.UTC(2025, 0, 1) - 8 * 3_600_000; // 2025-01-01 00:00 in Asia/Shanghai

function minuteReadings(meter: string, from: number, to: number, offset: number): StoredReading[] {
  const out: StoredReading[] = [];
  let seq = 1;
  for (let ts = from + offset; ts < to; ts += 60_000) {
    out.push({
      meter,
      seq: seq++,
      ts,
      quality: 'good',
      values: { energy_import_kwh: (ts - from) / 3_600_000 },
      site: 'east',
      gateway: 'gw-1',
      kind: 'electricity',
    });
  }
  return out;
}

describe('consumption reads roll-ups only where raw readings are gone', () => {
  it('asks for no roll-up while raw readings cover the window, and for them after retention', async () => {
    const store = SqliteStore.open({ path: ':memory:', dailyUtcOffsetMinutes: 480 });
    const asked: RegisterSlotQuery[] = [];
    const counting: ReadingStore = Object.assign(Object.create(store) as SqliteStore, {
      registerSlots: (q: RegisterSlotQuery) => {
        asked.push(q);
        return store.registerSlots(q);
      },
    });
    // Two meters read every minute, 20 s and 50 s past it: the first reading of a window is always
    // a little after the window opens.
    for (const [meter, offset] of [
      ['E-a', 20_000],
      ['E-b', 50_000],
    ] as const) {
      const rs = minuteReadings(meter, T0 - DAY, T0 + 4 * DAY, offset);
      for (let i = 0; i < rs.length; i += 2000) await store.writeReadings(rs.slice(i, i + 2000));
    }
    const query = {
      meters: ['E-a', 'E-b'],
      quantity: 'energy_import_kwh' as const,
      from: T0,
      to: T0 + 3 * DAY,
      step: '1d' as const,
      timezone: 'Asia/Shanghai',
    };
    const raw = await intervalConsumption(counting, query);
    expect(asked).toEqual([]);
    expect(raw.map((i) => [i.meter, i.status, Math.round(i.value! * 1000) / 1000])).toEqual(
      ['E-a', 'E-b'].flatMap((m) => [0, 1, 2].map(() => [m, 'ok', 24])),
    );

    store.compact();
    store.applyRetention({ now: T0 + 3 * DAY + 400 * DAY + 1, rawDays: 400, holds: [] });
    const after = await intervalConsumption(counting, query);
    expect(asked.length).toBe(1);
    // A constant 1 kWh an hour. A slot's last reading sits 40 or 10 s after the place given to
    // it, so a boundary from the roll-ups is off by that much use: the days whose two boundaries
    // both come from them lose it at both ends (24 kWh again), the last day (its end still raw)
    // is off by at most one poll's use, 1/60 kWh.
    expect(after.map((i) => [i.meter, i.start, i.status])).toEqual(
      raw.map((i) => [i.meter, i.start, i.status]),
    );
    after.forEach((iv, k) => expect(Math.abs(iv.value! - raw[k]!.value!)).toBeLessThanOrEqual(1 / 60));
    expect(after.filter((iv) => Math.abs(iv.value! - 24) < 1e-9)).toHaveLength(4);
    await store.close();
  });
});
