import {
  SLOT_MS,
  type Installation,
  type IntervalConsumption,
  type IntervalQuery,
  type ReadingStore,
  type SeriesPoint,
  type Step,
} from '../storage.ts';
import { indexAtOrAfter } from '../sorted-points.ts';
import { stepBoundaries } from './zone.ts';

/**
 * Interval consumption from cumulative registers, for any ReadingStore.
 *
 * The register value at each interval boundary is taken from the readings around it; consumption
 * is the difference between an interval's end and start values. What cannot be known is reported
 * as a gap (value null), never as a zero, so that VEE can estimate it and say so.
 *
 * Rules, in the order they apply:
 * - Boundaries: 15m and 1h on the zone's wall clock (local :00, :15, …), 1d at local midnight, 1mo
 *   at local midnight on the 1st. `from` and `to` need not be aligned: every interval that
 *   overlaps [from, to) is returned, i.e. from the boundary at or before `from` up to the first
 *   boundary at or after `to`.
 * - Register at a boundary: a reading exactly on it is used as is; otherwise it is interpolated
 *   linearly between the nearest readings before and after, but only if they are at most
 *   MAX_INTERPOLATION_SPAN[step] apart (1 h for 15m, 2 h for 1h, 6 h for days and months).
 *   Otherwise the boundary is unknown and both intervals that touch it are gaps.
 * - Installations: a reading belongs to the installation in force at its ts (installedAt
 *   inclusive, removedAt exclusive); a meter without installation records is one open-ended
 *   installation, and readings outside every installation of a meter are ignored. Each
 *   installation's known startRegister and endRegister count as readings at installedAt and
 *   removedAt. Interpolation never mixes installations.
 * - An interval in which a meter is installed or removed (an edge strictly inside it, or more than
 *   one installation overlapping it) is the sum, per installation, of its register at the end of
 *   its part (endRegister, else its last reading at most MAX_INTERPOLATION_SPAN before removedAt)
 *   minus its register at the start of its part (startRegister, else its first reading at most
 *   MAX_INTERPOLATION_SPAN after installedAt); status 'replacement'. Using a last or first reading
 *   leaves out what was used between it and the replacement, which is why the span is bounded.
 * - Decreases: the register is checked between consecutive values in each installation's part of
 *   the interval. A decrease where the installation's rolloverAt is known and the wrap is
 *   plausible (the increase through the wrap, value + rolloverAt − previous, is at most
 *   ROLLOVER_PLAUSIBLE_FRACTION of rolloverAt, i.e. the register was near its max) adds rolloverAt
 *   (status 'rollover'); any other decrease makes the interval `{value: null, status: 'decrease'}`
 *   for VEE to judge (a meter running backwards, an unrecorded replacement or reset).
 * - Status precedence: gap, then decrease, then replacement, then rollover, then ok.
 * - Past retention (raw readings older than `rawDays` are deleted, the 15-minute roll-ups kept for
 *   ever) a meter's register comes from its roll-ups where its raw readings in the window are gone
 *   (see intervalConsumption): each slot's last good value counts as a reading at the time the last
 *   of the slot's n polls came if they came at even steps from the slot's start, start + 15 min −
 *   15 min / n (a meter read every 15 minutes on the quarter hour: its reading exactly; every
 *   minute: 14 minutes in). Then the rules above apply unchanged. A meter polled off those steps
 *   has its register placed up to one poll interval from when it was read, which is how far a
 *   boundary's register may then be from the raw readings' (test/storage/contract.ts).
 *   Daily roll-ups are not used for days and months: a day's last register does not say when in
 *   the day it was read, so a meter silent since the morning would pass for read at midnight
 *   instead of being a gap.
 */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** The widest span between two readings that a boundary value may be interpolated across. */
export const MAX_INTERPOLATION_SPAN: Readonly<Record<Step, number>> = {
  '15m': HOUR,
  '1h': 2 * HOUR,
  '1d': 6 * HOUR,
  '1mo': 6 * HOUR,
};

/** A decrease is a rollover only if the increase through the wrap is at most this share of rolloverAt. */
export const ROLLOVER_PLAUSIBLE_FRACTION = 0.1;

interface Point {
  ts: number;
  value: number;
}

/**
 * A roll-up slot's register as a point of computeIntervals: at `ts` inside its slot, belonging to
 * the installation in force over the whole slot [slotStart, slotStart + SLOT_MS).
 */
export interface SlotPoint extends SeriesPoint {
  slotStart: number;
}

function isSlotPoint(p: SeriesPoint): p is SlotPoint {
  return (p as Partial<SlotPoint>).slotStart !== undefined;
}

interface Span {
  installedAt: number;
  removedAt: number;
  rolloverAt: number | undefined;
  /** Readings in [installedAt, removedAt), plus startRegister/endRegister at the edges when known; by ts. */
  points: Point[];
}

function spansOf(meter: string, installations: readonly Installation[] | undefined): Span[] {
  const own = (installations ?? []).filter((i) => i.meter === meter);
  if (own.length === 0) {
    return [{ installedAt: -Infinity, removedAt: Infinity, rolloverAt: undefined, points: [] }];
  }
  return own
    .map((i) => ({
      installedAt: i.installedAt,
      removedAt: i.removedAt ?? Infinity,
      rolloverAt: i.rolloverAt,
      points: [
        ...(i.startRegister !== undefined ? [{ ts: i.installedAt, value: i.startRegister }] : []),
        ...(i.endRegister !== undefined && i.removedAt !== undefined
          ? [{ ts: i.removedAt, value: i.endRegister }]
          : []),
      ],
    }))
    .sort((a, b) => a.installedAt - b.installedAt);
}

function isPlausibleWrap(prev: number, next: number, rolloverAt: number | undefined): boolean {
  if (rolloverAt === undefined || !(rolloverAt > 0)) return false;
  const through = next + rolloverAt - prev;
  return through >= 0 && through <= ROLLOVER_PLAUSIBLE_FRACTION * rolloverAt;
}

/** The span's register at instant t, or undefined when no reading is on t and none bracket it closely. */
function registerAt(span: Span, t: number, maxSpan: number): number | undefined {
  const i = indexAtOrAfter(span.points, t);
  const after = span.points[i];
  if (after && after.ts === t) return after.value;
  const before = span.points[i - 1];
  if (!before || !after || after.ts - before.ts > maxSpan) return undefined;
  let next = after.value;
  const wrapped = next < before.value && isPlausibleWrap(before.value, next, span.rolloverAt);
  if (wrapped) next += span.rolloverAt!;
  const v = before.value + ((next - before.value) * (t - before.ts)) / (after.ts - before.ts);
  return wrapped && v >= span.rolloverAt! ? v - span.rolloverAt! : v;
}

type Part =
  { kind: 'gap' } | { kind: 'decrease' } | { kind: 'value'; value: number; wraps: number; edge: boolean };

/** One installation's consumption within [start, end), which it must overlap. */
function partOf(span: Span, start: number, end: number, maxSpan: number): Part {
  const partStart = Math.max(start, span.installedAt);
  const partEnd = Math.min(end, span.removedAt);
  // An installation starting exactly on the interval start takes its start register the same way
  // as one starting inside it (there is nothing before it to interpolate from); likewise at the end.
  const installedHere = span.installedAt >= start;
  const removedHere = span.removedAt <= end;
  // When the register at a boundary comes from the installation record or the first/last reading,
  // the reading on the edge (a virtual one when the register is known) is exactly what is needed.
  let startValue: Point | undefined;
  if (installedHere) {
    const first = span.points[0];
    if (first && first.ts - span.installedAt <= maxSpan && first.ts <= partEnd) startValue = first;
  } else {
    const v = registerAt(span, start, maxSpan);
    if (v !== undefined) startValue = { ts: start, value: v };
  }
  let endValue: Point | undefined;
  if (removedHere) {
    const last = span.points[span.points.length - 1];
    if (last && span.removedAt - last.ts <= maxSpan && last.ts >= partStart) endValue = last;
  } else {
    const v = registerAt(span, end, maxSpan);
    if (v !== undefined) endValue = { ts: end, value: v };
  }
  if (!startValue || !endValue || endValue.ts < startValue.ts) return { kind: 'gap' };

  const inside = span.points.slice(
    indexAtOrAfter(span.points, startValue.ts),
    indexAtOrAfter(span.points, endValue.ts + 1),
  );
  const chain = [startValue, ...inside.filter((p) => p.ts > startValue.ts && p.ts < endValue.ts), endValue];
  let wraps = 0;
  for (let k = 1; k < chain.length; k++) {
    const prev = chain[k - 1]!.value;
    const next = chain[k]!.value;
    if (next >= prev) continue;
    if (!isPlausibleWrap(prev, next, span.rolloverAt)) return { kind: 'decrease' };
    wraps++;
  }
  return {
    kind: 'value',
    value: endValue.value - startValue.value + (wraps > 0 ? wraps * span.rolloverAt! : 0),
    wraps,
    edge: span.installedAt > start || span.removedAt < end,
  };
}

function intervalOf(meter: string, spans: readonly Span[], start: number, end: number, maxSpan: number) {
  const overlapping = spans.filter((s) => s.installedAt < end && s.removedAt > start);
  const gap: IntervalConsumption = { meter, start, end, value: null, status: 'gap' };
  if (overlapping.length === 0) return gap;
  let value = 0;
  let wraps = 0;
  let edge = overlapping.length > 1;
  let decrease = false;
  for (const span of overlapping) {
    const part = partOf(span, start, end, maxSpan);
    if (part.kind === 'gap') return gap;
    if (part.kind === 'decrease') {
      decrease = true;
      continue;
    }
    value += part.value;
    wraps += part.wraps;
    edge ||= part.edge;
  }
  if (decrease) return { meter, start, end, value: null, status: 'decrease' } satisfies IntervalConsumption;
  const status: IntervalConsumption['status'] = edge ? 'replacement' : wraps > 0 ? 'rollover' : 'ok';
  return { meter, start, end, value, status } satisfies IntervalConsumption;
}

/**
 * Interval consumption of each meter in `query.meters`, one entry per interval overlapping
 * [query.from, query.to), ordered by meter id (as series() orders them) then start, from the
 * register `points` (any order; points of meters not asked for are ignored): raw readings, and
 * roll-up slots (SlotPoint) where raw readings are gone. Pure: everything it needs is in its arguments.
 */
export function computeIntervals(
  points: readonly SeriesPoint[],
  query: IntervalQuery,
): IntervalConsumption[] {
  const boundaries = stepBoundaries(query.from, query.to, query.step, query.timezone);
  const maxSpan = MAX_INTERPOLATION_SPAN[query.step];
  const meters = [...new Set(query.meters)].sort();
  const spansByMeter = new Map(meters.map((m) => [m, spansOf(m, query.installations)]));
  const records = new Map<Span, Set<number>>();
  for (const spans of spansByMeter.values())
    for (const s of spans) records.set(s, new Set(s.points.map((r) => r.ts)));
  for (const p of points) {
    const spans = spansByMeter.get(p.meter);
    if (isSlotPoint(p)) {
      // A slot across an installation edge is dropped: its last value may be either device's. An
      // installer's register on the slot's end is exact where the slot's last reading is not.
      const span = spans?.find((s) => s.installedAt <= p.slotStart && p.slotStart + SLOT_MS <= s.removedAt);
      if (span && !records.get(span)!.has(p.ts)) span.points.push({ ts: p.ts, value: p.value });
      continue;
    }
    const span = spans?.find((s) => s.installedAt <= p.ts && p.ts < s.removedAt);
    span?.points.push({ ts: p.ts, value: p.value });
  }
  const out: IntervalConsumption[] = [];
  for (const meter of meters) {
    const spans = spansByMeter.get(meter)!;
    // A stable sort keeps an installation record's register ahead of a reading at the same ts.
    for (const s of spans) s.points.sort((a, b) => a.ts - b.ts);
    for (let i = 1; i < boundaries.length; i++) {
      out.push(intervalOf(meter, spans, boundaries[i - 1]!, boundaries[i]!, maxSpan));
    }
  }
  return out;
}

/**
 * Interval consumption read from any ReadingStore: fetches the cumulative quantity's series with
 * MAX_INTERPOLATION_SPAN of margin either side of the intervals, then applies computeIntervals.
 */
export async function intervalConsumption(
  store: ReadingStore,
  query: IntervalQuery,
): Promise<IntervalConsumption[]> {
  const boundaries = stepBoundaries(query.from, query.to, query.step, query.timezone);
  const first = boundaries[0];
  const last = boundaries[boundaries.length - 1];
  if (first === undefined || last === undefined || query.meters.length === 0) return [];
  const margin = MAX_INTERPOLATION_SPAN[query.step];
  // A few meters at a time, with a turn of the event loop between them: the embedded store answers
  // synchronously, and a campus year in one call held a back office (its live view, its relay
  // commands, its ingest in the demo) for minutes. Output order is computeIntervals' (sorted meters).
  const meters = [...new Set(query.meters)].sort();
  const out: IntervalConsumption[] = [];
  for (let i = 0; i < meters.length; i += METERS_PER_READ) {
    if (i > 0) await new Promise((resolve) => setImmediate(resolve));
    const batch = meters.slice(i, i + METERS_PER_READ);
    const window = { from: first - margin, to: last + margin + 1 };
    const points: SeriesPoint[] = await store.series({
      meters: batch,
      quantity: query.quantity,
      // series() excludes `to`; a reading exactly `margin` after the last boundary still counts.
      ...window,
    });
    for (const p of await slotsBeforeRaw(store, batch, query.quantity, points, window)) points.push(p);
    for (const iv of computeIntervals(points, { ...query, meters: batch })) out.push(iv);
  }
  return out;
}

/**
 * Roll-up slots of the meters whose raw readings in the window start after it does: retention
 * deletes a meter's oldest raw readings first (the embedded store whole days, InfluxDB whole shard
 * groups), so what is gone is always before the first raw reading left. Only slots ending before
 * that reading are taken: raw readings win wherever there are any. A meter that simply had no
 * readings then has no roll-ups either (they are made from the raw readings), so this never fills
 * a real gap. A store without roll-ups gives none.
 */
async function slotsBeforeRaw(
  store: ReadingStore,
  meters: readonly string[],
  quantity: IntervalQuery['quantity'],
  raw: readonly SeriesPoint[],
  window: { from: number; to: number },
): Promise<SlotPoint[]> {
  if (!store.registerSlots) return [];
  const firstRaw = new Map<string, number>();
  for (const p of raw) if (p.ts < (firstRaw.get(p.meter) ?? Infinity)) firstRaw.set(p.meter, p.ts);
  // Only a meter with a whole slot before its first raw reading can have any: one read minutes
  // into the window, as nearly every meter is, costs no roll-up query.
  const from = Math.floor(window.from / SLOT_MS) * SLOT_MS;
  const wanting = meters.filter((m) => (firstRaw.get(m) ?? Infinity) >= from + SLOT_MS);
  if (wanting.length === 0) return [];
  const until = Math.min(window.to, Math.max(...wanting.map((m) => firstRaw.get(m) ?? Infinity)));
  const slots = await store.registerSlots({ meters: wanting, quantity, from, to: until });
  const out: SlotPoint[] = [];
  for (const s of slots) {
    // A slot holding any raw reading still there is not gone.
    if (s.start + SLOT_MS > (firstRaw.get(s.meter) ?? Infinity)) continue;
    const ts = s.start + SLOT_MS - Math.floor(SLOT_MS / Math.max(1, s.readings));
    if (ts < window.from || ts >= window.to) continue;
    out.push({ meter: s.meter, ts, value: s.value, slotStart: s.start });
  }
  return out;
}

/** Meters read and computed between two turns of the event loop (intervalConsumption). */
export const METERS_PER_READ = 8;
