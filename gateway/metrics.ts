import type { Logger } from 'pino';
import type { DeviceHealth } from '../config/schemas/reading.ts';
import type { RunningGateway } from './gateway.ts';
import type { Collector, MetricFamily, Sample } from '../services/platform/metrics/exposition.ts';
import { processFamilies } from '../services/platform/metrics/process.ts';
import { startMetricsServer, type MetricsServer } from '../services/platform/metrics/server.ts';
import type { BrokerRefusals } from '../adapters/mqtt/embedded-broker.ts';

/**
 * A gateway's metrics: polls and errors per device and bus, breaker state and latency per device,
 * outbox depth and age, publisher counts. Every sample carries the `gateway` label, so one
 * Prometheus can scrape every gateway of the campus.
 *
 * Errors by code: the device health trackers count errors but keep only the last error's code.
 * `campus_energy_gateway_errors_by_code_total` therefore attributes each scrape's new errors of a
 * device to that device's last error code: exact while a device fails for one reason between two
 * scrapes (the usual case: a meter that times out keeps timing out), approximate otherwise.
 */

export type GatewayMetricsSource = Pick<RunningGateway, 'id' | 'buses' | 'opcua' | 'publisher' | 'status'> &
  Partial<Pick<RunningGateway, 'commandStats'>>;

interface DeviceRow {
  bus: string;
  health: DeviceHealth;
}

const BREAKER_STATES = ['closed', 'half-open', 'open'] as const;

/** What the embedded broker a gateway runs (no broker configured) refused: forged or misdirected clients. */
export function embeddedBrokerFamilies(
  labels: Record<string, string>,
  refused: BrokerRefusals,
): MetricFamily[] {
  const what = [
    ['connections', 'Connections the embedded broker refused (no or wrong credentials)'],
    ['publishes', "Publishes the embedded broker refused (outside the account's grants)"],
    ['subscriptions', "Subscriptions the embedded broker refused (outside the account's grants)"],
  ] as const;
  return what.map(([kind, help]) => ({
    name: `campus_energy_broker_refused_${kind}_total`,
    type: 'counter' as const,
    help,
    samples: [{ labels, value: refused[kind] }],
  }));
}

export function gatewayMetrics(
  gateway: GatewayMetricsSource,
  clock: () => number = Date.now,
  broker?: { refused(): BrokerRefusals },
): Collector {
  const seenErrors = new Map<string, number>();
  const byCode = new Map<string, number>();

  return () => {
    const now = clock();
    const gw = gateway.id;
    const rows: DeviceRow[] = [
      ...gateway.buses.flatMap((b) => b.targets.map((t) => ({ bus: b.id, health: t.health.snapshot(now) }))),
      ...gateway.opcua.map((d) => ({ bus: `opcua:${d.health.device}`, health: d.health.snapshot(now) })),
    ];
    for (const { bus, health: h } of rows) {
      const key = `${bus}|${h.device}`;
      const before = seenErrors.get(key) ?? 0;
      if (h.errors > before) {
        const code = h.lastError?.code ?? 'UNKNOWN';
        byCode.set(code, (byCode.get(code) ?? 0) + (h.errors - before));
      }
      seenErrors.set(key, h.errors);
    }
    const perDevice = (value: (h: DeviceHealth) => number | null): Sample[] =>
      rows.flatMap(({ bus, health: h }) => {
        const v = value(h);
        return v === null ? [] : [{ labels: { gateway: gw, bus, device: h.device }, value: v }];
      });
    const perBus = new Map<string, { polls: number; errors: number }>();
    for (const { bus, health: h } of rows) {
      const agg = perBus.get(bus) ?? { polls: 0, errors: 0 };
      agg.polls += h.polls;
      agg.errors += h.errors;
      perBus.set(bus, agg);
    }
    const status = gateway.status();
    const outbox = status.outbox;
    const pub = gateway.publisher.stats();
    const g = { gateway: gw };
    const families: MetricFamily[] = [
      {
        name: 'campus_energy_gateway_polls_total',
        type: 'counter',
        help: 'Polls per bus (an OPC UA device counts as a bus named opcua:<device>)',
        samples: [...perBus].map(([bus, a]) => ({ labels: { ...g, bus }, value: a.polls })),
      },
      {
        name: 'campus_energy_gateway_poll_errors_total',
        type: 'counter',
        help: 'Failed polls per bus',
        samples: [...perBus].map(([bus, a]) => ({ labels: { ...g, bus }, value: a.errors })),
      },
      {
        name: 'campus_energy_gateway_errors_by_code_total',
        type: 'counter',
        help: "Failed polls by error code (attributed at scrape time to each device's last error code)",
        samples: [...byCode].map(([code, value]) => ({ labels: { ...g, code }, value })),
      },
      {
        name: 'campus_energy_gateway_device_polls_total',
        type: 'counter',
        help: 'Polls per device (<bus>.<unitId>, or the OPC UA device id)',
        samples: perDevice((h) => h.polls),
      },
      {
        name: 'campus_energy_gateway_device_errors_total',
        type: 'counter',
        help: 'Failed polls per device',
        samples: perDevice((h) => h.errors),
      },
      {
        name: 'campus_energy_gateway_device_error_ratio',
        type: 'gauge',
        help: 'Share of the last 20 polls of the device that failed',
        samples: perDevice((h) => h.errorRate),
      },
      {
        name: 'campus_energy_gateway_device_latency_seconds',
        type: 'gauge',
        help: 'Smoothed answer time of the device',
        samples: perDevice((h) => (h.latencyMs === null ? null : h.latencyMs / 1000)),
      },
      {
        name: 'campus_energy_gateway_device_breaker',
        type: 'gauge',
        help: "1 for the device's circuit-breaker state, 0 for the others",
        samples: rows.flatMap(({ bus, health: h }) =>
          BREAKER_STATES.map((state) => ({
            labels: { gateway: gw, bus, device: h.device, state },
            value: h.breaker === state ? 1 : 0,
          })),
        ),
      },
      {
        name: 'campus_energy_gateway_outbox_messages',
        type: 'gauge',
        help: 'Readings in the disk outbox not yet acknowledged by the broker',
        samples: [{ labels: g, value: outbox?.messages ?? 0 }],
      },
      {
        name: 'campus_energy_gateway_outbox_bytes',
        type: 'gauge',
        help: 'Payload bytes in the disk outbox',
        samples: [{ labels: g, value: outbox?.bytes ?? 0 }],
      },
      {
        name: 'campus_energy_gateway_outbox_oldest_age_seconds',
        type: 'gauge',
        help: 'Age of the oldest reading in the outbox (0 when empty)',
        samples: [
          { labels: g, value: outbox?.oldestTs != null ? Math.max(0, (now - outbox.oldestTs) / 1000) : 0 },
        ],
      },
      {
        name: 'campus_energy_gateway_outbox_dropped_total',
        type: 'counter',
        help: 'Readings lost: evicted from a full outbox or refused by the disk',
        samples: [{ labels: g, value: outbox?.dropped ?? 0 }],
      },
      {
        name: 'campus_energy_gateway_published_total',
        type: 'counter',
        help: 'Outbox rows handed to the MQTT client (a resend counts again)',
        samples: [{ labels: g, value: pub.published }],
      },
      {
        name: 'campus_energy_gateway_acked_total',
        type: 'counter',
        help: 'Outbox rows the broker acknowledged',
        samples: [{ labels: g, value: pub.acked }],
      },
      {
        name: 'campus_energy_gateway_in_flight',
        type: 'gauge',
        help: 'Readings published and not yet acknowledged',
        samples: [{ labels: g, value: pub.inFlight }],
      },
      {
        name: 'campus_energy_gateway_mqtt_connected',
        type: 'gauge',
        help: '1 while the gateway is connected to the broker',
        samples: [{ labels: g, value: pub.connected ? 1 : 0 }],
      },
      {
        name: 'campus_energy_gateway_mqtt_connect_failures_total',
        type: 'counter',
        help: 'Connections to the broker refused, failed or lost (each retried within 1.5 s)',
        samples: [{ labels: g, value: pub.connectFailures }],
      },
      ...(broker ? embeddedBrokerFamilies({ gateway: gw }, broker.refused()) : []),
      {
        name: 'campus_energy_gateway_bus_wire_load_ratio',
        type: 'gauge',
        help: "Wire time a serial line's configured polls need per second (above 1: overloaded, meters read less often than configured)",
        samples: gateway.buses.flatMap((b) =>
          b.budget ? [{ labels: { gateway: gw, bus: b.id }, value: b.budget.load }] : [],
        ),
      },
      ...commandFamilies(gw, gateway.commandStats?.() ?? null),
      ...processFamilies('gateway'),
    ];
    return families;
  };
}

export interface GatewayMetricsOptions {
  gateway: GatewayMetricsSource;
  /** The embedded broker this process runs, if any: its refusals are exported too. */
  broker?: { refused(): BrokerRefusals };
  /** Default 127.0.0.1: the endpoint has no authentication. */
  host?: string;
  port: number;
  logger?: Logger;
}

/** Serves `GET /metrics` for a running gateway (`campus-energy gateway --metrics host:port`). */
export function startGatewayMetrics(options: GatewayMetricsOptions): Promise<MetricsServer> {
  return startMetricsServer({
    collect: gatewayMetrics(options.gateway, Date.now, options.broker),
    port: options.port,
    ...(options.host !== undefined ? { host: options.host } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });
}

/** Relay commands this gateway took on and executed, and messages it refused (forged, replayed…). */
function commandFamilies(
  gw: string,
  stats: { received: number; executed: number; refused: number } | null,
): MetricFamily[] {
  if (!stats) return [];
  return [
    {
      name: 'campus_energy_gateway_relay_commands_total',
      type: 'counter',
      help: 'Relay command messages since start: received, executed, and refused or failed (each answered, signed)',
      samples: (['received', 'executed', 'refused'] as const).map((outcome) => ({
        labels: { gateway: gw, outcome },
        value: stats[outcome],
      })),
    },
  ];
}
