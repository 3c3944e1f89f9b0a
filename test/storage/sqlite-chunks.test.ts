import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { SchemaTooNewError, migrate } from '../../adapters/sqlite/migrations.ts';
import { STORE_MIGRATIONS, SqliteStore } from '../../adapters/sqlite/store.ts';
import type { Quantity } from '../../config/schemas/quantities.ts';
import type { StoredReading } from '../../services/metering/storage.ts';
import { writeOldFile } from './old-file.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'campus-sqlite-chunks-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const newFile = (): string => path.join(dir, `store-${++files}.sqlite`);
/** A wall clock far ahead: days close by the readings alone, whenever the test runs. */
const LATER = { clock: () => Date.UTC(2100, 0, 1) };

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 2, 1);

/** Field by field, values with Object.is: -0 against 0 or one ulp off fails. */
function expectSameReadings(actual: StoredReading[], expected: StoredReading[]): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => {
    const e = expected[i]!;
    expect({ ...a, values: {} }).toEqual({ ...e, values: {} });
    expect(Object.keys(a.values).sort()).toEqual(Object.keys(e.values).sort());
    for (const [q, v] of Object.entries(e.values)) {
      if (!Object.is(a.values[q as Quantity], v)) {
        throw new Error(`${e.meter} seq ${e.seq} ${q}: stored ${v}, read back ${a.values[q as Quantity]}`);
      }
    }
  });
}

function sortTsSeq(rs: StoredReading[]): StoredReading[] {
  return [...rs].sort((a, b) => a.ts - b.ts || a.seq - b.seq);
}

function rawRows(file: string): number {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare('SELECT count(*) FROM readings').pluck().get() as number;
  } finally {
    db.close();
  }
}

function chunkCount(file: string): number {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare('SELECT count(*) FROM chunks').pluck().get() as number;
  } finally {
    db.close();
  }
}

// Values a meter produces (float32 registers, scaled integers, unit factors) and values no meter
// produces (any double: -0, subnormals, the largest finite, one ulp steps).
const anyDouble = fc.double({ noNaN: true, noDefaultInfinity: true });
const meterValue = fc.oneof(
  anyDouble,
  fc.float({ noNaN: true, noDefaultInfinity: true }),
  fc.integer({ min: -1e9, max: 1e9 }).map((i) => i * 0.01),
  fc.float({ noNaN: true, noDefaultInfinity: true }).map((f) => f * 0.001),
  fc.constantFrom(
    -0,
    0,
    Number.MIN_VALUE,
    -Number.MIN_VALUE,
    2.2250738585072014e-308,
    Number.MAX_VALUE,
    -Number.MAX_VALUE,
  ),
);
const QUANTITY_PICK: Quantity[] = ['energy_import_kwh', 'power_kw', 'voltage_v', 'pf', 'relay_closed'];

const readingArb = fc.record({
  gap: fc.integer({ min: 0, max: 6 * 3_600_000 }),
  seqStep: fc.integer({ min: 1, max: 3 }),
  kind: fc.constantFrom('good', 'good', 'good', 'uncertain', 'error'),
  values: fc.tuple(...QUANTITY_PICK.map(() => fc.option(meterValue, { nil: undefined }))),
  deviceSkew: fc.option(fc.integer({ min: -86_400_000, max: 86_400_000 }), { nil: undefined }),
  flag: fc.constantFrom('OPCUA_UNCERTAIN', 'VOLTAGE_V_OUT_OF_RANGE', 'DEVICE_CLOCK_INVALID'),
});

type Spec = typeof readingArb extends fc.Arbitrary<infer T> ? T : never;

function buildReadings(meter: string, specs: Spec[]): StoredReading[] {
  let ts = T0;
  let seq = 0;
  return specs.map((s) => {
    ts += s.gap;
    seq += s.seqStep;
    const r: StoredReading = {
      meter,
      seq,
      ts,
      quality: s.kind as StoredReading['quality'],
      values: {},
      site: 'east',
      gateway: 'gw-1',
      kind: 'electricity',
    };
    if (s.kind === 'error') r.error = { code: 'MODBUS_TIMEOUT', message: `no answer ${seq} — 无应答` };
    else {
      s.values.forEach((v, i) => {
        if (v !== undefined) r.values[QUANTITY_PICK[i]!] = v;
      });
      if (s.kind === 'uncertain') r.flags = [s.flag, 'X_' + seq];
      else if (seq % 5 === 0) r.flags = [s.flag];
    }
    if (s.deviceSkew !== undefined) r.deviceTs = ts + s.deviceSkew;
    return r;
  });
}

describe('SqliteStore day chunks', () => {
  it('gives back every reading bit for bit from chunks: any doubles, quality, flags, errors, deviceTs, seq', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(readingArb, { minLength: 1, maxLength: 120 }), async (specs) => {
        const file = newFile();
        const expected = buildReadings('E-P', specs);
        const store = SqliteStore.open({ path: file, graceMs: 0, ...LATER });
        try {
          // In shuffled batches, as a replaying gateway would deliver them.
          const shuffled = [...expected].sort((a, b) => ((a.seq * 7919) % 13) - ((b.seq * 7919) % 13));
          for (let i = 0; i < shuffled.length; i += 17) await store.writeReadings(shuffled.slice(i, i + 17));
          store.compact();
          const all = await store.readings('E-P', 0, Number.MAX_SAFE_INTEGER);
          expectSameReadings(all, sortTsSeq(expected));
          // Every day but the newest is in chunks.
          const openDay = Math.floor(expected.at(-1)!.ts / DAY);
          expect(rawRows(file)).toBe(expected.filter((r) => Math.floor(r.ts / DAY) === openDay).length);
          const series = await store.series({ meters: ['E-P'], quantity: 'power_kw', from: 0, to: 2 ** 52 });
          const good = sortTsSeq(expected).filter(
            (r) => r.quality === 'good' && r.values.power_kw !== undefined,
          );
          expect(series.length).toBe(good.length);
          series.forEach((p, i) => {
            expect(p.ts).toBe(good[i]!.ts);
            expect(Object.is(p.value, good[i]!.values.power_kw)).toBe(true);
          });
          const maxSeq = expected.at(-1)!.seq;
          const present = new Set(expected.map((r) => r.seq));
          const missing = (await store.missingSeqs('E-P', 1, maxSeq)).flatMap(([a, b]) =>
            Array.from({ length: b - a + 1 }, (_, k) => a + k),
          );
          expect(missing).toEqual(
            Array.from({ length: maxSeq }, (_, k) => k + 1).filter((s) => !present.has(s)),
          );
          expect((await store.seqMarks()).get('E-P')).toBe(maxSeq);
        } finally {
          await store.close();
        }
      }),
      { numRuns: 40 },
    );
  });

  it('stores a year of 15-minute readings in chunks of a few bytes a reading, raw rows only for the open day', async () => {
    const file = newFile();
    const store = SqliteStore.open({ path: file, ...LATER });
    const readings: StoredReading[] = [];
    let kwh = 1000;
    for (let i = 0; i < 30 * 96; i++) {
      kwh += Math.fround(0.25 + (i % 7) * 0.01);
      readings.push({
        meter: 'E-Y',
        seq: i + 1,
        ts: T0 + i * 900_000 + (i % 4) * 13,
        quality: 'good',
        values: { energy_import_kwh: Math.fround(kwh), voltage_v: Math.fround(229 + (i % 11) * 0.1) },
        site: 'east',
        gateway: 'gw-1',
        kind: 'electricity',
      });
    }
    for (let i = 0; i < readings.length; i += 500) await store.writeReadings(readings.slice(i, i + 500));
    store.compact();
    await store.close();
    expect(chunkCount(file)).toBe(29);
    expect(rawRows(file)).toBe(96);
    const db = new Database(file, { readonly: true });
    const bytes = db.prepare('SELECT sum(length(data)) FROM chunks').pluck().get() as number;
    db.close();
    // Two values, ts and seq: rows took ~45 bytes for these; chunks a small fraction of that.
    expect(bytes / (29 * 96)).toBeLessThan(8);
    const again = SqliteStore.open({ path: file, ...LATER });
    expectSameReadings(await again.readings('E-Y', 0, 2 ** 52), readings);
    await again.close();
  });

  it('takes a late reading for a closed day, merges it into that day, and ignores a redelivered one', async () => {
    const file = newFile();
    const store = SqliteStore.open({ path: file, graceMs: 0, ...LATER });
    const r = (seq: number, ts: number, kwh: number): StoredReading => ({
      meter: 'E-L',
      seq,
      ts,
      quality: 'good',
      values: { energy_import_kwh: kwh },
      site: 'east',
      gateway: 'gw-1',
      kind: 'electricity',
    });
    const day1 = [r(1, T0 + 3_600_000, 10), r(3, T0 + 5 * 3_600_000, 12)];
    await store.writeReadings([...day1, r(4, T0 + DAY + 60_000, 13), r(5, T0 + 2 * DAY + 60_000, 14)]);
    store.compact();
    expect(chunkCount(file)).toBe(2);

    // seq 2 was lost in transit and comes late: it belongs to the closed day 1.
    const late = r(2, T0 + 2 * 3_600_000, 11);
    await store.writeReadings([late]);
    expect((await store.readings('E-L', T0, T0 + DAY)).map((x) => x.seq)).toEqual([1, 2, 3]);
    expect(await store.missingSeqs('E-L', 1, 5)).toEqual([]);
    store.compact();
    expect(chunkCount(file)).toBe(2);
    expect(rawRows(file)).toBe(1);

    // A redelivery of a reading already in a chunk changes nothing, even with other values.
    await store.writeReadings([
      { ...r(1, T0 + 3_600_000, 999), quality: 'good' },
      r(2, T0 + 2 * 3_600_000, 998),
    ]);
    store.compact();
    expectSameReadings(await store.readings('E-L', T0, T0 + DAY), [day1[0]!, late, day1[1]!]);
    expect(
      (
        await store.series({ meters: ['E-L'], quantity: 'energy_import_kwh', from: T0, to: T0 + 3 * DAY })
      ).map((p) => p.value),
    ).toEqual([10, 11, 12, 13, 14]);
    expect((await store.latest(['E-L']))[0]?.seq).toBe(5);
    await store.close();
  });

  it('does not close days past tomorrow for a reading stamped years ahead by a wrong clock', async () => {
    const file = newFile();
    const store = SqliteStore.open({ path: file, graceMs: 0, clock: () => T0 + 3 * DAY });
    const r = (seq: number, ts: number): StoredReading => ({
      meter: 'E-F',
      seq,
      ts,
      quality: 'good',
      values: { energy_import_kwh: seq },
      site: 'east',
      gateway: 'gw-1',
      kind: 'electricity',
    });
    await store.writeReadings([r(1, T0), r(2, T0 + 2 * DAY), r(3, T0 + 3 * DAY), r(4, T0 + 5 * 365 * DAY)]);
    store.compact();
    // Days 0 and 2 closed (before tomorrow by the clock); day 3 and the future one stay rows.
    expect(chunkCount(file)).toBe(2);
    expect(rawRows(file)).toBe(2);
    expect((await store.readings('E-F', 0, 2 ** 52)).map((x) => x.seq)).toEqual([1, 2, 3, 4]);
    await store.close();
  });

  it('sees what another connection compacted and does not store a chunked seq twice', async () => {
    const file = newFile();
    const a = SqliteStore.open({ path: file, graceMs: 0, chunksPerWrite: 0, ...LATER });
    const b = SqliteStore.open({ path: file, graceMs: 0, ...LATER });
    const r = (seq: number, ts: number): StoredReading => ({
      meter: 'E-2',
      seq,
      ts,
      quality: 'good',
      values: { energy_import_kwh: seq },
      site: 'east',
      gateway: 'gw-1',
      kind: 'electricity',
    });
    await a.writeReadings([r(1, T0), r(2, T0 + DAY)]);
    // b compacts day 0; a's cached idea of the meter's chunks is stale until it looks again.
    b.compact();
    expect(chunkCount(file)).toBe(1);
    await a.writeReadings([r(1, T0)]);
    expect(rawRows(file)).toBe(1);
    expect((await a.readings('E-2', 0, 2 ** 52)).map((x) => x.seq)).toEqual([1, 2]);
    await a.close();
    await b.close();
  });

  it('moves an old file into chunks in place; a newer file is refused by the previous release', async () => {
    const file = newFile();
    const expected = await writeOldFile(file, 6, 5);
    const store = SqliteStore.open({ path: file, ...LATER });
    // Opening is instant: the rows move as compact() runs.
    expect(rawRows(file)).toBe(expected.length);
    let result = store.compact(7);
    expect(result.chunks).toBe(7);
    while (result.pendingMeters > 0) result = store.compact(7);
    for (const m of ['E-M-0', 'E-M-5']) {
      expectSameReadings(
        await store.readings(m, 0, 2 ** 52),
        expected.filter((r) => r.meter === m),
      );
    }
    await store.close();
    expect(rawRows(file)).toBe(6 * 96);
    expect(chunkCount(file)).toBe(6 * 4);

    const db = new Database(file);
    expect(() => migrate(db, STORE_MIGRATIONS.slice(0, 1), file)).toThrow(SchemaTooNewError);
    db.close();
  });
});
