import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { QUANTITIES, type Quantity } from '../../config/schemas/quantities.ts';
import {
  decodeLatest,
  decodeLatestRun,
  encodeLatest,
  LatestCodecError,
} from '../../adapters/sqlite/latest-codec.ts';
import { migrate } from '../../adapters/sqlite/migrations.ts';
import { STORE_MIGRATIONS, SqliteStore } from '../../adapters/sqlite/store.ts';
import type { StoredReading } from '../../services/metering/storage.ts';
import { prng } from '../helpers/prng.ts';

/**
 * Schema 4 keeps each meter's latest reading packed in one column (adapters/sqlite/latest-codec.ts).
 * A file of schema 3 (29 columns a reading) converts in place at open, and latest() returns what
 * the column layout returned: every field, error readings, every quantity, -0 and extreme doubles.
 */

const dir = mkdtempSync(path.join(tmpdir(), 'campus-latest-packed-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const QUANTITY_NAMES = Object.keys(QUANTITIES) as Quantity[];
const ODD = [0, -0, Number.MIN_VALUE, Number.MAX_VALUE, -Number.MAX_VALUE, -1e-310, 0.1 + 0.2, 2 ** 53 + 2];

function randomReadings(seed: number, meters: number): StoredReading[] {
  const rand = prng(seed);
  const out: StoredReading[] = [];
  for (let m = 0; m < meters; m++) {
    const quality = rand() < 0.15 ? 'error' : rand() < 0.15 ? 'uncertain' : 'good';
    const values: Partial<Record<Quantity, number>> = {};
    if (quality !== 'error') {
      // Every quantity on some meters, a few on most.
      const share = m % 10 === 0 ? 1 : 0.3;
      for (const q of QUANTITY_NAMES)
        if (rand() < share)
          values[q] = rand() < 0.3 ? ODD[Math.floor(rand() * ODD.length)]! : rand() * 1e4 - 10;
    }
    const r: StoredReading = {
      meter: `M-${String(m).padStart(4, '0')}`,
      ts: Date.UTC(2026, 10, 1) + Math.floor(rand() * 1e9),
      seq: Math.floor(rand() * 2 ** 40),
      quality,
      values,
      site: rand() < 0.5 ? 'east' : '西校区',
      gateway: `gw-${m % 7}`,
      kind: m % 5 === 0 ? 'water' : m % 11 === 0 ? 'heat' : 'electricity',
    };
    if (rand() < 0.3) r.deviceTs = r.ts - Math.floor(rand() * 5000);
    if (quality === 'error')
      r.error = { code: 'MODBUS_TIMEOUT', message: rand() < 0.5 ? '无应答 no answer' : '' };
    if (quality === 'uncertain' || rand() < 0.1) r.flags = ['OPCUA_UNCERTAIN', 'BadSensorFailure'];
    out.push(r);
  }
  return out;
}

/** A schema-3 file as the previous release wrote it: meters, and `latest` one column per field. */
function writeSchema3(file: string, readings: readonly StoredReading[]): void {
  const db = new Database(file);
  migrate(db, STORE_MIGRATIONS.slice(0, 3), file);
  expect(db.pragma('user_version', { simple: true })).toBe(3);
  // The -0 mask column, which that release added at open.
  db.exec('ALTER TABLE latest ADD COLUMN neg_zero INTEGER');
  const cols = QUANTITY_NAMES.join(', ');
  const insertMeter = db.prepare('INSERT INTO meters (id, name, site, gateway, kind) VALUES (?, ?, ?, ?, ?)');
  const insertLatest = db.prepare(
    `INSERT INTO latest (meter_id, site, gateway, kind, seq, ts, quality, device_ts, error_code, error_message,
       flags, ${cols}, neg_zero) VALUES (${Array.from({ length: 12 + QUANTITY_NAMES.length }, () => '?').join(', ')})`,
  );
  db.transaction(() => {
    readings.forEach((r, i) => {
      insertMeter.run(i + 1, r.meter, r.site, r.gateway, r.kind);
      let negZero = 0;
      QUANTITY_NAMES.forEach((q, k) => {
        if (Object.is(r.values[q], -0)) negZero += 2 ** k;
      });
      insertLatest.run(
        i + 1,
        r.site,
        r.gateway,
        r.kind,
        r.seq,
        r.ts,
        { good: 0, error: 1, uncertain: 2 }[r.quality],
        r.deviceTs ?? null,
        r.error?.code ?? null,
        r.error?.message ?? null,
        r.flags ? r.flags.join(',') : null,
        ...QUANTITY_NAMES.map((q) => r.values[q] ?? null),
        negZero === 0 ? null : negZero,
      );
    });
  })();
  db.close();
}

const byMeter = (a: StoredReading, b: StoredReading): number => (a.meter < b.meter ? -1 : 1);

describe('SqliteStore latest readings packed in one column', () => {
  it('converts a schema-3 file in place, and latest() returns the same readings bit for bit', async () => {
    const file = path.join(dir, 'schema3.sqlite');
    const readings = randomReadings(404, 1500);
    writeSchema3(file, readings);
    const store = SqliteStore.open({ path: file });
    try {
      // toStrictEqual tells -0 from 0 and an absent key from an undefined one.
      const got = await store.latest();
      expect(got).toStrictEqual([...readings].sort(byMeter));
      // Every quantity appeared on some meter, as did error readings, flags and device times.
      const seen = new Set(got.flatMap((r) => Object.keys(r.values)));
      expect([...seen].sort()).toEqual([...QUANTITY_NAMES].sort());
      expect(got.some((r) => r.error && Object.keys(r.values).length === 0)).toBe(true);
      expect(got.some((r) => Object.values(r.values).some((v) => Object.is(v, -0)))).toBe(true);

      // A newer reading replaces a meter's latest; an older one, written late, does not.
      const first = readings[0]!;
      const newer: StoredReading = {
        ...first,
        seq: first.seq + 1,
        ts: first.ts + 1,
        values: { power_kw: -0 },
      };
      const older: StoredReading = { ...readings[1]!, seq: 1, ts: readings[1]!.ts - 1 };
      await store.writeReadings([newer, older]);
      expect(await store.latest([first.meter, older.meter])).toStrictEqual(
        [newer, readings[1]!].sort(byMeter),
      );
    } finally {
      await store.close();
    }
    const db = new Database(file, { readonly: true });
    expect(db.pragma('user_version', { simple: true })).toBe(4);
    expect((db.prepare('PRAGMA table_info(latest)').all() as { name: string }[]).map((c) => c.name)).toEqual([
      'meter_id',
      'ts',
      'seq',
      'packed',
    ]);
    expect(db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'latest_columns'").pluck().get()).toBe(
      0,
    );
    db.close();

    // A fresh connection (nothing cached) reads the packed rows the same.
    const again = SqliteStore.open({ path: file });
    try {
      expect((await again.latest()).length).toBe(readings.length);
      expect(await again.latest([readings[2]!.meter])).toStrictEqual([readings[2]]);
    } finally {
      await again.close();
    }
  });

  it('names the meter of a damaged record, and skips a quantity a newer release wrote', () => {
    const [r, r2] = randomReadings(7, 2).map((x) => ({
      ...x,
      values: { energy_import_kwh: 1.5, power_kw: -0 },
    }));
    const ids = QUANTITY_NAMES.map((_, i) => i);
    const blob = encodeLatest(r!, 7, QUANTITY_NAMES, ids);
    expect(decodeLatest(r!.meter, blob, QUANTITY_NAMES)).toStrictEqual(r);
    expect(() => decodeLatest('E-9', blob.subarray(0, blob.length - 1), QUANTITY_NAMES)).toThrow(
      /E-9: \d+ bytes, not one record/,
    );
    // A record whose own length is right but whose last string runs past it.
    const short = Buffer.from(blob.subarray(0, blob.length - 1));
    short.writeUInt32LE(short.length, 0);
    expect(() => decodeLatest('E-9', short, QUANTITY_NAMES)).toThrow(/E-9: truncated/);
    const bad = Buffer.from(blob);
    bad[8] = 9;
    expect(() => decodeLatest('E-9', bad, QUANTITY_NAMES)).toThrow(LatestCodecError);
    // The dictionary of a newer release: energy_import_kwh's id unknown here.
    const older = QUANTITY_NAMES.map((q) => (q === 'energy_import_kwh' ? undefined : q));
    expect(decodeLatest(r!.meter, blob, older).values).toStrictEqual({ power_kw: -0 });

    // Records end to end, as the cold latest() reads them: each with its meter's name.
    const run = Buffer.concat([blob, encodeLatest(r2!, 8, QUANTITY_NAMES, ids)]);
    const names = new Map([
      [7, r!.meter],
      [8, r2!.meter],
    ]);
    const got: StoredReading[] = [];
    decodeLatestRun(
      run,
      (id) => names.get(id)!,
      QUANTITY_NAMES,
      (x) => got.push(x),
    );
    expect(got).toStrictEqual([r, r2]);
    expect(() =>
      decodeLatestRun(
        run.subarray(0, run.length - 3),
        (id) => names.get(id)!,
        QUANTITY_NAMES,
        () => {},
      ),
    ).toThrow(new RegExp(`record at byte ${blob.length} of ${run.length - 3} is damaged`));
  });
});
