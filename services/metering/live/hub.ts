import type { Logger } from 'pino';
import type { LoadedCampus } from '../../../config/campus.ts';
import type { Clock } from '../../platform/db.ts';
import type { ReadingStore } from '../storage.ts';
import { Fanout, type SseSink, type Subscription } from './fanout.ts';
import { LiveMeters } from './hub-meters.ts';
import { LiveMessages } from './hub-messages.ts';
import { subscribeLive, type LiveMqttConnection } from './hub-mqtt.ts';
import type { HealthResponse, LiveReading } from './types.ts';

export { DEFAULT_STALE_MS, STALE_INTERVALS } from './hub-meters.ts';

/**
 * The live view's source: one MQTT connection, subscribed at QoS 0 to every reading, gateway
 * status and device health (a view may miss a message; storing every reading is ingest's job),
 * holding each meter's latest reading and fanning updates out to server-sent-event clients.
 *
 * - Seeded from `store.latest()` at start, so the view is complete before the first message.
 * - A reading replaces the held one only if it is newer (ts, then seq): a gateway replaying its
 *   outbox after an outage, or a redelivery, never moves a meter back in time.
 * - `stale`: the reading's own `ts` is more than 3 poll intervals old (the meter's `pollInterval`
 *   from the campus file; 5 min for a meter the file does not know). Judged by the gateway's poll
 *   time, not by arrival, so that a replayed backlog does not look fresh. Re-checked every
 *   `staleCheckMs`; a meter turning stale (or its `today` changing at midnight) is pushed too.
 * - `today`: see today.ts.
 * - Readings of meters the campus file does not list, from the wrong gateway, or not matching
 *   the schema are not shown and are counted (ingest dead-letters them).
 *
 * Connect as a principal that may read `campus/v1/#` (the `svc/monitor` user of the broker ACL).
 */

export interface LiveHubOptions {
  campus: LoadedCampus;
  mqtt: LiveMqttConnection;
  store: ReadingStore;
  clock?: Clock;
  logger: Logger;
  /** How often staleness is re-checked and changes pushed (default 5 s). */
  staleCheckMs?: number;
  /** How long updates are gathered before one write per client (default 25 ms). */
  flushMs?: number;
}

export interface LiveHubStats {
  /** Valid readings received over MQTT. */
  received: number;
  /** Of those, readings newer than the one held (the others were older or repeated). */
  applied: number;
  /** Readings received per second over the last 10 s. */
  receivedPerSecond: number;
  /** Messages not shown: invalid JSON or schema, unknown meter, wrong gateway. */
  rejected: number;
  /** Meters with a reading. */
  meters: number;
  clients: number;
  /** Events written to SSE clients. */
  sent: number;
  /** Events a slow client never got because a newer value of the same meter replaced them. */
  dropped: number;
  connected: boolean;
}

export interface LiveHub {
  /**
   * Resolves once the broker acknowledged the subscription (retained status follows); rejects if
   * the broker refused it (ACL). Not awaited by createLiveHub: the view starts while the broker is
   * away and subscribes whenever it connects.
   */
  readonly ready: Promise<void>;
  /** Latest readings of the given meters (default all with a reading), in campus-file order. */
  latest(meters?: readonly string[]): LiveReading[];
  /** Whether the campus file lists this meter. */
  knows(meter: string): boolean;
  health(): HealthResponse;
  /**
   * Streams `reading` events for the meters (null: all) to `sink`, starting with their current
   * readings. The caller closes the subscription when its client goes away.
   */
  subscribe(meters: readonly string[] | null, sink: SseSink): Subscription;
  /** Re-evaluates staleness and `today` now and pushes the meters that changed; returns how many. */
  checkStale(): number;
  /** Writes pending events to every client now instead of at the next flush. */
  flush(): void;
  /** Resolves once no `today` lookup is queued or running. */
  settled(): Promise<void>;
  stats(): LiveHubStats;
  stop(): Promise<void>;
}

/** The live view, seeded from the store and subscribed to the broker (see above). */
export async function createLiveHub(options: LiveHubOptions): Promise<LiveHub> {
  const { campus } = options;
  const clock = options.clock ?? Date.now;
  const log = options.logger.child({ component: 'live' });
  const fanout = new Fanout(options.flushMs ?? 25);
  const meters = new LiveMeters({ campus, store: options.store, fanout, clock, log });
  const messages = new LiveMessages(meters, clock, log);
  // Seed before subscribing, so the first message always finds the meter's stored state.
  await meters.seed();
  log.info({ meters: meters.size }, 'live view seeded from the store');
  const { client, ready } = subscribeLive(options.mqtt, log, (topic, payload) =>
    messages.handle(topic, payload),
  );
  const checkStale = () => meters.checkStale(clock());
  const staleTimer = setInterval(checkStale, options.staleCheckMs ?? 5_000);
  staleTimer.unref();

  let stopping: Promise<void> | undefined;
  return {
    ready,
    latest: (ids) => meters.latest(ids, clock()),
    knows: (meter) => meters.known.has(meter),
    health: () => messages.health(campus),
    subscribe: (ids, sink) => fanout.subscribe(ids, sink, meters.events(ids ?? undefined, clock())),
    checkStale,
    flush: () => fanout.flush(),
    settled: () => meters.settled(),
    stats: () => ({
      ...messages.counters,
      receivedPerSecond: messages.rate.perSecond(),
      meters: meters.size,
      ...fanout.stats(),
      connected: client.connected,
    }),
    stop: () =>
      (stopping ??= (async () => {
        clearInterval(staleTimer);
        meters.stop();
        fanout.closeAll();
        await client.endAsync();
        log.info('live view stopped');
      })()),
  };
}

/** The former name of createLiveHub: the same factory. */
export const startLiveHub = createLiveHub;
