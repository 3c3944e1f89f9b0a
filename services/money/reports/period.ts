import { localTimeToUtc } from '../../metering/consumption/zone.ts';
import type { Step } from '../../metering/storage.ts';
import { fail, type ErrorCatalogue } from '../../platform/errors.ts';

/**
 * A report's period on the campus wall clock: a local day, month or year, the step of its rows
 * (hours of a day, days of a month, months of a year), and the periods it is compared with.
 */

export const REPORT_ERRORS = {
  INVALID_REPORT_PERIOD: {
    status: 400,
    description: 'The report period is not a day like 2026-11-05, a month like 2026-11 or a year like 2026',
  },
  UNKNOWN_REPORT_SCOPE: {
    status: 404,
    description: 'The report scope names no building of the campus file or no customer type',
  },
} as const satisfies ErrorCatalogue;

export const PERIOD_KINDS = ['day', 'month', 'year'] as const;
export type PeriodKind = (typeof PERIOD_KINDS)[number];

export interface ReportPeriod {
  kind: PeriodKind;
  /** "2026-11-05", "2026-11" or "2026". */
  label: string;
  /** UTC ms of the local start, inclusive, and of the next period's start, exclusive. */
  from: number;
  to: number;
  /** The step of the report's rows. */
  step: Step;
  year: number;
  month: number;
  day: number;
}

const ROW_STEP: Readonly<Record<PeriodKind, Step>> = { day: '1h', month: '1d', year: '1mo' };
const PATTERN: Readonly<Record<PeriodKind, RegExp>> = {
  day: /^(\d{4})-(\d{2})-(\d{2})$/,
  month: /^(\d{4})-(\d{2})$/,
  year: /^(\d{4})$/,
};

const pad = (n: number) => String(n).padStart(2, '0');

function build(kind: PeriodKind, year: number, month: number, day: number, tz: string): ReportPeriod {
  const from = localTimeToUtc(tz, year, month, day);
  const to =
    kind === 'day'
      ? localTimeToUtc(tz, year, month, day + 1)
      : kind === 'month'
        ? localTimeToUtc(tz, year, month + 1, 1)
        : localTimeToUtc(tz, year + 1, 1, 1);
  const label =
    kind === 'day'
      ? `${year}-${pad(month)}-${pad(day)}`
      : kind === 'month'
        ? `${year}-${pad(month)}`
        : `${year}`;
  return { kind, label, from, to, step: ROW_STEP[kind], year, month, day };
}

/** The period `date` names, e.g. ('month', '2026-11'); a clear error for anything else. */
export function parsePeriod(kind: PeriodKind, date: string, tz: string): ReportPeriod {
  const m = PATTERN[kind].exec(date);
  const bad = (why: string): never =>
    fail(REPORT_ERRORS, 'INVALID_REPORT_PERIOD', `${kind} report for "${date}": ${why}`);
  if (!m)
    bad(`write the ${kind} as ${kind === 'day' ? 'YYYY-MM-DD' : kind === 'month' ? 'YYYY-MM' : 'YYYY'}`);
  const year = Number(m![1]);
  const month = kind === 'year' ? 1 : Number(m![2]);
  const day = kind === 'day' ? Number(m![3]) : 1;
  if (year < 2000 || year > 2100) bad('the year is outside 2000–2100');
  if (month < 1 || month > 12) bad('the month is not 01–12');
  // Date.UTC rolls 2026-02-30 over to March: a day that rolls over does not exist.
  if (new Date(Date.UTC(year, month - 1, day)).getUTCDate() !== day) bad('there is no such day');
  return build(kind, year, month, day, tz);
}

/** The period just before: the day before, the month before, the year before. */
export function previousPeriod(p: ReportPeriod, tz: string): ReportPeriod {
  if (p.kind === 'day') {
    const d = new Date(Date.UTC(p.year, p.month - 1, p.day - 1));
    return build('day', d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), tz);
  }
  if (p.kind === 'month') {
    const d = new Date(Date.UTC(p.year, p.month - 2, 1));
    return build('month', d.getUTCFullYear(), d.getUTCMonth() + 1, 1, tz);
  }
  return build('year', p.year - 1, 1, 1, tz);
}

/**
 * The same period a year earlier. 29 February is compared with 28 February of the year before (the
 * nearest day that exists, and the same month). For a year report it is the previous year.
 */
export function sameLastYear(p: ReportPeriod, tz: string): ReportPeriod {
  const leapDay = p.kind === 'day' && p.month === 2 && p.day === 29;
  return build(p.kind, p.year - 1, p.month, leapDay ? 28 : p.day, tz);
}
