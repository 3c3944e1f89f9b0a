import ModbusSerial from 'modbus-serial';
import { openModbusTransport } from '../../adapters/modbus/client.ts';
import { planReads } from '../../adapters/modbus/planner.ts';
import type { BenchBus } from './layout.ts';

// modbus-serial is CommonJS with `module.exports.default = module.exports` (see adapters/modbus/client.ts).
const ModbusRTU = ModbusSerial.default;

export interface BareResult {
  readings: number;
  requests: number;
  errors: number;
  seconds: number;
}

/**
 * The ceiling: per concentrator one modbus-serial client, opened as adapters/modbus/client.ts
 * opens it (connectTCP for Modbus TCP, connectTelnet for RTU-over-TCP), looping over its meters
 * and issuing each meter's planned reads back to back. No decoding, no outbox, no MQTT. A reading
 * is one complete poll of a meter; only polls finished within the duration are counted.
 */
export async function bareLoop(
  buses: readonly BenchBus[],
  ports: readonly number[],
  durationMs: number,
  timeoutMs = 1000,
): Promise<BareResult> {
  return overBuses(buses, ports, (b, port) => runOne(b, port, durationMs, timeoutMs));
}

/** One loop per concentrator at once, their counts summed. */
async function overBuses(
  buses: readonly BenchBus[],
  ports: readonly number[],
  run: (bus: BenchBus, port: number) => Promise<BareResult>,
): Promise<BareResult> {
  const results = await Promise.all(buses.map((b, i) => run(b, ports[i]!)));
  return {
    readings: results.reduce((n, r) => n + r.readings, 0),
    requests: results.reduce((n, r) => n + r.requests, 0),
    errors: results.reduce((n, r) => n + r.errors, 0),
    seconds: Math.max(...results.map((r) => r.seconds)),
  };
}

async function runOne(
  bus: BenchBus,
  port: number,
  durationMs: number,
  timeoutMs: number,
): Promise<BareResult> {
  const client = new ModbusRTU();
  client.on('error', () => undefined);
  if (bus.transport === 'modbus-tcp') await client.connectTCP('127.0.0.1', { port });
  else await client.connectTelnet('127.0.0.1', { port });
  client.setTimeout(timeoutMs);
  const plans = bus.meters.map((m) => ({ unitId: m.unitId, blocks: planReads(m.profile) }));
  let readings = 0;
  let requests = 0;
  let errors = 0;
  const started = performance.now();
  const end = started + durationMs;
  let now = started;
  outer: for (;;) {
    for (const p of plans) {
      now = performance.now();
      if (now >= end) break outer;
      client.setID(p.unitId);
      try {
        for (const b of p.blocks) {
          if (b.fc === 3) await client.readHoldingRegisters(b.address, b.count);
          else await client.readInputRegisters(b.address, b.count);
          requests++;
        }
        readings++;
      } catch {
        errors++;
      }
    }
  }
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 1000);
    client.destroy(() => {
      clearTimeout(timer);
      resolve();
    });
  });
  return { readings, requests, errors, seconds: (now - started) / 1000 };
}

/**
 * The same loop over the gateway's own socket transport (adapters/modbus/net-transport.ts, opened
 * by openModbusTransport as the gateway opens it): what the gateway's Modbus side could cost with
 * nothing else, printed beside the modbus-serial ceiling (which stays the ceiling).
 */
export async function bareLoopOwnClient(
  buses: readonly BenchBus[],
  ports: readonly number[],
  durationMs: number,
  timeoutMs = 1000,
): Promise<BareResult> {
  return overBuses(buses, ports, (b, port) => runOwn(b, port, durationMs, timeoutMs));
}

async function runOwn(
  bus: BenchBus,
  port: number,
  durationMs: number,
  timeoutMs: number,
): Promise<BareResult> {
  let t = await openModbusTransport({ type: bus.transport, host: '127.0.0.1', port }, `bare-${port}`);
  const plans = bus.meters.map((m) => ({ unitId: m.unitId, blocks: planReads(m.profile) }));
  let readings = 0;
  let requests = 0;
  let errors = 0;
  const started = performance.now();
  const end = started + durationMs;
  let now = started;
  outer: for (;;) {
    for (const p of plans) {
      now = performance.now();
      if (now >= end) break outer;
      try {
        for (const b of p.blocks) {
          await t.read(p.unitId, b.fc, b.address, b.count, timeoutMs);
          requests++;
        }
        readings++;
      } catch {
        errors++;
        if (!t.isOpen) {
          await t.close();
          t = await openModbusTransport({ type: bus.transport, host: '127.0.0.1', port }, `bare-${port}`);
        }
      }
    }
  }
  await t.close();
  return { readings, requests, errors, seconds: (now - started) / 1000 };
}
