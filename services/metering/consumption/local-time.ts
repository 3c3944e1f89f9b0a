import { localTimeToUtc } from './zone.ts';
import type { IntervalConsumption } from '../storage.ts';

/**
 * `2026-11-01` or `2026-11-01T08:30` read as wall-clock time in the campus zone, as staff write
 * dates; returns UTC ms, or throws naming what is wrong.
 */
export function parseLocalTime(text: string, timeZone: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2}))?$/.exec(text.trim());
  if (!m) throw new Error(`"${text}" is not a date like 2026-11-01 or 2026-11-01T08:30`);
  const [year, month, day, hour, minute] = [m[1], m[2], m[3], m[4] ?? '0', m[5] ?? '0'].map(Number) as [
    number,
    number,
    number,
    number,
    number,
  ];
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59) {
    throw new Error(`"${text}" is not a valid date and time`);
  }
  return localTimeToUtc(timeZone, year, month, day, hour, minute);
}

/** Wall-clock time in the campus zone, for display: `2026-11-01 08:30`. */
export function formatLocalTime(ts: number, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(ts);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return `${get('year')}-${get('month')}-${get('day')} ${get('hour')}:${get('minute')}`;
}

/** Interval consumption as CSV, times in the campus zone; a gap stays empty, never 0. */
export function consumptionCsv(rows: readonly IntervalConsumption[], timeZone: string, unit: string): string {
  const lines = [`meter,start (${timeZone}),end (${timeZone}),consumption (${unit}),status`];
  for (const r of rows) {
    const value = r.value === null ? '' : String(Math.round(r.value * 1000) / 1000);
    lines.push(
      `${r.meter},${formatLocalTime(r.start, timeZone)},${formatLocalTime(r.end, timeZone)},${value},${r.status}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
