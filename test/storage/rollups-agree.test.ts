import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InfluxStore } from '../../adapters/influx/store.ts';
import { SqliteStore } from '../../adapters/sqlite/store.ts';
import { influxdAvailable, startInfluxd, type Influxd } from '../helpers/influxd.ts';
import { testLogger } from '../helpers/logger.ts';
import {
  D0,
  DAY,
  DAYS,
  MIN,
  OFFSET_MIN,
  SLOT,
  expectSame,
  expectedDays,
  expectedSlots,
  meterReadings,
  type Rollup,
} from './rollup-definition.ts';

/**
 * The two stores' roll-ups agree (issue 16 item 4): the same readings — good, uncertain and error
 * ones mixed in slots and days, a relay and a breaker opening and closing — written to the embedded
 * store and to a real influxd, and each store's 15-minute and daily roll-ups (and registerSlots)
 * compared field by field with a plain recomputation from the readings here, so both say the same
 * as each other and as the definition:
 *
 * - `readings`: every reading that came in the slot (day), whatever its quality: the meter's polls;
 * - cumulative registers, relay and breaker state: the last good value in the slot;
 * - instantaneous values: the mean of the good values in the slot; a day's: the mean of its slots';
 * - `powerKwMax`: the highest good power_kw (a day's: the highest of its slots').
 *
 * An uncertain reading (IMPLAUSIBLE_STEP) is a value VEE must not trust, so it is never in a roll-up.
 */

interface RollupReader {
  rollups(meter: string, step: '15m' | '1d', from: number, to: number): Promise<Rollup[]>;
}

const METERS: Array<[string, number, number]> = [
  ['E-FAST', 5 * MIN, 16],
  ['E-QUARTER', 15 * MIN, 17],
];
const written = METERS.map(([meter, every, seed]) => meterReadings(meter, every, seed));

describe.skipIf(!influxdAvailable())('the two stores roll up the same readings the same way', () => {
  let influxd: Influxd;
  let influx: InfluxStore;
  let sqlite: SqliteStore;
  const dir = mkdtempSync(path.join(tmpdir(), 'campus-rollups-agree-'));
  const stores: Array<[string, () => RollupReader & Pick<InfluxStore, 'registerSlots'>]> = [
    ['sqlite', () => sqlite],
    ['InfluxDB', () => influx],
  ];

  beforeAll(async () => {
    influxd = await startInfluxd();
    influx = await InfluxStore.open({
      url: influxd.url,
      database: 'agree',
      logger: testLogger(),
      dailyUtcOffsetMinutes: OFFSET_MIN,
    });
    sqlite = SqliteStore.open({ path: path.join(dir, 'store.sqlite'), dailyUtcOffsetMinutes: OFFSET_MIN });
    for (const readings of written) {
      await influx.writeReadings(readings);
      await sqlite.writeReadings(readings);
    }
    // Each store's own way to roll up what came in at once: influxd's continuous queries resample
    // only the last hour, so the same SELECT … INTO over the span; the embedded store closes days.
    await influx.recomputeRollups(D0, D0 + DAYS * DAY);
    sqlite.compact();
  }, 60_000);
  afterAll(async () => {
    await influx?.close();
    await sqlite?.close();
    await influxd?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the readings really mix qualities: uncertain-only and error-only slots, a relay that opens', () => {
    const slots = expectedSlots(written[1]!, D0, D0 + DAYS * DAY);
    expect(slots.some((s) => s.readings > 0 && s.values.energy_import_kwh === undefined)).toBe(true);
    expect(written[1]!.some((r) => r.quality === 'uncertain' && Math.floor(r.ts / SLOT) % 23 === 5)).toBe(
      true,
    );
    expect(new Set(slots.map((s) => s.values.relay_closed))).toEqual(new Set([0, 1, undefined]));
  });

  for (const [name, store] of stores) {
    for (const [m, [meter]] of METERS.entries()) {
      it(`${name}: ${meter}'s 15-minute and daily roll-ups are the definition's, field by field`, async () => {
        const slots = expectedSlots(written[m]!, D0, D0 + DAYS * DAY);
        expectSame(await store().rollups(meter, '15m', D0, D0 + DAYS * DAY), slots, `${name} ${meter} 15m`);
        expectSame(
          await store().rollups(meter, '1d', D0, D0 + DAYS * DAY),
          expectedDays(slots),
          `${name} ${meter} 1d`,
        );
      });
    }

    it(`${name}: registerSlots gives each slot's last good register and its polls`, async () => {
      const got = await store().registerSlots({
        meters: METERS.map(([m]) => m),
        quantity: 'energy_import_kwh',
        from: D0,
        to: D0 + DAYS * DAY,
      });
      const want = METERS.flatMap(([meter], m) =>
        expectedSlots(written[m]!, D0, D0 + DAYS * DAY)
          .filter((s) => s.values.energy_import_kwh !== undefined)
          .map((s) => ({ meter, start: s.start, value: s.values.energy_import_kwh!, readings: s.readings })),
      );
      expect(got).toEqual(want);
      // Never an implausible register from an uncertain reading.
      expect(got.every((s) => s.value < 50_000)).toBe(true);
    });
  }

  it('the two stores say exactly the same for every slot and day', async () => {
    for (const [meter] of METERS) {
      for (const step of ['15m', '1d'] as const) {
        const a = await sqlite.rollups(meter, step, D0, D0 + DAYS * DAY);
        const b = await influx.rollups(meter, step, D0, D0 + DAYS * DAY);
        expectSame(b, a, `${meter} ${step} InfluxDB vs sqlite`);
      }
    }
  });
});
