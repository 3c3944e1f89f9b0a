import { QUANTITIES } from '../../../config/schemas/quantities.ts';
import type { Reading } from '../../../config/schemas/reading.ts';
import type { MeterKind, StoredReading } from '../storage.ts';

/**
 * The good reading's fast path: a hand-written check of a parsed JSON body against ReadingSchema
 * that accepts only what the schema accepts and builds the value the schema would return. It never
 * rejects: anything it is not sure of (an unknown key, a wrong type, a value out of range, a rule
 * of the schema's refinements broken) answers `undefined`, and the caller asks the zod schema,
 * which then names what is wrong. So a bad message gets exactly the reason it got before, and a
 * good one skips zod's generic walk (about four times this function's cost, and its output object
 * is slower to copy). test/ingest/fast-reading.test.ts checks, on random and mutated messages,
 * that whatever this accepts zod accepts with the same value.
 */

const QUANTITY_SET: ReadonlySet<string> = new Set(Object.keys(QUANTITIES));
const READING_KEYS: ReadonlySet<string> = new Set([
  'meter',
  'ts',
  'seq',
  'quality',
  'values',
  'deviceTs',
  'error',
  'flags',
]);
const FLAG = /^[A-Za-z0-9_]{1,64}$/;
const MAX_FLAGS = 16;

/** ReadingSchema's `z.number().int().nonnegative()`: zod 4's int is a safe integer. */
function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** A plain object as JSON.parse makes them (an array is not a record). */
function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;
}

/**
 * The values record when every key is a quantity and every value a finite number, or undefined.
 * The parsed object itself is returned, not a copy: JSON.parse made it for this message alone, it
 * is a plain object with the keys in the order zod's record would copy them, and nothing changes
 * it afterwards (one object less per reading for the garbage collector).
 */
function checkValues(v: unknown): { values: Reading['values']; count: number } | undefined {
  if (!isPlainObject(v)) return undefined;
  let count = 0;
  for (const key in v) {
    if (!QUANTITY_SET.has(key) || !Object.hasOwn(v, key)) return undefined;
    const n = v[key];
    if (typeof n !== 'number' || !Number.isFinite(n)) return undefined;
    count += 1;
  }
  return { values: v as Reading['values'], count };
}

function copyError(v: unknown): Reading['error'] | undefined {
  if (!isPlainObject(v)) return undefined;
  let keys = 0;
  for (const key in v) {
    if ((key !== 'code' && key !== 'message') || !Object.hasOwn(v, key)) return undefined;
    keys += 1;
  }
  const { code, message } = v;
  if (keys !== 2 || typeof code !== 'string' || code.length === 0 || typeof message !== 'string')
    return undefined;
  return { code, message };
}

function copyFlags(v: unknown): string[] | undefined {
  if (!Array.isArray(v) || v.length > MAX_FLAGS) return undefined;
  const flags: string[] = [];
  for (const flag of v) {
    if (typeof flag !== 'string' || !FLAG.test(flag)) return undefined;
    flags.push(flag);
  }
  return flags;
}

/**
 * The reading of `body` with its place, when `body` is certainly a valid reading of `meter`;
 * otherwise undefined (never a verdict: ask the schema).
 */
export function fastReading(
  body: unknown,
  meter: string,
  site: string,
  gateway: string,
  kind: MeterKind,
): StoredReading | undefined {
  if (!isPlainObject(body)) return undefined;
  for (const key in body) if (!READING_KEYS.has(key) || !Object.hasOwn(body, key)) return undefined;
  const { ts, seq, quality } = body;
  // The body's meter must be the topic's (else the slow path names the mismatch); its length
  // limits are the schema's, checked on the topic's copy.
  if (body.meter !== meter || meter.length > 128 || !isCount(ts) || !isCount(seq)) return undefined;
  if (quality !== 'good' && quality !== 'uncertain' && quality !== 'error') return undefined;
  const copied = checkValues(body.values);
  if (!copied) return undefined;
  // Keys in the order the schema's output and the place spread after it have them.
  const reading = { meter, ts, seq, quality, values: copied.values } as StoredReading;
  if (body.deviceTs !== undefined) {
    if (!isCount(body.deviceTs)) return undefined;
    reading.deviceTs = body.deviceTs;
  }
  if (body.error !== undefined) {
    const error = copyError(body.error);
    if (!error) return undefined;
    reading.error = error;
  }
  if (body.flags !== undefined) {
    const flags = copyFlags(body.flags);
    if (!flags) return undefined;
    reading.flags = flags;
  }
  // The schema's refinements: an error reading says why and carries no values; only an error
  // reading has an error; an uncertain one says why in flags.
  if (quality === 'error' ? !reading.error || copied.count > 0 : reading.error !== undefined)
    return undefined;
  if (quality === 'uncertain' && !reading.flags?.length) return undefined;
  reading.site = site;
  reading.gateway = gateway;
  reading.kind = kind;
  return reading;
}
