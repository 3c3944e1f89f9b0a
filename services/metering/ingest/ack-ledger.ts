/**
 * The PUBACKs ingest owes on its current MQTT connection, in the order the PUBLISHes arrived
 * (MQTT 5 §4.6 wants them in that order). Each received QoS 1 message takes a ticket; a ticket is
 * marked done when its reading is stored or the message needs no write (a dead letter, a
 * duplicate, a control message); `take` then hands over the packet ids at the head that are done.
 *
 * It is a ring of two typed arrays, not an object per message: at tens of thousands of messages a
 * second the objects were a measurable part of ingest's garbage. Tickets only grow, so a ticket of
 * a connection that closed (`reset`) is recognised as stale and ignored.
 */
export class AckLedger {
  private ids = new Uint16Array(1024);
  private done = new Uint8Array(1024);
  private mask = 1023;
  /** The oldest ticket not yet taken. */
  private head = 0;
  /** The next ticket to give. */
  private tail = 0;

  /** Messages received on this connection and not yet acknowledged. */
  get size(): number {
    return this.tail - this.head;
  }

  /** A ticket for a received QoS 1 message with this packet id. */
  push(messageId: number): number {
    if (this.tail - this.head > this.mask) this.grow();
    const slot = this.tail & this.mask;
    this.ids[slot] = messageId;
    this.done[slot] = 0;
    return this.tail++;
  }

  /** Marks a ticket ready to acknowledge; a ticket of an earlier connection is ignored. */
  complete(ticket: number): void {
    if (ticket >= this.head && ticket < this.tail) this.done[ticket & this.mask] = 1;
  }

  /** True while the ticket belongs to the current connection and is not acknowledged. */
  current(ticket: number): boolean {
    return ticket >= this.head && ticket < this.tail;
  }

  /**
   * The PUBACK packets for the done messages at the head, in order, as one buffer (4 bytes each:
   * type, remaining length 2, packet id; MQTT 3.1.1 and MQTT 5 with reason code 0 alike), and
   * forgets them. Undefined when the head is not done.
   */
  take(): Buffer | undefined {
    let end = this.head;
    while (end < this.tail && this.done[end & this.mask] === 1) end++;
    const n = end - this.head;
    if (n === 0) return undefined;
    // A fresh buffer each time: the socket may hold it until it is flushed.
    const out = Buffer.allocUnsafe(n * 4);
    for (let i = 0, t = this.head; t < end; t++, i += 4) {
      const id = this.ids[t & this.mask]!;
      out[i] = 0x40;
      out[i + 1] = 2;
      out[i + 2] = id >> 8;
      out[i + 3] = id & 0xff;
    }
    this.head = end;
    return out;
  }

  /** The connection closed: everything owed on it is the broker's to redeliver. */
  reset(): number {
    const dropped = this.size;
    this.head = this.tail;
    return dropped;
  }

  private grow(): void {
    const size = (this.mask + 1) * 2;
    const ids = new Uint16Array(size);
    const done = new Uint8Array(size);
    for (let t = this.head; t < this.tail; t++) {
      ids[t & (size - 1)] = this.ids[t & this.mask]!;
      done[t & (size - 1)] = this.done[t & this.mask]!;
    }
    this.ids = ids;
    this.done = done;
    this.mask = size - 1;
  }
}
