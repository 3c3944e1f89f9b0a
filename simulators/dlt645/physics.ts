import type { Profile } from '../../config/schemas/profile.ts';
import type { Quantity } from '../../config/schemas/quantities.ts';
import type { LoadProfileName } from '../meters/load-profiles.ts';
import { SimMeter, type MeterState } from '../meters/sim-meter.ts';

/**
 * The physics of a simulated DL/T 645 or CJ/T 188 meter is the same as a Modbus one's (load
 * shapes, counters integrated over simulated time, relay): a SimMeter. It needs a Modbus profile
 * only for its register image, which these meters never serve, so it gets a one-point stand-in of
 * the right kind.
 */
function standIn(kind: 'electricity' | 'water' | 'heat'): Profile {
  const quantity: Quantity =
    kind === 'electricity' ? 'energy_import_kwh' : kind === 'water' ? 'volume_m3' : 'heat_kwh';
  return {
    model: `physics stand-in (${kind})`,
    manufacturer: 'simulator',
    kind,
    source: 'simulators/dlt645/physics.ts',
    manualBase: 0,
    maxRegistersPerRead: 125,
    maxGapRegisters: 0,
    points: [
      {
        quantity,
        fc: 4,
        address: 0,
        type: 'f32',
        wordOrder: 'big',
        byteOrder: 'big',
        scale: 1,
        unit: kind === 'electricity' || kind === 'heat' ? 'kWh' : 'm3',
      },
    ],
  };
}

export interface PhysicsOptions {
  id: string;
  kind: 'electricity' | 'water' | 'heat';
  load: LoadProfileName;
  seed: number;
  phases?: 1 | 3;
  clock?: () => number;
  speed?: number;
  startTime?: number;
  utcOffsetMinutes?: number;
}

export function physicsMeter(o: PhysicsOptions): SimMeter {
  return new SimMeter({
    id: o.id,
    profile: standIn(o.kind),
    load: o.load,
    seed: o.seed,
    unitId: 1,
    phases: o.phases ?? 1,
    ...(o.clock ? { clock: o.clock } : {}),
    ...(o.speed ? { speed: o.speed } : {}),
    ...(o.startTime !== undefined ? { startTime: o.startTime } : {}),
    ...(o.utcOffsetMinutes !== undefined ? { utcOffsetMinutes: o.utcOffsetMinutes } : {}),
  });
}

/** A quantity's value in a meter state (canonical units). */
export function quantityValue(q: Quantity, s: MeterState): number {
  const map: Record<Quantity, number> = {
    energy_import_kwh: s.energyImportKwh,
    energy_export_kwh: s.energyExportKwh,
    power_kw: s.powerKw,
    voltage_v: s.voltageV,
    voltage_l2_v: s.voltageL2V,
    voltage_l3_v: s.voltageL3V,
    current_a: s.currentA,
    current_l2_a: s.currentL2A,
    current_l3_a: s.currentL3A,
    pf: s.pf,
    volume_m3: s.volumeM3,
    flow_m3h: s.flowM3h,
    heat_kwh: s.heatKwh,
    supply_c: s.supplyC,
    return_c: s.returnC,
    relay_closed: s.relayClosed ? 1 : 0,
    breaker_closed: 1,
  };
  return map[q];
}
