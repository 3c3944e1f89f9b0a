import type { IClientOptions, IPublishPacket, MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { TOPIC_ROOT } from '../../../config/schemas/reading.ts';
import type { ReadingWriter, StoredReading } from '../storage.ts';
import type { DeadLetterStore } from './dead-letters.ts';
import { validateMessage, type DeadLetterCode, type MeterRegistry } from './validate.ts';
import {
  applyReconnectPolicy,
  DEFAULT_RECONNECT,
  type ReconnectPolicy,
} from '../../../adapters/mqtt/reconnect.ts';
import { connectRefusal } from '../../../adapters/mqtt/refusal.ts';
import { connectFramed } from '../../../adapters/mqtt/framed-client.ts';
import {
  ReplayAnswerSchema,
  replayTopic,
  SeqsAnnouncementSchema,
  type ReplayRange,
} from '../../../config/schemas/replay.ts';
import type { SeqIndex } from '../storage.ts';
import { GapTracker, type GapStats, type LostRange } from './seq-gaps.ts';
import { AckLedger } from './ack-ledger.ts';
import { RecentSeqs } from './recent-seqs.ts';

/**
 * Ingest: subscribes to every reading topic at QoS 1 and writes the readings to a store in
 * batches, acknowledging each MQTT message only after the write that holds its reading resolved.
 *
 * How the acknowledgement is deferred (checked against the mqtt.js 5.16 source,
 * `build/lib/handlers/publish.js` and `client.js` `connect()`):
 * - mqtt.js hands incoming packets to its handlers one at a time: the next packet is taken only
 *   after the current one's `done`, and for a QoS 1 PUBLISH `done` runs after the PUBACK was
 *   written. Its `customHandleAcks(topic, message, packet, cb)` option (MQTT 5 only) sends the
 *   PUBACK when `cb(null, 0)` is called — so holding `cb` until a write resolves stalls the whole
 *   connection (pings included) and allows one message per write: measured, about 100 messages/s
 *   with a 10 ms store.
 * - Calling `cb(error)` instead releases the packet pipeline at once *without* a PUBACK (mqtt.js
 *   then emits the error on the client; ingest passes a sentinel that its error listener ignores).
 *   Ingest does that for every QoS 1 message and later writes the PUBACKs itself, straight onto
 *   the connection's stream (`client.stream`), as one buffer for all that became due together:
 *   going through mqtt.js's internal `_sendPacket` cost a packet object, eight debug calls and
 *   three stream writes per PUBACK. The stream and the deferred-ack path are the mqtt.js
 *   internals ingest relies on; the tests (ack only after the write, redelivery after a failed
 *   write, batching of many messages) fail if a new mqtt.js changes them.
 * - Since then the QoS 1 PUBLISHes no longer reach mqtt.js at all: ingest's own framing reads
 *   them off the socket (adapters/mqtt/framed-client.ts) and hands them to the same function the
 *   deferred-ack hook calls, which stays for any QoS 1 PUBLISH the framing passes on. The PUBACKs
 *   are written as before, only once CONNACK is in (`client.connected`).
 *
 * What bounds memory: the CONNECT carries MQTT 5 `receiveMaximum` = `maxUnacked`, and the broker
 * must not send more unacknowledged QoS 1 messages than that (mosquitto 2.0 honours it in place of
 * its `max_inflight_messages`). So ingest never holds more than `maxUnacked` messages, whatever the
 * store does; while the store is down the backlog waits in the broker's queue for this session.
 *
 * Reconnects: a PUBACK is only ever sent on the connection its PUBLISH came in on. When that
 * connection closes, unacknowledged messages are forgotten (those not yet written are dropped from
 * the batch): the broker redelivers them on the next connection of this persistent session, and a
 * late PUBACK could otherwise acknowledge whatever new message the broker gave that packet id. A
 * write already under way completes, so a redelivered reading may be written twice — harmless,
 * because the store is idempotent per (meter, seq).
 *
 * PUBACKs go out in the order the PUBLISHes arrived (MQTT 5 §4.6): a dead letter or a duplicate
 * is acknowledged once every message before it is.
 */

export interface IngestOptions {
  url: string;
  /** Fixed per instance: the broker keeps this client's session (and queue) under it. */
  clientId: string;
  username?: string;
  password?: string;
  /** For mqtts://: the CA (PEM) that signed the broker's certificate. */
  ca?: string | Buffer;
  /** Shared-subscription group, so instances split the stream; null or absent subscribes plainly (campus file ingest.shareGroup). */
  shareGroup?: string | null;
  /** The campus registry: readings of other meters, or from another site or gateway, are rejected. */
  meters: MeterRegistry;
  writer: ReadingWriter;
  deadLetters: DeadLetterStore;
  /** Larger payloads are dead-lettered (default 16 KiB). */
  maxPayloadBytes?: number;
  /** Readings per write (default 500). */
  batchSize?: number;
  /** How long a reading may wait for others to share its write (default 20 ms). */
  flushMs?: number;
  /** Unacknowledged messages held at most: sent to the broker as MQTT 5 receiveMaximum (default 2 × batchSize). */
  maxUnacked?: number;
  /**
   * 5 for shared subscriptions and the receive maximum; 4 (MQTT 3.1.1) for brokers without MQTT 5,
   * such as the embedded Aedes broker. 'auto' (default) asks for 5 and, when the broker refuses
   * that version, connects with 4 and subscribes plainly (3.1.1 has no shared subscriptions).
   */
  protocolVersion?: 4 | 5 | 'auto';
  /** How long the broker keeps the session while ingest is away (default 7 days). */
  sessionExpirySec?: number;
  /** First delay before a failed write is retried, doubled per failure up to retryMaxMs (default 100). */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Skip, without a write, a reading this instance stored moments ago (default true; see RecentSeqs). */
  dedupe?: boolean;
  /** Retrying a refused or lost connection (default: from 200 ms doubling to 1.5 s, jittered). */
  reconnect?: ReconnectPolicy;
  /** The first retry delay alone (the cap stays the default's); `reconnect` takes precedence. */
  reconnectPeriodMs?: number;
  /** How long `stop()` waits for the write in progress and the PUBACKs (default 5000 ms). */
  stopTimeoutMs?: number;
  /**
   * End-to-end acknowledgement (config/schemas/replay.ts): with both, ingest finds the readings
   * the gateways numbered that the store lacks and asks the gateways to replay them; without, it
   * trusts the broker hop by hop.
   */
  seqIndex?: SeqIndex;
  /** The ledger of open gaps and lost ranges (SQLite). */
  gapLedgerPath?: string;
  gaps?: {
    graceMs?: number;
    retryMs?: number;
    giveUpMs?: number;
    maxReplays?: number;
    checkEveryMs?: number;
  };
  logger: Logger;
}

export interface IngestStats {
  /** Messages received, redeliveries included. */
  received: number;
  /** Readings in writes that resolved (a redelivered reading may be written, and counted, twice). */
  stored: number;
  deadLettered: number;
  deadLetteredByCode: Partial<Record<DeadLetterCode, number>>;
  /** Messages skipped because this instance had stored that (meter, seq) moments ago. */
  duplicates: number;
  /** Messages received and not yet acknowledged. */
  inFlight: number;
  /** PUBACKs sent. */
  acked: number;
  writeFailures: number;
  lastWriteError: string | null;
  connected: boolean;
  /** The MQTT version in use (after negotiation). */
  protocolVersion: 4 | 5;
  /** Connection attempts refused or failed and connections lost, since the start. */
  connectFailures: number;
  /** End-to-end acknowledgement; null when it is off. */
  gaps: GapStats | null;
  /** Seq announcements and replay answers that were not valid. */
  invalidControl: number;
}

export interface Ingest {
  /**
   * Resolves once the broker acknowledged the first subscription. Rejects, naming the cause, when
   * the broker refuses ingest before it ever connected for a reason retrying cannot cure (wrong
   * password, not authorized, client id rejected, no MQTT version in common): a supervisor should
   * see the process fail rather than wait. A broker that is down is retried and counted instead.
   */
  readonly ready: Promise<void>;
  stats(): IngestStats;
  /** The newest lost ranges (end-to-end acknowledgement), oldest first. */
  lost(limit?: number): LostRange[];
  /**
   * Stops taking messages, finishes the write in progress and acknowledges what it stored (bounded
   * by stopTimeoutMs), then disconnects. The session stays: nothing published meanwhile is lost.
   */
  stop(): Promise<void>;
}

/** A QoS 0 message's ticket: it has nothing to acknowledge. */
const NO_ACK = -1;

const DEFERRED = new Error('ingest acknowledges this message after its write');
const MAX_RECEIVE_MAXIMUM = 65_535;

/** Gateways' seq announcements and replay answers (never shared: every instance follows them). */
const CONTROL_FILTERS = [`${TOPIC_ROOT}/+/+/seqs`, `${TOPIC_ROOT}/+/+/replay/answer`];
const SEQS_TOPIC = /^campus\/v1\/([^/]+)\/([^/]+)\/seqs$/;
const ANSWER_TOPIC = /^campus\/v1\/([^/]+)\/([^/]+)\/replay\/answer$/;
export const READINGS_LOST_TOPIC = `${TOPIC_ROOT}/alerts/readings-lost`;

export function readingFilter(shareGroup: string | null): string {
  const filter = `${TOPIC_ROOT}/+/+/+/reading`;
  return shareGroup === null ? filter : `$share/${shareGroup}/${filter}`;
}

export function startIngest(options: IngestOptions): Ingest {
  const log = options.logger.child({ component: 'ingest' });
  const batchSize = Math.max(1, options.batchSize ?? 500);
  const flushMs = Math.max(0, options.flushMs ?? 20);
  const maxUnacked = Math.min(MAX_RECEIVE_MAXIMUM, Math.max(1, options.maxUnacked ?? 2 * batchSize));
  const maxPayloadBytes = options.maxPayloadBytes ?? 16 * 1024;
  const retryBaseMs = Math.max(1, options.retryBaseMs ?? 100);
  const retryMaxMs = Math.max(retryBaseMs, options.retryMaxMs ?? 5000);
  const recentlyStored = options.dedupe === false ? null : new RecentSeqs();
  const stopTimeoutMs = options.stopTimeoutMs ?? 5000;
  const shareGroup = options.shareGroup ?? null;
  let filter = readingFilter(options.protocolVersion === 4 ? null : shareGroup);

  const stats = {
    received: 0,
    stored: 0,
    deadLettered: 0,
    duplicates: 0,
    acked: 0,
    writeFailures: 0,
    lastWriteError: null as string | null,
  };
  const deadLetteredByCode: Partial<Record<DeadLetterCode, number>> = {};
  const acks = new AckLedger();
  // Readings received and not yet written, with their ack tickets (NO_ACK for QoS 0), as two
  // arrays: the readings are handed to the store as they are, with no per-message wrapper.
  let unwritten: StoredReading[] = [];
  let unwrittenTickets: number[] = [];
  let writing: StoredReading[] | null = null;
  let writeDone: Promise<void> = Promise.resolve();
  let failures = 0;
  let flushTimer: NodeJS.Timeout | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let stopping = false;
  let invalidControlCount = 0;
  const tracker =
    options.seqIndex && options.gapLedgerPath
      ? new GapTracker({
          index: options.seqIndex,
          ledgerPath: options.gapLedgerPath,
          ...options.gaps,
          placeOf: (meter) => options.meters.get(meter),
          request: (site, gateway, ranges) => requestReplay(site, gateway, ranges),
          onLost: (lost) => {
            log.error(
              {
                meter: lost.meter,
                from: lost.from,
                to: lost.to,
                readings: lost.to - lost.from + 1,
                reason: lost.reason,
              },
              'readings lost: no store and no gateway holds them',
            );
            const place = options.meters.get(lost.meter);
            client.publish(
              READINGS_LOST_TOPIC,
              JSON.stringify({ ...lost, ...place }),
              { qos: 1 },
              () => undefined,
            );
          },
        })
      : null;
  let seeded = false;
  const seeding = tracker
    ? tracker.seed().then(
        () => void (seeded = true),
        (err: Error) =>
          log.error(
            { err: err.message },
            'could not read the stored seqs: replay requests wait for the next start',
          ),
      )
    : Promise.resolve();
  const gapTimer = tracker
    ? setInterval(() => {
        if (!seeded || !client.connected) return;
        tracker.check().catch((err: Error) => log.warn({ err: err.message }, 'gap check failed; retried'));
      }, options.gaps?.checkEveryMs ?? 1_000)
    : undefined;
  gapTimer?.unref();
  let replayRequests = 0;
  function requestReplay(site: string, gateway: string, ranges: ReplayRange[]): void {
    replayRequests += 1;
    const id = `${options.clientId}-${Date.now()}-${replayRequests}`;
    const readings = ranges.reduce((n, r) => n + r.to - r.from + 1, 0);
    log.info(
      { site, gateway, ranges: ranges.length, readings, id },
      'asking a gateway to replay readings no store holds',
    );
    client.publish(replayTopic(site, gateway), JSON.stringify({ id, ranges }), { qos: 1 }, (err) => {
      if (err) log.warn({ gateway, err: err.message }, 'replay request not sent; asked again later');
    });
  }

  const negotiate = (options.protocolVersion ?? 'auto') === 'auto';
  const mqtt5 = options.protocolVersion !== 4;
  const reconnect = options.reconnect ?? {
    baseMs: options.reconnectPeriodMs ?? DEFAULT_RECONNECT.baseMs,
    capMs: Math.max(DEFAULT_RECONNECT.capMs, options.reconnectPeriodMs ?? 0),
  };
  const clientOptions: IClientOptions = {
    clientId: options.clientId,
    username: options.username,
    password: options.password,
    ...(options.ca ? { ca: options.ca } : {}),
    protocolVersion: mqtt5 ? 5 : 4,
    clean: false,
    reconnectPeriod: reconnect.baseMs,
    // mqtt.js stops for good after a refused CONNACK unless told otherwise; ingest decides itself
    // what a refusal means (see `ready`), and a process left with no connection would exit 0.
    reconnectOnConnackError: true,
    connectTimeout: 10_000,
    // mqtt.js traces each packet through the debug library, a dozen calls per message even when
    // tracing is off; without DEBUG set (the debug library's own switch) they are skipped.
    ...(process.env.DEBUG ? {} : { log: () => undefined }),
    // MQTT 3.1.1 has neither: its session lasts until cleaned, and the broker's own in-flight
    // limit is what bounds the unacknowledged messages held here.
    ...(mqtt5
      ? {
          properties: {
            sessionExpiryInterval: options.sessionExpirySec ?? 7 * 24 * 3600,
            receiveMaximum: maxUnacked,
          },
        }
      : {}),
    // QoS 1 PUBLISHes the framing passes on to mqtt.js (none in practice, see connectFramed).
    customHandleAcks: (topic, message, packet: IPublishPacket, cb) => {
      onQos1(topic, message, packet.messageId!);
      cb(DEFERRED);
    },
  };
  // mqtt.js keeps the connection; the QoS 1 PUBLISHes are read off the socket by ingest's own
  // framing (adapters/mqtt/publish-framing.ts): mqtt-packet's parse was a third of ingest's CPU.
  const client: MqttClient = connectFramed(options.url, clientOptions, onQos1);

  /** A QoS 1 message, acknowledged through its ticket once stored (or needing no write). */
  function onQos1(topic: string, message: Buffer, messageId: number): void {
    // Never stored or acknowledged while stopping: the broker redelivers it to the next session.
    if (isControl(topic)) {
      const ticket = acks.push(messageId);
      control(topic, message);
      complete(ticket);
    } else if (!stopping) receive(topic, message, acks.push(messageId));
  }
  // mqtt.js 5 installs customHandleAcks only for MQTT 5 and otherwise acknowledges on receipt,
  // which would ack a reading before it is stored. Its publish handler is the same for 3.1.1, so
  // the hook is installed for both (a test fails if a later mqtt.js changes this).
  client.options.customHandleAcks = clientOptions.customHandleAcks!;
  const reconnects = applyReconnectPolicy(client, reconnect);
  let everConnected = false;

  const ready = new Promise<void>((resolve, reject) => {
    client.once('connect', () => {
      everConnected = true;
      client.subscribe(filter, { qos: 1 }, (err) => (err ? reject(err) : resolve()));
      if (tracker) {
        client.subscribe(CONTROL_FILTERS, { qos: 1 }, (err, granted) => {
          const refused = granted?.filter((g) => g.qos === 128).map((g) => g.topic) ?? [];
          if (err || refused.length > 0)
            log.error(
              { err: err?.message, refused },
              'the broker refused the seq and replay subscriptions: lost readings cannot be asked for again (regenerate the broker ACL: campus-energy broker-config)',
            );
        });
      }
    });
    client.on('error', (err) => {
      if (err === DEFERRED) return; // every QoS 1 message passes here (see above)
      const refusal = connectRefusal(err);
      // Once ingest has run, a refusal may be a broker being reconfigured: retried and counted.
      if (!refusal || everConnected) return;
      if (refusal === 'protocol' && negotiate && client.options.protocolVersion === 5) {
        fallBackToMqtt311();
        return;
      }
      client.end(true);
      reject(
        new Error(`the broker at ${options.url} refused ingest (${err.message}): ${refusalHint(refusal)}`),
      );
    });
  });
  // A caller that never awaits `ready` must not get an unhandled rejection from it.
  ready.catch(() => undefined);

  /** The broker speaks no MQTT 5: ask for 3.1.1 on the next attempt, and subscribe plainly. */
  function fallBackToMqtt311(): void {
    client.options.protocolVersion = 4;
    delete client.options.properties;
    filter = readingFilter(null);
    log.warn(
      { url: options.url, shareGroup },
      'the broker refused MQTT 5; connecting with MQTT 3.1.1 and a plain subscription (several ingest instances would each receive every reading)',
    );
  }

  let connects = 0;
  client.on('connect', (connack) => {
    log.info({ url: options.url, filter, sessionPresent: connack.sessionPresent }, 'connected');
    drainAcks();
    // A session the broker says it kept may have lost its subscription: mosquitto 2.0.11 restores
    // a persistent client's shared subscription from its save file without delivering to it (the
    // fault suite: after a clean broker restart, 265 of 266 readings never reached ingest), and
    // subscribing again to the same filter does not mend it. So the shared subscription is
    // dropped and made again, with the plain filter held meanwhile so that nothing published in
    // between goes to no one (it may arrive twice; the store is idempotent per meter and seq).
    connects += 1;
    if (connects > 1 && connack.sessionPresent && filter !== plainFilter) renewSharedSubscription();
  });
  const plainFilter = readingFilter(null);
  function renewSharedSubscription(): void {
    const fail = (err: Error | undefined | null) =>
      err && log.error({ err: err.message, filter }, 'could not renew the subscription after reconnecting');
    client.subscribe(plainFilter, { qos: 1 }, (err) => {
      if (err) return fail(err);
      client.unsubscribe(filter, (err2) => {
        if (err2) return fail(err2);
        client.subscribe(filter, { qos: 1 }, (err3) => {
          if (err3) return fail(err3);
          client.unsubscribe(plainFilter, fail);
        });
      });
    });
  }
  client.on('close', () => {
    // Unacknowledged messages of the closed connection are the broker's again: it redelivers them.
    const dropped = acks.reset();
    keepUnwritten((ticket) => ticket === NO_ACK);
    if (dropped > 0) log.warn({ dropped }, 'disconnected; unacknowledged messages will be redelivered');
  });
  client.on('error', (err) => {
    if (err !== DEFERRED) log.warn({ err: err.message }, 'mqtt client error');
  });
  // Only QoS 0 messages arrive here (QoS 1 ones go through customHandleAcks, which never lets
  // mqtt.js emit them). Readings are QoS 1 by contract, but a QoS 0 one is stored all the same.
  client.on('message', (topic, message, packet) => {
    if (packet.qos !== 0) return;
    if (isControl(topic)) control(topic, message);
    else if (!stopping) receive(topic, message, NO_ACK);
  });

  function isControl(topic: string): boolean {
    return (
      tracker !== null &&
      (topic.endsWith('/seqs') || topic.endsWith('/replay/answer')) &&
      (SEQS_TOPIC.test(topic) || ANSWER_TOPIC.test(topic))
    );
  }

  /** A gateway's seq announcement or replay answer: checked, then handed to the gap tracker. */
  function control(topic: string, payload: Buffer): void {
    if (!tracker) return;
    let body: unknown;
    try {
      body = JSON.parse(payload.toString('utf8'));
    } catch {
      body = undefined;
    }
    const seqs = SEQS_TOPIC.exec(topic);
    if (seqs) {
      const parsed = SeqsAnnouncementSchema.safeParse(body);
      if (!parsed.success || parsed.data.gateway !== seqs[2])
        return invalidControl(topic, parsed.error?.issues[0]?.message ?? 'gateway differs from the topic');
      for (const [meter, seq] of Object.entries(parsed.data.seqs)) {
        const place = options.meters.get(meter);
        // A gateway speaks only for its own meters.
        if (place && place.site === seqs[1] && place.gateway === seqs[2]) tracker.announced(meter, seq);
      }
      return;
    }
    const answer = ANSWER_TOPIC.exec(topic)!;
    const parsed = ReplayAnswerSchema.safeParse(body);
    if (!parsed.success || parsed.data.gateway !== answer[2])
      return invalidControl(topic, parsed.error?.issues[0]?.message ?? 'gateway differs from the topic');
    const own = parsed.data.ranges.filter((r) => {
      const place = options.meters.get(r.meter);
      return place && place.site === answer[1] && place.gateway === answer[2];
    });
    tracker.answered({ ...parsed.data, ranges: own });
  }

  function invalidControl(topic: string, reason: string): void {
    invalidControlCount += 1;
    if (invalidControlCount === 1)
      log.warn({ topic, reason }, 'ignored a seq announcement or replay answer that is not valid');
  }

  function receive(topic: string, payload: Buffer, ticket: number): void {
    stats.received += 1;
    const result = validateMessage(topic, payload, options.meters, maxPayloadBytes);
    if (!result.ok) {
      deadLetter(topic, payload, result.code, result.reason);
      complete(ticket);
      return;
    }
    const { reading } = result;
    if (recentlyStored?.has(reading.meter, reading.seq)) {
      stats.duplicates += 1;
      complete(ticket);
      return;
    }
    unwritten.push(reading);
    unwrittenTickets.push(ticket);
    scheduleFlush();
  }

  /** Drops from the unwritten readings those whose ticket `keep` refuses. */
  function keepUnwritten(keep: (ticket: number) => boolean): void {
    const readings: StoredReading[] = [];
    const tickets: number[] = [];
    for (let i = 0; i < unwritten.length; i++) {
      if (!keep(unwrittenTickets[i]!)) continue;
      readings.push(unwritten[i]!);
      tickets.push(unwrittenTickets[i]!);
    }
    unwritten = readings;
    unwrittenTickets = tickets;
  }

  function deadLetter(topic: string, payload: Buffer, code: DeadLetterCode, reason: string): void {
    stats.deadLettered += 1;
    const seen = deadLetteredByCode[code] ?? 0;
    deadLetteredByCode[code] = seen + 1;
    // The first of each kind is worth an operator's attention; a flood of them is not.
    if (seen === 0) log.warn({ topic, code, reason }, 'dead-lettered a message');
    else log.debug({ topic, code, reason }, 'dead-lettered a message');
    try {
      options.deadLetters.add(topic, payload, code, reason);
    } catch (err) {
      // The message can never become valid, so it is acknowledged all the same; only its record is lost.
      log.error({ topic, code, err: (err as Error).message }, 'could not record a dead letter');
    }
  }

  function complete(ticket: number): void {
    if (ticket === NO_ACK) return;
    acks.complete(ticket);
    drainAcks();
  }

  function drainAcks(): void {
    // Sent once CONNACK is in; a closed connection's tickets were dropped by the 'close' handler.
    if (!client.connected) return;
    const pubacks = acks.take();
    if (!pubacks) return;
    client.stream.write(pubacks);
    stats.acked += pubacks.length / 4;
  }

  function scheduleFlush(): void {
    if (writing || retryTimer) return; // the end of the write or the retry flushes
    if (unwritten.length >= batchSize) {
      flush();
    } else if (!flushTimer && unwritten.length > 0) {
      flushTimer = setTimeout(flush, flushMs);
    }
  }

  function flush(): void {
    clearTimeout(flushTimer);
    flushTimer = undefined;
    retryTimer = undefined;
    if (writing || unwritten.length === 0) return;
    const whole = unwritten.length <= batchSize;
    const batch = whole ? unwritten : unwritten.slice(0, batchSize);
    const tickets = whole ? unwrittenTickets : unwrittenTickets.slice(0, batchSize);
    unwritten = whole ? [] : unwritten.slice(batchSize);
    unwrittenTickets = whole ? [] : unwrittenTickets.slice(batchSize);
    writing = batch;
    let write: Promise<void>;
    try {
      write = options.writer.writeReadings(batch);
    } catch (err) {
      write = Promise.reject(err);
    }
    writeDone = write.then(
      () => {
        writing = null;
        failures = 0;
        stats.stored += batch.length;
        for (let i = 0; i < batch.length; i++) {
          const reading = batch[i]!;
          recentlyStored?.add(reading.meter, reading.seq);
          if (tickets[i] !== NO_ACK) acks.complete(tickets[i]!);
          if (seeded) tracker?.stored(reading.meter, reading.seq);
        }
        drainAcks();
        scheduleFlush();
      },
      (err: unknown) => {
        writing = null;
        failures += 1;
        stats.writeFailures += 1;
        stats.lastWriteError = err instanceof Error ? err.message : String(err);
        // Back to the front, except messages whose connection closed meanwhile (redelivered).
        const readings: StoredReading[] = [];
        const kept: number[] = [];
        for (let i = 0; i < batch.length; i++) {
          if (tickets[i] !== NO_ACK && !acks.current(tickets[i]!)) continue;
          readings.push(batch[i]!);
          kept.push(tickets[i]!);
        }
        unwritten = readings.concat(unwritten);
        unwrittenTickets = kept.concat(unwrittenTickets);
        const delay = Math.min(retryMaxMs, retryBaseMs * 2 ** Math.min(failures - 1, 20));
        log.warn(
          { err: stats.lastWriteError, readings: batch.length, failures, retryInMs: delay },
          'write failed; holding the messages unacknowledged and retrying',
        );
        if (!stopping) retryTimer = setTimeout(flush, delay * (0.8 + Math.random() * 0.4));
      },
    );
  }

  return {
    ready,
    stats: () => ({
      ...stats,
      deadLetteredByCode: { ...deadLetteredByCode },
      inFlight: acks.size,
      connected: client.connected,
      protocolVersion: client.options.protocolVersion === 5 ? 5 : 4,
      connectFailures: reconnects.failures,
      gaps: tracker?.gapStats() ?? null,
      invalidControl: invalidControlCount,
    }),
    lost: (limit) => tracker?.lost(limit) ?? [],
    async stop() {
      if (stopping) return;
      stopping = true;
      clearTimeout(retryTimer);
      clearInterval(gapTimer);
      retryTimer = undefined;
      const deadline = Date.now() + stopTimeoutMs;
      const failuresBefore = failures;
      // Write what was received (in batches) while time allows, so that its PUBACKs can go out. If
      // the store fails, the rest is left to the broker, which redelivers it to the next session.
      while ((writing || unwritten.length > 0) && Date.now() < deadline && failures <= failuresBefore) {
        if (!writing) flush();
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        });
        await Promise.race([writeDone, timeout]);
        clearTimeout(timer);
      }
      clearTimeout(flushTimer);
      await new Promise<void>((resolve) => client.end(!client.connected, {}, () => resolve()));
      await seeding;
      tracker?.close();
      log.info({ ...stats }, 'stopped');
    },
  };
}

function refusalHint(refusal: string): string {
  switch (refusal) {
    case 'credentials':
      return 'check the username and password (mqtt.username, mqtt.passwordEnv)';
    case 'authorization':
      return 'the account may not connect; check the broker ACL and password file';
    case 'client-id':
      return 'the broker rejected the client id';
    default:
      return 'the broker speaks no MQTT version ingest can use (3.1.1 or 5)';
  }
}
