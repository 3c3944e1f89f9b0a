import type { LoadedCampus } from './campus.ts';
import type { MeterConfig } from './schemas/campus.ts';

export interface MeterPlace {
  site: string;
  gateway: string;
  kind: MeterConfig['kind'];
}

/** Every meter of the campus with the site and gateway that publish it: what ingest accepts. */
export function meterRegistry(campus: LoadedCampus): ReadonlyMap<string, MeterPlace> {
  const out = new Map<string, MeterPlace>();
  for (const site of campus.config.sites) {
    for (const gateway of site.gateways) {
      for (const bus of gateway.buses) {
        for (const m of bus.meters) out.set(m.id, { site: site.id, gateway: gateway.id, kind: m.kind });
      }
      for (const device of gateway.opcua) {
        for (const m of device.meters) out.set(m.id, { site: site.id, gateway: gateway.id, kind: m.kind });
      }
    }
  }
  return out;
}
