import { ReadingSchema, TOPIC_ROOT } from '../../../config/schemas/reading.ts';
import type { MeterKind, StoredReading } from '../storage.ts';
import { fastReading } from './fast-reading.ts';

/** Where a meter belongs, as the campus registry says: what ingest accepts from it. */
export interface RegisteredMeter {
  site: string;
  gateway: string;
  kind: MeterKind;
}

export type MeterRegistry = ReadonlyMap<string, RegisteredMeter>;

/** Why a message was dead-lettered: the code and what it means. A test produces every code. */
export const DEAD_LETTER_CODES = {
  PAYLOAD_TOO_LARGE: 'the payload is larger than maxPayloadBytes',
  BAD_TOPIC: 'the topic is not campus/v1/<site>/<gateway>/<meter>/reading',
  UNKNOWN_METER: 'the meter in the topic is not in the campus registry',
  WRONG_SOURCE: "the topic's site or gateway is not where the registry places the meter",
  NOT_UTF8: 'the payload is not valid UTF-8 text',
  INVALID_JSON: 'the payload is not JSON',
  NON_FINITE: 'a number is not finite (e.g. 1e999 parses to Infinity)',
  SCHEMA: 'the JSON does not match ReadingSchema (the reason lists each field path)',
  METER_MISMATCH: 'the meter in the body is not the meter in the topic',
} as const;

export type DeadLetterCode = keyof typeof DEAD_LETTER_CODES;

export type Validation =
  { ok: true; reading: StoredReading } | { ok: false; code: DeadLetterCode; reason: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });
const TOPIC_PREFIX = `${TOPIC_ROOT}/`;

function reject(code: DeadLetterCode, reason: string): Validation {
  return { ok: false, code, reason };
}

/**
 * Checks one MQTT message on a reading topic, cheapest test first, and returns the reading with
 * its site, gateway and kind, or the first reason it cannot be one. Never throws.
 */
export function validateMessage(
  topic: string,
  payload: Uint8Array,
  registry: MeterRegistry,
  maxPayloadBytes: number,
  /** false checks every body with the zod schema alone (tests compare the two paths). */
  fastPath = true,
): Validation {
  if (payload.byteLength > maxPayloadBytes) {
    return reject(
      'PAYLOAD_TOO_LARGE',
      `payload is ${payload.byteLength} bytes, the limit is ${maxPayloadBytes}`,
    );
  }
  const levels = topicLevels(topic);
  if (!levels) {
    return reject(
      'BAD_TOPIC',
      `topic ${JSON.stringify(topic)} is not ${TOPIC_ROOT}/<site>/<gateway>/<meter>/reading`,
    );
  }
  const { site, gateway, meter } = levels;
  const place = registry.get(meter);
  if (!place) return reject('UNKNOWN_METER', `meter ${JSON.stringify(meter)} is not in the campus registry`);
  if (place.site !== site || place.gateway !== gateway) {
    return reject(
      'WRONG_SOURCE',
      `meter ${meter} is registered on ${place.site}/${place.gateway}, not ${site}/${gateway}`,
    );
  }
  let text: string;
  try {
    text = utf8.decode(payload);
  } catch {
    return reject('NOT_UTF8', 'payload is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return reject('INVALID_JSON', `payload is not JSON: ${(err as Error).message}`);
  }
  if (fastPath) {
    const reading = fastReading(json, meter, site, gateway, place.kind);
    if (reading) return { ok: true, reading };
  }
  const nonFinite = findNonFinite(json);
  if (nonFinite) return reject('NON_FINITE', `${nonFinite.join('.') || '(root)'}: not a finite number`);
  const parsed = ReadingSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map(
      (i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`,
    );
    return reject('SCHEMA', issues.join('; '));
  }
  if (parsed.data.meter !== meter) {
    return reject(
      'METER_MISMATCH',
      `body meter ${JSON.stringify(parsed.data.meter)} is not topic meter ${meter}`,
    );
  }
  return { ok: true, reading: { ...parsed.data, site, gateway, kind: place.kind } };
}

const SUFFIX = '/reading';

/**
 * Site, gateway and meter of `campus/v1/<site>/<gateway>/<meter>/reading`, each non-empty and free
 * of '/', or undefined. Found with indexOf rather than split: this runs for every message.
 */
export function topicLevels(topic: string): { site: string; gateway: string; meter: string } | undefined {
  if (!topic.startsWith(TOPIC_PREFIX) || !topic.endsWith(SUFFIX)) return undefined;
  const start = TOPIC_PREFIX.length;
  const end = topic.length - SUFFIX.length;
  const a = topic.indexOf('/', start);
  if (a <= start || a >= end) return undefined;
  const b = topic.indexOf('/', a + 1);
  if (b <= a + 1 || end <= b + 1 || topic.indexOf('/', b + 1) !== end) return undefined;
  return { site: topic.slice(start, a), gateway: topic.slice(a + 1, b), meter: topic.slice(b + 1, end) };
}

/** The path of the first number that is not finite (JSON.parse turns 1e999 into Infinity). */
function findNonFinite(value: unknown): string[] | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : [];
  if (typeof value !== 'object' || value === null) return undefined;
  for (const key in value) {
    const found = findNonFinite((value as Record<string, unknown>)[key]);
    if (found) return [key, ...found];
  }
  return undefined;
}
