import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InfluxStore } from '../../adapters/influx/store.ts';
import { SqliteStore } from '../../adapters/sqlite/store.ts';
import { validateCampus } from '../../config/campus.ts';
import { openStore } from '../../services/metering/open-store.ts';
import { influxdAvailable, startInfluxd, type Influxd } from '../helpers/influxd.ts';
import { testLogger } from '../helpers/logger.ts';

const dir = mkdtempSync(join(tmpdir(), 'open-store-'));
const campusWith = (storage: unknown) =>
  validateCampus(
    {
      campus: { name: 'Test' },
      dataDir: dir,
      ...(storage === undefined ? {} : { storage }),
      sites: [{ id: 's', gateways: [] }],
    },
    { file: '(test)', dir },
  );

describe('the configured store', () => {
  it('is the embedded SQLite file under dataDir when the campus file names no InfluxDB', async () => {
    const store = await openStore(campusWith(undefined), testLogger());
    expect(store).toBeInstanceOf(SqliteStore);
    await store.writeReadings([
      {
        meter: 'M1',
        ts: 1000,
        seq: 1,
        quality: 'good',
        values: { power_kw: 1.5 },
        site: 's',
        gateway: 'g',
        kind: 'electricity',
      },
    ]);
    expect((await store.latest(['M1']))[0]).toMatchObject({ meter: 'M1', seq: 1, values: { power_kw: 1.5 } });
    await store.close();
  });

  it("rolls the embedded store's days up at the campus's midnight (Asia/Shanghai by default)", async () => {
    const campus = campusWith(undefined);
    const store = (await openStore(campus, testLogger())) as SqliteStore;
    // Long past: the store closes days no later than its wall clock allows.
    const localMidnight = Date.UTC(2020, 3, 1) - 8 * 3_600_000;
    const readings = Array.from({ length: 3 * 24 }, (_, h) => ({
      meter: 'M-DAY',
      ts: localMidnight + h * 3_600_000,
      seq: h + 1,
      quality: 'good' as const,
      values: { energy_import_kwh: h },
      site: 's',
      gateway: 'g',
      kind: 'electricity' as const,
    }));
    await store.writeReadings(readings);
    store.compact();
    const days = await store.rollups('M-DAY', '1d', 0, localMidnight + 3 * 86_400_000);
    // Local days 1 and 2 lie in closed UTC days; each ends on the reading at 23:00 local time.
    expect(days.filter((d) => d.readings === 24).map((d) => [d.start, d.values.energy_import_kwh])).toEqual([
      [localMidnight, 23],
      [localMidnight + 86_400_000, 47],
    ]);
    await store.close();
  });

  it('refuses a password variable that is not set, naming it', async () => {
    const campus = campusWith({
      influx: { url: 'http://127.0.0.1:1', username: 'ingest', passwordEnv: 'NO_SUCH_VAR_X' },
    });
    await expect(openStore(campus, testLogger())).rejects.toThrow(/NO_SUCH_VAR_X/);
  });

  describe.skipIf(!influxdAvailable())('with InfluxDB configured', () => {
    let influxd: Influxd;
    beforeAll(async () => {
      influxd = await startInfluxd();
    });
    afterAll(async () => {
      await influxd?.dispose();
    });

    it('is InfluxDB, with the configured database', async () => {
      const store = await openStore(
        campusWith({ influx: { url: influxd.url, database: 'campus_test' } }),
        testLogger(),
      );
      expect(store).toBeInstanceOf(InfluxStore);
      expect((store as InfluxStore).database).toBe('campus_test');
      await store.writeReadings([
        {
          meter: 'M1',
          ts: 1000,
          seq: 1,
          quality: 'good',
          values: { power_kw: 2.5 },
          site: 's',
          gateway: 'g',
          kind: 'electricity',
        },
      ]);
      expect(await store.series({ meters: ['M1'], quantity: 'power_kw', from: 0, to: 2000 })).toEqual([
        { meter: 'M1', ts: 1000, value: 2.5 },
      ]);
      await store.close();
    });
  });
});
