import { describe, expect, it } from 'vitest';
import { validateCampus } from '../../config/campus.ts';
import { DeviceHealthSchema } from '../../config/schemas/reading.ts';
import { CircuitBreaker } from '../../gateway/breaker.ts';
import { DeviceHealthTracker } from '../../gateway/device-health.ts';
import { healthSummary } from '../../services/metering/live/health-summary.ts';
import type { HealthResponse, LiveReading } from '../../services/metering/live/types.ts';
import { demoCampus } from '../../simulators/campus/demo-campus.ts';

/**
 * The health summary: polling paused says until when (from the gateway's breaker), meters in a
 * planned outage are not failing whatever their polling, failing first in natural order.
 */

const campus = validateCampus(
  demoCampus({
    ports: Array.from({ length: 20 }, (_, i) => 20_000 + i),
    dataDir: '/tmp',
    roomsPerFloorLine: 2,
  }),
  { file: '/tmp/campus.yaml', dir: '/tmp' },
);
const NOW = 1_800_000_000_000;

describe('health summary', () => {
  it('the gateway says until when polling is paused', () => {
    const breaker = new CircuitBreaker({ failures: 2, baseBackoff: 5_000, maxBackoff: 60_000 });
    const t = new DeviceHealthTracker('E1-line1.2', breaker);
    const timeout = { code: 'MODBUS_TIMEOUT', message: 'no answer' };
    t.record(false, null, timeout);
    breaker.failure(NOW);
    expect(t.snapshot(NOW).pausedUntil).toBeUndefined();
    t.record(false, null, timeout);
    breaker.failure(NOW + 1_000);
    const h = DeviceHealthSchema.parse(t.snapshot(NOW + 1_000));
    expect(h).toMatchObject({ breaker: 'open', pausedUntil: NOW + 6_000 });
    breaker.allow(NOW + 6_000);
    expect(t.snapshot(NOW + 6_000)).toMatchObject({ breaker: 'half-open' });
    expect(t.snapshot(NOW + 6_000).pausedUntil).toBeUndefined();
  });

  it('sorts failing first in natural order and keeps an outage apart from failing', () => {
    const ids = campus.config.sites.flatMap((s) =>
      s.gateways.flatMap((g) => g.buses.flatMap((b) => b.meters)),
    );
    const latest: LiveReading[] = ids.map((m) => ({
      meter: m.id,
      ts: NOW,
      seq: 1,
      quality: 'good',
      values: {},
      stale: false,
    }));
    const mark = (id: string, r: Partial<LiveReading>) =>
      Object.assign(
        latest.find((x) => x.meter === id)!,
        r,
      );
    mark('E-E-H10', { stale: true });
    mark('E-E-H02', { quality: 'error', error: { code: 'MODBUS_TIMEOUT', message: 'x' } });
    mark('E-E2-101', { stale: true, plannedOutage: 7 });
    const dev = (device: string, breaker: 'closed' | 'open', errorRate = 0) => ({
      ...{ gateway: 'gw-east', device, breaker, errorRate, latencyMs: 10, lastError: null, ts: NOW },
      ...(breaker === 'open' ? { pausedUntil: NOW + 60_000 } : {}),
    });
    const health: HealthResponse = {
      gateways: [
        { id: 'gw-east', site: 'east', state: 'online', ts: NOW },
        { id: 'gw-west', site: 'west', state: 'online', ts: NOW },
      ],
      devices: [dev('E2-line1.1', 'open', 1), dev('E1-line1.1', 'open', 1)],
    };
    const s = healthSummary(campus, health, latest);
    expect(s.meters.filter((m) => m.failing).map((m) => m.device)).toEqual([
      'E1-line1.1',
      'east-residential.2',
      'east-residential.10',
    ]);
    const e2 = s.meters.find((m) => m.meter === 'E-E2-101')!;
    expect(e2).toMatchObject({ state: 'outage', outage: 7, polling: 'paused', failing: false });
    expect(s.meters.find((m) => m.meter === 'E-E1-101')).toMatchObject({
      polling: 'paused',
      pausedUntil: NOW + 60_000,
    });
    expect(s.counts).toMatchObject({ outage: 1, stale: 1, error: 1, paused: 1, failing: 3 });
    expect(s.gateways.map((g) => g.id)).toEqual(['gw-east', 'gw-west']);
    expect(s.buses[0]).toMatchObject({ gateway: 'gw-east', id: 'E1-line1', failing: 1, paused: 1 });
  });
});
