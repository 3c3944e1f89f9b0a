import type { Logger } from 'pino';
import {
  LEGACY_CONTINUOUS_QUERIES,
  LEGACY_ROLLUP_MEASUREMENT,
  RAW_MEASUREMENT,
  ROLLUP_RPS,
  continuousQueries,
  quoteIdent,
} from './rollups.ts';

/**
 * Moving a deployed database to the current roll-up definition (rollups.ts), once.
 *
 * The continuous queries before it rolled up any reading with values, uncertain ones included, and
 * kept breaker state as a mean, into the measurement `reading` of `rollup_15m` and `rollup_1d`.
 * Their slots cannot be rewritten in place: a slot whose only reading was uncertain would keep its
 * implausible register (a SELECT … INTO with no good reading writes nothing), and InfluxDB 1.x's
 * DELETE cannot be confined to one retention policy (it would delete the raw readings too). So the
 * current definition writes a measurement of its own (`rollup`), and one boundary says which one
 * is read: `rollup` for starts at or after `from`, the old `reading` before it.
 *
 * On start: the state is recorded (before anything else, so a crash anywhere resumes), the old
 * continuous queries are dropped and the current ones created (each step idempotent), then campus
 * days are recomputed from the raw readings backwards, from the one after today's down to the first
 * whole day the raw readings still hold (`target`), and `from` is recorded after each day: at every
 * moment `rollup` is complete from `from` on, and a process killed midway resumes at `from`. Days
 * before `target` keep the old roll-ups: their raw readings are gone, so nothing can recompute them.
 */

/** The current definition's version; recorded so that the move happens once. */
export const ROLLUP_DEFINITION_VERSION = 2;
/** A retention policy of its own (kept for ever) for the recorded state. */
export const SCHEMA_RP = 'schema';
export const STATE_MEASUREMENT = 'rollup_definition';
const DAY_MS = 86_400_000;
/** `from` when every roll-up is of the current definition (a database that never had the old one). */
export const ALL_CURRENT = Number.MIN_SAFE_INTEGER;

export interface RollupState {
  version: number;
  /** `rollup` holds every roll-up with start ≥ from; before it, the old `reading`. */
  from: number;
  /** Where the recomputation stops: the first campus day whose raw readings were all still held. */
  target: number;
}

export interface MigrationDb {
  database: string;
  dailyUtcOffsetMinutes: number;
  log: Logger;
  /** Runs a statement; rejects on an error answer. */
  exec(statement: string): Promise<void>;
  /** Runs a query; its series' rows. */
  rows(query: string): Promise<unknown[][]>;
  /** Names of this database's continuous queries. */
  continuousQueryNames(): Promise<Set<string>>;
  /** Recomputes the current roll-ups of [from, to). */
  recompute(from: number, to: number): Promise<void>;
  now(): number;
}

export async function readState(db: MigrationDb): Promise<RollupState | undefined> {
  const q = quoteIdent;
  const rows = await db.rows(
    `SELECT "version", "from", "target" FROM ${q(db.database)}.${q(SCHEMA_RP)}.${q(STATE_MEASUREMENT)}`,
  );
  const row = rows[rows.length - 1];
  if (!row) return undefined;
  const [, version, from, target] = row;
  if (typeof version !== 'number' || typeof from !== 'number' || typeof target !== 'number') return undefined;
  return { version, from, target };
}

/** The ts of the oldest raw reading still held, if any. */
async function firstRawTs(db: MigrationDb): Promise<number | undefined> {
  const q = quoteIdent;
  const ts = (
    await db.rows(`SELECT first("seq") FROM ${q(db.database)}.${q(ROLLUP_RPS.raw)}.${q(RAW_MEASUREMENT)}`)
  )[0]?.[0];
  return typeof ts === 'number' ? ts : undefined;
}

/** The campus day's start (UTC ms) at or after `ts`. */
function dayStartAtOrAfter(ts: number, offsetMinutes: number): number {
  const off = offsetMinutes * 60_000;
  return Math.ceil((ts + off) / DAY_MS) * DAY_MS - off;
}

/**
 * Settles the definition at start: returns the state to read by (its `from`) and, when days remain
 * to be recomputed, leaves that to `resume`.
 */
export async function settleDefinition(
  db: MigrationDb,
  saveState: (state: RollupState) => Promise<void>,
): Promise<RollupState> {
  const q = quoteIdent;
  let state = await readState(db);
  const cqs = await db.continuousQueryNames();
  if (!state || state.version < ROLLUP_DEFINITION_VERSION) {
    const legacy =
      LEGACY_CONTINUOUS_QUERIES.some((name) => cqs.has(name)) ||
      (
        await db.rows(
          `SELECT first("readings") FROM ${q(db.database)}.${q(ROLLUP_RPS.rollup1d)}.${q(LEGACY_ROLLUP_MEASUREMENT)}`,
        )
      ).length > 0;
    const firstRaw = await firstRawTs(db);
    if (!legacy && firstRaw === undefined) {
      state = { version: ROLLUP_DEFINITION_VERSION, from: ALL_CURRENT, target: ALL_CURRENT };
    } else {
      // From the end of today (campus time) back to the first day wholly held in raw readings.
      const from = dayStartAtOrAfter(db.now() + 1, db.dailyUtcOffsetMinutes);
      const target =
        typeof firstRaw === 'number'
          ? Math.min(from, dayStartAtOrAfter(firstRaw, db.dailyUtcOffsetMinutes))
          : from;
      state = { version: ROLLUP_DEFINITION_VERSION, from, target };
      db.log.info(
        { from: new Date(from).toISOString(), target: new Date(target).toISOString() },
        'roll-ups: moving to the good-readings-only definition; recomputing the days raw readings still hold',
      );
    }
    await saveState(state);
  }
  for (const name of LEGACY_CONTINUOUS_QUERIES) {
    // Another process opening the same database (ingest and the back office) may drop it first.
    if (cqs.has(name))
      await db.exec(`DROP CONTINUOUS QUERY ${q(name)} ON ${q(db.database)}`).catch((err: unknown) => {
        if (!/not found/i.test(String(err))) throw err;
      });
  }
  for (const [name, statement] of continuousQueries(db.database, db.dailyUtcOffsetMinutes)) {
    if (!cqs.has(name)) await db.exec(statement);
  }
  return state;
}

/**
 * Recomputes the remaining days, newest first, recording `from` after each; `onDay` hears of each
 * day done. Stops early (resolving) when `stopped()` says so: the next start resumes.
 */
export async function resumeRecompute(
  db: MigrationDb,
  state: RollupState,
  saveState: (state: RollupState) => Promise<void>,
  onDay: (from: number) => void,
  stopped: () => boolean,
): Promise<void> {
  let from = state.from;
  let target = state.target;
  while (from > target && !stopped()) {
    const day = from - DAY_MS;
    // Retention may have dropped raw readings since the target was set (a long recomputation, a
    // process down for weeks halfway): a day no longer wholly held would be recomputed from part
    // of its readings, or from none, and its old roll-ups no longer read. It keeps them instead.
    const firstRaw = await firstRawTs(db);
    if (firstRaw === undefined || dayStartAtOrAfter(firstRaw, db.dailyUtcOffsetMinutes) > day) {
      target = from;
      await saveState({ ...state, from, target });
      db.log.warn(
        { from: new Date(from).toISOString() },
        'roll-ups: raw readings before this are gone; older days keep the old definition',
      );
      break;
    }
    await db.recompute(day, from);
    from = day;
    await saveState({ ...state, from, target });
    onDay(from);
    db.log.info(
      { day: new Date(day).toISOString(), daysLeft: Math.round((from - target) / DAY_MS) },
      'roll-ups: a day recomputed under the good-readings-only definition',
    );
  }
}
