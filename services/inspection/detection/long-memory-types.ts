/**
 * The long memory's per-meter daily features and its calendar of days (long-memory.ts), apart so
 * that the structures kept beside it (peer-medians-incremental.ts) use them without an import
 * circle.
 */

/** A meter's daily features over the store's whole days (absolute local day `firstDay` on). */
export interface MeterDaily {
  firstDay: number;
  X: Float64Array;
  L: Float64Array;
  S: Float64Array;
  C: Float64Array;
  /** log of the day's hourly coefficient of variation (how much shape the day has at all), minus… */
  V: Float64Array;
  /** …its median over the store's days. */
  vMid: number;
  /** corr(day, own profile) − corr(day, the profile reversed in time): which way the day runs. */
  R: Float64Array;
  /** L against the same weekdays a year before (see `yearOnYear`). */
  Y: Float64Array;
}

export interface Days {
  k0: number;
  D: number;
  firstDay: number;
  weekend: Uint8Array;
  tFrom: number;
  tTo: number;
  refStart: number;
  refEnd: number;
}
