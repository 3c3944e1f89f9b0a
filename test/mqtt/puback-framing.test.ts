import mqttPacket from 'mqtt-packet';
import type { Packet } from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { PubackFraming } from '../../adapters/mqtt/puback-framing.ts';
import { prng } from '../ingest/support.ts';

/**
 * The publisher's PUBACK framing against mqtt-packet's parser (what mqtt.js reads with): random
 * streams of what a broker sends a gateway (PUBACKs for the rows' packet ids and for mqtt.js's,
 * PUBACKs with MQTT 5 reason codes, CONNACK, SUBACK, PINGRESP, PUBLISH of commands), cut at random
 * chunk boundaries, single bytes included. Each PUBACK the handler takes must be claimed once, in
 * order; everything else must reach mqtt.js as the very bytes received, in order.
 */

const SEED = Number(process.env.FRAMING_SEED ?? 20261207);
/** Packet ids above this are the handler's (the publisher's rows). */
const LAST_MQTTJS_ID = 64_511;
type Rand = () => number;
const int = (rand: Rand, n: number) => Math.floor(rand() * n);

function randomPacket(rand: Rand): Packet {
  const roll = rand();
  if (roll < 0.6) return { cmd: 'puback', messageId: LAST_MQTTJS_ID + 1 + int(rand, 1024) };
  if (roll < 0.7) return { cmd: 'puback', messageId: 1 + int(rand, LAST_MQTTJS_ID) };
  if (roll < 0.75) return { cmd: 'connack', returnCode: 0, sessionPresent: rand() < 0.5 };
  if (roll < 0.8) return { cmd: 'suback', messageId: 1 + int(rand, 65_535), granted: [1] };
  if (roll < 0.85) return { cmd: 'pingresp' };
  return {
    cmd: 'publish',
    qos: 1,
    dup: false,
    retain: false,
    messageId: 1 + int(rand, 65_535),
    topic: 'campus/v1/east/gw1/commands/relay',
    payload: Buffer.alloc(int(rand, 300), 'x'),
  };
}

function encode(packet: Packet): Buffer {
  return mqttPacket.generate(packet, { protocolVersion: 4 });
}

/** Cuts `bytes` into chunks of 1 to `max` bytes. */
function chunks(rand: Rand, bytes: Buffer, max: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length;) {
    const n = 1 + int(rand, max);
    out.push(bytes.subarray(at, at + n));
    at += n;
  }
  return out;
}

/** What mqtt-packet reads from `bytes`: its packets, or the first error. */
function parse(bytes: Buffer, protocolVersion = 4): { packets: Packet[]; error?: string } {
  const parser = mqttPacket.parser({ protocolVersion });
  const packets: Packet[] = [];
  let error: string | undefined;
  parser.on('packet', (p) => packets.push(p));
  parser.on('error', (err) => (error ??= err.message));
  parser.parse(bytes);
  return { packets, error };
}

function run(stream: Buffer[], takes: (id: number) => boolean = (id) => id > LAST_MQTTJS_ID) {
  const claimed: number[] = [];
  const passed: Buffer[] = [];
  const framing = new PubackFraming(
    (id) => {
      if (!takes(id)) return false;
      claimed.push(id);
      return true;
    },
    (bytes) => passed.push(Buffer.from(bytes)),
  );
  for (const chunk of stream) framing.push(chunk);
  return { claimed, passed: Buffer.concat(passed) };
}

describe('PUBACK framing', () => {
  it('claims exactly the PUBACKs of the rows, in order, and passes every other byte on', () => {
    const rand = prng(SEED);
    for (let trial = 0; trial < 300; trial++) {
      const packets = Array.from({ length: 1 + int(rand, 60) }, () => randomPacket(rand));
      const expectedClaimed = packets
        .filter((p) => p.cmd === 'puback' && p.messageId! > LAST_MQTTJS_ID)
        .map((p) => (p as { messageId: number }).messageId);
      const others = packets.filter((p) => !(p.cmd === 'puback' && p.messageId! > LAST_MQTTJS_ID));
      const bytes = Buffer.concat(packets.map(encode));
      const { claimed, passed } = run(chunks(rand, bytes, pick(rand, [1, 3, 17, 400, 5000])));
      expect(claimed, `trial ${trial}`).toEqual(expectedClaimed);
      expect(passed.equals(Buffer.concat(others.map(encode))), `trial ${trial}`).toBe(true);
      const read = parse(passed);
      expect(read.error).toBeUndefined();
      expect(read.packets.map((p) => p.cmd)).toEqual(others.map((p) => p.cmd));
    }
  });

  it('passes on a PUBACK its handler does not take (an id that is not a row in flight)', () => {
    const ids = [65_000, 65_001, 65_002];
    const bytes = Buffer.concat(ids.map((messageId) => encode({ cmd: 'puback', messageId })));
    const { claimed, passed } = run([bytes], (id) => id === 65_001);
    expect(claimed).toEqual([65_001]);
    expect(parse(passed).packets).toMatchObject([{ messageId: 65_000 }, { messageId: 65_002 }]);
  });

  it('leaves a PUBACK with a reason code (MQTT 5, or malformed 3.1.1) to mqtt.js', () => {
    const failed = mqttPacket.generate(
      { cmd: 'puback', messageId: 65_000, reasonCode: 0x97 },
      { protocolVersion: 5 },
    );
    const plain = encode({ cmd: 'puback', messageId: 65_001 });
    expect(failed.length).toBeGreaterThan(plain.length);
    const { claimed, passed } = run([Buffer.concat([failed, plain])]);
    expect(claimed).toEqual([65_001]);
    expect(passed.equals(failed)).toBe(true);
  });

  it('passes everything on from a broken remaining length, as it came', () => {
    const good = encode({ cmd: 'puback', messageId: 65_000 });
    const broken = Buffer.from([0x40, 0xff, 0xff, 0xff, 0xff, 0x01]);
    const after = encode({ cmd: 'puback', messageId: 65_001 });
    const { claimed, passed } = run([Buffer.concat([good, broken]), after]);
    expect(claimed).toEqual([65_000]);
    expect(passed.equals(Buffer.concat([broken, after]))).toBe(true);
    expect(parse(passed).error).toBeDefined();
  });
});

function pick<T>(rand: Rand, items: readonly T[]): T {
  return items[int(rand, items.length)]!;
}
