import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../../gateway/breaker.ts';
import { DeviceHealthTracker } from '../../gateway/device-health.ts';

const breaker = () => new CircuitBreaker({ failures: 3, baseBackoff: 1_000, maxBackoff: 60_000 });
const timeout = { code: 'MODBUS_TIMEOUT', message: 'no answer' };

describe('DeviceHealthTracker', () => {
  it('reports the error rate of the last 20 polls, recomputed from the whole history by hand', () => {
    const health = new DeviceHealthTracker('b1.7', breaker());
    expect(health.snapshot(0).errorRate).toBe(0);
    // A pattern that is not periodic in 20: failures at polls whose index is prime.
    const isPrime = (n: number) => n > 1 && [...Array(n).keys()].slice(2).every((d) => n % d !== 0);
    const outcomes: boolean[] = [];
    for (let i = 0; i < 57; i++) {
      const ok = !isPrime(i);
      outcomes.push(ok);
      health.record(ok, ok ? 12 : null, ok ? undefined : timeout);
      const window = outcomes.slice(-20);
      const expected = window.filter((o) => !o).length / window.length;
      const snap = health.snapshot(i);
      expect(snap.errorRate, `after poll ${i}`).toBeCloseTo(expected, 12);
      expect(snap.polls).toBe(i + 1);
      expect(snap.errors).toBe(outcomes.filter((o) => !o).length);
    }
  });

  it('a meter that failed 20 times in a row and then answers 20 times is back to 0', () => {
    const health = new DeviceHealthTracker('b1.8', breaker());
    for (let i = 0; i < 20; i++) health.record(false, null, timeout);
    expect(health.snapshot(0).errorRate).toBe(1);
    for (let i = 0; i < 19; i++) health.record(true, 10);
    expect(health.snapshot(0).errorRate).toBeCloseTo(1 / 20, 12);
    health.record(true, 10);
    expect(health.snapshot(0).errorRate).toBe(0);
    expect(health.snapshot(0).lastError).toEqual(timeout);
  });
});
