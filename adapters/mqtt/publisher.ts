// Before mqtt: its debug calls, off, must not gather their arguments (quiet-debug.ts).
import './quiet-debug.ts';
import type { IClientOptions, MqttClient } from 'mqtt';
import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { GatewayStatusSchema } from '../../config/schemas/reading.ts';
import type { Outbox, OutboxRow } from '../../gateway/outbox/outbox.ts';
import { topicMatches } from './acl.ts';
import { connectWithFraming } from './framed-client.ts';
import { PubackFraming } from './puback-framing.ts';
import { DEFAULT_RECONNECT, applyReconnectPolicy } from './reconnect.ts';

/**
 * Drains the outbox to an MQTT broker at QoS 1, deleting a row only after the broker's PUBACK.
 *
 * mqtt.js keeps the connection (CONNECT, TLS, keepalive, reconnects), the subscriptions and the
 * publishes outside the outbox (status, device health, command acks). The outbox rows bypass it:
 * the outbox already is the durable in-flight store, and mqtt.js's own (a packet object, a
 * callback and a store entry per publish, each PUBACK parsed by mqtt-packet) was a large share of
 * what a reading allocated, all of it alive until the PUBACK (gateway bench, issue 16 item 2).
 * - Each row leaves as a QoS 1 PUBLISH frame written to mqtt.js's connection stream (the writes of
 *   one pump in one Buffer), with a packet id of the publisher's own: the top `rowIds` ids; mqtt.js
 *   allocates from the ids below them (`BelowRowIds`). A slot per id holds the row in flight.
 * - The PUBACKs for those ids are claimed off the socket (puback-framing.ts) before mqtt.js reads
 *   it, and the row goes to the batch of acks; every other packet reaches mqtt.js as before. A
 *   PUBACK for an id not in flight is dropped, and one read on a connection already closed is
 *   never matched: each connection's framing checks that it is still the live one.
 * - When the connection closes, every row in flight is taken as unacknowledged. After the next
 *   CONNACK (mqtt.js emits `connect` once its own store is resent) the acks received so far are
 *   committed and the publisher reads again from the oldest row left in the outbox, in id order,
 *   the resent ones flagged DUP. So order holds per meter, and a row may arrive twice, never not
 *   at all; consumers drop the duplicates by `seq`.
 * - A crash of the gateway loses nothing either: every unacked row is still in the outbox and is
 *   sent again after restart.
 *
 * While disconnected the publisher takes no rows, so at most `maxInFlight` rows are in memory in
 * flight; the backlog stays on disk.
 */

/** How long acked rows wait before they are deleted together. */
const ACK_FLUSH_MS = 20;
/** After the disk refused to take acked rows out of the queue. */
const ACK_RETRY_MS = 1_000;

export interface PublisherOptions {
  url: string;
  clientId: string;
  username?: string;
  password?: string;
  /** For mqtts://: the CA (PEM) that signed the broker's certificate; default the system CAs. */
  ca?: string | Buffer;
  outbox: Outbox;
  /** Retained gateway status topic; also the last-will topic. */
  statusTopic: string;
  /**
   * The retained last will, published by the broker if the gateway vanishes. If it is a
   * `GatewayStatus` JSON, the `online` status on connect and the `offline` status on `stop()` are
   * derived from it with a fresh `ts` and the outbox counters.
   */
  willPayload: string;
  /** Overrides the derived `online` status payload. */
  onlinePayload?: () => string;
  /** Unacknowledged publishes allowed at once (default 100). */
  maxInFlight?: number;
  /** Token-bucket rate for outbox messages, so a backlog replay does not flood the broker (default 2000). */
  replayRatePerSec?: number;
  /** First reconnect delay in ms, doubled per failed attempt up to `maxReconnectPeriodMs` (default 200). */
  reconnectPeriodMs?: number;
  /** Ceiling for the reconnect delay in ms (default 1500: back within 2 s of the broker; see reconnect.ts). */
  maxReconnectPeriodMs?: number;
  /** How long `stop()` waits for in-flight messages and the offline status (default 5000 ms). */
  stopTimeoutMs?: number;
  logger: Logger;
}

export interface PublisherStats {
  /** Outbox rows written to the broker connection (a row sent again after a reconnect counts again). */
  published: number;
  /** Outbox rows the broker acknowledged. */
  acked: number;
  inFlight: number;
  connected: boolean;
  /** Connection attempts refused or failed and connections lost, since the start. */
  connectFailures: number;
}

export interface Publisher {
  stats(): PublisherStats;
  /**
   * Publishes a retained QoS 1 message outside the outbox (device health). While disconnected only
   * the latest payload per topic is kept and sent on reconnect. Resolves true once the broker acked
   * it, false if it was superseded by a newer payload, failed or the publisher stopped; never rejects.
   */
  publishRetained(topic: string, payload: string): Promise<boolean>;
  /**
   * Publishes a QoS 1, not retained message outside the outbox (relay command acks). Queued by
   * mqtt.js while disconnected. Resolves true on PUBACK, false on failure or after `stop()`.
   */
  publish(topic: string, payload: string): Promise<boolean>;
  /**
   * Subscribes at QoS 1 on this same connection (a gateway has one MQTT session) and calls
   * `onMessage` for each message whose topic matches `filter`. Resolves once the broker granted
   * the subscription; rejects if it refused it. The session is persistent, so messages sent while
   * the gateway was offline arrive after it reconnects. The returned function unsubscribes.
   */
  subscribe(
    filter: string,
    onMessage: (topic: string, payload: Buffer) => void,
  ): Promise<() => Promise<void>>;
  /** Resolves once the outbox is empty and nothing is in flight (for tests and orderly shutdown). */
  drained(timeoutMs?: number): Promise<boolean>;
  /** Publishes the offline status, waits (bounded) for in-flight messages, and disconnects. */
  stop(): Promise<void>;
}

const PEEK_CHUNK = 256;
/** A QoS 1 PUBLISH's fixed header byte (type 3, QoS 1, not retained), and with DUP set. */
const PUBLISH_QOS1 = 0x32;
const PUBLISH_QOS1_DUP = 0x3a;

/**
 * mqtt.js's packet ids, from 1 to `last`, round and round as its default provider does; the ids
 * above are the outbox rows'. Each allocated id is unique among mqtt.js's publishes as long as
 * fewer than `last` are in flight at once (device health sends at most 1,000 a tick).
 */
class BelowRowIds implements NonNullable<IClientOptions['messageIdProvider']> {
  private next: number;
  constructor(private readonly last: number) {
    this.next = 1 + Math.floor(Math.random() * last);
  }
  allocate(): number {
    const id = this.next;
    this.next = id >= this.last ? 1 : id + 1;
    return id;
  }
  getLastAllocated(): number {
    return this.next === 1 ? this.last : this.next - 1;
  }
  register(): boolean {
    return true;
  }
  deallocate(): void {}
  clear(): void {}
}

function varintSize(value: number): number {
  return value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x200000 ? 3 : 4;
}

/** Whether DEBUG (the debug package's variable) asks for mqtt.js's own diagnostics. */
function mqttDebugWanted(): boolean {
  return /mqttjs|(^|[\s,])\*/.test(process.env.DEBUG ?? '');
}

type PendingWaiter = (acked: boolean) => void;

export function startPublisher(options: PublisherOptions): Publisher {
  const { outbox, logger } = options;
  const log = logger.child({ component: 'mqtt-publisher' });
  // Packet ids for the rows in flight, a few times maxInFlight so that a slot is almost always
  // free where the search for one starts; the rest (at least 49,151) are mqtt.js's.
  const rowIds = Math.min(16_384, Math.max(1024, 4 * (options.maxInFlight ?? 100)));
  const maxInFlight = Math.min(rowIds, Math.max(1, options.maxInFlight ?? 100));
  const lastMqttjsId = 65_535 - rowIds;
  /** The outbox row id in flight with packet id lastMqttjsId + 1 + slot; 0 for a free slot. */
  const slots = new Float64Array(rowIds);
  let nextSlot = 0;
  /** Byte lengths of the topic and payload of each row of one write. */
  const lengths = new Int32Array(2 * PEEK_CHUNK);
  /** Rows up to this id may have been sent on a connection since closed: resent with DUP. */
  let resendThrough = 0;
  /** Connections built so far, and which of them is the one rows are written to (0: none). */
  let connections = 0;
  let liveConnection = 0;
  let wire: Writable | undefined;
  const rate = Math.max(1, options.replayRatePerSec ?? 2000);
  // A tenth of a second of burst keeps a replay smooth while letting a poll cycle out at once.
  const bucketSize = Math.max(1, Math.ceil(rate / 10));
  const reconnect = {
    baseMs: options.reconnectPeriodMs ?? DEFAULT_RECONNECT.baseMs,
    capMs: Math.max(options.reconnectPeriodMs ?? 0, options.maxReconnectPeriodMs ?? DEFAULT_RECONNECT.capMs),
  };
  const stopTimeoutMs = options.stopTimeoutMs ?? 5000;

  let cursor = 0;
  let inFlight = 0;
  let published = 0;
  let acked = 0;
  let ready = false;
  let stopping = false;
  let rewindPending = false;
  let tokens = bucketSize;
  let lastRefill = performance.now();
  let pumpScheduled = false;
  let refillTimer: NodeJS.Timeout | undefined;
  let ackFlushScheduled = false;
  let ackRetryTimer: NodeJS.Timeout | undefined;
  const pendingAcks: number[] = [];
  const pendingRetained = new Map<string, { payload: string; waiters: PendingWaiter[] }>();
  const drainWaiters = new Set<(drained: boolean) => void>();

  const clientOptions: IClientOptions = {
    clientId: options.clientId,
    username: options.username,
    password: options.password,
    ...(options.ca ? { ca: options.ca } : {}),
    // A persistent session is what MQTT requires for the client to resend unacked QoS 1 messages.
    clean: false,
    reconnectPeriod: reconnect.baseMs,
    // mqtt.js stops for good after a refused CONNACK unless told otherwise: a gateway keeps trying
    // (an account being provisioned, a broker being reconfigured), logging and counting each refusal.
    reconnectOnConnackError: true,
    connectTimeout: 10_000,
    queueQoSZero: false,
    // mqtt-packet otherwise builds 65,536 cached two-byte Buffers for message ids on the first
    // packet: about 8 MB of heap that a gateway box keeps for its lifetime, to save one tiny
    // allocation per publish (gateway bench, stage 5).
    writeCache: false,
    // mqtt.js otherwise restarts its keepalive timer after every packet it sends: a timer reset per
    // reading. Pings then go out every keepalive interval whatever else is sent, as MQTT allows.
    reschedulePings: false,
    // Some fifteen debug calls per publish and ack, with their arguments, cost about a microsecond
    // a reading even with debugging off; with DEBUG naming mqttjs they still go to debug.
    ...(mqttDebugWanted() ? {} : { log: () => undefined }),
    will: { topic: options.statusTopic, payload: Buffer.from(options.willPayload), qos: 1, retain: true },
    messageIdProvider: new BelowRowIds(lastMqttjsId),
  };
  const client: MqttClient = connectWithFraming(options.url, clientOptions, (_client, onOther) => {
    const connection = ++connections;
    return new PubackFraming(
      (messageId) => messageId > lastMqttjsId && (connection !== liveConnection || onPuback(messageId)),
      onOther,
    );
  });

  const reconnects = applyReconnectPolicy(client, reconnect);

  client.on('connect', () => {
    log.info({ url: options.url }, 'connected');
    ready = true;
    // mqtt.js builds a connection's stream before it connects, so the newest built is this one.
    liveConnection = connections;
    wire = client.stream;
    void publishStatus('online');
    for (const [topic, pending] of pendingRetained) {
      pendingRetained.delete(topic);
      sendRetained(topic, pending.payload, pending.waiters);
    }
    schedulePump();
  });
  client.on('close', () => {
    if (ready) log.warn({ inFlight }, 'disconnected; outbox rows stay on disk until reconnected');
    ready = false;
    liveConnection = 0;
    wire = undefined;
    if (inFlight > 0) {
      // No PUBACK can come for these any more: they are sent again, from the outbox.
      slots.fill(0);
      inFlight = 0;
      resendThrough = cursor;
      rewindPending = true;
    }
  });
  client.on('error', (err) => log.warn({ err: err.message }, 'mqtt client error'));

  const handlers = new Map<string, (topic: string, payload: Buffer) => void>();
  client.on('message', (topic, payload) => {
    for (const [filter, handler] of handlers) {
      if (!topicMatches(filter, topic)) continue;
      try {
        handler(topic, payload);
      } catch (err) {
        log.error({ topic, err: (err as Error).message }, 'message handler failed');
      }
    }
  });

  const unsubscribe = outbox.onAppend(schedulePump);

  function schedulePump(): void {
    if (pumpScheduled) return;
    pumpScheduled = true;
    // setImmediate coalesces all appends of one event-loop tick into one pass.
    setImmediate(pump);
  }

  function refill(): void {
    const now = performance.now();
    tokens = Math.min(bucketSize, tokens + ((now - lastRefill) * rate) / 1000);
    lastRefill = now;
  }

  function pump(): void {
    pumpScheduled = false;
    if (!ready || stopping || !client.connected || !wire) return;
    if (rewindPending) {
      if (inFlight > 0) return;
      flushAcks();
      cursor = 0;
      rewindPending = false;
    }
    refill();
    while (inFlight < maxInFlight && tokens >= 1) {
      const want = Math.min(maxInFlight - inFlight, Math.floor(tokens), PEEK_CHUNK);
      const rows = outbox.peek(cursor, want);
      if (rows.length > 0) send(rows, wire);
      if (rows.length < want) break;
    }
    if (tokens < 1 && !refillTimer) {
      const waitMs = Math.max(1, Math.ceil(((1 - tokens) * 1000) / rate));
      refillTimer = setTimeout(() => {
        refillTimer = undefined;
        schedulePump();
      }, waitMs);
    }
    checkDrained();
  }

  /** Writes the rows' PUBLISH frames, in order, as one Buffer. */
  function send(rows: readonly OutboxRow[], to: Writable): void {
    let total = 0;
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      const topicBytes = Buffer.byteLength(row.topic);
      const payloadBytes = Buffer.byteLength(row.payload);
      lengths[2 * i] = topicBytes;
      lengths[2 * i + 1] = payloadBytes;
      const remaining = 4 + topicBytes + payloadBytes;
      total += 1 + varintSize(remaining) + remaining;
    }
    const frames = Buffer.allocUnsafe(total);
    let at = 0;
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      const topicBytes = lengths[2 * i]!;
      let remaining = 4 + topicBytes + lengths[2 * i + 1]!;
      frames[at++] = row.id <= resendThrough ? PUBLISH_QOS1_DUP : PUBLISH_QOS1;
      while (remaining >= 0x80) {
        frames[at++] = (remaining & 0x7f) | 0x80;
        remaining >>>= 7;
      }
      frames[at++] = remaining;
      at = frames.writeUInt16BE(topicBytes, at);
      at += frames.write(row.topic, at);
      at = frames.writeUInt16BE(lastMqttjsId + 1 + takeSlot(row.id), at);
      at += frames.write(row.payload, at);
    }
    const last = rows[rows.length - 1]!;
    cursor = last.id;
    tokens -= rows.length;
    inFlight += rows.length;
    published += rows.length;
    to.write(frames);
  }

  /** A free slot, now holding `rowId`; there is one, since fewer than `rowIds` rows are in flight. */
  function takeSlot(rowId: number): number {
    let slot = nextSlot;
    while (slots[slot] !== 0) slot = slot + 1 === rowIds ? 0 : slot + 1;
    slots[slot] = rowId;
    nextSlot = slot + 1 === rowIds ? 0 : slot + 1;
    return slot;
  }

  /** A PUBACK for one of the rows' packet ids, on the live connection; always claimed. */
  function onPuback(messageId: number): true {
    const slot = messageId - lastMqttjsId - 1;
    const rowId = slots[slot]!;
    // Zero: an id not in flight (a broker acking twice, or a PUBACK for nothing sent); ignored.
    if (rowId !== 0) {
      slots[slot] = 0;
      inFlight -= 1;
      acked += 1;
      pendingAcks.push(rowId);
      scheduleAckFlush();
      schedulePump();
    }
    return true;
  }

  function scheduleAckFlush(): void {
    if (ackFlushScheduled) return;
    ackFlushScheduled = true;
    // Deleting acked rows in batches a few milliseconds apart costs one commit per batch instead
    // of one per event-loop turn. A crash in that window only means those rows are sent again,
    // and consumers drop the duplicates by seq.
    setTimeout(() => {
      ackFlushScheduled = false;
      flushAcks();
      checkDrained();
    }, ACK_FLUSH_MS);
  }

  function flushAcks(): void {
    if (pendingAcks.length === 0) return;
    const ids = pendingAcks.splice(0);
    try {
      outbox.ack(ids);
    } catch (err) {
      // The disk refused (full, or failing): the rows stay queued, and the publisher has already
      // read past them, so the acks are kept and tried again; a crash meanwhile only means those
      // rows are sent once more, and consumers drop them by seq.
      pendingAcks.unshift(...ids);
      log.error(
        { err: (err as Error).message, count: ids.length },
        'could not take acked rows out of the outbox; retrying',
      );
      if (!ackRetryTimer && !stopping) {
        ackRetryTimer = setTimeout(() => {
          ackRetryTimer = undefined;
          flushAcks();
          checkDrained();
        }, ACK_RETRY_MS);
      }
    }
  }

  function checkDrained(): void {
    if (drainWaiters.size === 0 || inFlight > 0 || pendingAcks.length > 0) return;
    if (outbox.stats().messages > 0) return;
    for (const resolve of drainWaiters) resolve(true);
    drainWaiters.clear();
  }

  function statusPayload(state: 'online' | 'offline'): string {
    if (state === 'online' && options.onlinePayload) return options.onlinePayload();
    let parsed: unknown;
    try {
      parsed = JSON.parse(options.willPayload);
    } catch {
      return state === 'offline' ? options.willPayload : 'online';
    }
    const will = GatewayStatusSchema.safeParse(parsed);
    if (!will.success) return state === 'offline' ? options.willPayload : 'online';
    return JSON.stringify({ ...will.data, state, ts: Date.now(), outbox: outbox.stats() });
  }

  function publishStatus(state: 'online' | 'offline'): Promise<boolean> {
    return new Promise((resolve) => {
      client.publish(options.statusTopic, statusPayload(state), { qos: 1, retain: true }, (err) => {
        if (err) log.warn({ state, err: err.message }, 'status publish failed');
        resolve(!err);
      });
    });
  }

  function sendRetained(topic: string, payload: string, waiters: PendingWaiter[]): void {
    client.publish(topic, payload, { qos: 1, retain: true }, (err) => {
      if (err) log.warn({ topic, err: err.message }, 'retained publish failed');
      for (const waiter of waiters) waiter(!err);
    });
  }

  function withTimeout<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(fallback), ms);
      promise.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        () => {
          clearTimeout(timer);
          resolve(fallback);
        },
      );
    });
  }

  return {
    stats: () => ({
      published,
      acked,
      inFlight,
      connected: ready && client.connected,
      connectFailures: reconnects.failures,
    }),

    publishRetained(topic, payload) {
      if (stopping) return Promise.resolve(false);
      return new Promise((resolve) => {
        if (ready && client.connected) {
          sendRetained(topic, payload, [resolve]);
          return;
        }
        // Only the latest state matters for a retained health message; older ones are superseded.
        for (const waiter of pendingRetained.get(topic)?.waiters ?? []) waiter(false);
        pendingRetained.set(topic, { payload, waiters: [resolve] });
      });
    },

    publish(topic, payload) {
      if (stopping) return Promise.resolve(false);
      return new Promise((resolve) => {
        client.publish(topic, payload, { qos: 1 }, (err) => {
          if (err) log.warn({ topic, err: err.message }, 'publish failed');
          resolve(!err);
        });
      });
    },

    subscribe(filter, onMessage) {
      if (handlers.has(filter)) return Promise.reject(new Error(`already subscribed to ${filter}`));
      handlers.set(filter, onMessage);
      return new Promise((resolve, reject) => {
        client.subscribe(filter, { qos: 1 }, (err) => {
          if (err) {
            handlers.delete(filter);
            reject(err);
            return;
          }
          resolve(
            () =>
              new Promise<void>((done) => {
                handlers.delete(filter);
                if (stopping || !client.connected) return done();
                client.unsubscribe(filter, () => done());
              }),
          );
        });
      });
    },

    drained(timeoutMs = 30_000) {
      const done = new Promise<boolean>((resolve) => {
        drainWaiters.add(resolve);
        checkDrained();
      });
      return withTimeout(done, timeoutMs, false);
    },

    async stop() {
      if (stopping) return;
      stopping = true;
      unsubscribe();
      if (refillTimer) clearTimeout(refillTimer);
      clearTimeout(ackRetryTimer);
      let statusAcked = false;
      if (ready && client.connected) {
        // Rows still in flight are acked (and deleted) if the broker answers in time; if not they
        // stay in the outbox and are sent again by the next publisher.
        let poll: NodeJS.Timeout | undefined;
        const inFlightDone = new Promise<boolean>((resolve) => {
          poll = setInterval(() => inFlight === 0 && resolve(true), 5);
        });
        // A connection lost during the stop ends the waits: nothing can be acked on it any more.
        // Under `campus-energy run` the embedded broker dies with the supervisor that tells this
        // gateway to stop; waiting out stopTimeoutMs missed the process's stop deadline.
        const closed = new Promise<boolean>((resolve) => client.once('close', () => resolve(false)));
        await withTimeout(Promise.race([inFlightDone, closed]), stopTimeoutMs, false);
        clearInterval(poll);
        statusAcked = await withTimeout(
          Promise.race([publishStatus('offline'), closed]),
          stopTimeoutMs,
          false,
        );
      }
      flushAcks();
      for (const [, pending] of pendingRetained) {
        for (const waiter of pending.waiters) waiter(false);
      }
      pendingRetained.clear();
      for (const resolve of drainWaiters) resolve(false);
      drainWaiters.clear();
      // A graceful end waits for every outstanding PUBACK, which never comes without a broker.
      const force = !(statusAcked && ready && client.connected && inFlight === 0);
      await new Promise<void>((resolve) => client.end(force, {}, () => resolve()));
      flushAcks();
      log.info({ published, acked }, 'stopped');
    },
  };
}
