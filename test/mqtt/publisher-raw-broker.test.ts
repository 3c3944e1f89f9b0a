import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqttPacket from 'mqtt-packet';
import type { IPublishPacket, Packet } from 'mqtt-packet';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startPublisher, type Publisher } from '../../adapters/mqtt/publisher.ts';
import type { Reading } from '../../config/schemas/reading.ts';
import { Outbox } from '../../gateway/outbox/outbox.ts';
import { prng } from '../ingest/support.ts';
import { testLogger } from '../helpers/logger.ts';
import { range, readingItem, seqsByMeter, waitFor } from '../helpers/readings.ts';

/**
 * The publisher's own QoS 1 path (rows written as PUBLISH frames, their PUBACKs claimed off the
 * socket) against a raw MQTT 3.1.1 broker on loopback that answers as a test tells it: PUBACKs cut
 * at every byte and glued to each other and to other packets, PUBACKs for ids not in flight, twice
 * for the same id, none at all, and a connection dropped in the middle of a burst.
 */

const METERS = ['m1', 'm2', 'm3', 'm4', 'm5'];
const MAX_IN_FLIGHT = 40;
/** mqtt.js's packet ids end here at this maxInFlight (the publisher takes the top 1,024). */
const LAST_MQTTJS_ID = 65_535 - 1024;

interface Received {
  connection: number;
  packet: IPublishPacket;
  reading?: Reading;
}

interface RawBroker {
  port: number;
  received: Received[];
  /** Per connection: the PUBLISHes not yet acknowledged, in arrival order. */
  unacked: Map<number, IPublishPacket[]>;
  connections: number;
  sockets: Map<number, Socket>;
  close(): Promise<void>;
}

/**
 * `onPublish` runs for each QoS 1 PUBLISH and decides what to answer; the broker answers CONNECT,
 * SUBSCRIBE and PINGREQ itself.
 */
async function rawBroker(
  onPublish: (broker: RawBroker, connection: number, socket: Socket) => void,
): Promise<RawBroker> {
  const broker: RawBroker = {
    port: 0,
    received: [],
    unacked: new Map(),
    connections: 0,
    sockets: new Map(),
    close: async () => {
      for (const socket of broker.sockets.values()) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server: Server = createServer((socket) => {
    const connection = ++broker.connections;
    broker.sockets.set(connection, socket);
    broker.unacked.set(connection, []);
    socket.on('error', () => undefined);
    socket.on('close', () => broker.sockets.delete(connection));
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on('packet', (packet: Packet) => {
      if (packet.cmd === 'connect') {
        socket.write(encode({ cmd: 'connack', returnCode: 0, sessionPresent: connection > 1 }));
      } else if (packet.cmd === 'subscribe') {
        socket.write(encode({ cmd: 'suback', messageId: packet.messageId, granted: [1] }));
      } else if (packet.cmd === 'pingreq') {
        socket.write(encode({ cmd: 'pingresp' }));
      } else if (packet.cmd === 'publish' && packet.qos === 1) {
        const reading = packet.topic.endsWith('/reading')
          ? (JSON.parse(packet.payload.toString()) as Reading)
          : undefined;
        broker.received.push({ connection, packet, reading });
        broker.unacked.get(connection)!.push(packet);
        onPublish(broker, connection, socket);
      }
    });
    socket.on('data', (chunk: Buffer) => parser.parse(chunk));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  broker.port = (server.address() as { port: number }).port;
  return broker;
}

function encode(packet: Packet): Buffer {
  return mqttPacket.generate(packet, { protocolVersion: 4 });
}

const puback = (messageId: number) => encode({ cmd: 'puback', messageId });

let dir: string;
let outbox: Outbox;
let publisher: Publisher | undefined;
let broker: RawBroker | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'publisher-raw-'));
  outbox = Outbox.open({ path: join(dir, 'outbox.sqlite'), maxBytes: 100_000_000 });
});
afterEach(async () => {
  await publisher?.stop();
  publisher = undefined;
  await broker?.close();
  broker = undefined;
  outbox.close();
  rmSync(dir, { recursive: true, force: true });
});

function publish(port: number): Publisher {
  return startPublisher({
    url: `mqtt://127.0.0.1:${port}`,
    clientId: 'gw1',
    outbox,
    statusTopic: 'campus/v1/test/gw1/status',
    willPayload: JSON.stringify({ gateway: 'gw1', state: 'offline', ts: 0 }),
    maxInFlight: MAX_IN_FLIGHT,
    replayRatePerSec: 100_000,
    reconnectPeriodMs: 50,
    maxReconnectPeriodMs: 100,
    stopTimeoutMs: 1000,
    logger: testLogger(),
  });
}

function appendRounds(rounds: number): void {
  for (let i = 0; i < rounds; i++) outbox.append(METERS.map((m) => readingItem(m)));
}

const readingsOf = (received: readonly Received[]) => received.flatMap((r) => (r.reading ? [r.reading] : []));

/** Writes `bytes` in pieces of 1 to 7 bytes, a macrotask apart, so the publisher reads them split. */
async function trickle(socket: Socket, bytes: Buffer, seed: number): Promise<void> {
  const rand = prng(seed);
  for (let at = 0; at < bytes.length && !socket.destroyed;) {
    const n = 1 + Math.floor(rand() * 7);
    socket.write(bytes.subarray(at, at + n));
    at += n;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('publisher against a raw broker', () => {
  it('takes PUBACKs split at any byte, glued to others, doubled or for ids not in flight, and acks each row once', async () => {
    let flushes = 0;
    let maxUnacked = 0;
    // One trickle after the other: two at once would interleave their pieces.
    let trickling = Promise.resolve();
    broker = await rawBroker((b, connection, socket) => {
      const unacked = b.unacked.get(connection)!;
      maxUnacked = Math.max(maxUnacked, unacked.filter((p) => p.messageId! > LAST_MQTTJS_ID).length);
      if (unacked.length > 1 && flushes > 0) return;
      flushes += 1;
      // Every few milliseconds, all PUBACKs owed, as one blob trickled out in pieces: each one
      // twice, with an id in the rows' range that is not in flight, an id of mqtt.js's that
      // nothing waits for, and a PINGRESP glued in between.
      setTimeout(() => {
        const owed = unacked.splice(0);
        const inFlight = new Set(owed.map((p) => p.messageId));
        let stray = 65_535;
        while (inFlight.has(stray)) stray -= 1;
        const blob = Buffer.concat([
          ...owed.flatMap((p) => [puback(p.messageId!), puback(p.messageId!)]),
          puback(stray),
          puback(7),
          encode({ cmd: 'pingresp' }),
        ]);
        flushes = 0;
        trickling = trickling.then(() => trickle(socket, blob, owed.length));
      }, 3);
    });
    appendRounds(100);
    publisher = publish(broker.port);
    appendRounds(100);
    expect(await publisher.drained(20_000)).toBe(true);

    const readings = readingsOf(broker.received);
    const ids = broker.received.filter((r) => r.reading).map((r) => r.packet.messageId!);
    expect(readings.length).toBe(1000);
    for (const meter of METERS) expect(seqsByMeter(readings).get(meter), meter).toEqual(range(1, 200));
    // The rows' packet ids are the publisher's, above mqtt.js's; its status publish is mqtt.js's.
    expect(Math.min(...ids)).toBeGreaterThan(LAST_MQTTJS_ID);
    expect(broker.received.find((r) => !r.reading)!.packet.messageId).toBeLessThanOrEqual(LAST_MQTTJS_ID);
    expect(maxUnacked).toBeLessThanOrEqual(MAX_IN_FLIGHT);
    expect(publisher.stats()).toMatchObject({ published: 1000, acked: 1000, inFlight: 0, connected: true });
    expect(broker.connections).toBe(1);
    expect(outbox.stats().messages).toBe(0);
  });

  it('acks no row for a PUBACK whose id is not in flight', async () => {
    broker = await rawBroker((b, connection, socket) => {
      const last = b.unacked.get(connection)!.at(-1)!;
      if (last.messageId! <= LAST_MQTTJS_ID) {
        socket.write(puback(last.messageId!));
        return;
      }
      // Never the id received: its neighbours, which are not in flight yet or any more.
      socket.write(
        Buffer.concat([puback(last.messageId! - 1000), puback(65_535 - ((last.messageId! + 500) % 1024))]),
      );
    });
    appendRounds(20);
    publisher = publish(broker.port);
    await waitFor(() => publisher!.stats().inFlight === MAX_IN_FLIGHT, 5000, 'maxInFlight rows in flight');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(publisher.stats()).toMatchObject({ published: MAX_IN_FLIGHT, acked: 0, inFlight: MAX_IN_FLIGHT });
    expect(outbox.stats().messages).toBe(100);
  });

  it('resends, after a connection dropped mid-burst, exactly the rows not acked, in order, flagged DUP', async () => {
    broker = await rawBroker((b, connection, socket) => {
      const unacked = b.unacked.get(connection)!;
      if (connection === 1) {
        const rows = b.received.filter((r) => r.connection === 1 && r.reading).length;
        // The first 57 rows acked one by one, then the connection dropped with the rest in flight.
        if (rows <= 57) socket.write(puback(unacked.shift()!.messageId!));
        else if (rows === 57 + 25) socket.destroy();
        return;
      }
      socket.write(puback(unacked.shift()!.messageId!));
    });
    appendRounds(60);
    publisher = publish(broker.port);
    expect(await publisher.drained(20_000)).toBe(true);

    const first = broker.received.filter((r) => r.connection === 1 && r.reading);
    const later = broker.received.filter((r) => r.connection > 1 && r.reading);
    const acked = first.slice(0, 57).map((r) => r.reading!);
    const notAcked = first.slice(57).map((r) => r.reading!);
    expect(notAcked.length).toBeGreaterThanOrEqual(25);
    const key = (r: Reading) => `${r.meter}/${r.seq}`;
    // Nothing acked is sent again; what was in flight comes first, in the order first sent, DUP set.
    const resent = later.slice(0, notAcked.length);
    expect(resent.map((r) => key(r.reading!))).toEqual(notAcked.map(key));
    expect(resent.every((r) => r.packet.dup)).toBe(true);
    expect(later.slice(notAcked.length).some((r) => r.packet.dup)).toBe(false);
    const delivered = [...acked, ...later.map((r) => r.reading!)];
    expect(delivered.length).toBe(300);
    for (const meter of METERS) expect(seqsByMeter(delivered).get(meter), meter).toEqual(range(1, 60));
    expect(publisher.stats()).toMatchObject({ acked: 300, inFlight: 0 });
    expect(outbox.stats().messages).toBe(0);
  });
});
