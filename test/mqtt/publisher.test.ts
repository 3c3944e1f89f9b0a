import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Reading } from '../../config/schemas/reading.ts';
import { startPublisher } from '../../adapters/mqtt/publisher.ts';
import type { Publisher } from '../../adapters/mqtt/publisher.ts';
import { dropDuplicates, subscribeReadings } from '../../adapters/mqtt/subscriber.ts';
import type { ReadingSubscription } from '../../adapters/mqtt/subscriber.ts';
import { Outbox } from '../../gateway/outbox/outbox.ts';
import { startMosquitto } from '../helpers/mosquitto.ts';
import type { Mosquitto } from '../helpers/mosquitto.ts';
import { testLogger } from '../helpers/logger.ts';
import { range, readingItem, seqsByMeter, waitFor } from '../helpers/readings.ts';

const METERS = ['m1', 'm2', 'm3', 'm4', 'm5'];
const TOPIC_FILTER = 'campus/v1/test/gw1/+/reading';
const WILL = JSON.stringify({ gateway: 'gw1', state: 'offline', ts: 0 });

let dir: string;
let mosquitto: Mosquitto;
let outbox: Outbox;
let publisher: Publisher | undefined;
let sub: ReadingSubscription | undefined;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'publisher-test-'));
  mosquitto = await startMosquitto();
  outbox = Outbox.open({ path: join(dir, 'outbox.sqlite'), maxBytes: 100_000_000 });
});
afterEach(async () => {
  await publisher?.stop();
  publisher = undefined;
  await sub?.close();
  sub = undefined;
  outbox.close();
  await mosquitto.dispose();
  rmSync(dir, { recursive: true, force: true });
});

function publish(extra: Partial<Parameters<typeof startPublisher>[0]> = {}): Publisher {
  return startPublisher({
    url: mosquitto.url,
    clientId: 'gw1',
    outbox,
    statusTopic: 'campus/v1/test/gw1/status',
    willPayload: WILL,
    reconnectPeriodMs: 200,
    maxReconnectPeriodMs: 1000,
    logger: testLogger(),
    ...extra,
  });
}

function persistentSubscriber(): Promise<ReadingSubscription> {
  return subscribeReadings({
    url: mosquitto.url,
    topic: TOPIC_FILTER,
    clientId: 'test-consumer',
    clean: false,
  });
}

function appendRound(): void {
  outbox.append(METERS.map((m) => readingItem(m)));
}

/** Every meter's readings, duplicates dropped, are exactly 1..last in order. */
function expectCompleteInOrder(readings: readonly Reading[], lastSeq: number): void {
  const kept = seqsByMeter(dropDuplicates(readings));
  for (const meter of METERS) expect(kept.get(meter), meter).toEqual(range(1, lastSeq));
  // Dropping duplicates only removes resends: nothing arrived out of order.
  for (const [meter, seqs] of seqsByMeter(readings)) {
    let max = 0;
    for (const seq of seqs) {
      expect(seq, `${meter} seq ${seq} after ${max}`).toBeLessThanOrEqual(max + 1);
      max = Math.max(max, seq);
    }
  }
}

const receivedAll = (s: ReadingSubscription, perMeter: number) => () =>
  dropDuplicates(s.readings).length >= perMeter * METERS.length;

describe('publisher against mosquitto', () => {
  it('publishes every row in order and deletes it after PUBACK', async () => {
    sub = await persistentSubscriber();
    for (let i = 0; i < 400; i++) appendRound(); // a backlog before connecting
    const started = performance.now();
    publisher = publish({ replayRatePerSec: 100_000 });
    for (let i = 0; i < 100; i++) appendRound(); // and rows arriving while it drains
    expect(await publisher.drained(20_000)).toBe(true);
    const seconds = (performance.now() - started) / 1000;
    await waitFor(receivedAll(sub, 500), 10_000, 'all readings at the subscriber');
    console.log(`publisher: ${Math.round(2500 / seconds)} msgs/s to mosquitto (acked, maxInFlight 100)`);

    expectCompleteInOrder(sub.readings, 500);
    expect(sub.readings.length).toBe(2500);
    expect(sub.invalid).toEqual([]);
    expect(outbox.stats().messages).toBe(0);
    expect(publisher.stats()).toMatchObject({ published: 2500, acked: 2500, inFlight: 0, connected: true });
  });

  it('publishes a newly appended reading promptly', async () => {
    sub = await persistentSubscriber();
    publisher = publish();
    await waitFor(() => publisher?.stats().connected ?? false, 5000, 'connect');
    const started = performance.now();
    appendRound();
    await waitFor(() => sub!.readings.length === METERS.length, 2000, 'one round');
    expect(performance.now() - started).toBeLessThan(500);
  });

  it('rate-limits a backlog replay', async () => {
    sub = await persistentSubscriber();
    for (let i = 0; i < 100; i++) appendRound(); // 500 rows
    const started = performance.now();
    publisher = publish({ replayRatePerSec: 500 });
    expect(await publisher.drained(10_000)).toBe(true);
    const seconds = (performance.now() - started) / 1000;
    // 500 rows at 500/s with a 50-message burst take at least ~0.9 s.
    expect(seconds).toBeGreaterThan(0.8);
  });

  it('loses nothing and keeps order when mosquitto is down for a few seconds', async () => {
    sub = await persistentSubscriber();
    publisher = publish({ replayRatePerSec: 5000 });
    let rounds = 0;
    const appender = setInterval(() => {
      appendRound();
      rounds += 1;
    }, 5);
    try {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      await mosquitto.stop();
      await new Promise((resolve) => setTimeout(resolve, 500));
      const publishedWhileDown = publisher.stats().published;
      await new Promise((resolve) => setTimeout(resolve, 3500));
      expect(publisher.stats().connected).toBe(false);
      // Nothing new is sent while disconnected, so at most maxInFlight rows are held in flight.
      expect(publisher.stats().published).toBe(publishedWhileDown);
      expect(publisher.stats().inFlight).toBeLessThanOrEqual(100);
      // The backlog stays on disk while the broker is away.
      expect(outbox.stats().messages).toBeGreaterThan(METERS.length * 200);
      await mosquitto.restart();
      await new Promise((resolve) => setTimeout(resolve, 1000));
    } finally {
      clearInterval(appender);
    }
    expect(await publisher.drained(30_000)).toBe(true);
    await waitFor(receivedAll(sub, rounds), 30_000, 'every reading at the subscriber');
    console.log(
      `outage: ${rounds * METERS.length} readings, ${sub.readings.length} received ` +
        `(${sub.readings.length - rounds * METERS.length} duplicates)`,
    );
    expectCompleteInOrder(sub.readings, rounds);
    expect(outbox.stats()).toMatchObject({ messages: 0, bytes: 0, dropped: 0 });
  });
});
