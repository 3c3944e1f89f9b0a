import { describe, expect, it } from 'vitest';
import {
  DEAD_LETTER_CODES,
  validateMessage,
  type DeadLetterCode,
} from '../../services/metering/ingest/validate.ts';
import { goodReading, registry } from './support.ts';

const reg = registry(4);
const LIMIT = 16 * 1024;
const topicOf = (meter: string) => `campus/v1/east/gw${Number(meter.slice(2)) % 2}/${meter}/reading`;
const check = (topic: string, payload: string | Buffer) =>
  validateMessage(topic, typeof payload === 'string' ? Buffer.from(payload) : payload, reg, LIMIT);
const body = (patch: Record<string, unknown> = {}, meter = 'E-1') =>
  JSON.stringify({ ...goodReading(meter, 7), ...patch });

function rejected(topic: string, payload: string | Buffer): { code: DeadLetterCode; reason: string } {
  const result = check(topic, payload);
  if (result.ok) throw new Error(`accepted ${topic} ${String(payload).slice(0, 80)}`);
  return result;
}

describe('validateMessage', () => {
  it('accepts a valid reading and adds site, gateway and kind from the registry', () => {
    const result = check(topicOf('E-1'), body());
    expect(result).toEqual({
      ok: true,
      reading: { ...goodReading('E-1', 7), site: 'east', gateway: 'gw1', kind: 'electricity' },
    });
    const error = check(
      topicOf('E-2'),
      JSON.stringify({
        meter: 'E-2',
        ts: 1,
        seq: 0,
        quality: 'error',
        values: {},
        error: { code: 'MODBUS_TIMEOUT', message: 'no answer' },
      }),
    );
    expect(error.ok).toBe(true);
  });

  it('rejects each kind of bad message with its code and a reason that names the field', () => {
    const cases: [DeadLetterCode, string, string | Buffer, RegExp][] = [
      ['PAYLOAD_TOO_LARGE', topicOf('E-1'), 'x'.repeat(LIMIT + 1), /16385 bytes, the limit is 16384/],
      ['BAD_TOPIC', 'campus/v1/east/gw1/E-1/status', body(), /not campus\/v1/],
      ['BAD_TOPIC', 'campus/v1/east/gw1/E-1/reading/extra', body(), /not campus\/v1/],
      ['BAD_TOPIC', 'other/v1/east/gw1/E-1/reading', body(), /not campus\/v1/],
      ['BAD_TOPIC', 'campus/v1//gw1/E-1/reading', body(), /not campus\/v1/],
      [
        'UNKNOWN_METER',
        'campus/v1/east/gw1/E-99/reading',
        body({ meter: 'E-99' }),
        /E-99.*not in the campus registry/,
      ],
      ['WRONG_SOURCE', 'campus/v1/west/gw1/E-1/reading', body(), /registered on east\/gw1, not west\/gw1/],
      ['WRONG_SOURCE', 'campus/v1/east/gw0/E-1/reading', body(), /not east\/gw0/],
      ['NOT_UTF8', topicOf('E-1'), Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), /UTF-8/],
      ['INVALID_JSON', topicOf('E-1'), body().slice(0, 30), /not JSON/],
      ['INVALID_JSON', topicOf('E-1'), '', /not JSON/],
      ['INVALID_JSON', topicOf('E-1'), '{"meter":"E-1","ts":NaN}', /not JSON/],
      [
        'NON_FINITE',
        topicOf('E-1'),
        body().replace('"power_kw":0.412', '"power_kw":1e999'),
        /^values\.power_kw: not a finite/,
      ],
      ['NON_FINITE', topicOf('E-1'), body().replace(/"ts":\d+/, '"ts":-1e400'), /^ts: not a finite/],
      [
        'SCHEMA',
        topicOf('E-1'),
        body({ values: { power_kw: 'NaN' } }),
        /values\.power_kw: .*expected number, received string/,
      ],
      ['SCHEMA', topicOf('E-1'), body({ seq: '7' }), /^seq: .*expected number, received string/],
      ['SCHEMA', topicOf('E-1'), body({ seq: -1 }), /^seq: Too small/],
      ['SCHEMA', topicOf('E-1'), body({ seq: 1.5 }), /^seq: .*expected int/],
      ['SCHEMA', topicOf('E-1'), body({ extra: true }), /\(root\): Unrecognized key: "extra"/],
      ['SCHEMA', topicOf('E-1'), body({ values: { watts: 3 } }), /values/],
      ['SCHEMA', topicOf('E-1'), body({ quality: 'bad' }), /^quality: /],
      ['SCHEMA', topicOf('E-1'), body({ quality: 'error' }), /error: an error reading must say why/],
      [
        'SCHEMA',
        topicOf('E-1'),
        JSON.stringify({ meter: 'E-1', seq: 1 }),
        /ts: .*received undefined.*quality/,
      ],
      ['SCHEMA', topicOf('E-1'), '[1,2]', /\(root\): .*expected object, received array/],
      ['SCHEMA', topicOf('E-1'), 'null', /\(root\): .*expected object/],
      ['SCHEMA', topicOf('E-1'), '"NaN"', /\(root\): .*expected object/],
      ['METER_MISMATCH', topicOf('E-1'), body({}, 'E-3'), /body meter "E-3" is not topic meter E-1/],
    ];
    for (const [code, topic, payload, reason] of cases) {
      const got = rejected(topic, payload);
      expect(got.code, `${topic} ${String(payload).slice(0, 60)}`).toBe(code);
      expect(got.reason, code).toMatch(reason);
    }
    // Every code in the catalogue is produced by some case above.
    expect(new Set(cases.map(([code]) => code))).toEqual(new Set(Object.keys(DEAD_LETTER_CODES)));
  });

  it('checks the payload size before reading the payload', () => {
    expect(rejected('not/a/reading', Buffer.alloc(LIMIT + 1, 0xff)).code).toBe('PAYLOAD_TOO_LARGE');
    expect(check(topicOf('E-1'), Buffer.from(body())).ok).toBe(true);
  });
});
