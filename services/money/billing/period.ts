import { localTimeToUtc } from '../../metering/consumption/zone.ts';
import { billingError } from './errors.ts';

/** A billing period: [from, to) in UTC ms, named as staff write it. */
export interface BillingPeriod {
  /** `2026-11` for a calendar month, `2026-Q4` for a quarter, `2026-11-05..2026-12-05` for dates. */
  label: string;
  from: number;
  to: number;
}

const MONTH = /^(\d{4})-(0[1-9]|1[0-2])$/;
const QUARTER = /^(\d{4})-Q([1-4])$/;
const DATES = /^(\d{4})-(\d{2})-(\d{2})\.\.(\d{4})-(\d{2})-(\d{2})$/;

/**
 * A month (`2026-11`), a quarter (`2026-Q4`) or two dates (`2026-11-05..2026-12-05`, the second
 * exclusive) in the campus zone: from local midnight to local midnight.
 */
export function parsePeriod(text: string, timeZone: string): BillingPeriod {
  const t = text.trim();
  const month = MONTH.exec(t);
  if (month) {
    const [y, m] = [Number(month[1]), Number(month[2])];
    return { label: t, from: localTimeToUtc(timeZone, y, m, 1), to: localTimeToUtc(timeZone, y, m + 1, 1) };
  }
  const quarter = QUARTER.exec(t);
  if (quarter) {
    const [y, q] = [Number(quarter[1]), Number(quarter[2])];
    const m = (q - 1) * 3 + 1;
    return { label: t, from: localTimeToUtc(timeZone, y, m, 1), to: localTimeToUtc(timeZone, y, m + 3, 1) };
  }
  const dates = DATES.exec(t);
  if (dates) {
    const n = dates.slice(1).map(Number) as [number, number, number, number, number, number];
    const valid = (y: number, m: number, d: number) =>
      m >= 1 && m <= 12 && d >= 1 && d <= new Date(Date.UTC(y, m, 0)).getUTCDate();
    if (!valid(n[0], n[1], n[2]) || !valid(n[3], n[4], n[5]))
      billingError('INVALID_PERIOD', `"${text}" names a day that does not exist`);
    const from = localTimeToUtc(timeZone, n[0], n[1], n[2]);
    const to = localTimeToUtc(timeZone, n[3], n[4], n[5]);
    if (!(to > from)) billingError('INVALID_PERIOD', `"${text}": the second date must be after the first`);
    return { label: t, from, to };
  }
  return billingError(
    'INVALID_PERIOD',
    `"${text}" is not a month (2026-11), a quarter (2026-Q4) or dates (2026-11-05..2026-12-05)`,
  );
}

/** The months (`YYYY-MM` periods) of a quarter, in order. */
export function monthsOfQuarter(quarter: string, timeZone: string): BillingPeriod[] {
  const q = QUARTER.exec(quarter.trim());
  if (!q) billingError('INVALID_PERIOD', `"${quarter}" is not a quarter like 2026-Q4`);
  const first = (Number(q[2]) - 1) * 3 + 1;
  return [0, 1, 2].map((i) => parsePeriod(`${q[1]}-${String(first + i).padStart(2, '0')}`, timeZone));
}
