import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { QUANTITIES, type Quantity } from '../../config/schemas/quantities.ts';
import { SqliteStore } from '../../adapters/sqlite/store.ts';
import type { StoredReading } from '../../services/metering/storage.ts';
import { prng } from '../ingest/support.ts';

/**
 * latest() read from the file (a store just opened): every meter's newest reading exactly as
 * written — -0, extreme doubles, error readings, flags, device times, a meter that moved gateway,
 * a late older reading that must not win — recomputed here from the readings themselves.
 */

const dir = mkdtempSync(path.join(tmpdir(), 'campus-sqlite-latest-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const QUANTITY_NAMES = Object.keys(QUANTITIES) as Quantity[];
const ODD = [0, -0, Number.MIN_VALUE, Number.MAX_VALUE, -1e-310, 0.1 + 0.2, 229.8, 2 ** 53 + 2];

describe('SqliteStore latest() from the file', () => {
  it('returns each meter’s newest reading bit for bit after a reopen', async () => {
    const rand = prng(606);
    const file = path.join(dir, 'latest.sqlite');
    const store = SqliteStore.open({ path: file });
    const written: StoredReading[] = [];
    const T0 = Date.UTC(2026, 10, 1);
    for (let round = 0; round < 4; round++) {
      const batch: StoredReading[] = [];
      for (let m = 0; m < 300; m++) {
        const quality = rand() < 0.1 ? 'error' : rand() < 0.1 ? 'uncertain' : 'good';
        const values: Partial<Record<Quantity, number>> = {};
        if (quality !== 'error') {
          for (const q of QUANTITY_NAMES)
            if (rand() < 0.3)
              values[q] = rand() < 0.3 ? ODD[Math.floor(rand() * ODD.length)]! : rand() * 1000;
        }
        // Round 3 brings late readings (older ts) for some meters: they must not become the latest.
        const late = round === 3 && m % 3 === 0;
        const r: StoredReading = {
          meter: `M-${String(m).padStart(3, '0')}`,
          site: 'east',
          gateway: round === 2 && m % 7 === 0 ? 'gw-moved' : 'gw1',
          kind: m % 5 === 0 ? 'water' : 'electricity',
          ts: T0 + (late ? 0 : round) * 900_000 + (late ? -1 : 0),
          seq: round + 1,
          quality,
          values,
        };
        if (rand() < 0.3) r.deviceTs = T0 + Math.floor(rand() * 1e6);
        if (quality === 'error')
          r.error = { code: 'MODBUS_TIMEOUT', message: rand() < 0.5 ? 'no answer' : '' };
        if (quality === 'uncertain' || rand() < 0.1) r.flags = ['OPCUA_UNCERTAIN', 'BadSensorFailure'];
        batch.push(r);
      }
      await store.writeReadings(batch);
      written.push(...batch);
    }
    await store.close();

    const newest = new Map<string, StoredReading>();
    for (const r of written) {
      const seen = newest.get(r.meter);
      if (!seen || r.ts > seen.ts || (r.ts === seen.ts && r.seq > seen.seq)) newest.set(r.meter, r);
    }
    const expected = [...newest.values()].sort((a, b) => (a.meter < b.meter ? -1 : 1));
    const reopened = SqliteStore.open({ path: file });
    try {
      const got = await reopened.latest();
      // toStrictEqual tells -0 from 0 (Object.is) and an absent key from an undefined one.
      expect(got).toStrictEqual(expected);
      expect(await reopened.latest(['M-007', 'M-003'])).toStrictEqual(
        expected.filter((r) => r.meter === 'M-003' || r.meter === 'M-007'),
      );
    } finally {
      await reopened.close();
    }
  });
});
