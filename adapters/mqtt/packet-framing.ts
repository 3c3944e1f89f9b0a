/**
 * Cuts the bytes a broker sends into MQTT packets and offers each whole packet to `claim`; every
 * packet not claimed goes on, as the very bytes received and in order, to `onOther`, whose reader
 * (mqtt.js) keeps the connection and every packet a subclass does not claim to know. A remaining
 * length that is not a valid variable byte integer leaves no way to find the next packet: from
 * there on every byte is passed on as it came, and mqtt.js's parser reports the error.
 *
 * Subclasses claim one hot-path packet type each (publish-framing.ts: a subscriber's QoS 1
 * PUBLISHes; puback-framing.ts: the PUBACKs of the gateway's outbox publishes), so that mqtt-packet
 * never parses them.
 */

export type OtherHandler = (bytes: Buffer) => void;

/**
 * A variable byte integer at `at`: its value and the offset after it; `undefined` when `end` comes
 * first (more bytes needed), `null` when it is malformed (a fifth byte would be needed).
 */
export function varint(
  buf: Buffer,
  at: number,
  end: number,
): { value: number; next: number } | undefined | null {
  let value = 0;
  let mul = 1;
  for (let i = 0; i < 4; i++) {
    if (at + i >= end) return undefined;
    const byte = buf[at + i]!;
    value += (byte & 0x7f) * mul;
    if ((byte & 0x80) === 0) return { value, next: at + i + 1 };
    mul *= 128;
  }
  return null;
}

export abstract class PacketFraming {
  /** Bytes of a packet not yet complete (views of the chunks they came in). */
  private held: Buffer[] = [];
  private heldBytes = 0;
  /** Bytes the held packet needs in all (0: its fixed header is not complete yet). */
  private needed = 0;
  /** A malformed remaining length was met: everything from there on goes to `onOther`. */
  private lost = false;

  constructor(private readonly onOther: OtherHandler) {}

  /**
   * Handles the whole packet at [start, end), whose variable header starts at `body`, and returns
   * true; or returns false, touching nothing, to pass it on.
   */
  protected abstract claim(buf: Buffer, start: number, body: number, end: number): boolean;

  /** Bytes as they came off the connection. */
  push(chunk: Buffer): void {
    if (this.lost) {
      if (chunk.length > 0) this.onOther(chunk);
      return;
    }
    let buf = chunk;
    if (this.heldBytes > 0) {
      this.held.push(chunk);
      this.heldBytes += chunk.length;
      if (this.heldBytes < this.needed) return;
      // Copied once, when the packet (or at least its fixed header) is complete.
      buf = Buffer.concat(this.held, this.heldBytes);
      this.held = [];
      this.heldBytes = 0;
      this.needed = 0;
    }
    let at = 0;
    // Consecutive packets passed on leave as one view.
    let otherFrom = -1;
    while (at < buf.length) {
      const length = varint(buf, at + 1, buf.length);
      if (length === null) {
        this.lost = true;
        this.onOther(buf.subarray(otherFrom === -1 ? at : otherFrom));
        return;
      }
      const end = length ? length.next + length.value : 0;
      if (!length || end > buf.length) {
        this.held.push(buf.subarray(at));
        this.heldBytes = buf.length - at;
        this.needed = length ? end - at : 0;
        break;
      }
      if (this.claim(buf, at, length.next, end)) {
        if (otherFrom !== -1) this.onOther(buf.subarray(otherFrom, at));
        otherFrom = -1;
      } else if (otherFrom === -1) {
        otherFrom = at;
      }
      at = end;
    }
    if (otherFrom !== -1) this.onOther(buf.subarray(otherFrom, at));
  }
}
