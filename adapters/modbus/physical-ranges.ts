import type { Quantity } from '../../config/schemas/quantities.ts';

/**
 * What each quantity can physically be on a campus meter, in its canonical unit: a value outside
 * is not a measurement (a word-order mix-up, a register holding a "not available" pattern, a
 * hostile or broken meter), however finite. The bounds are deliberately wide, to catch the
 * impossible rather than the unusual (a profile narrows them per point with `range`):
 *
 * - energy, heat and volume registers count up from zero: never negative; 10^10 kWh is ten
 *   thousand GWh, a century of a large university's whole supply;
 * - voltages: a low-voltage campus network measures phase voltages under 1 kV (higher ones are
 *   measured through transformers whose meters still read secondary-side values or scaled ones
 *   well under 10^6 V); 10^6 leaves room for scaled medium-voltage readings;
 * - currents under 10^5 A and powers within ±10^6 kW cover a campus incomer many times over;
 * - a power factor lies in [−1, 1]; water in a heat meter's pipes between −50 and 200 °C.
 */
export interface PhysicalRange {
  min: number;
  max: number;
}

export const PHYSICAL_RANGES: Readonly<Record<Quantity, PhysicalRange>> = Object.freeze({
  energy_import_kwh: { min: 0, max: 1e10 },
  energy_export_kwh: { min: 0, max: 1e10 },
  power_kw: { min: -1e6, max: 1e6 },
  voltage_v: { min: 0, max: 1e6 },
  voltage_l2_v: { min: 0, max: 1e6 },
  voltage_l3_v: { min: 0, max: 1e6 },
  current_a: { min: -1e5, max: 1e5 },
  current_l2_a: { min: -1e5, max: 1e5 },
  current_l3_a: { min: -1e5, max: 1e5 },
  pf: { min: -1, max: 1 },
  volume_m3: { min: 0, max: 1e10 },
  flow_m3h: { min: -1e5, max: 1e5 },
  heat_kwh: { min: 0, max: 1e10 },
  supply_c: { min: -50, max: 200 },
  return_c: { min: -50, max: 200 },
  relay_closed: { min: 0, max: 1 },
  breaker_closed: { min: 0, max: 1 },
});

/**
 * The smallest normal float32: a decoded float of smaller magnitude but not zero (5.9e-39 V) is a
 * denormal, which meters do not produce; it comes from reading the wrong words.
 */
export const MIN_NORMAL_F32 = 1.1754943508222875e-38;

/** The flag a reading carries when `quantity` was withheld for lying outside its range. */
export function outOfRangeFlag(quantity: Quantity): string {
  return `OUT_OF_RANGE_${quantity}`;
}

/**
 * Raw integer patterns that meters (and the SunSpec convention) use for "not available": an
 * unsigned register with every bit set, a signed one at its most negative value. A real count
 * sits there one step before it wraps, once in 65,536 or 4 billion steps: withholding that one
 * reading costs less than publishing 42,949,672.95 kWh for a meter that has nothing to say.
 */
const NOT_AVAILABLE: Partial<Record<string, number>> = {
  u16: 0xffff,
  u32: 0xffffffff,
  u64: 2 ** 64 - 1,
  i16: -0x8000,
  i32: -0x80000000,
  i64: -(2 ** 63),
};

export function isNotAvailable(type: string, raw: number): boolean {
  return NOT_AVAILABLE[type] === raw;
}
