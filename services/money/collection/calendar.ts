import { localTimeToUtc, wallClock } from '../../metering/consumption/zone.ts';

/** Campus calendar days: the dates a notice's due day, an objection period and ageing count in. */

export interface LocalDate {
  year: number;
  month: number;
  day: number;
}

export function localDate(ts: number, tz: string): LocalDate {
  const w = wallClock(ts, tz);
  return { year: w.year, month: w.month, day: w.day };
}

/** `YYYY-MM-DD` of the instant in the campus zone. */
export function isoDate(ts: number, tz: string): string {
  const d = localDate(ts, tz);
  return `${d.year}-${String(d.month).padStart(2, '0')}-${String(d.day).padStart(2, '0')}`;
}

/** The local midnight `days` calendar days after the start of the local day of `ts`. */
export function midnightAfter(ts: number, days: number, tz: string): number {
  const d = localDate(ts, tz);
  return localTimeToUtc(tz, d.year, d.month, d.day + days);
}

/** Calendar days from the local day of `a` to the local day of `b` (negative when b is earlier). */
export function daysBetween(a: number, b: number, tz: string): number {
  const x = localDate(a, tz);
  const y = localDate(b, tz);
  return Math.round(
    (Date.UTC(y.year, y.month - 1, y.day) - Date.UTC(x.year, x.month - 1, x.day)) / 86_400_000,
  );
}
