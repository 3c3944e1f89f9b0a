import { PacketFraming, type OtherHandler } from './packet-framing.ts';

/** Hands over the packet id of a PUBACK; returns false if the id is not the handler's to take. */
export type PubackHandler = (messageId: number) => boolean;

/** PUBACK's fixed header byte: type 4, flags 0. */
const PUBACK = 0x40;

/**
 * Claims, off a publisher's connection, the PUBACKs that `onPuback` takes (the gateway publisher's
 * outbox rows, by their packet ids) and passes every other packet on to mqtt.js, including the
 * PUBACKs of mqtt.js's own publishes.
 *
 * Why: mqtt.js parses each PUBACK through mqtt-packet (a packet object, a buffer list and a debug
 * call per step), looks up its outgoing store and calls the publish's callback, for every reading
 * the gateway sends; the outbox already knows which rows are in flight.
 *
 * Only a PUBACK with a remaining length of 2 is claimed: MQTT 3.1.1's only form, and MQTT 5's for
 * success. A longer one (an MQTT 5 reason code, or a malformed 3.1.1 packet) goes to mqtt.js,
 * which reports what it must.
 */
export class PubackFraming extends PacketFraming {
  constructor(
    private readonly onPuback: PubackHandler,
    onOther: OtherHandler,
  ) {
    super(onOther);
  }

  protected claim(buf: Buffer, start: number, body: number, end: number): boolean {
    if (buf[start] !== PUBACK || end - body !== 2) return false;
    return this.onPuback(buf.readUInt16BE(body));
  }
}
