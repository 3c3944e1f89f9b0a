import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { gatewayUsername, SERVICE_USERS } from '../../adapters/mqtt/acl.ts';
import { startCampusBroker, type CampusBroker } from '../../adapters/mqtt/campus-broker.ts';
import { SqliteDeadLetterStore } from '../../services/metering/ingest/dead-letters.ts';
import { startIngest, type Ingest, type IngestOptions } from '../../services/metering/ingest/ingest.ts';
import { testLogger } from '../helpers/logger.ts';
import { startMosquitto } from '../helpers/mosquitto.ts';
import { freePort } from '../helpers/ports.ts';
import { range, waitFor } from '../helpers/readings.ts';
import { FakeWriter, goodMessage, keyOf, registry } from './support.ts';

/**
 * Issue 26 item 1: ingest works against every broker it can be pointed at. The embedded broker
 * speaks MQTT 3.1.1 only and authenticates; ingest asked for MQTT 5 there, was refused, logged
 * "ingest started" and exited 0 while the gateway went on deleting what the broker acknowledged.
 */

const reg = registry(10, 2); // E-<i> on east/gw<i % 2>
const campus = {
  config: { sites: [{ id: 'east', gateways: [{ id: 'gw0' }, { id: 'gw1' }] }] } as never,
};

let broker: CampusBroker | undefined;
const running: Ingest[] = [];
afterEach(async () => {
  for (const i of running.splice(0)) await i.stop();
  await broker?.close();
  broker = undefined;
});

function ingestOn(url: string, login: Partial<IngestOptions>, writer = new FakeWriter()) {
  const dir = mkdtempSync(join(tmpdir(), 'ingest-conn-'));
  const ingest = startIngest({
    url,
    clientId: login.username ?? 'ingest-conn',
    meters: reg,
    writer,
    deadLetters: SqliteDeadLetterStore.open({ path: join(dir, 'dead.sqlite') }),
    logger: testLogger(),
    ...login,
  });
  running.push(ingest);
  return { ingest, writer };
}

/** Publishes `seqs` of every meter of gateway `gw` with that gateway's account. */
async function publishAs(b: CampusBroker, gw: 'gw0' | 'gw1', seqs: number[]): Promise<string[]> {
  const login = b.login(gatewayUsername('east', gw));
  const client = await mqtt.connectAsync(login.url, {
    ...login,
    clientId: login.username,
    reconnectPeriod: 0,
  });
  const keys: string[] = [];
  for (const [meter, place] of reg) {
    if (place.gateway !== gw) continue;
    for (const seq of seqs) {
      const m = goodMessage(reg, meter, seq);
      await client.publishAsync(m.topic, m.payload, { qos: 1 });
      keys.push(keyOf({ meter, seq }));
    }
  }
  await client.endAsync();
  return keys;
}

describe('ingest and the embedded campus broker', () => {
  it('negotiates MQTT 3.1.1 with its own account and stores every reading, before and after it subscribed', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'campus-'));
    broker = await startCampusBroker({ ...campus, dataDir });
    // The default: ask for MQTT 5 (with a plain subscription), as against mosquitto.
    const { ingest, writer } = ingestOn(broker.url, { ...broker.login(SERVICE_USERS.ingest) });
    await ingest.ready;
    expect(ingest.stats().protocolVersion).toBe(4);
    expect(ingest.stats().connectFailures).toBe(1); // the refused MQTT 5 attempt
    const keys = await publishAs(broker, 'gw1', range(1, 20));
    await waitFor(() => writer.stored.size === keys.length, 5000, 'every reading stored');
    expect([...writer.stored.keys()].sort()).toEqual(keys.sort());
  });

  it('fails `ready`, naming the cause, when its password is wrong; and when its account may not read', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'campus-'));
    broker = await startCampusBroker({ ...campus, dataDir });
    const wrong = ingestOn(broker.url, { username: SERVICE_USERS.ingest, password: 'not-it' });
    await expect(wrong.ingest.ready).rejects.toThrow(/refused ingest.*username and password/);
    // The control service's account may not read readings: its subscription is refused.
    const other = ingestOn(broker.url, { ...broker.login(SERVICE_USERS.control) });
    await expect(other.ingest.ready).rejects.toThrow();
  });

  it('retries a broker that is not there yet, counts the attempts, and is in within 2 s of it', async () => {
    const port = await freePort();
    const dataDir = mkdtempSync(join(tmpdir(), 'campus-'));
    // The credentials exist before the broker listens (a restart): write them, stop, start later.
    const first = await startCampusBroker({ ...campus, dataDir }, { port });
    const login = first.login(SERVICE_USERS.ingest);
    await first.close();

    const { ingest } = ingestOn(login.url, { ...login, protocolVersion: 4 });
    await waitFor(() => ingest.stats().connectFailures >= 5, 10_000, 'several refused attempts');
    broker = await startCampusBroker({ ...campus, dataDir }, { port });
    const up = performance.now();
    await ingest.ready;
    const lateMs = performance.now() - up;
    expect(lateMs).toBeLessThan(2000);
  });
});

describe('ingest and mosquitto (MQTT 5) with the campus accounts', () => {
  it('keeps MQTT 5 where the broker has it', async () => {
    const mosquitto = await startMosquitto();
    try {
      const { ingest } = ingestOn(mosquitto.url, {});
      await ingest.ready;
      expect(ingest.stats()).toMatchObject({ protocolVersion: 5, connectFailures: 0 });
    } finally {
      for (const i of running.splice(0)) await i.stop();
      await mosquitto.dispose();
    }
  });
});
