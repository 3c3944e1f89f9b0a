import { localTimeToUtc } from '../../metering/consumption/zone.ts';
import { reconciliationError } from './errors.ts';

/**
 * A half month in the campus zone: `2026-11-H1` is the 1st to the 15th, `2026-11-H2` the 16th to
 * the month's end, each from local midnight to local midnight.
 */
export interface HalfMonth {
  label: string;
  from: number;
  to: number;
}

const HALF = /^(\d{4})-(0[1-9]|1[0-2])-H([12])$/;

export function parseHalfMonth(text: string, tz: string): HalfMonth {
  const m = HALF.exec(text.trim());
  if (!m)
    return reconciliationError(
      'INVALID_HALF_MONTH',
      `"${text}" is not a half month like 2026-11-H1 or 2026-11-H2`,
    );
  const [y, mo, h] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return h === 1
    ? { label: text.trim(), from: localTimeToUtc(tz, y, mo, 1), to: localTimeToUtc(tz, y, mo, 16) }
    : { label: text.trim(), from: localTimeToUtc(tz, y, mo, 16), to: localTimeToUtc(tz, y, mo + 1, 1) };
}
