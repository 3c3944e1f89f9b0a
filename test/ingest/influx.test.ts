import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InfluxStore } from '../../adapters/influx/store.ts';
import { validateCampus } from '../../config/campus.ts';
import { meterRegistry } from '../../config/registry.ts';
import { startGateway } from '../../gateway/gateway.ts';
import { Outbox } from '../../gateway/outbox/outbox.ts';
import { silentLogger } from '../../gateway/log.ts';
import { SqliteDeadLetterStore } from '../../services/metering/ingest/dead-letters.ts';
import { startIngest, type Ingest } from '../../services/metering/ingest/ingest.ts';
import { startField } from '../helpers/field.ts';
import { influxdAvailable, startInfluxd, type Influxd } from '../helpers/influxd.ts';
import { testLogger } from '../helpers/logger.ts';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.ts';
import { waitFor } from '../helpers/readings.ts';
import { goodMessage, registry, testPublisher, type Message } from './support.ts';

const DB = 'campus_energy';

/** Points in the raw reading measurement, and the sum over meters of their distinct seqs. */
async function influxCounts(url: string): Promise<{ points: number; distinctSeqs: number }> {
  const query = async (q: string) => {
    const target = new URL('/query', url);
    target.search = new URLSearchParams({ db: DB, q }).toString();
    const res = await fetch(target);
    const body = (await res.json()) as { results: { series?: { values: [string, number][] }[] }[] };
    return (body.results[0]?.series ?? []).reduce((sum, s) => sum + (s.values[0]?.[1] ?? 0), 0);
  };
  return {
    points: await query('SELECT count("seq") FROM "raw"."reading"'),
    distinctSeqs: await query('SELECT count(distinct("seq")) FROM "raw"."reading" GROUP BY "meter"'),
  };
}

describe.skipIf(!influxdAvailable())('ingest into a real influxd', () => {
  let mosquitto: Mosquitto;
  let influxd: Influxd;
  let dir: string;
  let store: InfluxStore;
  let deadLetters: SqliteDeadLetterStore;
  let ingest: Ingest | undefined;

  beforeEach(async () => {
    [mosquitto, influxd] = await Promise.all([startMosquitto(), startInfluxd()]);
    dir = mkdtempSync(join(tmpdir(), 'ingest-influx-'));
    store = await InfluxStore.open({ url: influxd.url, database: DB, logger: testLogger() });
    deadLetters = SqliteDeadLetterStore.open({ path: join(dir, 'dead.sqlite') });
  });
  afterEach(async () => {
    await ingest?.stop();
    ingest = undefined;
    await store.close().catch(() => undefined);
    deadLetters.close();
    await Promise.all([mosquitto.dispose(), influxd.dispose()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('loses nothing when influxd is stopped for 30 s mid-stream', async () => {
    const reg = registry(100);
    ingest = startIngest({
      url: mosquitto.url,
      clientId: 'ingest-influx',
      meters: reg,
      writer: store,
      deadLetters,
      logger: testLogger(),
    });
    await ingest.ready;
    const pub = await testPublisher(mosquitto.url);
    // 100 meters, one reading each every 100 ms, for 40 s: 40,000 readings at 1,000/s.
    const POLLS = 400;
    let seq = 0;
    const publishing = (async () => {
      const started = Date.now();
      while (seq < POLLS) {
        seq += 1;
        const batch: Message[] = [];
        for (let m = 1; m <= 100; m++) batch.push(goodMessage(reg, `E-${m}`, seq));
        await pub.publishAll(batch);
        const due = started + seq * 100;
        await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
      }
    })();
    await waitFor(() => seq >= 40, 20_000, 'four seconds of readings');
    await influxd.stop();
    const stoppedAt = seq;
    await new Promise((r) => setTimeout(r, 30_000));
    // While influxd was away, ingest held at most its unacked window and the broker queued the rest.
    expect(ingest.stats().inFlight).toBeLessThanOrEqual(1000);
    expect(seq - stoppedAt).toBeGreaterThan(250);
    await influxd.restart();
    await publishing;
    await pub.close();
    await waitFor(
      () => ingest!.stats().stored >= 40_000 && ingest!.stats().inFlight === 0,
      60_000,
      'the backlog',
    );
    const counts = await influxCounts(influxd.url);
    expect(counts).toEqual({ points: 40_000, distinctSeqs: 40_000 });
  }, 120_000);

  it('stores 100,000 readings from a simulator farm through gateway → mosquitto → ingest → influxd exactly once', async () => {
    const field = await startField({
      concentrators: Array.from({ length: 8 }, () => ({ transport: 'modbus-tcp' as const, meters: 63 })),
      pollInterval: 200,
    });
    // 504 meters every 200 ms poll about 2,500 readings/s: above the default replay ceiling of
    // 2,000/s, so the outbox would only grow. The ceiling is raised for this run.
    const raw = structuredClone(field.raw) as { sites: { gateways: Record<string, unknown>[] }[] };
    raw.sites[0]!.gateways[0]!.outbox = { replayRatePerSec: 20_000 };
    const campus = validateCampus(raw, { file: '(test field)', dir: field.dir });
    try {
      ingest = startIngest({
        url: mosquitto.url,
        clientId: 'ingest-farm',
        meters: meterRegistry(campus),
        writer: store,
        deadLetters,
        logger: testLogger(),
      });
      await ingest.ready;
      const gw = await startGateway({
        campus,
        gatewayId: 'gw1',
        mqtt: { url: mosquitto.url },
        logger: silentLogger(),
      });
      const numberedNow = () => field.meterIds.reduce((sum, id) => sum + gw.outbox.nextSeq(id) - 1, 0);
      await waitFor(() => numberedNow() >= 100_000, 90_000, '100,000 readings numbered by the gateway');
      await waitFor(() => gw.outbox.stats().messages < 500, 30_000, 'the outbox to drain');
      await gw.stop();
      const outbox = Outbox.open({ path: join(campus.dataDir, 'gw1-outbox.sqlite'), maxBytes: 1 << 30 });
      const numbered = field.meterIds.reduce((sum, id) => sum + outbox.nextSeq(id) - 1, 0);
      expect(outbox.stats()).toMatchObject({ messages: 0, dropped: 0 });
      outbox.close();
      expect(numbered).toBeGreaterThanOrEqual(100_000);
      await waitFor(
        () => ingest!.stats().stored >= numbered && ingest!.stats().inFlight === 0,
        30_000,
        'all stored',
      );
      const counts = await influxCounts(influxd.url);
      console.log(
        `farm → gateway → mosquitto → ingest → influxd: ${numbered} numbered, ${counts.points} points`,
      );
      expect(counts).toEqual({ points: numbered, distinctSeqs: numbered });
      expect(ingest.stats().deadLettered).toBe(0);
    } finally {
      await field.stop();
    }
  }, 150_000);
});
