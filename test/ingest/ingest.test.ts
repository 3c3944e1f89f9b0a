import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteDeadLetterStore } from '../../services/metering/ingest/dead-letters.ts';
import { startIngest, type Ingest, type IngestOptions } from '../../services/metering/ingest/ingest.ts';
import { testLogger } from '../helpers/logger.ts';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.ts';
import { range, waitFor } from '../helpers/readings.ts';
import { FakeWriter, goodMessage, keyOf, registry, testPublisher, type TestPublisher } from './support.ts';

const reg = registry(20);
const messages = (meters: number, perMeter: number, firstSeq = 1) =>
  range(firstSeq, firstSeq + perMeter - 1).flatMap((seq) =>
    range(1, meters).map((m) => goodMessage(reg, `E-${m}`, seq)),
  );

describe('ingest against a real mosquitto, with an in-memory store', () => {
  let mosquitto: Mosquitto;
  let pub: TestPublisher;
  let dir: string;
  let deadLetters: SqliteDeadLetterStore;
  const running: Ingest[] = [];

  beforeEach(async () => {
    mosquitto = await startMosquitto();
    pub = await testPublisher(mosquitto.url);
    dir = mkdtempSync(join(tmpdir(), 'ingest-'));
    deadLetters = SqliteDeadLetterStore.open({ path: join(dir, 'dead.sqlite') });
  });
  afterEach(async () => {
    for (const ingest of running.splice(0)) await ingest.stop();
    await pub.close();
    await mosquitto.dispose();
    deadLetters.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(writer: FakeWriter, extra: Partial<IngestOptions> = {}): Promise<Ingest> {
    const ingest = startIngest({
      url: mosquitto.url,
      clientId: 'ingest-test',
      meters: reg,
      writer,
      deadLetters,
      logger: testLogger(),
      reconnectPeriodMs: 100,
      retryBaseMs: 20,
      ...extra,
    });
    running.push(ingest);
    await ingest.ready;
    return ingest;
  }

  it('acknowledges a message only after the write holding its reading resolved', async () => {
    const writer = new FakeWriter();
    writer.close();
    const ingest = await start(writer, { batchSize: 100 });
    await pub.publishAll(messages(10, 5));
    await waitFor(() => ingest.stats().received === 50, 5000, '50 messages received');
    // Many messages are held at once (not one per write): the write gate holds the first batch.
    expect(ingest.stats()).toMatchObject({ received: 50, stored: 0, acked: 0, inFlight: 50 });
    writer.open();
    await waitFor(() => ingest.stats().acked === 50, 5000, 'all acked');
    expect(ingest.stats()).toMatchObject({ stored: 50, inFlight: 0, writeFailures: 0 });
    expect(writer.stored.size).toBe(50);
    expect(writer.calls.length).toBeLessThanOrEqual(3);
  });

  it('acknowledges only after the write over MQTT 3.1.1 too (the embedded broker of the demo)', async () => {
    const writer = new FakeWriter();
    writer.close();
    const ingest = await start(writer, { batchSize: 100, protocolVersion: 4, shareGroup: null });
    await pub.publishAll(messages(10, 2));
    await waitFor(() => ingest.stats().received === 20, 5000, '20 messages received');
    expect(ingest.stats()).toMatchObject({ received: 20, stored: 0, acked: 0 });
    writer.open();
    await waitFor(() => ingest.stats().acked === 20, 5000, 'all acked');
    expect(writer.stored.size).toBe(20);
  });

  it('holds the messages and retries while the store rejects, then stores and acknowledges them', async () => {
    const writer = new FakeWriter();
    writer.failures = 4;
    const ingest = await start(writer);
    await pub.publishAll(messages(10, 3));
    await waitFor(() => writer.failures === 0 && ingest.stats().received === 30, 5000, 'four failed writes');
    await waitFor(() => ingest.stats().acked === 30, 5000, 'all acked');
    expect(ingest.stats()).toMatchObject({
      stored: 30,
      writeFailures: 4,
      lastWriteError: 'store unavailable (test)',
    });
    expect(writer.stored.size).toBe(30);
  });

  it('holds at most maxUnacked messages; the broker queues the rest until the store takes them', async () => {
    const writer = new FakeWriter();
    writer.close();
    const ingest = await start(writer, { batchSize: 50, maxUnacked: 100 });
    await pub.publishAll(messages(20, 25)); // 500
    await new Promise((r) => setTimeout(r, 500));
    expect(ingest.stats().received).toBe(100);
    expect(ingest.stats().inFlight).toBe(100);
    writer.open();
    await waitFor(() => writer.stored.size === 500, 10_000, 'all 500 stored');
    await waitFor(() => ingest.stats().inFlight === 0, 5000, 'all acked');
    // The batches filled up to batchSize while the previous write ran.
    expect(Math.max(...writer.calls)).toBe(50);
  });

  it('gets unacknowledged messages again after a broker restart, and acks none on the wrong connection', async () => {
    const writer = new FakeWriter();
    writer.close();
    const ingest = await start(writer, { batchSize: 1000 });
    await pub.publishAll(messages(10, 10));
    await waitFor(() => ingest.stats().received === 100, 5000, '100 received');
    // The write of the first batch is under way when the connection goes.
    await new Promise((r) => setTimeout(r, 50));
    await mosquitto.restart();
    await waitFor(() => ingest.stats().connected && ingest.stats().received >= 200, 10_000, 'redelivery');
    writer.open();
    await waitFor(() => ingest.stats().inFlight === 0 && writer.stored.size === 100, 10_000, 'all stored');
    // Only the redelivered copies were acknowledged: one PUBACK per message, on the new connection.
    expect(ingest.stats().acked).toBe(100);
    await ingest.stop();
    running.length = 0;

    // Nothing is left unacknowledged in the session: a new instance under the same id gets nothing.
    const writer2 = new FakeWriter();
    const again = await start(writer2);
    await new Promise((r) => setTimeout(r, 500));
    expect(again.stats().received).toBe(0);
  });

  it('dead-letters bad messages, acknowledges them, and goes on', async () => {
    const writer = new FakeWriter();
    const ingest = await start(writer);
    const good = messages(2, 2);
    await pub.publishAll([
      good[0]!,
      { topic: 'campus/v1/east/gw1/E-1/reading', payload: '{"meter":"E-1"' },
      { topic: 'campus/v1/east/gw1/E-404/reading', payload: good[1]!.payload },
      good[1]!,
      { topic: 'campus/v1/east/gw1/E-1/reading', payload: Buffer.alloc(20_000, 0x41) },
      good[2]!,
      good[3]!,
    ]);
    await waitFor(() => ingest.stats().acked === 7, 5000, 'all acked');
    expect(ingest.stats()).toMatchObject({
      stored: 4,
      deadLettered: 3,
      deadLetteredByCode: { INVALID_JSON: 1, UNKNOWN_METER: 1, PAYLOAD_TOO_LARGE: 1 },
    });
    expect(deadLetters.counts().total).toBe(3);
    expect(deadLetters.recent(1)[0]).toMatchObject({
      code: 'PAYLOAD_TOO_LARGE',
      bytes: 20_000,
      truncated: true,
    });
    expect([...writer.stored.keys()].sort()).toEqual(['E-1#1', 'E-1#2', 'E-2#1', 'E-2#2']);
  });

  it('skips an exact duplicate it just stored, and still stores a replayed reading it had not', async () => {
    const writer = new FakeWriter();
    const ingest = await start(writer);
    await pub.publishAll(messages(5, 4));
    await waitFor(() => ingest.stats().acked === 20, 5000, 'first pass');
    // The gateway replays seq 1..6: 1..4 are duplicates, 5..6 are new.
    await pub.publishAll(messages(5, 6));
    await waitFor(() => ingest.stats().acked === 50, 5000, 'replay');
    expect(ingest.stats()).toMatchObject({ duplicates: 20, stored: 30 });
    expect([...writer.stored.values()].map(keyOf)).toHaveLength(30);
  });
});
