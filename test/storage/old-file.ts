import Database from 'better-sqlite3';
import { migrate } from '../../adapters/sqlite/migrations.ts';
import { STORE_MIGRATIONS, SqliteStore } from '../../adapters/sqlite/store.ts';
import type { StoredReading } from '../../services/metering/storage.ts';

// Long past, so that the store's wall-clock bound (SqliteStoreOptions.clock) never holds days open.
const T0 = Date.UTC(2020, 2, 1);

/** Deterministic readings of the old-file tests: meters × days of 15-minute SDM630-like values. */
export function oldFileReadings(meters: number, days: number): StoredReading[] {
  const out: StoredReading[] = [];
  for (let m = 0; m < meters; m++) {
    for (let i = 0; i < days * 96; i++) {
      const seq = i + 1;
      const ts = T0 + i * 900_000 + m * 7;
      out.push(
        seq % 97 === 0
          ? {
              meter: `E-M-${m}`,
              seq,
              ts,
              quality: 'error',
              values: {},
              error: { code: 'MODBUS_TIMEOUT', message: 'no answer' },
              site: 'west',
              gateway: 'gw-2',
              kind: 'electricity',
            }
          : {
              meter: `E-M-${m}`,
              seq,
              ts,
              quality: 'good',
              values: {
                energy_import_kwh: Math.fround(100 + m + i * 0.3),
                power_kw: Math.fround(1000 + Math.sin(i) * 300) * 0.001,
                voltage_v: Math.fround(229 + Math.cos(i + m)),
                pf: 0.9 + Math.sin(i) / 20,
              },
              deviceTs: ts - 1500,
              site: 'west',
              gateway: 'gw-2',
              kind: 'electricity',
            },
      );
    }
  }
  return out;
}

/**
 * A file as the previous release (schema version 1, rows only) left it: written through the store
 * with nothing ever closing, then the chunk tables removed and the version set back.
 */
export async function writeOldFile(file: string, meters: number, days: number): Promise<StoredReading[]> {
  const readings = oldFileReadings(meters, days);
  const db = new Database(file);
  migrate(db, STORE_MIGRATIONS.slice(0, 1), file);
  db.close();
  const store = SqliteStore.open({ path: file, graceMs: Number.POSITIVE_INFINITY });
  for (let i = 0; i < readings.length; i += 1000) await store.writeReadings(readings.slice(i, i + 1000));
  await store.close();
  const old = new Database(file);
  old.exec('DROP TABLE chunks; DROP TABLE store_meta; DROP TABLE rollup_chunks;');
  old.pragma('user_version = 1');
  old.close();
  return readings;
}
