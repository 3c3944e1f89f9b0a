import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../../gateway/breaker.ts';
import { DeviceHealthTracker } from '../../gateway/device-health.ts';
import { HealthPublisher } from '../../gateway/health-publisher.ts';

function devices(n: number) {
  return Array.from({ length: n }, (_, i) => {
    const breaker = new CircuitBreaker({ failures: 3, baseBackoff: 1000, maxBackoff: 10_000 });
    return { breaker, health: new DeviceHealthTracker(`bus.${i}`, breaker) };
  });
}

describe('device health publishing', () => {
  it('spreads 3,000 devices over ticks, refreshes each within ten ticks and sends changes at once', () => {
    const ds = devices(3000);
    const sent: string[][] = [];
    let current: string[] = [];
    const hp = new HealthPublisher(
      ds.map((d) => d.health),
      (d) => current.push(d.device),
    );
    const tick = () => {
      current = [];
      hp.run(Date.now());
      sent.push(current);
      return current;
    };
    // No burst: never more than 1,000 in one tick, and every device announced within 3 ticks.
    for (let i = 0; i < 3; i++) expect(tick().length).toBeLessThanOrEqual(1000);
    expect(new Set(sent.flat()).size).toBe(3000);

    // Steady state: a tenth per tick, so each device is refreshed within ten ticks.
    for (let i = 0; i < 10; i++) expect(tick().length).toBe(300);
    expect(new Set(sent.slice(3).flat()).size).toBe(3000);

    // A breaker that opens is published on the very next tick.
    ds[1234]!.health.record(false, null, { code: 'MODBUS_TIMEOUT', message: 'x' });
    ds[1234]!.breaker.failure(Date.now(), true);
    expect(tick()).toContain('bus.1234');
  });
});
