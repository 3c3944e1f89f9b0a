import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ModbusError } from '../../adapters/modbus/errors.ts';
import { BusSchema, type MeterConfig } from '../../config/schemas/campus.ts';
import { ProfileSchema } from '../../config/schemas/profile.ts';
import { BusPoller } from '../../gateway/bus-poller.ts';
import { silentLogger } from '../../gateway/log.ts';
import type { PollResult, RegisterTransport } from '../../gateway/types.ts';

const profile = ProfileSchema.parse({
  model: 'test meter',
  manufacturer: 'test',
  kind: 'electricity',
  source: 'unit test',
  points: [{ quantity: 'energy_import_kwh', fc: 3, address: 0, type: 'u32', scale: 0.01, unit: 'kWh' }],
});
const profiles = new Map([['test', profile]]);

type Behaviour = 'ok' | 'timeout' | 'garbage';

/**
 * A serial line: one request at a time (asserted), 20 ms per answer, a dead meter costs the
 * full timeout, a garbage-spewing one answers at once with an error.
 */
function fakeLine(behaviour: Map<number, Behaviour>) {
  let busy = false;
  const requests: { unitId: number; at: number }[] = [];
  const transport: RegisterTransport = {
    isOpen: true,
    async close() {},
    read(unitId, _fc, _address, count, timeoutMs) {
      if (busy) throw new Error('two requests in flight on one serial line');
      busy = true;
      requests.push({ unitId, at: Date.now() });
      const b = behaviour.get(unitId) ?? 'ok';
      return new Promise((resolve, reject) => {
        const done = (fn: () => void) => {
          busy = false;
          fn();
        };
        if (b === 'timeout') {
          setTimeout(
            () => done(() => reject(new ModbusError('MODBUS_TIMEOUT', 'no answer', { device: 'line' }))),
            timeoutMs,
          );
        } else if (b === 'garbage') {
          setTimeout(
            () => done(() => reject(new ModbusError('MODBUS_GARBAGE', 'junk', { device: 'line' }))),
            5,
          );
        } else {
          setTimeout(() => done(() => resolve(Array.from({ length: count }, () => unitId))), 20);
        }
      });
    },
  };
  return { transport, requests };
}

function busWith(n: number, interval: number, timeout: number, type = 'rtu-over-tcp') {
  const meters = Array.from({ length: n }, (_, i) => ({
    id: `M${i + 1}`,
    kind: 'electricity',
    profile: 'test',
    unitId: i + 1,
    pollInterval: interval,
  }));
  return BusSchema.parse({
    id: 'line1',
    type,
    host: 'x',
    port: 1,
    timeout,
    retries: 2,
    meters,
  });
}

/** Stopping waits for the request in flight, whose answer is itself a (fake) timer. */
async function stopUnderFakeTime(poller: BusPoller) {
  const stopped = poller.stop();
  await vi.advanceTimersByTimeAsync(5_000);
  await stopped;
}

describe('BusPoller on a shared serial line', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_700_000_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('keeps the healthy meters on their interval while one times out and one returns garbage', async () => {
    const interval = 1000;
    const timeout = 300;
    const behaviour = new Map<number, Behaviour>([
      [3, 'timeout'],
      [5, 'garbage'],
    ]);
    const line = fakeLine(behaviour);
    const results = new Map<string, PollResult[]>();
    const poller = new BusPoller({
      bus: busWith(8, interval, timeout),
      profiles,
      openTransport: async () => line.transport,
      onResult: (m: MeterConfig, r) => results.set(m.id, [...(results.get(m.id) ?? []), r]),
      logger: silentLogger(),
    });
    poller.start();
    await vi.advanceTimersByTimeAsync(120_000);
    await stopUnderFakeTime(poller);

    for (const id of ['M1', 'M2', 'M4', 'M6', 'M7', 'M8']) {
      const rs = results.get(id)!;
      expect(rs.length).toBeGreaterThanOrEqual(118);
      expect(rs.every((r) => 'values' in r)).toBe(true);
      const gaps = rs.slice(1).map((r, i) => r.ts - rs[i]!.ts);
      // Each healthy meter keeps its interval; the dead one may cost it one timeout, once.
      const late = gaps.filter((g) => g !== interval);
      expect(late.length).toBeLessThanOrEqual(2);
      for (const g of late) expect(Math.abs(g - interval)).toBeLessThanOrEqual(timeout + 50);
    }
    // The dead meter is reported, as errors with its own id, not silently skipped …
    const dead = results.get('M3')!;
    expect(dead.length).toBeGreaterThanOrEqual(118);
    expect(dead.every((r) => 'error' in r && r.error.message.includes('M3'))).toBe(true);
    const codes = new Set(dead.map((r) => ('error' in r ? r.error.code : 'good')));
    expect(codes).toEqual(new Set(['MODBUS_TIMEOUT', 'BREAKER_OPEN']));
    // … but its breaker keeps it from costing the line a timeout every cycle.
    const deadRequests = line.requests.filter((r) => r.unitId === 3).length;
    expect(deadRequests).toBeLessThan(20);
    expect(poller.targets[2]!.breaker.state).toBe('open');
    // On an RTU line a bad frame forces a line silence, so it is as costly as a timeout: no
    // retry inside the poll, and the breaker opens at once.
    const garbage = results.get('M5')!;
    expect(garbage[0]).toMatchObject({ error: { code: 'MODBUS_GARBAGE' } });
    expect(garbage.every((r) => 'error' in r)).toBe(true);
    expect(line.requests.filter((r) => r.unitId === 5).length).toBeLessThan(20);
  });

  it('retries a bad frame on Modbus TCP and opens the breaker after three bad polls', async () => {
    const line = fakeLine(new Map([[1, 'garbage' as const]]));
    const results: PollResult[] = [];
    const poller = new BusPoller({
      bus: busWith(1, 1000, 300, 'modbus-tcp'),
      profiles,
      openTransport: async () => line.transport,
      onResult: (_m, r) => results.push(r),
      logger: silentLogger(),
    });
    poller.start();
    await vi.advanceTimersByTimeAsync(3_500);
    await stopUnderFakeTime(poller);
    // Three polls, each with the first attempt and two retries, then the breaker is open.
    expect(line.requests.length).toBe(9);
    expect(results.slice(0, 3).every((r) => 'error' in r && r.error.code === 'MODBUS_GARBAGE')).toBe(true);
    expect(poller.targets[0]!.breaker.state).toBe('open');
  });

  it('closes the breaker again when a dead meter comes back', async () => {
    const behaviour = new Map<number, Behaviour>([[2, 'timeout']]);
    const line = fakeLine(behaviour);
    const results: PollResult[] = [];
    const poller = new BusPoller({
      bus: busWith(2, 1000, 300),
      profiles,
      openTransport: async () => line.transport,
      onResult: (m, r) => m.id === 'M2' && results.push(r),
      logger: silentLogger(),
    });
    poller.start();
    await vi.advanceTimersByTimeAsync(30_000);
    expect(poller.targets[1]!.breaker.state).not.toBe('closed');
    behaviour.delete(2);
    // The breaker's backoff is capped (5 min default), so within it the meter is polled again.
    await vi.advanceTimersByTimeAsync(310_000);
    await stopUnderFakeTime(poller);
    expect(poller.targets[1]!.breaker.state).toBe('closed');
    expect(results.at(-1)).toHaveProperty('values');
  });

  it('reports a bus it cannot connect to as an error reading per meter without tripping breakers', async () => {
    const results: PollResult[] = [];
    const poller = new BusPoller({
      bus: busWith(2, 1000, 300),
      profiles,
      openTransport: async () => {
        throw new Error('connect ECONNREFUSED 127.0.0.1:1');
      },
      onResult: (_m, r) => results.push(r),
      logger: silentLogger(),
    });
    poller.start();
    await vi.advanceTimersByTimeAsync(10_000);
    await stopUnderFakeTime(poller);
    expect(results.length).toBeGreaterThanOrEqual(18);
    expect(results.every((r) => 'error' in r && r.error.code === 'MODBUS_DISCONNECTED')).toBe(true);
    expect(poller.targets.every((t) => t.breaker.state === 'closed')).toBe(true);
  });
});
