import { describe, expect, it } from 'vitest';
import type { DeviceHealth } from '../../config/schemas/reading.ts';
import { backofficeMetrics } from '../../services/backoffice/metrics.ts';
import { commandAckTopic } from '../../services/operations/control/commands.ts';
import { ServiceError } from '../../services/platform/errors.ts';
import { PASSWORD, withAdmin } from '../auth/setup.ts';
import { controlFixture, signedAck } from '../control/support.ts';

async function codeOf(fn: () => unknown): Promise<string | null> {
  try {
    await fn();
    return null;
  } catch (e) {
    if (e instanceof ServiceError) return e.code;
    throw e;
  }
}
import { renderMetrics } from '../../services/platform/metrics/exposition.ts';
import { gatewayMetrics, startGatewayMetrics, type GatewayMetricsSource } from '../../gateway/metrics.ts';
import { ingestMetrics } from '../../services/metering/ingest/metrics.ts';
import { parseListenAddress } from '../../services/platform/metrics/server.ts';
import type { IngestStats } from '../../services/metering/ingest/ingest.ts';
import { parseMetrics } from './support.ts';

function fakeGateway() {
  const health = (device: string, polls: number, errors: number, code: string | null): DeviceHealth => ({
    device,
    ts: 0,
    breaker: errors > 0 ? 'open' : 'closed',
    latencyMs: 12.5,
    polls,
    errors,
    errorRate: polls ? errors / polls : 0,
    lastError: code ? { code, message: 'x' } : null,
  });
  const state = { b11: health('b1.1', 10, 0, null), b12: health('b1.2', 10, 2, 'MODBUS_TIMEOUT') };
  const gw = {
    id: 'gw1',
    buses: [
      {
        id: 'b1',
        targets: [{ health: { snapshot: () => state.b11 } }, { health: { snapshot: () => state.b12 } }],
      },
    ],
    opcua: [{ health: { device: 'ss1', snapshot: () => health('ss1', 5, 0, null) } }],
    publisher: {
      stats: () => ({ published: 100, acked: 98, inFlight: 2, connected: true, connectFailures: 3 }),
    },
    status: () => ({
      gateway: 'gw1',
      state: 'online' as const,
      ts: 0,
      outbox: { messages: 2, bytes: 400, oldestTs: 1_000, dropped: 1 },
    }),
  } as unknown as GatewayMetricsSource;
  return { gw, state, health };
}

describe('Prometheus metrics', () => {
  it('renders escaped labels and rejects invalid names', () => {
    const text = renderMetrics([
      {
        name: 'x_total',
        type: 'counter',
        help: 'a\nb',
        samples: [{ labels: { v: 'say "hi"\\' }, value: 1 }],
      },
    ]);
    expect(text).toBe('# HELP x_total a\\nb\n# TYPE x_total counter\nx_total{v="say \\"hi\\"\\\\"} 1\n');
    expect(parseMetrics(text).get('x_total{v="say \\"hi\\"\\\\"}')).toBe(1);
    expect(() => renderMetrics([{ name: 'bad-name', type: 'gauge', help: '', samples: [] }])).toThrow();
  });

  it('gateway: polls and errors per bus and device, errors by code, outbox, publisher', async () => {
    const { gw, state, health } = fakeGateway();
    const collect = gatewayMetrics(gw, () => 11_000);
    const m = parseMetrics(renderMetrics(await collect()));
    expect(m.get('campus_energy_gateway_polls_total{gateway="gw1",bus="b1"}')).toBe(20);
    expect(m.get('campus_energy_gateway_poll_errors_total{gateway="gw1",bus="b1"}')).toBe(2);
    expect(m.get('campus_energy_gateway_polls_total{gateway="gw1",bus="opcua:ss1"}')).toBe(5);
    expect(m.get('campus_energy_gateway_device_errors_total{gateway="gw1",bus="b1",device="b1.2"}')).toBe(2);
    expect(m.get('campus_energy_gateway_device_latency_seconds{gateway="gw1",bus="b1",device="b1.1"}')).toBe(
      0.0125,
    );
    expect(
      m.get('campus_energy_gateway_device_breaker{gateway="gw1",bus="b1",device="b1.2",state="open"}'),
    ).toBe(1);
    expect(m.get('campus_energy_gateway_errors_by_code_total{gateway="gw1",code="MODBUS_TIMEOUT"}')).toBe(2);
    expect(m.get('campus_energy_gateway_outbox_messages{gateway="gw1"}')).toBe(2);
    expect(m.get('campus_energy_gateway_outbox_oldest_age_seconds{gateway="gw1"}')).toBe(10);
    expect(m.get('campus_energy_gateway_acked_total{gateway="gw1"}')).toBe(98);
    // New errors with another code are attributed to it.
    state.b11 = health('b1.1', 12, 1, 'MODBUS_EXCEPTION_2');
    const m2 = parseMetrics(renderMetrics(await collect()));
    expect(
      m2.get('campus_energy_gateway_errors_by_code_total{gateway="gw1",code="MODBUS_EXCEPTION_2"}'),
    ).toBe(1);
    expect(m2.get('campus_energy_gateway_errors_by_code_total{gateway="gw1",code="MODBUS_TIMEOUT"}')).toBe(2);
  });

  it('gateway: served on its own loopback listener', async () => {
    const server = await startGatewayMetrics({ gateway: fakeGateway().gw, port: 0 });
    try {
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      const res = await fetch(server.url);
      expect(res.headers.get('content-type')).toMatch(/version=0\.0\.4/);
      const scraped = parseMetrics(await res.text());
      expect(scraped.get('campus_energy_gateway_mqtt_connected{gateway="gw1"}')).toBe(1);
      expect(scraped.get('campus_energy_gateway_mqtt_connect_failures_total{gateway="gw1"}')).toBe(3);
      expect((await fetch(server.url.replace('/metrics', '/other'))).status).toBe(404);
    } finally {
      await server.close();
    }
    expect(parseListenAddress('0.0.0.0:9464')).toEqual({ host: '0.0.0.0', port: 9464 });
    expect(parseListenAddress('9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(parseListenAddress('[::1]:9')).toEqual({ host: '::1', port: 9 });
    expect(() => parseListenAddress('host:99999')).toThrow(/host:port/);
  });

  it('ingest: stored, rate from scrapes, dead letters by code', async () => {
    let t = 0;
    const stats: IngestStats = {
      received: 10,
      stored: 8,
      deadLettered: 2,
      deadLetteredByCode: { UNKNOWN_METER: 2 },
      gaps: null,
      invalidControl: 0,
      duplicates: 0,
      inFlight: 0,
      acked: 10,
      writeFailures: 0,
      lastWriteError: null,
      connected: true,
      protocolVersion: 5,
      connectFailures: 1,
    };
    const collect = ingestMetrics(
      {
        ingest: { stats: () => stats, lost: () => [], ready: Promise.resolve(), stop: async () => {} },
        deadLetters: { counts: () => ({ total: 5, byCode: { UNKNOWN_METER: 5 } }) },
      } as unknown as Parameters<typeof ingestMetrics>[0],
      () => t,
    );
    expect(parseMetrics(renderMetrics(await collect())).get('campus_energy_ingest_stored_per_second')).toBe(
      0,
    );
    t = 10_000;
    stats.stored = 1008;
    const m = parseMetrics(renderMetrics(await collect()));
    expect(m.get('campus_energy_ingest_stored_total')).toBe(1008);
    expect(m.get('campus_energy_ingest_mqtt_connect_failures_total')).toBe(1);
    expect(m.get('campus_energy_ingest_stored_per_second')).toBe(100);
    expect(m.get('campus_energy_ingest_dead_lettered_total{code="UNKNOWN_METER"}')).toBe(2);
    expect(m.get('campus_energy_ingest_dead_letters_file_total{code="UNKNOWN_METER"}')).toBe(5);
  });

  it('back office: alerts by state and type, audit entries, relay requests by state', async () => {
    const collect = backofficeMetrics({
      alerts: {
        list: () =>
          [
            { state: 'open', type: 'meter-stopped' },
            { state: 'open', type: 'meter-stopped' },
            { state: 'confirmed', type: 'energy-balance' },
          ] as never,
      },
      audit: { head: () => ({ seq: 42, hash: 'h', at: 0 }) },
      control: {
        list: () => [{ state: 'pending' }, { state: 'done' }, { state: 'done' }] as never,
        ackStats: () => ({
          recorded: 2,
          forged: 0,
          refusedByGateway: 0,
          unknown: 0,
          mismatched: 0,
          duplicates: 0,
          invalid: 0,
        }),
      },
    });
    const m = parseMetrics(renderMetrics(await collect()));
    expect(m.get('campus_energy_alerts{state="open",type="meter-stopped"}')).toBe(2);
    expect(m.get('campus_energy_alerts{state="confirmed",type="energy-balance"}')).toBe(1);
    expect(m.get('campus_energy_audit_entries_total')).toBe(42);
    expect(m.get('campus_energy_relay_requests{state="done"}')).toBe(2);
  });

  it('back office: refused logins by reason and relay acknowledgements by outcome, from the real services', async () => {
    const { users } = await withAdmin();
    await codeOf(() => users.login('root', 'a wrong password', { ip: '10.1.1.1' }));
    await codeOf(() => users.login('nobody.here', 'whatever it is', { ip: '10.1.1.1' }));
    await users.login('root', PASSWORD, { ip: '10.1.1.1' });
    const { control } = controlFixture();
    control.handleAck(commandAckTopic('east', 'gw1', 'E-101'), JSON.stringify({ id: 'x', ok: false }));
    control.handleAck(
      commandAckTopic('east', 'gw1', 'E-101'),
      signedAck({ id: '6f1c1f40-0000-4000-8000-000000000001' }),
    );
    const m = parseMetrics(renderMetrics(await backofficeMetrics({ users, control })()));
    expect(m.get('campus_energy_logins_total')).toBe(2);
    expect(m.get('campus_energy_logins_refused_total{reason="wrong-password"}')).toBe(1);
    expect(m.get('campus_energy_logins_refused_total{reason="unknown-user"}')).toBe(1);
    expect(m.get('campus_energy_relay_acks_total{outcome="forged"}')).toBe(1);
    expect(m.get('campus_energy_relay_acks_total{outcome="unknown"}')).toBe(1);
    expect(m.get('campus_energy_relay_acks_total{outcome="recorded"}')).toBe(0);
  });
});
