import type { Quantity } from '../config/schemas/quantities.ts';
import type { PollResult } from './types.ts';

/**
 * The plausibility of a cumulative register from one reading to the next (issue 26 item 6). A
 * finite value inside the physical range can still be impossible as a *step*: an energy register
 * that runs backwards (a word-order mix-up, a glitch, a hostile meter) or jumps by more than the
 * installation could have drawn since the last reading (1e6 kWh in a minute on a 60 A dorm supply).
 * Such a reading is published uncertain, its values kept and flagged, never as good: VEE and
 * billing then decide (a meter exchange also runs a register backwards, once).
 *
 * - A fall is a wrap, not a decrease, when the register has a rollover value and the fall is more
 *   than half of it (the counter went through its maximum).
 * - A rise is judged only where the meter's maximum power is known (`maxPowerKw` in the campus
 *   file): energy in kWh may grow by at most maxPowerKw × hours elapsed × 1.5, plus one unit for
 *   the register's resolution. Water volume has no such bound here.
 * - Each reading is compared with the previous one as read, whatever its quality, so that a
 *   lasting change (an exchanged meter) is flagged once, not for ever.
 */

const CUMULATIVE: readonly Quantity[] = ['energy_import_kwh', 'energy_export_kwh', 'heat_kwh', 'volume_m3'];
const ENERGY = new Set<Quantity>(['energy_import_kwh', 'energy_export_kwh', 'heat_kwh']);
const HOUR_MS = 3_600_000;
const MARGIN = 1.5;

export interface StepLimits {
  maxPowerKw?: number;
  /** Where each cumulative register wraps, in its canonical unit. */
  rolloverAt(q: Quantity): number | undefined;
}

export function decreaseFlag(q: Quantity): string {
  return `DECREASE_${q}`;
}
export function stepFlag(q: Quantity): string {
  return `IMPLAUSIBLE_STEP_${q}`;
}

export class EnergySteps {
  /**
   * The last value and time of each cumulative register, by its index in CUMULATIVE (NaN: none
   * yet). One small array of doubles updated in place: a gateway keeps one per meter and judges
   * every poll, and a Map of fresh objects per poll was promoted garbage at 10,000 meters.
   */
  private readonly last: number[] = [NaN, NaN, NaN, NaN, 0, 0, 0, 0];

  constructor(private readonly limits: StepLimits) {}

  /** The result as published: unchanged when plausible, else uncertain with the flags why. */
  judge(result: PollResult): PollResult {
    if ('error' in result) return result;
    let flags: string[] | null = null;
    for (let i = 0; i < CUMULATIVE.length; i++) {
      const q = CUMULATIVE[i]!;
      const value = result.values[q];
      if (value === undefined) continue;
      const prevValue = this.last[i]!;
      const prevTs = this.last[i + CUMULATIVE.length]!;
      this.last[i] = value;
      this.last[i + CUMULATIVE.length] = result.ts;
      if (Number.isNaN(prevValue)) continue;
      const flag = this.step(q, { value: prevValue, ts: prevTs }, value, result.ts);
      if (flag) (flags ??= []).push(flag);
    }
    if (flags === null) return result;
    return { ...result, quality: 'uncertain', flags: [...(result.flags ?? []), ...flags] };
  }

  private step(q: Quantity, prev: { value: number; ts: number }, value: number, ts: number): string | null {
    const rollover = this.limits.rolloverAt(q);
    let rise = value - prev.value;
    if (rise < 0) {
      if (rollover === undefined || -rise < rollover / 2) return decreaseFlag(q);
      rise += rollover;
    }
    const max = this.limits.maxPowerKw;
    if (max === undefined || !ENERGY.has(q)) return null;
    // A reading stamped earlier than the last (the wall clock stepped back): the time elapsed is
    // unknown, so the rise is not judged.
    if (ts < prev.ts) return null;
    const hours = (ts - prev.ts) / HOUR_MS;
    return rise > max * hours * MARGIN + 1 ? stepFlag(q) : null;
  }
}
