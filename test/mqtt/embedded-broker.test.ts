import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GatewayStatusSchema } from '../../config/schemas/reading.ts';
import type { GatewayStatus } from '../../config/schemas/reading.ts';
import { startEmbeddedBroker } from '../../adapters/mqtt/embedded-broker.ts';
import type { EmbeddedBroker } from '../../adapters/mqtt/embedded-broker.ts';
import { startPublisher } from '../../adapters/mqtt/publisher.ts';
import { dropDuplicates, subscribeReadings } from '../../adapters/mqtt/subscriber.ts';
import { Outbox } from '../../gateway/outbox/outbox.ts';
import { testLogger } from '../helpers/logger.ts';
import { range, readingItem, seqsByMeter, waitFor } from '../helpers/readings.ts';

const STATUS_TOPIC = 'campus/v1/test/gw1/status';
const WILL = JSON.stringify({ gateway: 'gw1', state: 'offline', ts: 0 } satisfies GatewayStatus);
const child = fileURLToPath(new URL('./publisher-child.ts', import.meta.url));

let dir: string;
let broker: EmbeddedBroker;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'embedded-test-'));
  broker = await startEmbeddedBroker();
});
afterEach(async () => {
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Records every message on the given topics, parsed as JSON. */
async function watch(url: string, topic: string): Promise<{ messages: unknown[]; close: () => void }> {
  const client = await mqtt.connectAsync(url, { clientId: `watch-${Math.random().toString(16).slice(2)}` });
  const messages: unknown[] = [];
  client.on('message', (_topic, payload) => messages.push(JSON.parse(payload.toString())));
  await client.subscribeAsync(topic, { qos: 1 });
  return { messages, close: () => void client.end(true) };
}

describe('publisher against the embedded Aedes broker', () => {
  it('drains the outbox, publishes retained status and health, and says offline on stop', async () => {
    const outbox = Outbox.open({ path: join(dir, 'outbox.sqlite'), maxBytes: 10_000_000 });
    const sub = await subscribeReadings({ url: broker.url, topic: 'campus/v1/test/gw1/+/reading' });
    const status = await watch(broker.url, STATUS_TOPIC);
    for (let i = 0; i < 200; i++) outbox.append([readingItem('a'), readingItem('b')]);

    const publisher = startPublisher({
      url: broker.url,
      clientId: 'gw1',
      outbox,
      statusTopic: STATUS_TOPIC,
      willPayload: WILL,
      logger: testLogger(),
    });
    expect(await publisher.drained(10_000)).toBe(true);
    await waitFor(() => sub.readings.length === 400, 5000, 'readings');
    expect(seqsByMeter(sub.readings)).toEqual(
      new Map([
        ['a', range(1, 200)],
        ['b', range(1, 200)],
      ]),
    );

    expect(await publisher.publishRetained('campus/v1/test/gw1/device/bus1.1/health', '{"ok":true}')).toBe(
      true,
    );
    await publisher.stop();
    await waitFor(() => status.messages.length >= 2, 5000, 'online and offline status');
    const states = status.messages.map((m) => GatewayStatusSchema.parse(m));
    expect(states.map((s) => s.state)).toEqual(['online', 'offline']);
    expect(states[1]?.outbox).toMatchObject({ messages: 0, dropped: 0 });

    // Retained: a late subscriber still sees the last status and health.
    const late = await watch(broker.url, 'campus/v1/test/gw1/#');
    await waitFor(() => late.messages.length >= 2, 5000, 'retained messages');
    expect(late.messages).toContainEqual({ ok: true });
    expect(late.messages).toContainEqual(expect.objectContaining({ gateway: 'gw1', state: 'offline' }));

    late.close();
    status.close();
    await sub.close();
    outbox.close();
  });

  it('after a gateway crash the broker publishes the will and a restarted publisher sends the rest', async () => {
    const path = join(dir, 'outbox.sqlite');
    let outbox = Outbox.open({ path, maxBytes: 10_000_000 });
    for (let i = 0; i < 1000; i++) outbox.append([readingItem('a'), readingItem('b')]);
    outbox.close();

    const sub = await subscribeReadings({ url: broker.url, topic: 'campus/v1/test/gw1/+/reading' });
    const status = await watch(broker.url, STATUS_TOPIC);
    const proc = spawn(process.execPath, ['--import', 'tsx', child, broker.url, path, STATUS_TOPIC, WILL], {
      stdio: 'inherit',
    });
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    // The child replays at 1000/s: kill it part-way through.
    await waitFor(() => sub.readings.length >= 300, 10_000, 'first readings from the child');
    proc.kill('SIGKILL');
    await exited;
    await waitFor(
      () => status.messages.some((m) => GatewayStatusSchema.parse(m).state === 'offline'),
      5000,
      'the last will',
    );
    const receivedBeforeRestart = sub.readings.length;
    expect(receivedBeforeRestart).toBeLessThan(2000);

    outbox = Outbox.open({ path, maxBytes: 10_000_000 });
    const publisher = startPublisher({
      url: broker.url,
      clientId: 'gw1',
      outbox,
      statusTopic: STATUS_TOPIC,
      willPayload: WILL,
      replayRatePerSec: 100_000,
      logger: testLogger(),
    });
    expect(await publisher.drained(10_000)).toBe(true);
    await waitFor(() => dropDuplicates(sub.readings).length === 2000, 5000, 'every reading');
    expect(seqsByMeter(dropDuplicates(sub.readings))).toEqual(
      new Map([
        ['a', range(1, 1000)],
        ['b', range(1, 1000)],
      ]),
    );
    console.log(`crash: ${sub.readings.length - 2000} duplicates after restart`);
    await publisher.stop();
    status.close();
    await sub.close();
    outbox.close();
  });

  it('resends in-flight messages in order after the connection drops mid-stream', async () => {
    const outbox = Outbox.open({ path: join(dir, 'outbox.sqlite'), maxBytes: 10_000_000 });
    for (let i = 0; i < 500; i++) outbox.append([readingItem('a'), readingItem('b')]);
    const sub = await subscribeReadings({ url: broker.url, topic: 'campus/v1/test/gw1/+/reading' });
    // The broker refuses one publish once, which makes Aedes drop the publisher's connection
    // while about maxInFlight messages are unacknowledged.
    let refused = 0;
    broker.broker.authorizePublish = (_client, packet, callback) => {
      const text = packet.payload.toString();
      if (refused === 0 && text.includes('"meter":"a"') && text.includes('"seq":300,')) {
        refused += 1;
        callback(new Error('refused once'));
        return;
      }
      callback(null);
    };
    const publisher = startPublisher({
      url: broker.url,
      clientId: 'gw1',
      outbox,
      statusTopic: STATUS_TOPIC,
      willPayload: WILL,
      reconnectPeriodMs: 100,
      replayRatePerSec: 100_000,
      logger: testLogger(),
    });
    expect(await publisher.drained(10_000)).toBe(true);
    expect(refused).toBe(1);
    await waitFor(() => dropDuplicates(sub.readings).length === 1000, 5000, 'every reading');
    const kept = seqsByMeter(dropDuplicates(sub.readings));
    expect(kept).toEqual(
      new Map([
        ['a', range(1, 500)],
        ['b', range(1, 500)],
      ]),
    );
    // Resends may repeat what the broker already had, but never go backwards past a gap.
    for (const [meter, seqs] of seqsByMeter(sub.readings)) {
      let max = 0;
      for (const seq of seqs) {
        expect(seq, `${meter} seq ${seq} after ${max}`).toBeLessThanOrEqual(max + 1);
        max = Math.max(max, seq);
      }
    }
    console.log(`connection drop: ${sub.readings.length - 1000} duplicates`);
    await publisher.stop();
    await sub.close();
    outbox.close();
  });
});
