import type { Step } from '../storage.ts';

/**
 * Calendar arithmetic in an IANA time zone with nothing but Intl: interval boundaries for
 * consumption steps. All instants are UTC milliseconds.
 */

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

/** Steps shorter than a day, in ms; days and months are calendar steps. */
const FIXED_STEP_MS: Partial<Record<Step, number>> = { '15m': 15 * MINUTE, '1h': HOUR };

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    // Throws a RangeError for an unknown zone, which is what a caller passing one should get.
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

export interface WallClock {
  year: number;
  /** 1–12. */
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/** The wall clock in `timeZone` at instant `ts` (to the second), as Intl formats it: the reference. */
function intlWallClock(ts: number, timeZone: string): WallClock {
  const out: WallClock = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 };
  for (const part of formatter(timeZone).formatToParts(ts)) {
    if (part.type in out) out[part.type as keyof WallClock] = Number(part.value);
  }
  return out;
}

/** UTC offset at `ts` as Intl computes it, in ms (whole seconds: pre-1900 local mean times have them). */
function intlOffset(ts: number, timeZone: string): number {
  const w = intlWallClock(ts, timeZone);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return asUtc - Math.floor(ts / 1000) * 1000;
}

/**
 * Offsets per zone and UTC day: the day's offset when it is the same at the day's first and last
 * second, NaN for a day that holds a transition (its instants are asked of Intl one by one).
 * Intl's formatToParts costs microseconds a call, and VEE, consumption and reports ask for an
 * offset per 15-minute interval: uncached it was over 70 % of a bill run's CPU. Assumes no zone
 * changes its offset and back within one UTC day, which no tz database zone does.
 */
const dayOffsets = new Map<string, Map<number, number>>();
const DAY_CACHE_LIMIT = 200_000;

/** UTC offset of `timeZone` at instant `ts`, in ms (positive east of Greenwich: +8 h for Shanghai). */
export function zoneOffset(ts: number, timeZone: string): number {
  let days = dayOffsets.get(timeZone);
  if (!days) {
    // An unknown zone throws here (RangeError), before anything is cached for it.
    formatter(timeZone);
    days = new Map();
    dayOffsets.set(timeZone, days);
  }
  const d = Math.floor(ts / DAY);
  let offset = days.get(d);
  if (offset === undefined) {
    const first = intlOffset(d * DAY, timeZone);
    offset = first === intlOffset((d + 1) * DAY - 1000, timeZone) ? first : NaN;
    if (days.size >= DAY_CACHE_LIMIT) days.clear();
    days.set(d, offset);
  }
  return Number.isNaN(offset) ? intlOffset(ts, timeZone) : offset;
}

/** The wall clock in `timeZone` at instant `ts` (to the second). */
export function wallClock(ts: number, timeZone: string): WallClock {
  const local = new Date(Math.floor(ts / 1000) * 1000 + zoneOffset(ts, timeZone));
  return {
    year: local.getUTCFullYear(),
    month: local.getUTCMonth() + 1,
    day: local.getUTCDate(),
    hour: local.getUTCHours(),
    minute: local.getUTCMinutes(),
    second: local.getUTCSeconds(),
  };
}

/** The reference implementations, for tests that hold the cached ones to them. */
export const intlReference = { wallClock: intlWallClock, zoneOffset: intlOffset };

/**
 * The instant at which the wall clock in `timeZone` shows the given local time (month and day may
 * overflow, as with Date.UTC). Disambiguates like Temporal's 'compatible': a time repeated when
 * clocks go back is the earlier instant; a time skipped when clocks go forward is moved forward by
 * the size of the skip (so a skipped midnight becomes the first instant of that day).
 */
export function localTimeToUtc(
  timeZone: string,
  year: number,
  month: number,
  day = 1,
  hour = 0,
  minute = 0,
): number {
  const asUtc = Date.UTC(year, month - 1, day, hour, minute);
  // Zones change offset at most once within a day or so, so the offsets a day either side are
  // the only two candidates.
  const before = zoneOffset(asUtc - DAY, timeZone);
  const after = zoneOffset(asUtc + DAY, timeZone);
  const candidates = [asUtc - before, asUtc - after].filter((t) => t + zoneOffset(t, timeZone) === asUtc);
  if (candidates.length > 0) return Math.min(...candidates);
  return asUtc - before;
}

function mod(a: number, n: number): number {
  return ((a % n) + n) % n;
}

/** The step boundary at or before `ts`. */
export function floorToStep(ts: number, step: Step, timeZone: string): number {
  const fixed = FIXED_STEP_MS[step];
  if (fixed !== undefined) {
    let t = ts - mod(ts + zoneOffset(ts, timeZone), fixed);
    // If the offset changed between t and ts (a transition not on a whole step), realign once.
    const mis = mod(t + zoneOffset(t, timeZone), fixed);
    if (mis !== 0) t -= mis;
    return t;
  }
  const w = wallClock(ts, timeZone);
  const t = localTimeToUtc(timeZone, w.year, w.month, step === '1mo' ? 1 : w.day);
  // A day whose midnight was skipped starts after 00:00 local; `ts` can be before that instant
  // only if it lies in the previous day.
  return t <= ts ? t : floorToStep(ts - HOUR, step, timeZone);
}

/** The step boundary strictly after boundary `t`. */
export function nextBoundary(t: number, step: Step, timeZone: string): number {
  const fixed = FIXED_STEP_MS[step];
  if (fixed !== undefined) {
    let c = t + fixed;
    const mis = mod(c + zoneOffset(c, timeZone), fixed);
    if (mis !== 0) {
      c -= mis;
      if (c <= t) c += fixed;
    }
    return c;
  }
  const w = wallClock(t, timeZone);
  return step === '1mo'
    ? localTimeToUtc(timeZone, w.year, w.month + 1, 1)
    : localTimeToUtc(timeZone, w.year, w.month, w.day + 1);
}

/**
 * Boundaries of every interval that overlaps [from, to): from the boundary at or before `from`
 * to the first boundary at or after `to`. Empty when to <= from.
 */
export function stepBoundaries(from: number, to: number, step: Step, timeZone: string): number[] {
  if (!(to > from)) return [];
  const out = [floorToStep(from, step, timeZone)];
  while (out[out.length - 1]! < to) out.push(nextBoundary(out[out.length - 1]!, step, timeZone));
  return out;
}
