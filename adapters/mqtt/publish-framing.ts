import { PacketFraming, varint, type OtherHandler } from './packet-framing.ts';

/**
 * A minimal MQTT framing for one hot path: the QoS 1 PUBLISH packets a subscriber receives. It
 * cuts the bytes a broker sends into packets and hands each plain QoS 1 PUBLISH to `onPublish`
 * (topic, payload as a view of the received bytes, packet id); every other packet goes on, as the
 * very bytes received and in order, to `onOther` (packet-framing.ts), whose reader (mqtt.js) keeps
 * the connection, CONNACK, SUBACK, PINGRESP, DISCONNECT and every case this framing does not claim
 * to know.
 *
 * Why: mqtt.js parses each packet through mqtt-packet, which appends every chunk to a `bl` buffer
 * list, reads each field through it (a Buffer per field, a debug call per step), builds a packet
 * object and queues it for a handler one at a time; at tens of thousands of readings a second that
 * was a third of ingest's CPU.
 *
 * What is claimed, and what is passed on instead: a PUBLISH is claimed only when its fixed header
 * is QoS 1, its topic is a non-empty string inside the packet, its packet id fits, and (MQTT 5) its
 * properties are all of the kinds a PUBLISH may carry, each inside the property block, with no
 * topic alias (a subscriber that advertised no Topic Alias Maximum must treat one as an error,
 * and mqtt.js does). Anything else, including a malformed PUBLISH, is passed on whole, so that
 * mqtt.js answers it as it always did. test/ingest/publish-framing.test.ts compares this with
 * mqtt-packet's parser on random packets split at random chunk boundaries.
 */

export type PublishHandler = (topic: string, payload: Buffer, messageId: number) => void;

const PUBLISH = 3;

/**
 * MQTT 5 property identifiers a PUBLISH may carry, by the size of their value: a byte, a
 * two-byte integer, a four-byte integer, a variable byte integer, a length-prefixed string or
 * binary, or a pair of strings (user property). Topic alias (0x23) is deliberately absent.
 */
const BYTE = 1;
const INT32 = 4;
const VARINT = 5;
const PREFIXED = 6;
const PAIR = 7;
const PUBLISH_PROPERTIES: ReadonlyMap<number, number> = new Map([
  [0x01, BYTE], // payload format indicator
  [0x02, INT32], // message expiry interval
  [0x03, PREFIXED], // content type
  [0x08, PREFIXED], // response topic
  [0x09, PREFIXED], // correlation data
  [0x0b, VARINT], // subscription identifier
  [0x26, PAIR], // user property
]);

/** Offset just after a v5 PUBLISH's property block that starts at `at`, or -1 if not claimed. */
function skipProperties(buf: Buffer, at: number, end: number): number {
  const length = varint(buf, at, end);
  if (!length) return -1;
  const stop = length.next + length.value;
  if (stop > end) return -1;
  let p = length.next;
  while (p < stop) {
    const kind = PUBLISH_PROPERTIES.get(buf[p++]!);
    if (kind === undefined) return -1;
    if (kind === BYTE) p += 1;
    else if (kind === INT32) p += 4;
    else if (kind === VARINT) {
      const v = varint(buf, p, stop);
      if (!v) return -1;
      p = v.next;
    } else {
      for (let strings = kind === PAIR ? 2 : 1; strings > 0; strings--) {
        if (p + 2 > stop) return -1;
        p += 2 + buf.readUInt16BE(p);
      }
    }
    if (p > stop) return -1;
  }
  return stop;
}

export class PublishFraming extends PacketFraming {
  constructor(
    /** 4 (MQTT 3.1.1) or 5: whether a PUBLISH has a property block. */
    private readonly protocolVersion: number,
    private readonly onPublish: PublishHandler,
    onOther: OtherHandler,
  ) {
    super(onOther);
  }

  /** Hands over the packet at [start, end) if it is a plain QoS 1 PUBLISH; false to pass it on. */
  protected claim(buf: Buffer, start: number, body: number, end: number): boolean {
    const header = buf[start]!;
    if (header >> 4 !== PUBLISH || ((header >> 1) & 3) !== 1) return false;
    if (body + 2 > end) return false;
    const topicEnd = body + 2 + buf.readUInt16BE(body);
    // Topic, then the packet id: an empty topic is the topic-alias case, left to mqtt.js.
    if (topicEnd === body + 2 || topicEnd + 2 > end) return false;
    const messageId = buf.readUInt16BE(topicEnd);
    let payloadStart = topicEnd + 2;
    if (this.protocolVersion === 5) {
      payloadStart = skipProperties(buf, payloadStart, end);
      if (payloadStart < 0) return false;
    }
    this.onPublish(buf.toString('utf8', body + 2, topicEnd), buf.subarray(payloadStart, end), messageId);
    return true;
  }
}
