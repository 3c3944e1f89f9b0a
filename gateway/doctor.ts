import type { Logger } from 'pino';
import type { LoadedCampus } from '../config/campus.ts';
import type { BusConfig } from '../config/schemas/campus.ts';
import { openModbusTransport } from '../adapters/modbus/client.ts';
import { BusPoller } from './bus-poller.ts';
import { allProfiles, fieldBusOf, openFieldLine } from './field-line.ts';
import type { PollResult } from './types.ts';

/**
 * `campus-energy doctor`'s field half: every meter of the campus file read once, through the
 * same bus poller, transports and profiles the gateway uses — so what the doctor says works is
 * what the gateway will get. Polls are packed (one after another, not on each meter's interval),
 * and each meter's first answer is kept: its latency, its error code, its clock against ours.
 */

export interface MeterCheck {
  gateway: string;
  bus: string;
  meter: string;
  ok: boolean;
  /** Error code of the poll (MODBUS_TIMEOUT, DLT645_DENIED, …). */
  code?: string;
  message?: string;
  latencyMs?: number | null;
  /** The meter's clock minus ours (ms), where it reports one. */
  clockDriftMs?: number;
}

export async function checkField(
  campus: LoadedCampus,
  opts: { gateway?: string; logger: Logger; deadlineMs?: number },
): Promise<MeterCheck[]> {
  const profiles = allProfiles(campus);
  const out: MeterCheck[] = [];
  const runs: Promise<void>[] = [];
  for (const site of campus.config.sites) {
    for (const gw of site.gateways) {
      if (opts.gateway && gw.id !== opts.gateway) continue;
      for (const bus of gw.buses) runs.push(checkBus(gw.id, bus));
    }
  }
  await Promise.all(runs);
  return out;

  async function checkBus(gateway: string, configured: BusConfig): Promise<void> {
    // Every meter due at once, then one after another: the line's pace, not the poll intervals.
    const bus = {
      ...configured,
      meters: configured.meters.map((m) => ({ ...m, pollInterval: 1 })),
    } as BusConfig;
    const seen = new Map<string, PollResult>();
    let done: () => void = () => undefined;
    const all = new Promise<void>((resolve) => (done = resolve));
    const poller = new BusPoller({
      bus,
      profiles,
      openTransport: () => {
        const line = fieldBusOf(bus);
        return line
          ? openFieldLine(line)
          : openModbusTransport(
              bus,
              bus.id,
              bus.type === 'modbus-tcp' ? {} : { resyncDelayMs: bus.resyncDelay },
            );
      },
      onResult: (meter, result) => {
        if (!seen.has(meter.id)) seen.set(meter.id, result);
        if (seen.size === bus.meters.length) done();
      },
      logger: opts.logger,
    });
    poller.start();
    const deadline = opts.deadlineMs ?? Math.max(10_000, bus.meters.length * (bus.timeout + 500));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise<void>((r) => (timer = setTimeout(r, deadline)))]);
    clearTimeout(timer);
    await poller.stop();
    for (const t of poller.targets) {
      const result = seen.get(t.meter.id);
      const base = { gateway, bus: bus.id, meter: t.meter.id };
      if (!result) {
        out.push({ ...base, ok: false, code: 'NOT_POLLED', message: `no answer within ${deadline} ms` });
      } else if ('error' in result) {
        out.push({ ...base, ok: false, code: result.error.code, message: result.error.message });
      } else {
        const latency = t.health.snapshot(Date.now()).latencyMs;
        out.push({
          ...base,
          ok: true,
          latencyMs: latency,
          ...(result.deviceTs !== undefined ? { clockDriftMs: result.deviceTs - result.ts } : {}),
        });
      }
    }
  }
}
