import { ROLLUP_LAST_QUANTITIES } from '../../services/metering/storage.ts';
import { QUANTITY_FIELDS } from './line-protocol.ts';

/**
 * InfluxDB's roll-ups, defined as the embedded store's (adapters/sqlite/rollups.ts), field for
 * field, so that what is kept for ever does not depend on the store:
 *
 * - `readings`: every reading that came in the slot, whatever its quality (the meter's polls; a
 *   day's is the sum of its slots');
 * - cumulative registers, relay and breaker state: the last **good** value in the slot (a day's:
 *   the last of its slots');
 * - instantaneous values: the mean of the good values (a day's: the mean of its slots' means);
 * - `power_kw_max`: the highest good power_kw (a day's: the highest of its slots').
 *
 * An uncertain reading (IMPLAUSIBLE_STEP and the like) is a value VEE must not trust and an error
 * reading has none, so neither is in a value. `quality` is a string field of each raw point, hence
 * `WHERE "quality" = 'good'`; the polls need every reading, so they come from a second SELECT …
 * INTO writing `readings` into the very same points (InfluxDB merges the fields of one series and
 * timestamp). A slot with no good reading has `readings` and nothing else.
 */

/** Where the raw readings are, and where the roll-ups go in `rollup_15m` and `rollup_1d`. */
export const RAW_MEASUREMENT = 'reading';
export const ROLLUP_MEASUREMENT = 'rollup';
/**
 * Where the continuous queries before this definition wrote (any reading with values, uncertain
 * ones included; breaker state as a mean). Kept for the roll-ups of days whose raw readings were
 * gone before the definition changed: they cannot be computed again (see rollup-migration.ts).
 */
export const LEGACY_ROLLUP_MEASUREMENT = 'reading';

export const ROLLUP_RPS = { raw: 'raw', rollup15m: 'rollup_15m', rollup1d: 'rollup_1d' } as const;

export const CONTINUOUS_QUERIES = {
  rollup15m: 'cq_rollup_15m',
  polls15m: 'cq_rollup_15m_polls',
  rollup1d: 'cq_rollup_1d',
} as const;
/** The continuous queries of the old definition, dropped where found. */
export const LEGACY_CONTINUOUS_QUERIES = ['cq_reading_15m', 'cq_reading_1d'] as const;

/** Registers whose roll-up is their last value (services/metering/storage.ts). */
export const LAST_FIELDS = ROLLUP_LAST_QUANTITIES;

/** An InfluxQL identifier in double quotes. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/[\\"]/g, '\\$&')}"`;
}

/**
 * The SELECT … INTO statements of one step, with an optional time condition (` AND time >= …`):
 * for '15m' the good readings' values and every reading's count, from the raw readings; for '1d'
 * campus days from the 15-minute roll-ups. The continuous queries run each alone.
 */
export function rollupSelects(
  database: string,
  step: '15m' | '1d',
  dailyUtcOffsetMinutes: number,
  timeCondition = '',
): string[] {
  const q = quoteIdent;
  const at = (rp: string): string => `${q(database)}.${q(rp)}.${q(ROLLUP_MEASUREMENT)}`;
  const raw = `${q(database)}.${q(ROLLUP_RPS.raw)}.${q(RAW_MEASUREMENT)}`;
  const fields = QUANTITY_FIELDS.map((f) => `${LAST_FIELDS.has(f) ? 'last' : 'mean'}(${q(f)}) AS ${q(f)}`);
  if (step === '15m') {
    const where = timeCondition ? ` AND ${timeCondition}` : '';
    const polls = timeCondition ? ` WHERE ${timeCondition}` : '';
    return [
      `SELECT ${[...fields, `max("power_kw") AS "power_kw_max"`].join(', ')} INTO ${at(ROLLUP_RPS.rollup15m)} ` +
        `FROM ${raw} WHERE "quality" = 'good'${where} GROUP BY time(15m), *`,
      `SELECT count("seq") AS "readings" INTO ${at(ROLLUP_RPS.rollup15m)} FROM ${raw}${polls} GROUP BY time(15m), *`,
    ];
  }
  fields.push(`max("power_kw_max") AS "power_kw_max"`, `sum("readings") AS "readings"`);
  const offset = -Math.round(dailyUtcOffsetMinutes);
  const where = timeCondition ? ` WHERE ${timeCondition}` : '';
  return [
    `SELECT ${fields.join(', ')} INTO ${at(ROLLUP_RPS.rollup1d)} FROM ${at(ROLLUP_RPS.rollup15m)}${where} ` +
      `GROUP BY time(1d, ${offset}m), *`,
  ];
}

/** The continuous queries (name, statement) of the current definition. */
export function continuousQueries(database: string, dailyUtcOffsetMinutes: number): Array<[string, string]> {
  const q = quoteIdent;
  const [good, polls] = rollupSelects(database, '15m', dailyUtcOffsetMinutes);
  const [day] = rollupSelects(database, '1d', dailyUtcOffsetMinutes);
  // The 15-minute ones resample the last hour, so readings a gateway replays within it are in;
  // the daily one the last two days, from the 15-minute roll-ups.
  const cq = (name: string, every: string, span: string, select: string): [string, string] => [
    name,
    `CREATE CONTINUOUS QUERY ${q(name)} ON ${q(database)} RESAMPLE EVERY ${every} FOR ${span} BEGIN ${select} END`,
  ];
  return [
    cq(CONTINUOUS_QUERIES.rollup15m, '5m', '1h', good!),
    cq(CONTINUOUS_QUERIES.polls15m, '5m', '1h', polls!),
    cq(CONTINUOUS_QUERIES.rollup1d, '1h', '2d', day!),
  ];
}
