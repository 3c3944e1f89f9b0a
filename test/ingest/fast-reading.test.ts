import { describe, expect, it } from 'vitest';
import { QUANTITIES } from '../../config/schemas/quantities.ts';
import { ReadingSchema } from '../../config/schemas/reading.ts';
import { fastReading } from '../../services/metering/ingest/fast-reading.ts';
import { topicLevels, validateMessage } from '../../services/metering/ingest/validate.ts';
import { prng, registry } from './support.ts';

/**
 * The good reading's fast path must change nothing but speed: for every message, validateMessage
 * with it gives the same verdict, the same dead-letter code and reason, and the same reading (key
 * order and -0 included) as the zod schema alone. Checked on random valid readings and on
 * mutations of them that break one thing at a time, the way a faulty gateway or an attacker would.
 */

const SEED = Number(process.env.FAST_SEED ?? 20261206);
const reg = registry(6);
const LIMIT = 16 * 1024;
const QUANTITY_NAMES = Object.keys(QUANTITIES);
const topicOf = (meter: string) => `campus/v1/east/gw${Number(meter.slice(2)) % 2}/${meter}/reading`;

type Rand = () => number;
const pick = <T>(rand: Rand, items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;

function randomNumber(rand: Rand): number {
  return pick(rand, [
    () => Math.round(rand() * 1e6) / 100,
    () => -rand() * 1000,
    () => 0,
    () => -0,
    () => Math.fround(rand() * 400),
    () => Number.MAX_VALUE,
    () => Number.MIN_VALUE,
    () => Math.floor(rand() * 2 ** 40),
  ])();
}

/** A valid reading body as a gateway publishes it (good, uncertain with flags, or a failed poll). */
function validBody(rand: Rand, meter: string): Record<string, unknown> {
  const quality = pick(rand, ['good', 'good', 'good', 'uncertain', 'error'] as const);
  const values: Record<string, number> = {};
  if (quality !== 'error') {
    for (const q of QUANTITY_NAMES) if (rand() < 0.3) values[q] = randomNumber(rand);
  }
  const body: Record<string, unknown> = {
    meter,
    ts: 1_764_230_400_000 + Math.floor(rand() * 1e9),
    seq: Math.floor(rand() * 1e6),
    quality,
    values,
  };
  if (rand() < 0.3) body.deviceTs = 1_764_230_400_000 + Math.floor(rand() * 1e6);
  if (quality === 'error') body.error = { code: 'MODBUS_TIMEOUT', message: rand() < 0.5 ? 'no answer' : '' };
  if (quality === 'uncertain' || rand() < 0.1) {
    body.flags = pick(rand, [['OPCUA_UNCERTAIN', 'BadSensorFailure'], ['DEVICE_CLOCK_INVALID'], ['A_1']]);
  }
  return body;
}

/** Strange values a field may be given instead of its own. */
const ODD_VALUES: unknown[] = [
  null,
  true,
  '',
  '12',
  -1,
  0.5,
  -0,
  2 ** 53,
  2 ** 53 - 1,
  Number.MAX_SAFE_INTEGER + 2,
  [],
  [1],
  {},
  { code: 'X' },
  { code: '', message: 'm' },
  { code: 'X', message: 'm', extra: 1 },
  ['ok flag'],
  Array.from({ length: 17 }, () => 'F'),
  Array.from({ length: 16 }, () => 'F'),
  ['x'.repeat(65)],
  ['x'.repeat(64)],
  'good',
  'uncertain',
  'error',
  'E-2',
  'x'.repeat(129),
];

/** One change to a valid body (or to its JSON text), as text ready to publish. */
function mutate(rand: Rand, body: Record<string, unknown>): string {
  const copy: Record<string, unknown> = structuredClone(body);
  const keys = ['meter', 'ts', 'seq', 'quality', 'values', 'deviceTs', 'error', 'flags', 'extra'];
  switch (Math.floor(rand() * 8)) {
    case 0:
      delete copy[pick(rand, keys)];
      break;
    case 1:
      copy[pick(rand, keys)] = pick(rand, ODD_VALUES);
      break;
    case 2: {
      const values = (typeof copy.values === 'object' && copy.values) as Record<string, unknown>;
      values[pick(rand, [...QUANTITY_NAMES, 'power_w', 'toString', 'constructor'])] = pick(rand, [
        ...ODD_VALUES,
        1.5,
      ]);
      break;
    }
    case 3:
      // Numbers JSON.parse turns into Infinity, and keys JSON.parse makes own properties.
      return JSON.stringify(copy)
        .replace(/"ts":\d+/, pick(rand, ['"ts":1e999', '"ts":-1e999', '"ts":1.0', '"ts":1e3', '"ts":-0']))
        .replace(
          '"values":{',
          pick(rand, ['"values":{"__proto__":1,', '"values":{', '"values":{"pf":1e999,']),
        );
    case 4:
      return JSON.stringify(copy).replace(
        /^\{/,
        pick(rand, ['{"__proto__":{"x":1},', '{"meter":"E-3",', '{"constructor":1,', '{']),
      );
    case 5:
      copy.quality = pick(rand, ['good', 'uncertain', 'error', 'GOOD']);
      break;
    case 6:
      return pick(rand, [
        '[]',
        'null',
        '1',
        '"x"',
        JSON.stringify([copy]),
        JSON.stringify({ ...copy, meter: 'E-1' }),
      ]);
    default:
      copy.error = pick(rand, [undefined, { code: 'E', message: 'm' }, { code: 'E' }]);
      copy.flags = pick(rand, [undefined, [], ['A'], ['bad flag']]);
  }
  return JSON.stringify(copy);
}

function agree(topic: string, text: string): { fast: boolean; ok: boolean } {
  const payload = Buffer.from(text);
  const withFast = validateMessage(topic, payload, reg, LIMIT, true);
  const zodOnly = validateMessage(topic, payload, reg, LIMIT, false);
  expect(withFast, text).toStrictEqual(zodOnly);
  // toStrictEqual ignores key order; what is stored and logged downstream may not.
  expect(JSON.stringify(withFast), text).toBe(JSON.stringify(zodOnly));
  let fast = false;
  try {
    const meter = topic.split('/')[4]!;
    const place = reg.get(meter);
    if (place)
      fast = fastReading(JSON.parse(text), meter, place.site, place.gateway, place.kind) !== undefined;
  } catch {
    fast = false;
  }
  // Whatever the fast path takes, the schema takes.
  if (fast) expect(ReadingSchema.safeParse(JSON.parse(text)).success, text).toBe(true);
  return { fast, ok: withFast.ok };
}

describe(`the good reading's fast path (seed ${SEED})`, () => {
  it('takes every shape a gateway publishes, with the value the schema returns', () => {
    const rand = prng(SEED);
    let fast = 0;
    for (let i = 0; i < 3000; i++) {
      const meter = `E-${1 + (i % 6)}`;
      const result = agree(topicOf(meter), JSON.stringify(validBody(rand, meter)));
      expect(result.ok).toBe(true);
      if (result.fast) fast += 1;
    }
    // Without this the fast path could decline everything and the test above still pass.
    expect(fast).toBe(3000);
  });

  it('agrees with the schema on accept, reject, reason and value for mutated messages', () => {
    const rand = prng(SEED + 1);
    const tally = { fastAccepted: 0, accepted: 0, rejected: 0 };
    for (let i = 0; i < 20_000; i++) {
      const meter = `E-${1 + (i % 6)}`;
      const text = mutate(rand, validBody(rand, meter));
      const result = agree(topicOf(meter), text);
      if (result.ok) tally.accepted += 1;
      else tally.rejected += 1;
      if (result.fast) tally.fastAccepted += 1;
    }
    // Both verdicts occur often, so the agreement above is tested on each.
    expect(tally.rejected).toBeGreaterThan(5000);
    expect(tally.accepted).toBeGreaterThan(2000);
    expect(tally.fastAccepted).toBeGreaterThan(2000);
  });

  it('names the same reason as the schema for each kind of bad body', () => {
    const good = { meter: 'E-1', ts: 5, seq: 1, quality: 'good', values: { power_kw: 1 } };
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...good, ts: 2 ** 53 }, /^ts: Too big/],
      [{ ...good, values: [] }, /^values: .*record/],
      [{ ...good, quality: 'uncertain' }, /^flags: an uncertain reading must say why/],
      [
        { ...good, quality: 'error', error: { code: 'E', message: '' } },
        /^values: an error reading carries no values/,
      ],
      [{ ...good, error: { code: 'E', message: '' } }, /^error: a good reading has no error/],
      [{ ...good, extra: 1 }, /Unrecognized key: "extra"/],
    ];
    for (const [body, reason] of cases) {
      const result = validateMessage(topicOf('E-1'), Buffer.from(JSON.stringify(body)), reg, LIMIT);
      expect(result.ok).toBe(false);
      if (!result.ok) {
        expect(result.code).toBe('SCHEMA');
        expect(result.reason).toMatch(reason);
      }
    }
  });

  it('reads the topic as splitting it did, on random topics', () => {
    const rand = prng(SEED + 2);
    const parts = ['campus', 'v1', 'east', 'gw1', 'E-1', 'reading', '', 'x/y', '+', '#'];
    const bySplit = (topic: string) => {
      if (!topic.startsWith('campus/v1/')) return undefined;
      const [site, gateway, meter, leaf, ...rest] = topic.slice('campus/v1/'.length).split('/');
      if (rest.length > 0 || leaf !== 'reading' || !site || !gateway || !meter) return undefined;
      return { site, gateway, meter };
    };
    for (let i = 0; i < 20_000; i++) {
      const n = Math.floor(rand() * 8);
      const topic =
        rand() < 0.5
          ? Array.from({ length: n }, () => pick(rand, parts)).join('/')
          : `campus/v1/${Array.from({ length: n % 5 }, () => pick(rand, parts)).join('/')}`;
      expect(topicLevels(topic), topic).toStrictEqual(bySplit(topic));
    }
  });
});
