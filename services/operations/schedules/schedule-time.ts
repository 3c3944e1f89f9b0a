import type { ScheduleConfig } from '../../../config/schemas/power.ts';
import { localTimeToUtc, wallClock } from '../../metering/consumption/zone.ts';

/**
 * When a schedule has the power off: pure calendar arithmetic in the campus time zone. A night
 * belongs to the local date its lights-out falls on: that date's weekday, holiday and term decide
 * whether it has one, and power-on is the next morning when it is not later than lights-out the
 * same day (a midday break when it is).
 */

const DAY = 86_400_000;
/** How far back the last power-on is looked for (long holidays leave no night to find). */
const LOOKBACK_DAYS = 21;

export interface LocalDate {
  year: number;
  month: number;
  day: number;
}

export interface Phase {
  /** What the schedule wants now: the relay open (lights-out) or closed (power on). */
  want: 'open' | 'close';
  /**
   * When that began (UTC ms): the lights-out instant, or the power-on instant of the last night
   * it had; 0 when none was found. A newer `since` is a new order to carry out.
   */
  since: number;
  /** The local date of the night it belongs to (YYYY-MM-DD), null when none was found. */
  night: string | null;
}

const iso = (d: LocalDate) =>
  `${d.year}-${String(d.month).padStart(2, '0')}-${String(d.day).padStart(2, '0')}`;

/** The local date `days` after `d` (negative: before). */
export function addDays(d: LocalDate, days: number): LocalDate {
  const t = new Date(Date.UTC(d.year, d.month - 1, d.day + days));
  return { year: t.getUTCFullYear(), month: t.getUTCMonth() + 1, day: t.getUTCDate() };
}

const WEEKDAY = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;

/** Why the night starting on local date `d` has no lights-out, or null when it has one. */
export function skipReason(s: ScheduleConfig, d: LocalDate): string | null {
  const date = iso(d);
  if (date < s.effectiveFrom) return `before ${s.effectiveFrom}`;
  if (s.effectiveTo !== undefined && date > s.effectiveTo) return `after ${s.effectiveTo}`;
  if (s.holidays.includes(date)) return 'holiday';
  const weekday = WEEKDAY[new Date(Date.UTC(d.year, d.month - 1, d.day)).getUTCDay()]!;
  if (!s.days.includes(weekday)) return `no lights-out on ${weekday}`;
  if (s.terms.length > 0 && !s.terms.some((t) => date >= t.from && date <= t.to)) return 'outside term';
  return null;
}

const hm = (hhmm: string) => [Number(hhmm.slice(0, 2)), Number(hhmm.slice(3, 5))] as const;

/** The lights-out and power-on instants of the night starting on local date `d`. */
export function nightWindow(s: ScheduleConfig, d: LocalDate, timeZone: string): { off: number; on: number } {
  const [offH, offM] = hm(s.off);
  const [onH, onM] = hm(s.on);
  const nextMorning = s.on <= s.off;
  const off = localTimeToUtc(timeZone, d.year, d.month, d.day, offH, offM);
  const on = localTimeToUtc(timeZone, d.year, d.month, d.day + (nextMorning ? 1 : 0), onH, onM);
  return { off, on };
}

/** What the schedule wants at instant `t`. */
export function phaseAt(s: ScheduleConfig, t: number, timeZone: string): Phase {
  const w = wallClock(t, timeZone);
  const today: LocalDate = { year: w.year, month: w.month, day: w.day };
  // A window lasts less than a day, so only yesterday's or today's night can be on now.
  for (const back of [0, 1]) {
    const d = addDays(today, -back);
    if (skipReason(s, d) !== null) continue;
    const win = nightWindow(s, d, timeZone);
    if (t >= win.off && t < win.on) return { want: 'open', since: win.off, night: iso(d) };
  }
  for (let back = 0; back <= LOOKBACK_DAYS; back++) {
    const d = addDays(today, -back);
    if (skipReason(s, d) !== null) continue;
    const win = nightWindow(s, d, timeZone);
    if (win.on <= t) return { want: 'close', since: win.on, night: iso(d) };
  }
  return { want: 'close', since: 0, night: null };
}

/** The next lights-out and power-on after `t` (for the page), within `days` days. */
export function upcoming(
  s: ScheduleConfig,
  t: number,
  timeZone: string,
  days = 14,
): { night: string; off: number; on: number }[] {
  const w = wallClock(t, timeZone);
  const today: LocalDate = { year: w.year, month: w.month, day: w.day };
  const out: { night: string; off: number; on: number }[] = [];
  for (let k = -1; k <= days; k++) {
    const d = addDays(today, k);
    if (skipReason(s, d) !== null) continue;
    const win = nightWindow(s, d, timeZone);
    if (win.on > t && win.off < t + days * DAY) out.push({ night: iso(d), ...win });
  }
  return out;
}
