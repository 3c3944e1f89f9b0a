import type { CumulativeQuantity } from '../storage.ts';

/**
 * Validated, estimated and edited (VEE) interval data: what billing reads instead of raw
 * readings. Raw readings are never changed; VEE keeps its own versioned intervals next to them,
 * each saying where its value came from and which rules it failed.
 */

export const VEE_RULES = [
  'timestamp-future',
  'timestamp-duplicate',
  'timestamp-out-of-order',
  'device-clock',
  'register-decrease',
  'rollover',
  'meter-replaced',
  'running-backwards',
  'bad-reading',
  'spike',
  'gap',
  'zero-consumption',
  'flat-line',
  'reverse-energy',
  'sum-check',
  'no-meter-yet',
  'raw-retired',
] as const;
export type VeeRule = (typeof VEE_RULES)[number];

export interface VeeFlag {
  rule: VeeRule;
  /** Human-readable: which figures broke which threshold. */
  reason: string;
  /** `info` flags explain (a rollover, a relay cut-off); `fail` flags block billing until estimated or edited. */
  severity: 'info' | 'fail';
}

export type IntervalSource = 'actual' | 'estimated' | 'edited';

export interface ValidatedInterval {
  meter: string;
  quantity: CumulativeQuantity;
  /** UTC ms, inclusive. */
  start: number;
  /** UTC ms, exclusive. */
  end: number;
  /** Consumption in the quantity's unit; null only when neither measured nor estimable. */
  value: number | null;
  source: IntervalSource;
  /** For estimates: 'linear' or 'like-day'; for edits: the reason code. */
  method?: string;
  flags: VeeFlag[];
  /** 1 for the first version; each re-estimate, real read or edit adds one. */
  version: number;
  /** Set once billed: this version is pinned and later data does not replace it. */
  billedIn?: string;
  /** Who made an edited version. */
  editedBy?: string;
  /**
   * Of `value`, how much was estimated and how much edited (daily intervals: the sums of their
   * estimated and edited 15-min parts, so a day with one estimated quarter-hour is not all estimated).
   */
  estimatedValue?: number;
  editedValue?: number;
  /** How an estimate or edit was made, in words (the readings it spans, the scale factor, the edit note). */
  note?: string;
}

/** What billing needs from VEE. */
export interface ValidatedSource {
  /** The current version of each interval of `step` (1 day or 15 min) for the meter in [from, to). */
  intervals(q: {
    meter: string;
    quantity: CumulativeQuantity;
    from: number;
    to: number;
    step: '15m' | '1d';
  }): Promise<ValidatedInterval[]>;
  /** Register value at a time (interpolated from raw readings, or from an estimate), for opening/closing reads. */
  registerAt(
    meter: string,
    quantity: CumulativeQuantity,
    ts: number,
  ): Promise<{ value: number; estimated: boolean } | null>;
  /** Pins the versions used by a bill run so later reads do not change a billed number. */
  pin(billRun: string, intervals: readonly ValidatedInterval[]): Promise<void>;
  /**
   * Corrections that arrived after [from, to) was billed (edits, recorded resets and exchanges,
   * actual reads replacing estimates): VEE re-validates the span, then gives per local day the use
   * with every correction applied, and the 15-min versions to pin when the correction is billed.
   * Absent on a source that cannot correct (nothing is then adjusted).
   */
  corrections?(meter: string, quantity: CumulativeQuantity, from: number, to: number): Promise<Correction>;
}

/** What changed in a billed span since it was billed. */
export interface Correction {
  /** The newest version of each interval that changed since it was billed (empty: nothing to adjust). */
  changed: ValidatedInterval[];
  /** Per local day of the span: its use with the changes applied (null when a day has no value). */
  days: { start: number; end: number; value: number | null }[];
  /** In words, each kind of change once: "edited by sup.li (METER_FAULT)", "actual replaces estimate". */
  reasons: string[];
}
