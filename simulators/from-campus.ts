import type { LoadedCampus } from '../config/campus.ts';
import type { FarmSpec } from './farm.ts';

/** Stable seed from a meter id, so a meter behaves the same in every run. */
export function seedOf(id: string): number {
  let h = 2166136261;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 16777619);
  return h >>> 0;
}

/**
 * The farm that stands in for a campus's field devices: one concentrator per TCP bus of the
 * given gateways (all gateways when none is named), on the bus's configured port. Serial buses
 * need a serial line and are left out; they are listed in `skipped`.
 */
export function farmSpecFromCampus(
  campus: LoadedCampus,
  opts: { gateways?: string[]; portZero?: boolean } = {},
): { spec: FarmSpec; skipped: string[] } {
  const spec: FarmSpec = { concentrators: [] };
  const skipped: string[] = [];
  for (const site of campus.config.sites) {
    for (const gw of site.gateways) {
      if (opts.gateways && !opts.gateways.includes(gw.id)) continue;
      for (const bus of gw.buses) {
        if (bus.type === 'modbus-rtu') {
          skipped.push(`${gw.id}/${bus.id} (serial ${bus.path})`);
          continue;
        }
        if (bus.type === 'rtu-over-tcp' && bus.protocol !== 'modbus') {
          (spec.lines ??= []).push({
            id: bus.id,
            protocol: bus.protocol,
            port: opts.portZero ? 0 : bus.port,
            meters: bus.meters.map((m) => ({
              id: m.id,
              address: m.address ?? '',
              profile: campus.fieldProfiles.get(m.profile)!,
              load: m.simulation?.load ?? defaultLoad(m.kind, m.account),
              seed: m.simulation?.seed ?? seedOf(m.id),
            })),
          });
          continue;
        }
        spec.concentrators.push({
          id: bus.id,
          transport: bus.type,
          port: opts.portZero ? 0 : bus.port,
          meters: bus.meters.map((m) => ({
            id: m.id,
            unitId: m.unitId,
            profile: campus.profiles.get(m.profile)!,
            kind: m.kind,
            load: m.simulation?.load ?? defaultLoad(m.kind, m.account),
            seed: m.simulation?.seed ?? seedOf(m.id),
          })),
        });
      }
    }
  }
  return { spec, skipped };
}

function defaultLoad(kind: string, account: string | undefined) {
  if (kind !== 'electricity') return 'staff-household' as const;
  return account ? ('staff-household' as const) : ('office' as const);
}
