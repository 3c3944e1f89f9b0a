import { z } from 'zod';

/**
 * The fixed vocabulary of what a reading can carry, each in one canonical unit. Every profile
 * converts its registers into these, so that nothing downstream ever has to know a meter model.
 * `voltage_v` and `current_a` are the single phase of a 1-phase meter and phase L1 (line to
 * neutral) of a 3-phase meter; `_l2`/`_l3` carry the other phases.
 */
export const QUANTITIES = {
  energy_import_kwh: 'kWh',
  energy_export_kwh: 'kWh',
  power_kw: 'kW',
  voltage_v: 'V',
  voltage_l2_v: 'V',
  voltage_l3_v: 'V',
  current_a: 'A',
  current_l2_a: 'A',
  current_l3_a: 'A',
  pf: '1',
  volume_m3: 'm3',
  flow_m3h: 'm3/h',
  heat_kwh: 'kWh',
  supply_c: 'degC',
  return_c: 'degC',
  relay_closed: '1',
  /** A feeder or incomer circuit breaker: 1 closed, 0 open (substations). */
  breaker_closed: '1',
} as const;

export type Quantity = keyof typeof QUANTITIES;
export const QuantitySchema = z.enum(Object.keys(QUANTITIES) as [Quantity, ...Quantity[]]);

/**
 * Source units a profile may declare for a point, with the factor that turns one source unit into
 * the canonical unit of its dimension. A point's unit must share the dimension of its quantity.
 */
export const UNITS = {
  Wh: { dim: 'energy', factor: 0.001 },
  kWh: { dim: 'energy', factor: 1 },
  MWh: { dim: 'energy', factor: 1000 },
  MJ: { dim: 'energy', factor: 1 / 3.6 },
  GJ: { dim: 'energy', factor: 1000 / 3.6 },
  W: { dim: 'power', factor: 0.001 },
  kW: { dim: 'power', factor: 1 },
  V: { dim: 'voltage', factor: 1 },
  mA: { dim: 'current', factor: 0.001 },
  A: { dim: 'current', factor: 1 },
  '1': { dim: 'ratio', factor: 1 },
  L: { dim: 'volume', factor: 0.001 },
  m3: { dim: 'volume', factor: 1 },
  'L/h': { dim: 'flow', factor: 0.001 },
  'm3/h': { dim: 'flow', factor: 1 },
  degC: { dim: 'temperature', factor: 1 },
} as const;

export type Unit = keyof typeof UNITS;
export const UnitSchema = z.enum(Object.keys(UNITS) as [Unit, ...Unit[]]);

const QUANTITY_DIM: Record<Quantity, (typeof UNITS)[Unit]['dim']> = {
  energy_import_kwh: 'energy',
  energy_export_kwh: 'energy',
  power_kw: 'power',
  voltage_v: 'voltage',
  voltage_l2_v: 'voltage',
  voltage_l3_v: 'voltage',
  current_a: 'current',
  current_l2_a: 'current',
  current_l3_a: 'current',
  pf: 'ratio',
  volume_m3: 'volume',
  flow_m3h: 'flow',
  heat_kwh: 'energy',
  supply_c: 'temperature',
  return_c: 'temperature',
  relay_closed: 'ratio',
  breaker_closed: 'ratio',
};

/** Factor from `unit` to the canonical unit of `quantity`, or undefined if they do not fit. */
export function unitFactor(unit: Unit, quantity: Quantity): number | undefined {
  const u = UNITS[unit];
  return u.dim === QUANTITY_DIM[quantity] ? u.factor : undefined;
}
