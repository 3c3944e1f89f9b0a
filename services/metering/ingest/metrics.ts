import type { Logger } from 'pino';
import type { RunningIngest } from './run.ts';
import { CounterRate, type Collector, type MetricFamily, single } from '../../platform/metrics/exposition.ts';
import { processFamilies } from '../../platform/metrics/process.ts';
import { startMetricsServer, type MetricsServer } from '../../platform/metrics/server.ts';

/**
 * Ingest's metrics: messages received, readings stored (and the rate over the last minute of
 * scrapes), dead letters by code (this process's and the dead-letter file's all-time counts),
 * duplicates, acknowledgements, write failures.
 */

export type IngestMetricsSource = Pick<RunningIngest, 'ingest' | 'deadLetters'>;

export function ingestMetrics(running: IngestMetricsSource, clock: () => number = Date.now): Collector {
  // Sampled at each scrape: no timer of its own. The first scrape reports 0.
  const rate = new CounterRate(60);
  return () => {
    const s = running.ingest.stats();
    rate.sample(clock(), s.stored);
    const dead = running.deadLetters.counts();
    const families: MetricFamily[] = [
      single(
        'campus_energy_ingest_received_total',
        'counter',
        'Messages received, redeliveries included',
        s.received,
      ),
      single(
        'campus_energy_ingest_stored_total',
        'counter',
        'Readings in store writes that succeeded',
        s.stored,
      ),
      single(
        'campus_energy_ingest_stored_per_second',
        'gauge',
        'Readings stored per second since a scrape up to a minute ago',
        Math.round(rate.perSecond() * 10) / 10,
      ),
      {
        name: 'campus_energy_ingest_dead_lettered_total',
        type: 'counter',
        help: 'Messages this process dead-lettered, by code',
        samples: Object.entries(s.deadLetteredByCode).map(([code, value]) => ({ labels: { code }, value })),
      },
      {
        name: 'campus_energy_ingest_dead_letters_file_total',
        type: 'counter',
        help: 'Messages ever dead-lettered into the dead-letter file (every instance and restart), by code',
        samples: Object.entries(dead.byCode).map(([code, value]) => ({ labels: { code }, value })),
      },
      single(
        'campus_energy_ingest_duplicates_total',
        'counter',
        'Messages skipped as a repeat of a reading just stored',
        s.duplicates,
      ),
      single(
        'campus_energy_ingest_in_flight',
        'gauge',
        'Messages received and not yet acknowledged',
        s.inFlight,
      ),
      single('campus_energy_ingest_acked_total', 'counter', 'PUBACKs sent', s.acked),
      single(
        'campus_energy_ingest_write_failures_total',
        'counter',
        'Store writes that failed (retried)',
        s.writeFailures,
      ),
      single(
        'campus_energy_ingest_mqtt_connected',
        'gauge',
        '1 while ingest is connected to the broker',
        s.connected ? 1 : 0,
      ),
      single(
        'campus_energy_ingest_mqtt_connect_failures_total',
        'counter',
        'Connections to the broker refused, failed or lost (each retried with a capped backoff)',
        s.connectFailures,
      ),
      single(
        'campus_energy_ingest_mqtt_protocol_version',
        'gauge',
        'The MQTT version in use: 5, or 4 (3.1.1) where the broker refused 5',
        s.protocolVersion,
      ),
      ...gapFamilies(running),
      ...processFamilies('ingest'),
    ];
    return families;
  };
}

/** End-to-end acknowledgement: holes followed, replay requests, and each lost range by name. */
function gapFamilies(running: IngestMetricsSource): MetricFamily[] {
  const gaps = running.ingest.stats().gaps;
  if (!gaps) return [];
  return [
    single(
      'campus_energy_ingest_gap_meters',
      'gauge',
      'Meters with readings numbered by their gateway and not yet stored',
      gaps.openMeters,
    ),
    single(
      'campus_energy_ingest_gap_readings',
      'gauge',
      'Readings found missing in the store at the last check, being asked for again',
      gaps.missing,
    ),
    single(
      'campus_energy_ingest_replay_requests_total',
      'counter',
      'Replay requests sent to gateways',
      gaps.requests,
    ),
    single(
      'campus_energy_ingest_readings_lost_total',
      'counter',
      'Readings no store and no gateway holds (past the replay window)',
      gaps.lostReadings,
    ),
    {
      name: 'campus_energy_ingest_lost_range',
      type: 'gauge',
      help: 'The newest lost ranges, by meter and seq range; the value is the number of readings',
      samples: running.ingest.lost(50).map((l) => ({
        labels: { meter: l.meter, from: String(l.from), to: String(l.to) },
        value: l.to - l.from + 1,
      })),
    },
  ];
}

export interface IngestMetricsOptions {
  running: IngestMetricsSource;
  /** Default 127.0.0.1: the endpoint has no authentication. */
  host?: string;
  port: number;
  logger?: Logger;
}

/** Serves `GET /metrics` for a running ingest (`campus-energy ingest --metrics host:port`). */
export function startIngestMetrics(options: IngestMetricsOptions): Promise<MetricsServer> {
  return startMetricsServer({
    collect: ingestMetrics(options.running),
    port: options.port,
    ...(options.host !== undefined ? { host: options.host } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });
}
