import type { MqttConnection } from '../../../adapters/mqtt/connection.ts';
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { LoadedCampus } from '../../../config/campus.ts';
import {
  DeviceHealthSchema,
  GatewayStatusSchema,
  ReadingSchema,
  TOPIC_ROOT,
  type DeviceHealth,
  type GatewayStatus,
  type Reading,
} from '../../../config/schemas/reading.ts';
import type { Clock } from '../../platform/db.ts';
import type { CumulativeQuantity, MeterKind, ReadingStore } from '../storage.ts';
import { RateWindow } from '../../platform/metrics/exposition.ts';
import { Fanout, type SseSink, type Subscription } from './fanout.ts';
import { CUMULATIVE_OF, TodayTracker } from './today.ts';
import type { HealthResponse, LiveReading } from './types.ts';

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
  mqtt: MqttConnection & { protocolVersion?: 4 | 5; clientId?: string };
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
   * the broker refused it (ACL). Not awaited by startLiveHub: the view starts while the broker is
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

/** Staleness threshold when a meter's poll interval is unknown. */
export const DEFAULT_STALE_MS = 5 * 60_000;
/** A reading is stale after this many poll intervals without a newer one. */
export const STALE_INTERVALS = 3;

interface MeterInfo {
  id: string;
  site: string;
  gateway: string;
  kind: MeterKind;
  pollInterval: number;
  order: number;
}

interface MeterState {
  info: MeterInfo;
  quantity: CumulativeQuantity;
  reading: Reading | null;
  /** The latest good value of the meter's cumulative quantity. */
  register: { ts: number; value: number } | null;
  /** What the clients were last told. */
  shownStale: boolean;
  shownToday: number | null;
}

function campusMeters(campus: LoadedCampus): Map<string, MeterInfo> {
  const out = new Map<string, MeterInfo>();
  for (const site of campus.config.sites) {
    for (const gateway of site.gateways) {
      const meters = [...gateway.buses.flatMap((b) => b.meters), ...gateway.opcua.flatMap((d) => d.meters)];
      for (const m of meters) {
        out.set(m.id, {
          id: m.id,
          site: site.id,
          gateway: gateway.id,
          kind: m.kind,
          pollInterval: m.pollInterval,
          order: out.size,
        });
      }
    }
  }
  return out;
}

const sseEvent = (r: LiveReading) => `event: reading\ndata: ${JSON.stringify(r)}\n\n`;

export async function startLiveHub(options: LiveHubOptions): Promise<LiveHub> {
  const { campus, store } = options;
  const clock = options.clock ?? Date.now;
  const log = options.logger.child({ component: 'live' });
  const timezone = campus.config.campus.timezone;
  const meters = campusMeters(campus);
  const states = new Map<string, MeterState>();
  const fanout = new Fanout(options.flushMs ?? 25);
  const rate = new RateWindow(10, clock);
  const counters = { received: 0, applied: 0, rejected: 0 };
  const statuses = new Map<string, { site: string; status: GatewayStatus }>();
  const devices = new Map<string, { gateway: string; health: DeviceHealth }>();

  const today = new TodayTracker({
    store,
    timezone,
    clock,
    logger: log,
    onResolved: (meter) => {
      const s = states.get(meter);
      if (s?.reading) emit(s, clock());
    },
  });

  const staleAfter = (s: MeterState) =>
    s.info.pollInterval > 0 ? STALE_INTERVALS * s.info.pollInterval : DEFAULT_STALE_MS;

  function view(s: MeterState, now: number): LiveReading {
    const r = s.reading!;
    return {
      meter: r.meter,
      ts: r.ts,
      seq: r.seq,
      quality: r.quality,
      values: r.values,
      ...(r.error ? { error: r.error } : {}),
      ...(r.flags ? { flags: r.flags } : {}),
      stale: now - r.ts > staleAfter(s),
      today: today.today(s.info.id, s.register, now),
    };
  }

  function emit(s: MeterState, now: number): void {
    const v = view(s, now);
    s.shownStale = v.stale;
    s.shownToday = v.today ?? null;
    fanout.publish(s.info.id, sseEvent(v));
  }

  /** Takes a reading if it is newer than the one held; returns whether it did. */
  function apply(info: MeterInfo, r: Reading): boolean {
    let s = states.get(info.id);
    if (!s) {
      s = {
        info,
        quantity: CUMULATIVE_OF[info.kind],
        reading: null,
        register: null,
        shownStale: false,
        shownToday: null,
      };
      states.set(info.id, s);
    }
    const cur = s.reading;
    if (cur && (r.ts < cur.ts || (r.ts === cur.ts && r.seq <= cur.seq))) return false;
    s.reading = r;
    const value = r.quality !== 'error' ? r.values[s.quantity] : undefined;
    if (value !== undefined) {
      if (!s.register || r.ts >= s.register.ts) s.register = { ts: r.ts, value };
      today.observe(info.id, s.quantity, r.ts, value);
    }
    return true;
  }

  // Seed before subscribing, so the first message always finds the meter's stored state.
  for (const r of await store.latest()) {
    const info = meters.get(r.meter);
    if (!info) continue;
    const { site: _s, gateway: _g, kind: _k, ...reading } = r;
    apply(info, reading);
  }
  log.info({ meters: states.size }, 'live view seeded from the store');

  const filters = {
    [`${TOPIC_ROOT}/+/+/+/reading`]: { qos: 0 as const },
    [`${TOPIC_ROOT}/+/+/status`]: { qos: 0 as const },
    [`${TOPIC_ROOT}/+/+/device/+/health`]: { qos: 0 as const },
  };
  const client: MqttClient = mqtt.connect(options.mqtt.url, {
    clientId:
      options.mqtt.clientId ?? `campus-energy-live-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
    username: options.mqtt.username,
    password: options.mqtt.password,
    ...(options.mqtt.ca ? { ca: options.mqtt.ca } : {}),
    protocolVersion: options.mqtt.protocolVersion ?? 4,
    clean: true,
    reconnectPeriod: 1_000,
    // Subscribed again on every connect below (a clean session forgets it).
    resubscribe: false,
  });
  let markReady: () => void = () => {};
  let refuse: (err: Error) => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    refuse = reject;
  });
  // Whoever awaits `ready` hears of a refusal; nobody awaiting it must not crash the process.
  ready.catch(() => {});
  client.on('connect', () => {
    client.subscribe(filters, (err, granted) => {
      // mqtt.js reports a refused filter (SUBACK 0x80) as an error, or as granted QoS 128.
      const refused = (granted ?? []).filter((g) => g.qos === 128).map((g) => g.topic);
      if (err && !('packet' in err) && refused.length === 0) {
        // Not an answer from the broker (the connection dropped): the next connect subscribes again.
        log.warn({ err: err.message }, 'live view subscription interrupted');
        return;
      }
      if (err || refused.length > 0) {
        const message = `the broker refused the live view subscription${refused.length ? ` to ${refused.join(', ')}` : ''} (${err?.message ?? 'SUBACK 0x80'}): connect as a principal that may read ${TOPIC_ROOT}/# (svc/monitor)`;
        log.error({ refused }, message);
        refuse(new Error(message));
        return;
      }
      markReady();
    });
  });
  client.on('error', (err) => log.warn({ err: err.message }, 'live view MQTT error'));
  client.on('offline', () => log.warn('live view MQTT offline; reconnecting'));

  const reject = (topic: string, why: string) => {
    counters.rejected++;
    log.debug({ topic, why }, 'live view ignored a message');
  };

  client.on('message', (topic, payload) => {
    const parts = topic.split('/');
    // campus/v1/<site>/<gateway>/...
    const [, , site, gateway] = parts;
    if (!site || !gateway) return;
    let json: unknown;
    try {
      json = JSON.parse(payload.toString('utf8'));
    } catch {
      // An empty retained payload clears a retained topic: forget what it said.
      if (payload.length === 0 && parts.length === 5) statuses.delete(gateway);
      else if (payload.length === 0 && parts.length === 7) devices.delete(`${gateway}/${parts[5]}`);
      else reject(topic, 'not JSON');
      return;
    }
    if (parts.length === 6 && parts[5] === 'reading') {
      const parsed = ReadingSchema.safeParse(json);
      if (!parsed.success) return reject(topic, 'not a reading');
      const r = parsed.data;
      const info = meters.get(r.meter);
      if (!info || r.meter !== parts[4] || info.site !== site || info.gateway !== gateway) {
        return reject(topic, 'meter unknown or published by the wrong gateway');
      }
      const now = clock();
      counters.received++;
      rate.add(1, now);
      if (!apply(info, r)) return;
      counters.applied++;
      emit(states.get(info.id)!, now);
    } else if (parts.length === 5 && parts[4] === 'status') {
      const parsed = GatewayStatusSchema.safeParse(json);
      if (!parsed.success) return reject(topic, 'not a gateway status');
      statuses.set(gateway, { site, status: parsed.data });
    } else if (parts.length === 7 && parts[4] === 'device' && parts[6] === 'health') {
      const parsed = DeviceHealthSchema.safeParse(json);
      if (!parsed.success) return reject(topic, 'not a device health');
      devices.set(`${gateway}/${parts[5]}`, { gateway, health: parsed.data });
    }
  });

  function checkStale(): number {
    const now = clock();
    let changed = 0;
    for (const s of states.values()) {
      if (!s.reading) continue;
      const stale = now - s.reading.ts > staleAfter(s);
      const t = today.today(s.info.id, s.register, now);
      if (stale !== s.shownStale || t !== s.shownToday) {
        emit(s, now);
        changed++;
      }
    }
    return changed;
  }
  const staleTimer = setInterval(checkStale, options.staleCheckMs ?? 5_000);
  staleTimer.unref();

  const byOrder = (a: MeterState, b: MeterState) => a.info.order - b.info.order;
  const selected = (ids?: readonly string[]): MeterState[] => {
    if (!ids) return [...states.values()].filter((s) => s.reading).sort(byOrder);
    const out: MeterState[] = [];
    for (const id of new Set(ids)) {
      const s = states.get(id);
      if (s?.reading) out.push(s);
    }
    return out.sort(byOrder);
  };

  let stopping: Promise<void> | undefined;
  return {
    ready,
    latest: (ids) => {
      const now = clock();
      return selected(ids).map((s) => view(s, now));
    },
    knows: (meter) => meters.has(meter),
    health(): HealthResponse {
      const gateways: HealthResponse['gateways'] = [];
      const seen = new Set<string>();
      const add = (id: string, site: string) => {
        seen.add(id);
        const st = statuses.get(id)?.status;
        gateways.push({
          id,
          site,
          state: st?.state ?? 'unknown',
          ts: st?.ts ?? null,
          ...(st?.meters !== undefined ? { meters: st.meters } : {}),
          ...(st?.outbox ? { outbox: st.outbox } : {}),
        });
      };
      for (const site of campus.config.sites) for (const g of site.gateways) add(g.id, site.id);
      for (const [id, { site }] of statuses) if (!seen.has(id)) add(id, site);
      const devs = [...devices.values()]
        .map(({ gateway, health: h }) => ({
          gateway,
          device: h.device,
          breaker: h.breaker,
          errorRate: h.errorRate,
          latencyMs: h.latencyMs,
          lastError: h.lastError,
          ts: h.ts,
        }))
        .sort((a, b) => a.gateway.localeCompare(b.gateway) || a.device.localeCompare(b.device));
      return { gateways, devices: devs };
    },
    subscribe(ids, sink) {
      const now = clock();
      const initial = selected(ids ?? undefined).map(
        (s) => [s.info.id, sseEvent(view(s, now))] as [string, string],
      );
      return fanout.subscribe(ids, sink, initial);
    },
    checkStale,
    flush: () => fanout.flush(),
    settled: () => today.idle(),
    stats: () => ({
      ...counters,
      receivedPerSecond: rate.perSecond(),
      meters: states.size,
      ...fanout.stats(),
      connected: client.connected,
    }),
    stop: () =>
      (stopping ??= (async () => {
        clearInterval(staleTimer);
        today.stop();
        fanout.closeAll();
        await client.endAsync();
        log.info('live view stopped');
      })()),
  };
}
