import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../adapters/sqlite/store.ts';
import { readingTopic } from '../../config/schemas/reading.ts';
import { SqliteDeadLetterStore } from '../../services/metering/ingest/dead-letters.ts';
import { startIngest, type Ingest } from '../../services/metering/ingest/ingest.ts';
import type { DeadLetterCode } from '../../services/metering/ingest/validate.ts';
import { testLogger } from '../helpers/logger.ts';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.ts';
import { waitFor } from '../helpers/readings.ts';
import {
  goodMessage,
  goodReading,
  keyOf,
  prng,
  registry,
  sqliteCounts,
  testPublisher,
  type Message,
} from './support.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 20260114);
const METERS = 100;
const POLLS = 50; // 5,000 valid readings
const MALFORMED = 12_000;

/**
 * 12,000 malformed messages of many kinds, interleaved at random with 5,000 valid readings (and
 * 500 exact resends of valid ones), through a real mosquitto into ingest writing to a real
 * SqliteStore. Every malformed message must be dead-lettered under the code its kind implies,
 * every valid reading stored exactly once, and the service still running.
 */
describe(`ingest fuzz (seed ${SEED})`, () => {
  const reg = registry(METERS);
  const rand = prng(SEED);
  const int = (n: number) => Math.floor(rand() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  const meterAt = () => `E-${1 + int(METERS)}`;
  const topicOf = (meter: string) => {
    const place = reg.get(meter)!;
    return readingTopic(place.site, place.gateway, meter);
  };
  const json = (meter: string, patch: (r: Record<string, unknown>) => void) => {
    const r: Record<string, unknown> = { ...goodReading(meter, 1 + int(1000)) };
    patch(r);
    return JSON.stringify(r);
  };
  const WRONG_VALUES: unknown[] = ['7', 'NaN', 'Infinity', true, null, [], {}, [1], { n: 1 }];

  type Kind = { code: DeadLetterCode | 'ANY'; make: () => Message };
  const KINDS: Kind[] = [
    {
      code: 'ANY', // random bytes: not UTF-8, not JSON, or (rarely) JSON that is no reading
      make: () => {
        const m = meterAt();
        return { topic: topicOf(m), payload: Buffer.from(Array.from({ length: int(300) }, () => int(256))) };
      },
    },
    {
      code: 'INVALID_JSON',
      make: () => {
        const m = meterAt();
        const text = json(m, () => undefined);
        return { topic: topicOf(m), payload: text.slice(0, int(text.length)) };
      },
    },
    {
      code: 'SCHEMA', // a field of the wrong type
      make: () => {
        const m = meterAt();
        const field = pick(['ts', 'seq', 'quality', 'values', 'deviceTs', 'error']);
        // (An empty values object is valid: a good reading need not carry every quantity.)
        const wrong = pick(WRONG_VALUES.filter((w) => !(field === 'values' && JSON.stringify(w) === '{}')));
        return { topic: topicOf(m), payload: json(m, (r) => (r[field] = wrong)) };
      },
    },
    {
      code: 'SCHEMA', // a field missing
      make: () => {
        const m = meterAt();
        const field = pick(['meter', 'ts', 'seq', 'quality', 'values']);
        return { topic: topicOf(m), payload: json(m, (r) => delete r[field]) };
      },
    },
    {
      code: 'SCHEMA', // numbers as strings
      make: () => {
        const m = meterAt();
        return { topic: topicOf(m), payload: json(m, (r) => (r.values = { power_kw: String(rand()) })) };
      },
    },
    {
      code: 'SCHEMA', // negative or fractional seq, negative ts
      make: () => {
        const m = meterAt();
        return {
          topic: topicOf(m),
          payload: json(m, (r) => (r[pick(['seq', 'ts'])] = pick([-1 - int(100), 0.5 + int(9)]))),
        };
      },
    },
    {
      code: 'SCHEMA', // extra fields, at the top or among the values
      make: () => {
        const m = meterAt();
        return {
          topic: topicOf(m),
          payload: json(m, (r) =>
            rand() < 0.5 ? (r[`x${int(99)}`] = 1) : (r.values = { power_kw: 1, watts: 2 }),
          ),
        };
      },
    },
    {
      code: 'SCHEMA', // an error reading that does not say why, or a good one with an error
      make: () => {
        const m = meterAt();
        return {
          topic: topicOf(m),
          payload: json(m, (r) =>
            rand() < 0.5 ? (r.quality = 'error') : (r.error = { code: 'MODBUS_TIMEOUT', message: 'x' }),
          ),
        };
      },
    },
    {
      code: 'NON_FINITE',
      make: () => {
        const m = meterAt();
        const text = json(m, () => undefined).replace(
          '"power_kw":0.412',
          `"power_kw":${pick(['1e999', '-1e999'])}`,
        );
        return { topic: topicOf(m), payload: text };
      },
    },
    {
      code: 'PAYLOAD_TOO_LARGE',
      make: () => {
        const m = meterAt();
        const size = 16 * 1024 + 1 + int(200_000);
        return {
          topic: topicOf(m),
          payload: json(m, (r) => (r.error = { code: 'X', message: 'y'.repeat(size) })),
        };
      },
    },
    {
      code: 'UNKNOWN_METER',
      make: () => {
        const m = `X-${int(1e6)}`;
        return { topic: readingTopic('east', 'gw1', m), payload: json(m, () => undefined) };
      },
    },
    {
      code: 'WRONG_SOURCE',
      make: () => {
        const m = meterAt();
        const place = reg.get(m)!;
        const topic =
          rand() < 0.5 ? readingTopic('west', place.gateway, m) : readingTopic(place.site, 'gw9', m);
        return { topic, payload: json(m, () => undefined) };
      },
    },
    {
      code: 'METER_MISMATCH',
      make: () => {
        const m = meterAt();
        const other = m === 'E-1' ? 'E-2' : 'E-1';
        return { topic: topicOf(m), payload: json(other, () => undefined) };
      },
    },
    {
      code: 'BAD_TOPIC',
      make: () => {
        const m = meterAt();
        return {
          topic: pick([`campus/v1//gw1/${m}/reading`, `campus/v1/east//${m}/reading`]),
          payload: json(m, () => undefined),
        };
      },
    },
    {
      code: 'NOT_UTF8',
      make: () => {
        const m = meterAt();
        const text = json(m, (r) => (r.error = { code: 'X', message: '\u0001' }));
        const bytes = Buffer.from(text);
        bytes[bytes.indexOf(1)] = 0xc3; // a lone lead byte of a two-byte sequence
        return {
          topic: topicOf(m),
          payload: Buffer.concat([
            bytes.subarray(0, bytes.length - 3),
            Buffer.from([0xff]),
            bytes.subarray(bytes.length - 3),
          ]),
        };
      },
    },
  ];

  let mosquitto: Mosquitto;
  let dir: string;
  let store: SqliteStore;
  let deadLetters: SqliteDeadLetterStore;
  let ingest: Ingest;

  beforeAll(async () => {
    mosquitto = await startMosquitto();
    dir = mkdtempSync(join(tmpdir(), 'ingest-fuzz-'));
    store = SqliteStore.open({ path: join(dir, 'readings.sqlite') });
    deadLetters = SqliteDeadLetterStore.open({ path: join(dir, 'dead.sqlite'), maxRows: 1000 });
    ingest = startIngest({
      url: mosquitto.url,
      clientId: 'ingest-fuzz',
      meters: reg,
      writer: store,
      deadLetters,
      logger: testLogger(),
    });
    await ingest.ready;
  });
  afterAll(async () => {
    await ingest?.stop();
    await store?.close();
    deadLetters?.close();
    await mosquitto?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('dead-letters every malformed message with its reason and stores every valid reading once', async () => {
    const valid: Message[] = [];
    for (let seq = 1; seq <= POLLS; seq++)
      for (let m = 1; m <= METERS; m++) valid.push(goodMessage(reg, `E-${m}`, seq));
    const resends = Array.from({ length: 500 }, () => pick(valid));
    const expected = new Map<DeadLetterCode | 'ANY', number>();
    const malformed: Message[] = [];
    for (let i = 0; i < MALFORMED; i++) {
      const kind = KINDS[i % KINDS.length]!;
      expected.set(kind.code, (expected.get(kind.code) ?? 0) + 1);
      malformed.push(kind.make());
    }
    // Interleave: valid readings keep their per-meter order; the rest is shuffled among them.
    const mixed: Message[] = [];
    let v = 0;
    const others = [...malformed, ...resends];
    for (let i = others.length - 1; i > 0; i--) {
      const j = int(i + 1);
      [others[i], others[j]] = [others[j]!, others[i]!];
    }
    for (const other of others) {
      while (v < valid.length && rand() < valid.length / (valid.length + others.length))
        mixed.push(valid[v++]!);
      mixed.push(other);
    }
    while (v < valid.length) mixed.push(valid[v++]!);

    const pub = await testPublisher(mosquitto.url);
    await pub.publishAll(mixed);
    await pub.close();
    const total = valid.length + malformed.length + resends.length;
    await waitFor(() => ingest.stats().acked === total, 60_000, `all ${total} messages acknowledged`);

    const stats = ingest.stats();
    expect(stats).toMatchObject({ received: total, deadLettered: MALFORMED, inFlight: 0, connected: true });
    const counts = deadLetters.counts();
    expect(counts.total).toBe(MALFORMED);
    let any = MALFORMED;
    for (const [code, n] of expected) {
      if (code === 'ANY') continue;
      // Random bytes land in whatever code fits them; every other kind must get exactly its own.
      const got = counts.byCode[code] ?? 0;
      expect(got, code).toBeGreaterThanOrEqual(n);
      any -= got;
    }
    expect(any).toBeLessThanOrEqual(expected.get('ANY')!);
    expect(stats.deadLetteredByCode).toEqual(counts.byCode);
    for (const letter of deadLetters.recent(1000)) {
      expect(letter.reason.length, letter.code).toBeGreaterThan(5);
      expect(letter.payload.length).toBeLessThanOrEqual(4 * 1024 * (letter.encoding === 'base64' ? 2 : 1));
    }
    const schema = deadLetters.recent(1000).find((l) => l.code === 'SCHEMA');
    expect(schema?.reason).toMatch(/^[\w.()]+: /);

    const stored = sqliteCounts(join(dir, 'readings.sqlite'));
    expect(stored.rows).toBe(valid.length);
    expect(stored.keys).toEqual(
      new Set(valid.map((m) => keyOf(JSON.parse(String(m.payload)) as { meter: string; seq: number }))),
    );
  }, 120_000);
});
