import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { planReads } from '../../adapters/modbus/planner.ts';
import { BusSchema } from '../../config/schemas/campus.ts';
import { ProfileSchema } from '../../config/schemas/profile.ts';
import { BusPoller } from '../../gateway/bus-poller.ts';
import { lineBudget, readWireMs } from '../../gateway/line-budget.ts';
import { gatewayMetrics } from '../../gateway/metrics.ts';

/**
 * Issue 26 item 5: at 2400 baud, meters set to 1 s got a reading every 2.1 s with nothing saying
 * the line was overloaded. The wire time of the configured polls is computed from the line's
 * settings and reported (a warning with the achievable interval, a metric).
 */
const profile = ProfileSchema.parse({
  model: 'eighty registers',
  manufacturer: 'test',
  kind: 'electricity',
  source: 'unit test',
  // One block from the first register to the last, as a planner reads a dense map.
  maxGapRegisters: 100,
  points: [
    { quantity: 'energy_import_kwh', fc: 4, address: 0, type: 'f32', unit: 'kWh' },
    { quantity: 'voltage_v', fc: 4, address: 78, type: 'f32', unit: 'V' },
  ],
});

function rtuBus(baudRate: number, meters: number, pollInterval: string) {
  return BusSchema.parse({
    id: 'line1',
    type: 'modbus-rtu',
    path: '/dev/ttyX',
    baudRate,
    meters: Array.from({ length: meters }, (_, i) => ({
      id: `M${i + 1}`,
      kind: 'electricity',
      profile: 'p',
      unitId: i + 1,
      pollInterval,
    })),
  });
}

describe('wire time of a serial line', () => {
  it('costs an 80-register read about 180 ms at 9600 8N1, as the field arithmetic says', () => {
    const bus = rtuBus(9600, 1, '10s');
    if (bus.type !== 'modbus-rtu') throw new Error('expected a serial bus');
    const [block] = planReads(profile);
    expect(block!.count).toBe(80);
    // (8 + 5 + 160) characters × 10 bits / 9600 + 3.5 characters of silence.
    expect(readWireMs(bus, block!)).toBeCloseTo((173 * 10 * 1000) / 9600 + (3.5 * 10 * 1000) / 9600, 6);
  });

  it('finds four such meters at 1 s too many for 2400 baud, and enough for 9600', () => {
    const blocks = planReads(profile);
    const at = (baud: number) =>
      lineBudget(
        rtuBus(baud, 4, '1s'),
        Array.from({ length: 4 }, () => ({ pollInterval: 1000, blocks })),
      )!;
    expect(at(2400).load).toBeGreaterThan(2.9); // ≈ 4 × 0.735 s of wire per second
    expect(at(2400).stretch).toBeCloseTo(at(2400).load, 9);
    expect(at(9600).load).toBeLessThan(1);
    expect(lineBudget(BusSchema.parse({ id: 't', type: 'modbus-tcp', host: 'h' }), [])).toBeNull();
  });

  it('warns at start with the achievable interval, and exports the load', async () => {
    const lines: string[] = [];
    const logger = pino(
      { level: 'warn' },
      new Writable({
        write(chunk, _enc, done) {
          lines.push(String(chunk));
          done();
        },
      }),
    );
    const poller = new BusPoller({
      bus: rtuBus(2400, 4, '1s'),
      profiles: new Map([['p', profile]]),
      openTransport: () => Promise.reject(new Error('not used')),
      onResult: () => undefined,
      logger,
    });
    const warning = JSON.parse(lines.find((l) => l.includes('overloaded'))!) as Record<string, unknown>;
    expect(warning).toMatchObject({ bus: 'line1' });
    expect(warning.achievableIntervalMs).toBe(Math.ceil(1000 * poller.budget!.stretch));
    const families = await gatewayMetrics({
      id: 'gw1',
      buses: [poller],
      opcua: [],
      publisher: {
        stats: () => ({ published: 0, acked: 0, inFlight: 0, connected: false, connectFailures: 0 }),
      },
      status: () => ({ gateway: 'gw1', state: 'online', ts: 0 }),
    } as never)();
    const load = families.find((f) => f.name === 'campus_energy_gateway_bus_wire_load_ratio')!;
    expect(load.samples).toEqual([{ labels: { gateway: 'gw1', bus: 'line1' }, value: poller.budget!.load }]);
  });
});
