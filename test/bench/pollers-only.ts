import type { LoadedCampus } from '../../config/campus.ts';
import { openModbusTransport } from '../../adapters/modbus/client.ts';
import { BusPoller } from '../../gateway/bus-poller.ts';
import { silentLogger } from '../../gateway/log.ts';

/**
 * The gateway's polling half alone: one BusPoller per bus, transports opened as gateway.ts opens
 * them, every poll decoded, results counted and dropped (no outbox, no MQTT). Between the bare
 * loop and the whole gateway it tells the scheduler/transport/decoder cost from the outbox/MQTT cost.
 */
export async function pollersOnly(
  campus: LoadedCampus,
  gatewayId: string,
  warmupMs: number,
  durationMs: number,
): Promise<{ readings: number; errors: number; seconds: number; cpu: number }> {
  const gw = campus.config.sites.flatMap((s) => s.gateways).find((g) => g.id === gatewayId);
  if (!gw) throw new Error(`no gateway ${gatewayId}`);
  let good = 0;
  let errors = 0;
  const pollers = gw.buses.map(
    (bus) =>
      new BusPoller({
        bus,
        profiles: campus.profiles,
        openTransport: () =>
          openModbusTransport(
            bus,
            bus.id,
            bus.type === 'modbus-tcp' ? {} : { resyncDelayMs: bus.resyncDelay },
          ),
        onResult: (_meter, result) => {
          if ('error' in result) errors++;
          else good++;
        },
        logger: silentLogger(),
      }),
  );
  for (const p of pollers) p.start();
  try {
    await new Promise((r) => setTimeout(r, warmupMs));
    const g0 = good;
    const e0 = errors;
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, durationMs));
    const seconds = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    return { readings: good - g0, errors: errors - e0, seconds, cpu: (c.user + c.system) / 1e6 / seconds };
  } finally {
    await Promise.all(pollers.map((p) => p.stop()));
  }
}
