import { describe, expect, it } from 'vitest';
import {
  METERS_PER_READ,
  computeIntervals,
  intervalConsumption,
} from '../../services/metering/consumption/consumption.ts';
import type { ReadingStore, SeriesPoint, SeriesQuery } from '../../services/metering/storage.ts';

const HOUR = 3_600_000;
const FROM = Date.UTC(2026, 0, 1);
const DAYS = 30;

/** Hourly registers of `n` meters for a month; a store that answers series() at once, as SQLite does. */
function fakeStore(n: number): { store: ReadingStore; all: SeriesPoint[]; reads: string[][] } {
  const all: SeriesPoint[] = [];
  for (let m = 0; m < n; m++)
    for (let h = 0; h <= DAYS * 24; h++)
      all.push({
        meter: `M${String(m).padStart(3, '0')}`,
        ts: FROM + h * HOUR,
        value: 1000 + h * (1 + m / 10),
      });
  const reads: string[][] = [];
  const store = {
    series: (q: SeriesQuery) => {
      reads.push([...q.meters]);
      const want = new Set(q.meters);
      return Promise.resolve(all.filter((p) => want.has(p.meter) && p.ts >= q.from && p.ts < q.to));
    },
  } as unknown as ReadingStore;
  return { store, all, reads };
}

describe('interval consumption over many meters', () => {
  it('lets the event loop turn between small reads, with the same intervals as one pass over all', async () => {
    const n = 5 * METERS_PER_READ + 3;
    const { store, all, reads } = fakeStore(n);
    const meters = Array.from({ length: n }, (_, m) => `M${String(m).padStart(3, '0')}`).reverse();
    const q = {
      meters,
      quantity: 'energy_import_kwh' as const,
      from: FROM,
      to: FROM + DAYS * 24 * HOUR,
      step: '1d' as const,
      timezone: 'Asia/Shanghai',
    };
    // Something else waiting for the loop (a poll, a relay command): it must run before the end.
    let turns = 0;
    const tick = () => {
      turns++;
      if (turns < 1000) setImmediate(tick);
    };
    setImmediate(tick);
    const out = await intervalConsumption(store, q);
    const turnsDuring = turns;
    expect(reads.length).toBe(Math.ceil(n / METERS_PER_READ));
    expect(Math.max(...reads.map((r) => r.length))).toBeLessThanOrEqual(METERS_PER_READ);
    expect(turnsDuring).toBeGreaterThanOrEqual(reads.length - 1);
    // Recomputed in one pass over every point: identical, in the same (sorted meter) order.
    expect(out).toEqual(computeIntervals(all, q));
    expect(new Set(out.map((iv) => iv.meter)).size).toBe(n);
  });
});
