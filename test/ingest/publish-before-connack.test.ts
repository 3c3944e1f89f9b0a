import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqttPacket from 'mqtt-packet';
import type { Packet } from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteDeadLetterStore } from '../../services/metering/ingest/dead-letters.ts';
import { startIngest, type Ingest } from '../../services/metering/ingest/ingest.ts';
import { testLogger } from '../helpers/logger.ts';
import { waitFor } from '../helpers/readings.ts';
import { FakeWriter, goodMessage, registry } from './support.ts';

/**
 * A persistent session's queue follows the CONNACK at once, often in the same TCP segment, and
 * ingest's framing hands those PUBLISHes over before mqtt.js has read the CONNACK. A PUBACK must
 * then wait for the CONNACK (none may precede it), and must not be forgotten either: a message
 * that needs no write (a dead letter) is done at once, before the connection counts as up. A
 * scripted broker sends CONNACK and two PUBLISHes in one write and records what ingest answers.
 */

const reg = registry(4);
let server: Server | undefined;
let ingest: Ingest | undefined;
let dir: string | undefined;
let deadLetters: SqliteDeadLetterStore | undefined;
afterEach(async () => {
  await ingest?.stop();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  deadLetters?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  ingest = server = deadLetters = dir = undefined;
});

const generate = (p: Packet) => mqttPacket.generate(p, { protocolVersion: 4 });

describe('PUBLISHes in the same chunk as the CONNACK', () => {
  it('are acknowledged after the CONNACK, the dead letter as well as the stored reading', async () => {
    const received: string[] = [];
    const good = goodMessage(reg, 'E-1', 1);
    server = createServer((socket: Socket) => {
      const parser = mqttPacket.parser({ protocolVersion: 4 });
      parser.on('packet', (p: Packet) => {
        received.push(p.cmd === 'puback' ? `puback ${p.messageId}` : p.cmd);
        if (p.cmd === 'connect') {
          socket.write(
            Buffer.concat([
              generate({ cmd: 'connack', returnCode: 0, sessionPresent: true }),
              // A meter the registry does not know: dead-lettered on arrival, no write.
              generate({
                cmd: 'publish',
                qos: 1,
                messageId: 7,
                topic: 'campus/v1/east/gw1/NOBODY/reading',
                payload: Buffer.from('{}'),
                dup: false,
                retain: false,
              }),
              generate({
                cmd: 'publish',
                qos: 1,
                messageId: 8,
                topic: good.topic,
                payload: Buffer.from(good.payload),
                dup: false,
                retain: false,
              }),
            ]),
          );
        } else if (p.cmd === 'subscribe') {
          socket.write(generate({ cmd: 'suback', messageId: p.messageId!, granted: [1] }));
        } else if (p.cmd === 'pingreq') {
          socket.write(generate({ cmd: 'pingresp' }));
        }
      });
      socket.on('data', (chunk) => parser.parse(chunk));
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    dir = mkdtempSync(join(tmpdir(), 'ingest-connack-'));
    deadLetters = SqliteDeadLetterStore.open({ path: join(dir, 'dead.sqlite') });
    const writer = new FakeWriter();
    writer.close();
    ingest = startIngest({
      url: `mqtt://127.0.0.1:${port}`,
      clientId: 'ingest-connack',
      protocolVersion: 4,
      meters: reg,
      writer,
      deadLetters,
      logger: testLogger(),
    });
    await ingest.ready;
    // The dead letter's PUBACK goes out without waiting for anything else to complete.
    await waitFor(() => received.includes('puback 7'), 5000, 'the PUBACK of the dead letter');
    expect(received.indexOf('puback 7')).toBeGreaterThan(received.indexOf('connect'));
    expect(received).not.toContain('puback 8');
    expect(ingest.stats()).toMatchObject({ received: 2, deadLettered: 1, stored: 0, acked: 1 });
    writer.open();
    await waitFor(() => received.includes('puback 8'), 5000, 'the PUBACK of the stored reading');
    expect(writer.stored.size).toBe(1);
    expect(ingest.stats()).toMatchObject({ stored: 1, acked: 2, inFlight: 0 });
  });
});
