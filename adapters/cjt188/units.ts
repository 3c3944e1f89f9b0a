import type { Quantity } from '../../config/schemas/quantities.ts';

/**
 * CJ/T 188-2004 unit codes, with the factor that turns one unit into the canonical unit of its
 * dimension (kWh, kW, m³, m³/h). The meter sends the code with every value, so the conversion is
 * chosen at run time from what the meter says, never assumed from the profile.
 */
export const CJT188_UNITS: Readonly<
  Record<number, { name: string; dim: 'energy' | 'power' | 'volume' | 'flow'; factor: number }>
> = Object.freeze({
  0x01: { name: 'J', dim: 'energy', factor: 1 / 3_600_000 },
  0x02: { name: 'Wh', dim: 'energy', factor: 0.001 },
  0x05: { name: 'kWh', dim: 'energy', factor: 1 },
  0x08: { name: 'MWh', dim: 'energy', factor: 1000 },
  0x0a: { name: 'MWh×100', dim: 'energy', factor: 100_000 },
  0x0b: { name: 'kJ', dim: 'energy', factor: 1 / 3600 },
  0x0e: { name: 'MJ', dim: 'energy', factor: 1 / 3.6 },
  0x11: { name: 'GJ', dim: 'energy', factor: 1000 / 3.6 },
  0x13: { name: 'GJ×100', dim: 'energy', factor: 100_000 / 3.6 },
  0x14: { name: 'W', dim: 'power', factor: 0.001 },
  0x17: { name: 'kW', dim: 'power', factor: 1 },
  0x1a: { name: 'MW', dim: 'power', factor: 1000 },
  0x29: { name: 'L', dim: 'volume', factor: 0.001 },
  0x2c: { name: 'm³', dim: 'volume', factor: 1 },
  0x32: { name: 'L/h', dim: 'flow', factor: 0.001 },
  0x35: { name: 'm³/h', dim: 'flow', factor: 1 },
});

const DIM_OF: Partial<Record<Quantity, 'energy' | 'power' | 'volume' | 'flow'>> = {
  heat_kwh: 'energy',
  energy_import_kwh: 'energy',
  power_kw: 'power',
  volume_m3: 'volume',
  flow_m3h: 'flow',
};

/** The factor for `code` into `quantity`'s canonical unit, or a reason it has none. */
export function unitFactorOf(code: number, quantity: Quantity): { factor: number } | { problem: string } {
  const u = CJT188_UNITS[code];
  const hex = `0x${code.toString(16).padStart(2, '0').toUpperCase()}`;
  if (!u) return { problem: `unknown unit code ${hex} for ${quantity}` };
  if (DIM_OF[quantity] !== u.dim) return { problem: `unit code ${hex} (${u.name}) does not fit ${quantity}` };
  return { factor: u.factor };
}

/** The code a simulator sends for a canonical quantity (kWh, kW, m³, m³/h). */
export const CANONICAL_UNIT_CODE = { energy: 0x05, power: 0x17, volume: 0x2c, flow: 0x35 } as const;
