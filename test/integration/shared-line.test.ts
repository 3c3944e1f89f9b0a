import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker } from '../../adapters/mqtt/embedded-broker.ts';
import { subscribeReadings, type ReadingSubscription } from '../../adapters/mqtt/subscriber.ts';
import { DeviceHealthSchema, type DeviceHealth, type Reading } from '../../config/schemas/reading.ts';
import { startGateway, type RunningGateway } from '../../gateway/gateway.ts';
import { silentLogger } from '../../gateway/log.ts';
import { startField, type Field } from '../helpers/field.ts';
import { waitFor } from '../helpers/readings.ts';

const INTERVAL = 1000;
const TIMEOUT = 300;
const LINE_SILENCE = 250; // the rtu-over-tcp default resyncDelay
const RUN_MS = 15_000;

/**
 * One RS-485 line behind a serial-to-Ethernet converter, eight meters, one request at a time:
 * meter 3 stops answering and meter 5 answers garbage. The other six must keep their interval.
 */
describe('a dead meter and a garbage meter on a shared RTU-over-TCP line', () => {
  let field: Field;
  let broker: Awaited<ReturnType<typeof startEmbeddedBroker>>;
  let sub: ReadingSubscription;
  let gw: RunningGateway | undefined;

  beforeAll(async () => {
    field = await startField({
      concentrators: [{ transport: 'rtu-over-tcp', meters: 8 }],
      pollInterval: INTERVAL,
      timeout: TIMEOUT,
      // Open breakers are probed every 5 s (the probe interval), each probe costing the line up
      // to a timeout and a silence.
      breaker: { failures: 3, baseBackoff: 5_000, maxBackoff: 60_000 },
    });
    broker = await startEmbeddedBroker({ port: 0 });
    sub = await subscribeReadings({ url: broker.url, topic: 'campus/v1/+/+/+/reading' });
  });

  afterAll(async () => {
    await gw?.stop();
    await sub?.close();
    await broker?.close();
    await field?.stop();
  });

  it('keeps the healthy meters on their poll interval (delayed at most by a probe, once per probe)', async () => {
    const [m1, m2, dead, m4, garbage, ...rest] = field.meterIds as [
      string,
      string,
      string,
      string,
      string,
      ...string[],
    ];
    field.farm.setFault(dead, { type: 'timeout' });
    field.farm.setFault(garbage, { type: 'garbage' });
    gw = await startGateway({
      campus: field.campus,
      gatewayId: 'gw1',
      mqtt: { url: broker.url },
      logger: silentLogger(),
    });
    // Operators see the line's health on retained topics.
    const health = new Map<string, DeviceHealth>();
    const watcher = await mqtt.connectAsync(broker.url);
    watcher.on('message', (topic, payload) => {
      if (topic.endsWith('/health'))
        health.set(topic, DeviceHealthSchema.parse(JSON.parse(payload.toString())));
    });
    await watcher.subscribeAsync('campus/v1/test/gw1/device/+/health', { qos: 1 });
    await new Promise((r) => setTimeout(r, RUN_MS));
    await watcher.endAsync();
    const deadHealth = health.get('campus/v1/test/gw1/device/c1.3/health');
    expect(deadHealth).toMatchObject({
      device: 'c1.3',
      breaker: 'open',
      lastError: { code: 'MODBUS_TIMEOUT' },
    });
    expect(deadHealth!.errorRate).toBe(1);
    const okHealth = health.get('campus/v1/test/gw1/device/c1.1/health');
    expect(okHealth).toMatchObject({ breaker: 'closed', errors: 0, errorRate: 0 });
    expect(okHealth!.latencyMs).toBeGreaterThan(0);
    await gw.stop();
    gw = undefined;
    await waitFor(() => sub.readings.length > 0, 5_000, 'readings');

    const of = (id: string): Reading[] =>
      sub.readings.filter((r) => r.meter === id).sort((a, b) => a.seq - b.seq);
    // Polls of the broken meters that reached the line: their first failures and the probes.
    const probes = [dead, garbage].reduce(
      (n, id) => n + of(id).filter((r) => r.error?.code !== 'BREAKER_OPEN').length,
      0,
    );
    expect(probes).toBeLessThanOrEqual(2 * (RUN_MS / 5_000 + 3));
    for (const id of [m1, m2, m4, ...rest]) {
      const rs = of(id);
      expect(rs.length, id).toBeGreaterThanOrEqual(RUN_MS / INTERVAL - 1);
      expect(
        rs.every((r) => r.quality === 'good'),
        id,
      ).toBe(true);
      const gaps = rs.slice(1).map((r, i) => r.ts - rs[i]!.ts);
      const late = gaps.filter((g) => Math.abs(g - INTERVAL) > 40);
      // A poll of a faulty meter may delay a healthy one (each late poll shows as two gaps off
      // the interval, one long and one short), by at most a timeout and a line silence.
      expect(late.length, `${id} gaps ${gaps.join(',')}`).toBeLessThanOrEqual(2 * probes);
      for (const g of late)
        expect(g, `${id} gaps ${gaps.join(',')}`).toBeLessThanOrEqual(INTERVAL + TIMEOUT + LINE_SILENCE + 60);
    }

    // The broken meters are still reported every interval, as errors that say why.
    // (A garbage answer shorter than the request's leaves the client waiting: a timeout.)
    for (const [id, codes] of [
      [dead, ['MODBUS_TIMEOUT']],
      [garbage, ['MODBUS_GARBAGE', 'MODBUS_CRC', 'MODBUS_TIMEOUT']],
    ] as const) {
      const rs = of(id);
      expect(rs.length, id).toBeGreaterThanOrEqual(RUN_MS / INTERVAL - 1);
      expect(rs.every((r) => r.quality === 'error' && r.values && Object.keys(r.values).length === 0)).toBe(
        true,
      );
      const seen = new Set(rs.map((r) => r.error!.code));
      expect(seen.has('BREAKER_OPEN'), id).toBe(true);
      expect(
        [...seen].every((c) => c === 'BREAKER_OPEN' || (codes as readonly string[]).includes(c)),
        id,
      ).toBe(true);
      expect(rs[0]!.error!.message).toContain(id);
    }
  }, 60_000);
});
