import type { FastifyInstance } from 'fastify';
import type { AuditLog } from '../platform/audit/audit-log.ts';
import type { Clock } from '../platform/db.ts';
import type { RelayControl } from '../operations/control/relay-control.ts';
import type { Users } from '../platform/auth/users.ts';
import type { AlertStore } from '../inspection/detection/alerts.ts';
import type { LiveHub, LiveHubStats } from '../metering/live/hub.ts';
import {
  CONTENT_TYPE,
  renderMetrics,
  type Collector,
  type MetricFamily,
  single,
} from '../platform/metrics/exposition.ts';
import { processFamilies, startEventLoopMonitor } from '../platform/metrics/process.ts';

/**
 * The back office's metrics: the live view (readings received, SSE clients and drops), alerts by
 * state and type, audit entries, relay requests by state.
 *
 * `GET /metrics` is public, like Prometheus expects, and shows counts only (no meter, account or
 * user). Still, the back office should listen on loopback behind the TLS proxy, and the proxy
 * should not forward /metrics (or only from the monitoring network); otherwise anyone who can
 * reach the API learns how busy inspectors and relays are.
 */

export interface BackofficeMetricsDeps {
  hub?: Pick<LiveHub, 'stats'>;
  alerts?: Pick<AlertStore, 'list'>;
  audit?: Pick<AuditLog, 'head'>;
  control?: Pick<RelayControl, 'list' | 'ackStats'>;
  /** Logins, and refused ones by reason. */
  users?: Pick<Users, 'loginStats'>;
  clock?: Clock;
  /**
   * Alerts and relay requests are counted from their stores' list(), which reads every row; the
   * counts are reused this long (default 15 s) so that frequent scrapes stay cheap.
   */
  cacheMs?: number;
}

const ALERT_LIMIT = 1_000_000;

function cached<T>(ttlMs: number, clock: Clock, compute: () => T): () => T {
  let value: T | undefined;
  let at = -Infinity;
  return () => {
    const now = clock();
    if (value === undefined || now - at >= ttlMs) {
      value = compute();
      at = now;
    }
    return value;
  };
}

function countBy<T>(items: readonly T[], key: (t: T) => string): Map<string, number> {
  const out = new Map<string, number>();
  for (const i of items) out.set(key(i), (out.get(key(i)) ?? 0) + 1);
  return out;
}

/** The live view's figures: name, type, help and the figure from its stats, one row each. */
const LIVE_METRICS: readonly [string, 'counter' | 'gauge', string, (s: LiveHubStats) => number][] = [
  [
    'campus_energy_live_readings_received_total',
    'counter',
    'Valid readings the live view received over MQTT',
    (s) => s.received,
  ],
  [
    'campus_energy_live_readings_per_second',
    'gauge',
    'Readings the live view received per second, averaged over the last 10 s',
    (s) => Math.round(s.receivedPerSecond * 10) / 10,
  ],
  [
    'campus_energy_live_messages_rejected_total',
    'counter',
    'MQTT messages the live view did not show (invalid, unknown meter, wrong gateway)',
    (s) => s.rejected,
  ],
  ['campus_energy_live_meters', 'gauge', 'Meters with a reading in the live view', (s) => s.meters],
  [
    'campus_energy_live_sse_clients',
    'gauge',
    'Server-sent-event clients connected to the live stream',
    (s) => s.clients,
  ],
  [
    'campus_energy_live_sse_events_sent_total',
    'counter',
    'Reading events written to SSE clients',
    (s) => s.sent,
  ],
  [
    'campus_energy_live_sse_events_dropped_total',
    'counter',
    'Reading events a slow SSE client never got because a newer value of the meter replaced them',
    (s) => s.dropped,
  ],
  [
    'campus_energy_live_mqtt_connected',
    'gauge',
    '1 while the live view is connected to the broker',
    (s) => (s.connected ? 1 : 0),
  ],
];

function liveFamilies(stats: LiveHubStats): MetricFamily[] {
  return LIVE_METRICS.map(([name, type, help, value]) => single(name, type, help, value(stats)));
}

export function backofficeMetrics(deps: BackofficeMetricsDeps): Collector {
  startEventLoopMonitor();
  const clock = deps.clock ?? Date.now;
  const ttl = deps.cacheMs ?? 15_000;
  const alertCounts = deps.alerts
    ? cached(ttl, clock, () =>
        countBy(deps.alerts!.list({ limit: ALERT_LIMIT }), (a) => `${a.state}\u0000${a.type}`),
      )
    : null;
  const relayCounts = deps.control
    ? cached(ttl, clock, () => countBy(deps.control!.list(), (r) => r.state))
    : null;

  return () => {
    const families: MetricFamily[] = [];
    if (deps.hub) families.push(...liveFamilies(deps.hub.stats()));
    if (alertCounts) {
      families.push({
        name: 'campus_energy_alerts',
        type: 'gauge',
        help: 'Alerts by state and type',
        samples: [...alertCounts()].map(([k, value]) => {
          const [state, type] = k.split('\u0000');
          return { labels: { state: state!, type: type! }, value };
        }),
      });
    }
    if (deps.audit) {
      families.push(
        single(
          'campus_energy_audit_entries_total',
          'counter',
          'Entries in the audit log (its chain head sequence number)',
          deps.audit.head()?.seq ?? 0,
        ),
      );
    }
    if (relayCounts) {
      families.push({
        name: 'campus_energy_relay_requests',
        type: 'gauge',
        help: 'Relay (cut-off and restore) requests by state',
        samples: [...relayCounts()].map(([state, value]) => ({ labels: { state }, value })),
      });
    }
    if (deps.users) families.push(...loginFamilies(deps.users.loginStats()));
    if (deps.control) families.push(ackFamily(deps.control.ackStats()));
    families.push(...processFamilies('backoffice'));
    return families;
  };
}

/** `GET /metrics` (public: see above) for `buildApi({ routes })` or the back office's extraRoutes. */
export function metricsRoutes(collect: Collector): ((app: FastifyInstance) => void)[] {
  return [
    (app) => {
      app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
        const text = renderMetrics(await collect());
        return reply.header('content-type', CONTENT_TYPE).header('cache-control', 'no-store').send(text);
      });
    },
  ];
}

/** Logins since start, and the refused ones by reason: a flood or a guessing run shows here first. */
function loginFamilies(s: ReturnType<Users['loginStats']>): MetricFamily[] {
  const reasons = ['wrong-password', 'unknown-user', 'disabled', 'no-password', 'rate-limited'];
  return [
    single('campus_energy_logins_total', 'counter', 'Successful logins since start', s.succeeded),
    {
      name: 'campus_energy_logins_refused_total',
      type: 'counter',
      help: 'Refused logins since start by reason',
      samples: reasons.map((reason) => ({ labels: { reason }, value: s.refused[reason] ?? 0 })),
    },
  ];
}

/**
 * What came back on the relay acknowledgement topics: outcomes recorded, messages the gateways
 * refused as commands, and acks refused as forged, unknown, mismatched, duplicate or malformed.
 */
function ackFamily(s: ReturnType<RelayControl['ackStats']>): MetricFamily {
  return {
    name: 'campus_energy_relay_acks_total',
    type: 'counter',
    help: 'Relay acknowledgement messages since start by outcome (refused_by_gateway: commands a gateway refused)',
    samples: [
      ['recorded', s.recorded],
      ['refused_by_gateway', s.refusedByGateway],
      ['forged', s.forged],
      ['unknown', s.unknown],
      ['mismatched', s.mismatched],
      ['duplicate', s.duplicates],
      ['invalid', s.invalid],
    ].map(([outcome, value]) => ({ labels: { outcome: outcome as string }, value: value as number })),
  };
}
