import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { intervalConsumption } from '../../services/metering/consumption/consumption.ts';
import type { Installation, ReadingStore, SeqIndex, StoredReading } from '../../services/metering/storage.ts';
import { consumptionPastRetention, type RetentionHooks } from './contract-retention.ts';

/**
 * What every ReadingStore adapter must do, run by each adapter's own test file:
 *
 *   storageContract('sqlite', async () => SqliteStore.open({ path }), async () => rm(path));
 *
 * Adapter-agnostic on purpose: every test uses meter ids of its own (a random prefix), so the
 * suite also passes on a database shared between tests, and it never writes two different seqs
 * of one meter at the same ts (InfluxDB identifies a point by its tags and ms timestamp, and a
 * redelivered reading always carries the ts it was first published with).
 */

export function storageContract(
  name: string,
  open: () => Promise<ReadingStore>,
  cleanup?: (store: ReadingStore) => Promise<void>,
  retention?: RetentionHooks,
): void {
  describe(`ReadingStore contract: ${name}`, () => {
    let store: ReadingStore;
    let prefix: string;

    const T0 = Date.UTC(2026, 0, 5, 0, 0); // 2026-01-05T00:00Z, 08:00 in Asia/Shanghai
    const MIN = 60_000;
    const HOUR = 60 * MIN;
    const meterId = (n: string): string => `${prefix}-${n}`;

    function good(meter: string, seq: number, ts: number, values: StoredReading['values']): StoredReading {
      return {
        meter: meterId(meter),
        seq,
        ts,
        quality: 'good',
        values,
        site: 'east',
        gateway: 'gw-east-1',
        kind: 'electricity',
      };
    }

    function bad(meter: string, seq: number, ts: number): StoredReading {
      return {
        meter: meterId(meter),
        seq,
        ts,
        quality: 'error',
        values: {},
        error: { code: 'MODBUS_TIMEOUT', message: 'no answer within 1000 ms' },
        site: 'east',
        gateway: 'gw-east-1',
        kind: 'electricity',
      };
    }

    /** Readings every `every` ms from `from` (inclusive) to `to` (exclusive) of a register. */
    function register(
      meter: string,
      from: number,
      to: number,
      every: number,
      at: (ts: number) => number,
      firstSeq = 1,
    ): StoredReading[] {
      const out: StoredReading[] = [];
      for (let ts = from, seq = firstSeq; ts < to; ts += every, seq++) {
        out.push(good(meter, seq, ts, { energy_import_kwh: at(ts) }));
      }
      return out;
    }

    beforeEach(async () => {
      prefix = `c${randomUUID().slice(0, 8)}`;
      store = await open();
    });

    afterEach(async () => {
      await store.close();
      await cleanup?.(store);
    });

    it('returns what was written through series and latest', async () => {
      const readings = [
        good('a', 1, T0, { energy_import_kwh: 10, power_kw: 1.5, voltage_v: 230.1 }),
        good('a', 2, T0 + MIN, { energy_import_kwh: 10.5, power_kw: 1.25, voltage_v: 229.9 }),
      ];
      await store.writeReadings(readings);
      const query = {
        meters: [meterId('a')],
        quantity: 'energy_import_kwh' as const,
        from: T0,
        to: T0 + HOUR,
      };
      expect(await store.series(query)).toEqual([
        { meter: meterId('a'), ts: T0, value: 10 },
        { meter: meterId('a'), ts: T0 + MIN, value: 10.5 },
      ]);
      expect(await store.series({ ...query, quantity: 'voltage_v' })).toEqual([
        { meter: meterId('a'), ts: T0, value: 230.1 },
        { meter: meterId('a'), ts: T0 + MIN, value: 229.9 },
      ]);
      expect(await store.series({ ...query, quantity: 'volume_m3' })).toEqual([]);
      expect(await store.latest([meterId('a')])).toEqual([readings[1]]);
    });

    it('keeps deviceTs and the topic metadata', async () => {
      const r: StoredReading = {
        ...good('a', 7, T0, { volume_m3: 12.345 }),
        deviceTs: T0 - 1000,
        site: 'west',
        gateway: 'gw-west-2',
        kind: 'water',
      };
      await store.writeReadings([r]);
      expect(await store.latest([meterId('a')])).toEqual([r]);
    });

    it('keeps uncertain quality, flags and breaker state; series holds good values only', async () => {
      const uncertain: StoredReading = {
        ...good('u', 1, T0, { energy_import_kwh: 10, breaker_closed: 1 }),
        quality: 'uncertain',
        flags: ['OPCUA_UNCERTAIN', 'UncertainLastUsableValue'],
      };
      const clock: StoredReading = {
        ...good('u', 2, T0 + MIN, { energy_import_kwh: 11, breaker_closed: 0 }),
        deviceTs: Date.UTC(2000, 0, 1),
        flags: ['DEVICE_CLOCK_INVALID'],
      };
      await store.writeReadings([uncertain, clock]);
      expect(await store.latest([meterId('u')])).toEqual([clock]);
      const q = { meters: [meterId('u')], from: T0, to: T0 + HOUR };
      expect(await store.series({ ...q, quantity: 'breaker_closed' })).toEqual([
        { meter: meterId('u'), ts: T0 + MIN, value: 0 },
      ]);
    });

    it('stores a redelivered reading (same meter and seq) once, keeping the original', async () => {
      const original = good('a', 1, T0, { energy_import_kwh: 100 });
      await store.writeReadings([original, good('a', 2, T0 + MIN, { energy_import_kwh: 101 })]);
      // Redelivery, also within one batch, and a corrupted copy that must not replace the original.
      await store.writeReadings([original, original]);
      await store.writeReadings([{ ...original, values: { energy_import_kwh: 999 } }]);
      const series = await store.series({
        meters: [meterId('a')],
        quantity: 'energy_import_kwh',
        from: T0,
        to: T0 + HOUR,
      });
      expect(series).toEqual([
        { meter: meterId('a'), ts: T0, value: 100 },
        { meter: meterId('a'), ts: T0 + MIN, value: 101 },
      ]);
      const [latest] = await store.latest([meterId('a')]);
      expect(latest?.seq).toBe(2);
    });

    it('a redelivered older reading does not become the latest', async () => {
      const r1 = good('a', 1, T0, { energy_import_kwh: 1 });
      const r2 = good('a', 2, T0 + MIN, { energy_import_kwh: 2 });
      await store.writeReadings([r1, r2]);
      await store.writeReadings([r1]);
      expect(await store.latest([meterId('a')])).toEqual([r2]);
    });

    it('returns error readings from latest but never in series', async () => {
      const readings = [good('a', 1, T0, { energy_import_kwh: 5 }), bad('a', 2, T0 + MIN)];
      await store.writeReadings(readings);
      expect(await store.latest([meterId('a')])).toEqual([readings[1]]);
      expect(
        await store.series({
          meters: [meterId('a')],
          quantity: 'energy_import_kwh',
          from: T0,
          to: T0 + HOUR,
        }),
      ).toEqual([{ meter: meterId('a'), ts: T0, value: 5 }]);
    });

    it('latest is the newest by ts, whatever the write order', async () => {
      const older = good('a', 1, T0, { energy_import_kwh: 1 });
      const newer = good('a', 2, T0 + MIN, { energy_import_kwh: 2 });
      await store.writeReadings([newer]);
      await store.writeReadings([older]);
      expect(await store.latest([meterId('a')])).toEqual([newer]);
    });

    it('series is [from, to) and ordered by meter then time, whatever the write order', async () => {
      const b = register('b', T0, T0 + 10 * MIN, MIN, (ts) => (ts - T0) / MIN);
      const a = register('a', T0, T0 + 10 * MIN, MIN, (ts) => 100 + (ts - T0) / MIN);
      await store.writeReadings([...b].reverse());
      await store.writeReadings(a);
      const series = await store.series({
        meters: [meterId('b'), meterId('a'), meterId('missing')],
        quantity: 'energy_import_kwh',
        from: T0 + 2 * MIN,
        to: T0 + 5 * MIN,
      });
      expect(series).toEqual([
        { meter: meterId('a'), ts: T0 + 2 * MIN, value: 102 },
        { meter: meterId('a'), ts: T0 + 3 * MIN, value: 103 },
        { meter: meterId('a'), ts: T0 + 4 * MIN, value: 104 },
        { meter: meterId('b'), ts: T0 + 2 * MIN, value: 2 },
        { meter: meterId('b'), ts: T0 + 3 * MIN, value: 3 },
        { meter: meterId('b'), ts: T0 + 4 * MIN, value: 4 },
      ]);
      expect(
        await store.series({
          meters: [meterId('a')],
          quantity: 'energy_import_kwh',
          from: T0 + 5 * MIN,
          to: T0 + 5 * MIN,
        }),
      ).toEqual([]);
    });

    it('handles many meters', async () => {
      const meters = Array.from({ length: 250 }, (_, i) => `m${String(i).padStart(3, '0')}`);
      const readings = meters.flatMap((m, i) => register(m, T0, T0 + 4 * 15 * MIN, 15 * MIN, () => i));
      for (let i = 0; i < readings.length; i += 500) await store.writeReadings(readings.slice(i, i + 500));
      const latest = await store.latest(meters.map(meterId));
      expect(latest).toHaveLength(250);
      expect(new Set(latest.map((r) => r.meter))).toEqual(new Set(meters.map(meterId)));
      expect(latest.every((r) => r.seq === 4 && r.ts === T0 + 45 * MIN)).toBe(true);
      const all = await store.latest();
      expect(all.filter((r) => r.meter.startsWith(`${prefix}-`))).toHaveLength(250);
      const series = await store.series({
        meters: meters.map(meterId),
        quantity: 'energy_import_kwh',
        from: T0,
        to: T0 + HOUR,
      });
      expect(series).toHaveLength(1000);
      const keys = series.map((p) => [p.meter, p.ts] as const);
      const sorted = [...keys].sort(([m1, t1], [m2, t2]) => (m1 < m2 ? -1 : m1 > m2 ? 1 : t1 - t2));
      expect(keys).toEqual(sorted);
    });

    it('round-trips values to full double precision', async () => {
      const values = [
        0.1 + 0.2,
        1 / 3,
        123456789.12345679,
        2 ** 53 - 1,
        -0.000123456789,
        Math.PI * 1e6,
        1e-300,
        1.7976931348623157e308,
        12,
      ];
      await store.writeReadings(
        values.map((v, i) => good('a', i + 1, T0 + i * MIN, { energy_import_kwh: v })),
      );
      const series = await store.series({
        meters: [meterId('a')],
        quantity: 'energy_import_kwh',
        from: T0,
        to: T0 + HOUR,
      });
      expect(series.map((p) => p.value)).toEqual(values);
      const [latest] = await store.latest([meterId('a')]);
      expect(Object.is(latest?.values.energy_import_kwh, 12)).toBe(true);
    });

    it("knows each meter's highest seq and the seqs it lacks (end-to-end acknowledgement)", async () => {
      const index = store as ReadingStore & Partial<SeqIndex>;
      expect(typeof index.seqMarks).toBe('function');
      const readings = [1, 2, 3, 6, 7, 10].map((seq) =>
        good('a', seq, T0 + seq * MIN, { energy_import_kwh: seq }),
      );
      // An error reading counts as stored: it is the gateway's answer for that seq.
      await store.writeReadings([
        ...readings,
        bad('a', 11, T0 + 11 * MIN),
        good('b', 5, T0, { energy_import_kwh: 1 }),
      ]);
      const marks = await index.seqMarks!();
      expect(marks.get(meterId('a'))).toBe(11);
      expect(marks.get(meterId('b'))).toBe(5);
      expect(await index.missingSeqs!(meterId('a'), 1, 14)).toEqual([
        [4, 5],
        [8, 9],
        [12, 14],
      ]);
      expect(await index.missingSeqs!(meterId('a'), 6, 7)).toEqual([]);
      expect(await index.missingSeqs!(meterId('unknown'), 1, 3)).toEqual([[1, 3]]);
    });

    describe('readings', () => {
      it('returns every quality with all its fields', async () => {
        const withClock: StoredReading = {
          ...good('r', 1, T0, { energy_import_kwh: 10, power_kw: 1.5 }),
          deviceTs: T0 - 1500,
        };
        const uncertain: StoredReading = {
          ...good('r', 2, T0 + MIN, { energy_import_kwh: 10.1 }),
          quality: 'uncertain',
          flags: ['OPCUA_UNCERTAIN', 'UncertainLastUsableValue'],
        };
        const clockInvalid: StoredReading = {
          ...good('r', 3, T0 + 2 * MIN, { energy_import_kwh: 10.2, relay_closed: 1 }),
          deviceTs: Date.UTC(2000, 0, 1),
          flags: ['DEVICE_CLOCK_INVALID'],
        };
        const error = bad('r', 4, T0 + 3 * MIN);
        await store.writeReadings([withClock, uncertain, clockInvalid, error]);
        expect(await store.readings(meterId('r'), T0, T0 + HOUR)).toEqual([
          withClock,
          uncertain,
          clockInvalid,
          error,
        ]);
      });

      it('is [from, to)', async () => {
        const rs = register('r', T0 - 2 * MIN, T0 + 3 * MIN, MIN, (ts) => (ts - T0) / MIN + 100);
        await store.writeReadings(rs);
        const seqs = async (from: number, to: number) =>
          (await store.readings(meterId('r'), from, to)).map((r) => r.seq);
        expect(await seqs(T0, T0 + 2 * MIN)).toEqual([3, 4]);
        expect(await seqs(T0 - HOUR, T0 + HOUR)).toEqual([1, 2, 3, 4, 5]);
        expect(await seqs(T0 + MIN, T0 + MIN)).toEqual([]);
        expect(await seqs(T0 + MIN, T0 + MIN + 1)).toEqual([4]);
        expect(await seqs(T0 + 3 * MIN, T0 + HOUR)).toEqual([]);
      });

      it('is ordered by ts then seq, whatever the write order and seq order', async () => {
        // seq 3 was stamped before seq 2 (the gateway's clock stepped back): ts order wins.
        const rs = [
          good('r', 1, T0, { energy_import_kwh: 1 }),
          good('r', 2, T0 + 2 * MIN, { energy_import_kwh: 3 }),
          good('r', 3, T0 + MIN, { energy_import_kwh: 2 }),
          bad('r', 4, T0 + 3 * MIN),
          good('r', 5, T0 + 4 * MIN, { energy_import_kwh: 4 }),
        ];
        await store.writeReadings([rs[4]!, rs[1]!]);
        await store.writeReadings([rs[3]!, rs[0]!, rs[2]!]);
        const out = await store.readings(meterId('r'), T0, T0 + HOUR);
        expect(out.map((r) => [r.ts, r.seq])).toEqual([
          [T0, 1],
          [T0 + MIN, 3],
          [T0 + 2 * MIN, 2],
          [T0 + 3 * MIN, 4],
          [T0 + 4 * MIN, 5],
        ]);
      });

      it('keeps two readings of one meter stamped in the same millisecond, and each once when redelivered', async () => {
        // A breaker's "not polled" reading and a probe in the same millisecond, or a gateway whose
        // clock was set back: two readings (two seqs) at one ts. InfluxDB keyed them as one point.
        const skipped = bad('r', 7, T0 + MIN);
        const probed = good('r', 8, T0 + MIN, { energy_import_kwh: 5 });
        const after = good('r', 9, T0 + 2 * MIN, { energy_import_kwh: 5.1 });
        await store.writeReadings([skipped]);
        await store.writeReadings([probed, after]);
        // Redelivered, alone, together, out of order, and twice in one call.
        await store.writeReadings([after, probed, skipped, probed]);
        await store.writeReadings([skipped]);
        const out = await store.readings(meterId('r'), T0, T0 + HOUR);
        expect(out.map((r) => [r.ts, r.seq, r.quality])).toEqual([
          [T0 + MIN, 7, 'error'],
          [T0 + MIN, 8, 'good'],
          [T0 + 2 * MIN, 9, 'good'],
        ]);
        expect(out).toEqual([skipped, probed, after]);
      });

      it('returns only the asked meter, and nothing for an unknown one', async () => {
        const a = register('a', T0, T0 + 3 * MIN, MIN, () => 1);
        const ab = register('ab', T0, T0 + 3 * MIN, MIN, () => 2);
        await store.writeReadings([...ab, ...a, bad('ab', 10, T0 + 3 * MIN)]);
        const out = await store.readings(meterId('a'), T0, T0 + HOUR);
        expect(out).toEqual(a);
        expect(await store.readings(meterId('missing'), T0, T0 + HOUR)).toEqual([]);
      });
    });

    describe('interval consumption end to end', () => {
      const TZ = 'Asia/Shanghai';

      it('computes 15-minute intervals from readings off the boundaries', async () => {
        // 2 kWh per hour, read every 5 minutes starting 2 minutes past the hour.
        await store.writeReadings(
          register('a', T0 - 58 * MIN, T0 + 2 * HOUR, 5 * MIN, (ts) => 1000 + (2 * (ts - T0)) / HOUR),
        );
        const intervals = await intervalConsumption(store, {
          meters: [meterId('a')],
          quantity: 'energy_import_kwh',
          from: T0,
          to: T0 + HOUR,
          step: '15m',
          timezone: TZ,
        });
        expect(intervals.map((i) => [i.start, i.end, i.status])).toEqual(
          [0, 1, 2, 3].map((k) => [T0 + k * 15 * MIN, T0 + (k + 1) * 15 * MIN, 'ok']),
        );
        for (const i of intervals) expect(i.value).toBeCloseTo(0.5, 9);
      });

      it('reports an outage as gaps, never zeros', async () => {
        const at = (ts: number): number => 50 + (ts - T0) / HOUR;
        await store.writeReadings([
          ...register('a', T0 - HOUR, T0 + HOUR + 1, 15 * MIN, at),
          ...register('a', T0 + 5 * HOUR, T0 + 7 * HOUR, 15 * MIN, at, 100),
        ]);
        const intervals = await intervalConsumption(store, {
          meters: [meterId('a')],
          quantity: 'energy_import_kwh',
          from: T0,
          to: T0 + 6 * HOUR,
          step: '1h',
          timezone: TZ,
        });
        expect(intervals.map((i) => [i.status, i.value])).toEqual([
          ['ok', 1],
          ['gap', null],
          ['gap', null],
          ['gap', null],
          ['gap', null],
          ['ok', 1],
        ]);
      });

      it('adds rolloverAt when the register wraps', async () => {
        const installations: Installation[] = [
          { meter: meterId('a'), serial: 'S1', installedAt: 0, rolloverAt: 100_000 },
        ];
        const at = (ts: number): number => (99_999 + (ts - T0) / (30 * MIN)) % 100_000;
        await store.writeReadings(register('a', T0 - HOUR, T0 + 2 * HOUR, 15 * MIN, at));
        const intervals = await intervalConsumption(store, {
          meters: [meterId('a')],
          quantity: 'energy_import_kwh',
          from: T0,
          to: T0 + HOUR,
          step: '1h',
          timezone: TZ,
          installations,
        });
        expect(intervals).toHaveLength(1);
        expect(intervals[0]?.status).toBe('rollover');
        expect(intervals[0]?.value).toBeCloseTo(2, 9);
      });

      it('joins the old and the new meter across a replacement', async () => {
        const swap = T0 + 30 * MIN;
        const installations: Installation[] = [
          {
            meter: meterId('a'),
            serial: 'OLD',
            installedAt: 0,
            removedAt: swap,
            endRegister: 5000.5,
          },
          { meter: meterId('a'), serial: 'NEW', installedAt: swap, startRegister: 0 },
        ];
        // Old meter: 1 kWh per 15 minutes up to 5000.5 at the swap; new meter from 0, same rate.
        await store.writeReadings([
          ...register('a', T0 - HOUR, swap, 15 * MIN, (ts) => 5000.5 - (swap - ts) / (15 * MIN)),
          ...register('a', swap + 15 * MIN, T0 + 2 * HOUR, 15 * MIN, (ts) => (ts - swap) / (15 * MIN), 10),
        ]);
        const intervals = await intervalConsumption(store, {
          meters: [meterId('a')],
          quantity: 'energy_import_kwh',
          from: T0,
          to: T0 + HOUR,
          step: '1h',
          timezone: TZ,
          installations,
        });
        expect(intervals).toHaveLength(1);
        expect(intervals[0]?.status).toBe('replacement');
        expect(intervals[0]?.value).toBeCloseTo(4, 9);
      });
    });

    if (retention) {
      describe('interval consumption past retention', () => {
        consumptionPastRetention(() => store, meterId, retention);
      });
    }
  });
}
