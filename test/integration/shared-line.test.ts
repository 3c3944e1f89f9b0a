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
      // A long cap keeps the starving-probe rule (see BusPoller) out of this short run.
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

  it('keeps the healthy meters on their poll interval (one delay of at most a timeout, once)', async () => {
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
    for (const id of [m1, m2, m4, ...rest]) {
      const rs = of(id);
      expect(rs.length, id).toBeGreaterThanOrEqual(RUN_MS / INTERVAL - 1);
      expect(
        rs.every((r) => r.quality === 'good'),
        id,
      ).toBe(true);
      const gaps = rs.slice(1).map((r, i) => r.ts - rs[i]!.ts);
      const late = gaps.filter((g) => Math.abs(g - INTERVAL) > 40);
      // Each faulty meter may cost a healthy one a single delay, when its fault is first met.
      expect(late.length, `${id} gaps ${gaps.join(',')}`).toBeLessThanOrEqual(2);
      for (const g of late)
        expect(g, `${id} gaps ${gaps.join(',')}`).toBeLessThanOrEqual(INTERVAL + TIMEOUT + LINE_SILENCE + 60);
    }

    // The broken meters are still reported every interval, as errors that say why.
    for (const [id, first] of [
      [dead, 'MODBUS_TIMEOUT'],
      [garbage, undefined],
    ] as const) {
      const rs = of(id);
      expect(rs.length, id).toBeGreaterThanOrEqual(RUN_MS / INTERVAL - 1);
      expect(rs.every((r) => r.quality === 'error' && r.values && Object.keys(r.values).length === 0)).toBe(
        true,
      );
      if (first) expect(rs[0]!.error!.code).toBe(first);
      expect(rs.slice(1).every((r) => r.error!.code === 'BREAKER_OPEN')).toBe(true);
      expect(rs[0]!.error!.message).toContain(id);
    }
  }, 60_000);
});
