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
 * A serial line: one request at a time (asserted), 20 ms per answer (or `answerMs`), a dead meter costs the
 * full timeout, a garbage-spewing one answers at once with an error.
 */
function fakeLine(behaviour: Map<number, Behaviour>, answerMs = 20) {
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
          setTimeout(() => done(() => resolve(Array.from({ length: count }, () => unitId))), answerMs);
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
      // Each healthy meter keeps its interval, except where a probe of the dead or the garbage
      // meter went first: then it is late by at most the probe's line time.
      const late = gaps.filter((g) => g !== interval);
      const probes = line.requests.filter((r) => r.unitId === 3 || r.unitId === 5).length;
      expect(late.length).toBeLessThanOrEqual(2 * probes);
      for (const g of late) expect(Math.abs(g - interval)).toBeLessThanOrEqual(timeout + 250 + 50 + 20);
    }
    // The dead meter is reported, as errors with its own id, not silently skipped …
    const dead = results.get('M3')!;
    expect(dead.length).toBeGreaterThanOrEqual(118);
    expect(dead.every((r) => 'error' in r && r.error.message.includes('M3'))).toBe(true);
    const codes = new Set(dead.map((r) => ('error' in r ? r.error.code : 'good')));
    expect(codes).toEqual(new Set(['MODBUS_TIMEOUT', 'BREAKER_OPEN']));
    // … its breaker keeps it from costing the line a timeout every cycle, but it is probed every
    // probe interval (max(poll interval, breaker.baseBackoff) = 5 s), however busy the line.
    const deadAt = line.requests.filter((r) => r.unitId === 3).map((r) => r.at);
    expect(deadAt.length).toBeLessThanOrEqual(120 / 5 + 2);
    expect(Math.max(...deadAt.slice(1).map((t, i) => t - deadAt[i]!))).toBeLessThanOrEqual(5000 + interval);
    expect(poller.targets[2]!.breaker.state).toBe('open');
    // On an RTU line a bad frame forces a line silence: no retry inside the poll. It opens the
    // breaker after three in a row (one alone is noise), then is probed like the dead meter.
    const garbage = results.get('M5')!;
    expect(garbage.slice(0, 3).map((r) => ('error' in r ? r.error.code : 'good'))).toEqual([
      'MODBUS_GARBAGE',
      'MODBUS_GARBAGE',
      'MODBUS_GARBAGE',
    ]);
    expect(garbage.every((r) => 'error' in r)).toBe(true);
    expect(line.requests.filter((r) => r.unitId === 5).length).toBeLessThanOrEqual(3 + 120 / 5 + 2);
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
    // Probed at least every probe interval (5 s here), so it is good again within it.
    await vi.advanceTimersByTimeAsync(6_500);
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

  it('probes a recovering meter within the probe interval on a line that is never idle', async () => {
    // Eight meters at 1 s with 100 ms answers keep the line 80 % busy: never a free 570 ms for a
    // probe (300 ms timeout, 250 ms silence). Before, the probe waited for the 5-minute cap.
    const behaviour = new Map<number, Behaviour>([[3, 'timeout']]);
    const line = fakeLine(behaviour, 100);
    const results: PollResult[] = [];
    const poller = new BusPoller({
      bus: busWith(8, 1000, 300),
      profiles,
      openTransport: async () => line.transport,
      onResult: (m, r) => m.id === 'M3' && results.push(r),
      logger: silentLogger(),
    });
    poller.start();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(poller.targets[2]!.breaker.state).not.toBe('closed');
    behaviour.delete(3);
    const released = Date.now();
    await vi.advanceTimersByTimeAsync(8_000);
    await stopUnderFakeTime(poller);
    const firstGood = results.find((r) => 'values' in r && r.ts >= released);
    expect(firstGood).toBeDefined();
    expect(firstGood!.ts - released).toBeLessThanOrEqual(5000 + 1000);
  });

  for (const type of ['modbus-tcp', 'rtu-over-tcp'] as const) {
    it(`${type}: four meters at 1 s frozen for 10 s are all good again within 5 s of release`, async () => {
      const behaviour = new Map<number, Behaviour>();
      const line = fakeLine(behaviour);
      const results = new Map<string, PollResult[]>();
      const bus = BusSchema.parse({
        ...busWith(4, 1000, 500, type),
        breaker: { baseBackoff: '2s' },
      });
      const poller = new BusPoller({
        bus,
        profiles,
        openTransport: async () => line.transport,
        onResult: (m, r) => results.set(m.id, [...(results.get(m.id) ?? []), r]),
        logger: silentLogger(),
      });
      poller.start();
      await vi.advanceTimersByTimeAsync(5_000);
      for (const u of [1, 2, 3, 4]) behaviour.set(u, 'timeout');
      await vi.advanceTimersByTimeAsync(10_000);
      behaviour.clear();
      const released = Date.now();
      await vi.advanceTimersByTimeAsync(5_000);
      await stopUnderFakeTime(poller);
      for (const id of ['M1', 'M2', 'M3', 'M4']) {
        const good = results.get(id)!.find((r) => 'values' in r && r.ts >= released);
        expect(good, id).toBeDefined();
        expect(good!.ts - released, id).toBeLessThan(5000);
      }
    });

    it(`${type}: after a single bad frame a meter is good again at its next poll`, async () => {
      const behaviour = new Map<number, Behaviour>();
      const line = fakeLine(behaviour);
      const results: PollResult[] = [];
      const poller = new BusPoller({
        bus: BusSchema.parse({ ...busWith(2, 1000, 500, type), retries: 0 }),
        profiles,
        openTransport: async () => line.transport,
        onResult: (m, r) => m.id === 'M1' && results.push(r),
        logger: silentLogger(),
      });
      poller.start();
      await vi.advanceTimersByTimeAsync(2_500);
      behaviour.set(1, 'garbage');
      const before = line.requests.filter((r) => r.unitId === 1).length;
      while (line.requests.filter((r) => r.unitId === 1).length === before)
        await vi.advanceTimersByTimeAsync(10);
      behaviour.clear();
      await vi.advanceTimersByTimeAsync(2_000);
      await stopUnderFakeTime(poller);
      const bad = results.findIndex((r) => 'error' in r);
      expect(results[bad]).toMatchObject({ error: { code: 'MODBUS_GARBAGE' } });
      expect(results[bad + 1]).toHaveProperty('values');
      expect(results[bad + 1]!.ts - results[bad]!.ts).toBe(1000);
    });
  }

  it('keeps its poll grid when the wall clock steps back an hour or forward a day, and stamps readings with the wall clock', async () => {
    const interval = 1000;
    const line = fakeLine(new Map());
    const results: PollResult[] = [];
    const poller = new BusPoller({
      bus: busWith(2, interval, 300),
      profiles,
      openTransport: async () => line.transport,
      onResult: (m: MeterConfig, r) => void (m.id === 'M1' && results.push(r)),
      logger: silentLogger(),
    });
    poller.start();
    await vi.advanceTimersByTimeAsync(10_000);
    const before = results.length;
    const lastBefore = results.at(-1)!.ts;
    // NTP (or an operator) sets the clock back an hour: a grid in wall-clock time stalled here
    // for the hour; on the monotonic clock polling goes on at the meter's interval.
    vi.setSystemTime(Date.now() - 3_600_000);
    await vi.advanceTimersByTimeAsync(10_000);
    const afterBack = results.slice(before);
    expect(afterBack.length).toBeGreaterThanOrEqual(9);
    expect(afterBack.every((r) => 'values' in r)).toBe(true);
    // The readings say what the clock said when they were taken.
    expect(afterBack.at(-1)!.ts).toBeLessThan(lastBefore - 3_580_000);
    // Forward a day: no burst of the day's missed polls either.
    const mid = results.length;
    vi.setSystemTime(Date.now() + 86_400_000);
    await vi.advanceTimersByTimeAsync(10_000);
    const afterForward = results.length - mid;
    expect(afterForward).toBeGreaterThanOrEqual(9);
    expect(afterForward).toBeLessThanOrEqual(11);
    await stopUnderFakeTime(poller);
  });
});
