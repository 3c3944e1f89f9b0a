import type { ChunkRow } from './chunk-codec.ts';

/**
 * The embedded store's roll-ups, the same as InfluxDB's continuous queries make
 * (adapters/influx/rollups.ts; test/storage/rollups-agree.test.ts holds both to one definition), so that what is kept for ever does not depend on the
 * store: per meter and 15-minute slot, `last` of the cumulative registers and relay state (their
 * difference between slots is the consumption), `mean` of instantaneous values, the highest power
 * (peak demand) and how many readings came (every poll: good, uncertain and error); per day the same again over that day's
 * 15-minute slots (last of last, mean of the means, max of the maxima, sum of counts).
 *
 * A roll-up is shaped as a chunk row, so it is stored with the chunk codec: `seq` holds the number
 * of readings, `ts` the slot's start, the value columns the slot's values and one extra column
 * after them the highest power. Values come from good readings only, as series() gives them.
 */

export const SLOT_MS = 15 * 60_000;
export const DAY_MS = 86_400_000;

const QUALITY_GOOD = 0;

export interface RollupShape {
  /** Value columns of a reading row. */
  columns: number;
  /** Columns whose roll-up is the last value (cumulative registers, relay state). */
  last: ReadonlySet<number>;
  /** The power column, whose maximum is kept in the extra column. */
  power: number;
}

function emptyRow(count: number, start: number, columns: number): ChunkRow {
  const row: ChunkRow = [count, start, QUALITY_GOOD, null, null, null, null];
  for (let c = 0; c <= columns; c++) row.push(null);
  return row;
}

/** 15-minute roll-ups of rows sorted by (ts, seq); one row per slot holding any reading. */
export function rollupSlots(rows: readonly ChunkRow[], shape: RollupShape): ChunkRow[] {
  const out: ChunkRow[] = [];
  let i = 0;
  while (i < rows.length) {
    const start = Math.floor(rows[i]![1] / SLOT_MS) * SLOT_MS;
    let j = i;
    while (j < rows.length && rows[j]![1] < start + SLOT_MS) j++;
    const row = emptyRow(j - i, start, shape.columns);
    for (let c = 0; c < shape.columns; c++) {
      let sum = 0;
      let n = 0;
      let last: number | null = null;
      let max: number | null = null;
      for (let k = i; k < j; k++) {
        const r = rows[k]!;
        const v = r[7 + c] as number | null;
        if (r[2] !== QUALITY_GOOD || v === null || v === undefined) continue;
        sum += v;
        n++;
        last = v;
        if (max === null || v > max) max = v;
      }
      if (n === 0) continue;
      row[7 + c] = shape.last.has(c) ? last : sum / n;
      if (c === shape.power) row[7 + shape.columns] = max;
    }
    out.push(row);
    i = j;
  }
  return out;
}

/** One day's roll-up from its 15-minute slots (sorted by start), or undefined when there are none. */
export function rollupDay(
  slots: readonly ChunkRow[],
  dayStart: number,
  shape: RollupShape,
): ChunkRow | undefined {
  if (slots.length === 0) return undefined;
  const row = emptyRow(
    slots.reduce((s, r) => s + r[0], 0),
    dayStart,
    shape.columns,
  );
  for (let c = 0; c <= shape.columns; c++) {
    const isMax = c === shape.columns;
    let sum = 0;
    let n = 0;
    let last: number | null = null;
    let max: number | null = null;
    for (const r of slots) {
      const v = r[7 + c] as number | null;
      if (v === null || v === undefined) continue;
      sum += v;
      n++;
      last = v;
      if (max === null || v > max) max = v;
    }
    if (n === 0) continue;
    row[7 + c] = isMax ? max : shape.last.has(c) ? last : sum / n;
  }
  return row;
}

/** The start (UTC ms) of the campus day holding `ts`, for a zone `offsetMinutes` east of UTC. */
export function localDayStart(ts: number, offsetMinutes: number): number {
  const off = offsetMinutes * 60_000;
  return Math.floor((ts + off) / DAY_MS) * DAY_MS - off;
}
