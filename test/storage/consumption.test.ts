import { describe, expect, it } from 'vitest';
import { computeIntervals, intervalConsumption } from '../../services/metering/consumption/consumption.ts';
import { localTimeToUtc, stepBoundaries } from '../../services/metering/consumption/zone.ts';
import type {
  Installation,
  IntervalQuery,
  ReadingStore,
  SeriesPoint,
  SeriesQuery,
} from '../../services/metering/storage.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const T0 = Date.parse('2026-01-05T00:00:00Z');
const SH = 'Asia/Shanghai';

function points(
  meter: string,
  from: number,
  to: number,
  every: number,
  at: (ts: number) => number,
): SeriesPoint[] {
  const out: SeriesPoint[] = [];
  for (let ts = from; ts < to; ts += every) out.push({ meter, ts, value: at(ts) });
  return out;
}

function query(q: Partial<IntervalQuery>): IntervalQuery {
  return {
    meters: ['m'],
    quantity: 'energy_import_kwh',
    from: T0,
    to: T0 + HOUR,
    step: '1h',
    timezone: SH,
    ...q,
  };
}

const summary = (intervals: ReturnType<typeof computeIntervals>) => intervals.map((i) => [i.status, i.value]);

describe('computeIntervals', () => {
  it('steady linear register: equal intervals, ordered by meter then start', () => {
    const data = [
      ...points('b', T0 - HOUR, T0 + 4 * HOUR, 15 * MIN, (ts) => 10 + (3 * (ts - T0)) / HOUR),
      ...points('a', T0 - HOUR, T0 + 4 * HOUR, 15 * MIN, (ts) => 100 + (ts - T0) / HOUR),
    ];
    const out = computeIntervals(data, query({ meters: ['b', 'a'], to: T0 + 3 * HOUR }));
    expect(out.map((i) => [i.meter, i.start, i.end, i.status, i.value])).toEqual([
      ['a', T0, T0 + HOUR, 'ok', 1],
      ['a', T0 + HOUR, T0 + 2 * HOUR, 'ok', 1],
      ['a', T0 + 2 * HOUR, T0 + 3 * HOUR, 'ok', 1],
      ['b', T0, T0 + HOUR, 'ok', 3],
      ['b', T0 + HOUR, T0 + 2 * HOUR, 'ok', 3],
      ['b', T0 + 2 * HOUR, T0 + 3 * HOUR, 'ok', 3],
    ]);
  });

  it('interpolates boundaries between readings that are not on them', () => {
    // Readings at :07 and :37; 1.2 kWh per hour.
    const data = points(
      'm',
      T0 - HOUR + 7 * MIN,
      T0 + 3 * HOUR,
      30 * MIN,
      (ts) => 50 + (1.2 * (ts - T0)) / HOUR,
    );
    const out = computeIntervals(data, query({ to: T0 + 2 * HOUR, step: '15m' }));
    expect(out).toHaveLength(8);
    for (const i of out) {
      expect(i.status).toBe('ok');
      expect(i.value).toBeCloseTo(0.3, 9);
    }
  });

  it('uses a reading exactly on a boundary even when its neighbours are far', () => {
    const data = [
      { meter: 'm', ts: T0 - 10 * HOUR, value: 1 },
      { meter: 'm', ts: T0, value: 5 },
      { meter: 'm', ts: T0 + HOUR, value: 7.5 },
      { meter: 'm', ts: T0 + 10 * HOUR, value: 100 },
    ];
    expect(summary(computeIntervals(data, query({})))).toEqual([['ok', 2.5]]);
  });

  it('reports a boundary with no close readings as a gap in both intervals it touches', () => {
    // Readings every 15 minutes except for a 75-minute hole: wider than the 1 h bound of the 15m
    // step, narrower than the 2 h bound of the 1h step.
    const data = points('m', T0 - HOUR, T0 + 4 * HOUR, 15 * MIN, (ts) => (ts - T0) / HOUR).filter(
      (p) => p.ts <= T0 + 30 * MIN || p.ts >= T0 + 105 * MIN,
    );
    expect(computeIntervals(data, query({ to: T0 + 3 * HOUR, step: '15m' })).map((i) => i.status)).toEqual([
      'ok',
      'ok',
      ...Array<string>(5).fill('gap'),
      ...Array<string>(5).fill('ok'),
    ]);
    const hours = computeIntervals(data, query({ to: T0 + 3 * HOUR }));
    expect(hours.map((i) => i.status)).toEqual(['ok', 'ok', 'ok']);
    for (const i of hours) expect(i.value).toBeCloseTo(1, 9);
  });

  it('reports a long outage as gaps, never zeros', () => {
    const at = (ts: number): number => 1000 + (24 * (ts - T0)) / DAY;
    const data = [
      ...points('m', T0 - DAY, T0 + DAY + HOUR, HOUR, at),
      ...points('m', T0 + 3 * DAY + 12 * HOUR, T0 + 6 * DAY, HOUR, at),
    ];
    const day0 = localTimeToUtc(SH, 2026, 1, 5);
    const out = computeIntervals(data, query({ from: day0, to: day0 + 5 * DAY, step: '1d' }));
    expect(summary(out)).toEqual([
      ['ok', 24],
      ['gap', null],
      ['gap', null],
      ['gap', null],
      ['ok', 24],
    ]);
    expect(out.some((i) => i.value === 0)).toBe(false);
  });

  it('reports a meter without any readings as gaps', () => {
    expect(summary(computeIntervals([], query({ to: T0 + 2 * HOUR })))).toEqual([
      ['gap', null],
      ['gap', null],
    ]);
  });

  describe('rollover', () => {
    const at = (ts: number): number => (99_999 + (ts - T0) / (30 * MIN)) % 100_000;
    const data = points('m', T0 - HOUR, T0 + 3 * HOUR, 15 * MIN, at);
    const installations = (rolloverAt?: number): Installation[] => [
      { meter: 'm', serial: 'S', installedAt: 0, ...(rolloverAt !== undefined ? { rolloverAt } : {}) },
    ];

    it('adds rolloverAt when the register wrapped near its max', () => {
      const out = computeIntervals(data, query({ to: T0 + 2 * HOUR, installations: installations(100_000) }));
      expect(out.map((i) => i.status)).toEqual(['rollover', 'ok']);
      expect(out[0]?.value).toBeCloseTo(2, 9);
      expect(out[1]?.value).toBeCloseTo(2, 9);
    });

    it('interpolates a boundary across the wrap', () => {
      // The wrap happens between the :15 and :45 readings; the boundary at :30 lies between them.
      const sparse = data.filter((p) => (p.ts - T0) % (30 * MIN) !== 0 || p.ts === T0 || p.ts === T0 + HOUR);
      const out = computeIntervals(
        sparse,
        query({ to: T0 + HOUR, step: '15m', installations: installations(100_000) }),
      );
      expect(out.map((i) => i.status)).toEqual(['ok', 'rollover', 'ok', 'ok']);
      for (const i of out) expect(i.value).toBeCloseTo(0.5, 9);
    });

    it('without rolloverAt a decrease is not a consumption', () => {
      expect(summary(computeIntervals(data, query({ to: T0 + 2 * HOUR })))).toEqual([
        ['decrease', null],
        ['ok', 2],
      ]);
    });

    it('a decrease far from the max is not a rollover', () => {
      const backwards = points('m', T0 - HOUR, T0 + 2 * HOUR, 15 * MIN, (ts) => 500 - (ts - T0) / HOUR);
      expect(summary(computeIntervals(backwards, query({ installations: installations(100_000) })))).toEqual([
        ['decrease', null],
      ]);
    });

    it('a decrease and recovery within an interval is still a decrease', () => {
      const reset = points('m', T0 - HOUR, T0 + 2 * HOUR, 15 * MIN, (ts) => (ts === T0 + 30 * MIN ? 0 : 700));
      expect(summary(computeIntervals(reset, query({})))).toEqual([['decrease', null]]);
    });
  });

  describe('meter replacement', () => {
    const swap = T0 + 20 * MIN;
    // Old meter: 3 kWh/h, at 4000 at the swap; new meter: 3 kWh/h from 7 at the swap.
    const data = [
      ...points('m', T0 - HOUR, swap, 5 * MIN, (ts) => 4000 - (3 * (swap - ts)) / HOUR),
      ...points('m', swap + 5 * MIN, T0 + 3 * HOUR, 5 * MIN, (ts) => 7 + (3 * (ts - swap)) / HOUR),
    ];

    it('adds the old meter up to its end register and the new one from its start register', () => {
      const installations: Installation[] = [
        { meter: 'm', serial: 'OLD', installedAt: 0, removedAt: swap, endRegister: 4000 },
        { meter: 'm', serial: 'NEW', installedAt: swap, startRegister: 7 },
      ];
      const out = computeIntervals(data, query({ to: T0 + 2 * HOUR, installations }));
      expect(out.map((i) => i.status)).toEqual(['replacement', 'ok']);
      expect(out[0]?.value).toBeCloseTo(3, 9);
      expect(out[1]?.value).toBeCloseTo(3, 9);
    });

    it("uses the old meter's last and the new meter's first reading when the registers are unknown", () => {
      const installations: Installation[] = [
        { meter: 'm', serial: 'OLD', installedAt: 0, removedAt: swap },
        { meter: 'm', serial: 'NEW', installedAt: swap },
      ];
      const out = computeIntervals(data, query({ installations }));
      expect(out[0]?.status).toBe('replacement');
      // The 5 minutes before the old meter's last reading and after the new one's first are not seen.
      expect(out[0]?.value).toBeCloseTo(3 - 2 * (3 / 12), 9);
    });

    it('is a gap when the values needed are unknown', () => {
      const installations: Installation[] = [
        { meter: 'm', serial: 'OLD', installedAt: 0, removedAt: swap },
        { meter: 'm', serial: 'NEW', installedAt: swap, startRegister: 7 },
      ];
      // The old meter stopped reporting 3 hours before it was removed.
      const silent = data.filter((p) => p.ts >= swap || p.ts < T0 - 2 * HOUR);
      const early = points('m', T0 - 4 * HOUR, T0 - 2 * HOUR, 15 * MIN, () => 3000);
      expect(summary(computeIntervals([...early, ...silent], query({ installations })))).toEqual([
        ['gap', null],
      ]);
    });

    it('never interpolates across two installations', () => {
      // Removal and installation both exactly on T0 + 1h; no registers recorded, no reading at T0 + 1h.
      const edge = T0 + HOUR;
      const installations: Installation[] = [
        { meter: 'm', serial: 'OLD', installedAt: 0, removedAt: edge },
        { meter: 'm', serial: 'NEW', installedAt: edge },
      ];
      const both = [
        ...points('m', T0 - HOUR, edge, 15 * MIN, (ts) => 900 + (ts - T0) / HOUR),
        ...points('m', edge + 10 * MIN, T0 + 3 * HOUR, 15 * MIN, (ts) => (ts - edge) / HOUR),
      ];
      const out = computeIntervals(both, query({ to: T0 + 2 * HOUR, installations }));
      expect(out.map((i) => i.status)).toEqual(['ok', 'ok']);
      expect(out[0]?.value).toBeCloseTo(0.75, 9);
      expect(out[1]?.value).toBeCloseTo(1 - 10 / 60, 9);
    });

    it('ignores readings outside every installation', () => {
      const installations: Installation[] = [{ meter: 'm', serial: 'NEW', installedAt: T0 + 2 * HOUR }];
      const all = points('m', T0 - HOUR, T0 + 4 * HOUR, 15 * MIN, (ts) => (ts - T0) / HOUR);
      expect(summary(computeIntervals(all, query({ to: T0 + 3 * HOUR, installations })))).toEqual([
        ['gap', null],
        ['gap', null],
        ['ok', 1],
      ]);
    });
  });

  describe('calendar steps', () => {
    it('months in Asia/Shanghai start at local midnight on the 1st', () => {
      const from = Date.parse('2026-01-01T00:00:00+08:00');
      const to = Date.parse('2026-03-01T00:00:00+08:00');
      expect(stepBoundaries(from, to, '1mo', SH)).toEqual([
        Date.parse('2025-12-31T16:00:00Z'),
        Date.parse('2026-01-31T16:00:00Z'),
        Date.parse('2026-02-28T16:00:00Z'),
      ]);
      // 1 kWh per hour, read every 10 minutes at :03, :13, ...
      const data = points('m', from - DAY + 3 * MIN, to + DAY, 10 * MIN, (ts) => (ts - from) / HOUR);
      const out = computeIntervals(data, query({ from, to, step: '1mo' }));
      expect(out.map((i) => i.status)).toEqual(['ok', 'ok']);
      expect(out[0]?.value).toBeCloseTo(31 * 24, 6);
      expect(out[1]?.value).toBeCloseTo(28 * 24, 6);
    });

    it('days in Asia/Shanghai start at 16:00 UTC, and unaligned from/to are widened', () => {
      const out = computeIntervals(
        points('m', T0 - 2 * DAY, T0 + 3 * DAY, HOUR, (ts) => (ts - T0) / HOUR),
        query({
          from: Date.parse('2026-01-05T03:00:00Z'),
          to: Date.parse('2026-01-05T17:00:00Z'),
          step: '1d',
        }),
      );
      expect(
        out.map((i) => [new Date(i.start).toISOString(), new Date(i.end).toISOString(), i.value]),
      ).toEqual([
        ['2026-01-04T16:00:00.000Z', '2026-01-05T16:00:00.000Z', 24],
        ['2026-01-05T16:00:00.000Z', '2026-01-06T16:00:00.000Z', 24],
      ]);
    });

    it('a Europe/Berlin day is 23 h when clocks go forward and 25 h when they go back', () => {
      const berlin = 'Europe/Berlin';
      const spring = stepBoundaries(
        Date.parse('2026-03-29T12:00:00Z'),
        Date.parse('2026-03-29T12:00:01Z'),
        '1d',
        berlin,
      );
      expect(spring.map((t) => new Date(t).toISOString())).toEqual([
        '2026-03-28T23:00:00.000Z',
        '2026-03-29T22:00:00.000Z',
      ]);
      const autumn = stepBoundaries(
        Date.parse('2026-10-25T12:00:00Z'),
        Date.parse('2026-10-25T12:00:01Z'),
        '1d',
        berlin,
      );
      expect(autumn.map((t) => new Date(t).toISOString())).toEqual([
        '2026-10-24T22:00:00.000Z',
        '2026-10-25T23:00:00.000Z',
      ]);
      const data = points(
        'm',
        Date.parse('2026-03-27T00:00:00Z'),
        Date.parse('2026-03-31T00:00:00Z'),
        15 * MIN,
        (ts) => ts / HOUR,
      );
      const day = computeIntervals(
        data,
        query({ from: spring[0]!, to: spring[1]!, step: '1d', timezone: berlin }),
      );
      expect(summary(day)).toEqual([['ok', 23]]);
      expect(
        computeIntervals(data, query({ from: spring[0]!, to: spring[1]!, step: '1h', timezone: berlin })),
      ).toHaveLength(23);
    });

    it('hours follow the wall clock in a half-hour zone', () => {
      const kolkata = stepBoundaries(
        Date.parse('2026-01-05T00:00:00Z'),
        Date.parse('2026-01-05T01:00:00Z'),
        '1h',
        'Asia/Kolkata',
      );
      expect(kolkata.map((t) => new Date(t).toISOString())).toEqual([
        '2026-01-04T23:30:00.000Z',
        '2026-01-05T00:30:00.000Z',
        '2026-01-05T01:30:00.000Z',
      ]);
    });
  });

  it('the 15-minute intervals of an hour add up to the hour', () => {
    // An irregular load, read at irregular times.
    const data: SeriesPoint[] = [];
    let v = 1234.5;
    for (let ts = T0 - HOUR + 2 * MIN, k = 0; ts < T0 + 5 * HOUR; ts += (3 + (k % 7)) * MIN, k++) {
      v += ((k * 37) % 11) / 10;
      data.push({ meter: 'm', ts, value: v });
    }
    const q = query({ to: T0 + 4 * HOUR });
    const hours = computeIntervals(data, q);
    const quarters = computeIntervals(data, { ...q, step: '15m' });
    expect(hours.every((h) => h.status === 'ok') && quarters.every((h) => h.status === 'ok')).toBe(true);
    hours.forEach((h, i) => {
      const sum = quarters.slice(4 * i, 4 * i + 4).reduce((s, x) => s + x.value!, 0);
      expect(sum).toBeCloseTo(h.value!, 9);
    });
  });
});

describe('intervalConsumption', () => {
  it('fetches the series with a margin around the intervals and computes from it', async () => {
    const data = points('m', T0 - 2 * HOUR, T0 + 3 * HOUR, 15 * MIN, (ts) => (ts - T0) / HOUR);
    const asked: SeriesQuery[] = [];
    const store: ReadingStore = {
      writeReadings: async () => {},
      latest: async () => [],
      readings: async () => [],
      close: async () => {},
      series: async (q) => {
        asked.push(q);
        return data.filter((p) => p.ts >= q.from && p.ts < q.to);
      },
    };
    const out = await intervalConsumption(store, query({ to: T0 + 2 * HOUR }));
    expect(summary(out)).toEqual([
      ['ok', 1],
      ['ok', 1],
    ]);
    expect(asked).toEqual([
      { meters: ['m'], quantity: 'energy_import_kwh', from: T0 - 2 * HOUR, to: T0 + 4 * HOUR + 1 },
    ]);
  });
});
