import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InfluxDB } from 'influx';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InfluxStore } from '../../adapters/influx/store.ts';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../adapters/mqtt/embedded-broker.ts';
import { loadCampus } from '../../config/campus.ts';
import { startBackoffice } from '../../services/backoffice/run.ts';
import { GapTracker } from '../../services/metering/ingest/seq-gaps.ts';
import type { StoredReading } from '../../services/metering/storage.ts';
import { influxdAvailable, startInfluxd, type Influxd } from '../helpers/influxd.ts';
import { testLogger } from '../helpers/logger.ts';

const DAY = 86_400_000;
const METER = 'E-CANTEEN';
const INSPECTOR = { id: 'wang.jian', kind: 'user' as const, roles: ['inspector' as const] };

/**
 * The back office's retention on InfluxDB: an open alert's evidence window 60 days back stretches
 * the raw policy (rawDays 30) so influxd keeps the reading 50 days old; once the alert is decided
 * the next run sets 30 days and influxd drops it; a failing hold source leaves the policy as it
 * was. influxd drops shard groups by its own clock, so the readings are placed relative to the
 * time the test starts, days away from any limit.
 */
describe.skipIf(!influxdAvailable())('back-office retention on a real influxd', () => {
  let influxd: Influxd;
  let broker: EmbeddedBroker;
  const dir = mkdtempSync(join(tmpdir(), 'campus-retention-influx-'));
  beforeAll(async () => {
    [influxd, broker] = await Promise.all([startInfluxd(), startEmbeddedBroker()]);
  });
  afterAll(async () => {
    await Promise.all([influxd?.dispose(), broker?.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  const reading = (seq: number, ts: number): StoredReading => ({
    ...{ meter: METER, seq, ts, site: 'east', gateway: 'gw-east-1', kind: 'electricity' },
    quality: 'good',
    values: { energy_import_kwh: 1000 + seq },
  });

  async function until(client: InfluxDB, want: number[]): Promise<number[]> {
    let got: number[] = [];
    for (let i = 0; i < 100; i++) {
      const rows = await client.query<{ seq: number }>('SELECT "seq" FROM "raw"."reading"');
      got = rows.map((r) => r.seq).sort((a, b) => a - b);
      if (got.join() === want.join()) return got;
      await new Promise((r) => setTimeout(r, 200));
    }
    return got;
  }

  it('stretches the raw policy to an open alert, shrinks it once decided, and leaves it when a source fails', async () => {
    const database = `bo_retention_${process.pid}`;
    const file = join(dir, 'campus.yaml');
    writeFileSync(
      file,
      readFileSync('config/examples/campus.yaml', 'utf8').replace(/^dataDir: .*$/m, 'dataDir: .') +
        '\nstorage:\n  retention:\n    rawDays: 30\n',
    );
    const now = Date.now();
    const store = await InfluxStore.open({ url: influxd.url, database, logger: testLogger() });
    const client = new InfluxDB({ host: '127.0.0.1', port: influxd.port, database });
    await store.writeReadings([
      reading(1, now - 100 * DAY),
      reading(2, now - 50 * DAY),
      reading(3, now - 5 * DAY),
    ]);
    // Ingest ran here and follows no gap: its ledger is in the data folder (retention fails
    // closed without it).
    new GapTracker({
      ...{ index: store, placeOf: () => undefined, request: () => {}, onLost: () => {} },
      ledgerPath: join(dir, 'ingest-gaps.sqlite'),
    }).close();
    const bo = await startBackoffice({
      ...{ campus: loadCampus(file), mqtt: { url: broker.url }, store, logger: testLogger() },
      ...{ clock: () => now, http: false, detection: false, scryptCost: 1024 },
    });
    const rawDuration = async () =>
      (await client.showRetentionPolicies(database)).find((rp) => rp.name === 'raw')?.duration;

    const [alert] = bo.alerts.sync([
      {
        ...{ type: 'meter-drop', key: `meter-drop:${METER}`, severity: 'medium', meter: METER, score: 3 },
        since: now - 55 * DAY,
        reason: 'consumption dropped',
        evidence: { from: now - 60 * DAY, to: now - 40 * DAY, figures: {} },
      },
    ]).opened;
    expect(await bo.retention.runNow()).toMatchObject({ ok: true, holds: 1, rawDays: 61 });
    expect(await rawDuration()).toBe('1464h0m0s');
    expect(await until(client, [2, 3])).toEqual([2, 3]);

    // A broken billing accounts file: the run stops, the 61 days stay.
    writeFileSync(join(dir, 'billing-accounts.yaml'), 'accounts: [\n');
    bo.alerts.dismiss(alert!.id, { notes: 'the canteen was closed for the holidays', actor: INSPECTOR });
    expect(await bo.retention.runNow()).toMatchObject({ ok: false });
    expect(await rawDuration()).toBe('1464h0m0s');

    rmSync(join(dir, 'billing-accounts.yaml'));
    expect(await bo.retention.runNow()).toMatchObject({ ok: true, holds: 0, rawDays: 30 });
    expect(await rawDuration()).toBe('720h0m0s');
    expect(await until(client, [3])).toEqual([3]);
    expect(bo.audit.query({ action: 'storage.retention' })).toHaveLength(2);
    await bo.stop();
    await store.close();
  }, 90_000);
});
