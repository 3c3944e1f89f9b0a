import { describe, expect, it } from 'vitest';
import { QUANTITIES, type Quantity } from '../../config/schemas/quantities.ts';
import { EncodedLines } from '../../adapters/influx/encoded-lines.ts';
import { formatReading, InfluxFormatError, writeReading } from '../../adapters/influx/line-protocol.ts';
import type { MeterKind, StoredReading } from '../../services/metering/storage.ts';
import { prng } from './support.ts';

/**
 * The single-pass line builder against the builder it replaced (copied below as it was at commit
 * f322463, adapters/influx/line-protocol.ts), byte for byte on many readings: tags that need
 * escaping, strings with quotes, backslashes and line breaks, -0 and extreme doubles, flags, device
 * times, and the readings both must refuse (with the same error). The same meter is given other
 * sites and gateways along the way, so a stale cached series key would show.
 */

const QUANTITY_FIELDS = Object.keys(QUANTITIES) as Quantity[];

function previousTagValue(key: string, value: string): string {
  if (value === '' || /[\\\n\r]/.test(value)) {
    throw new InfluxFormatError(`${key} ${JSON.stringify(value)} cannot be an InfluxDB tag value`);
  }
  return value.replace(/[, =]/g, '\\$&');
}

function previousStringField(value: string): string {
  return `"${value.replace(/[\\"]/g, '\\$&')}"`;
}

function previousFormatReading(r: StoredReading): string {
  let line =
    `reading,gateway=${previousTagValue('gateway', r.gateway)},kind=${previousTagValue('kind', r.kind)}` +
    `,meter=${previousTagValue('meter', r.meter)},site=${previousTagValue('site', r.site)} `;
  const values = r.values as Partial<Record<Quantity, number>>;
  for (const q of QUANTITY_FIELDS) {
    const v = values[q];
    if (v === undefined) continue;
    if (!Number.isFinite(v)) throw new InfluxFormatError(`${r.meter}: ${q} is not a finite number`);
    line += `${q}=${v},`;
  }
  line += `quality=${previousStringField(r.quality)},seq=${r.seq}i`;
  if (r.deviceTs !== undefined) line += `,device_ts=${r.deviceTs}i`;
  if (r.error) {
    line += `,error_code=${previousStringField(r.error.code)},error_message=${previousStringField(r.error.message)}`;
  }
  if (r.flags?.length) line += `,flags=${previousStringField(r.flags.join(','))}`;
  if (!Number.isSafeInteger(r.ts) || !Number.isSafeInteger(r.seq)) {
    throw new InfluxFormatError(`${r.meter}: ts and seq must be integers`);
  }
  // Since then (this file's only change to it): the timestamp in nanoseconds, the seq's last six
  // digits below the millisecond, and a ts InfluxDB cannot hold refused here, not by influxd.
  if (r.ts < 0 || r.ts > 9_223_372_036_853 || r.seq < 0) {
    throw new InfluxFormatError(
      `${r.meter}: ts ${r.ts} is outside what InfluxDB can store (1970 to 2262), or seq ${r.seq} is negative`,
    );
  }
  return `${line} ${r.ts}${String(r.seq % 1_000_000).padStart(6, '0')}`;
}

type Rand = () => number;
const pick = <T>(rand: Rand, items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;

const IDS = ['E-1', 'E 2', 'E,3', 'E=4', 'a,b c=d', '电表-5', 'W-6', 'x'.repeat(128)];
const ODD_IDS = ['', 'back\\slash', 'line\nbreak', 'cr\rx', 'trailing\\'];
const TEXTS = ['no answer', 'say "hi"', 'back\\slash', 'two\nlines', '', '\\"', '逗号,空格 =', 'tab\there'];
const NUMBERS = [
  0,
  -0,
  1,
  -1.5,
  229.8,
  0.412,
  1e21,
  1e-7,
  Number.MAX_VALUE,
  Number.MIN_VALUE,
  2 ** 53,
  123456789.125,
];

function randomReading(rand: Rand): StoredReading {
  const odd = rand() < 0.03;
  const id = () => (odd && rand() < 0.3 ? pick(rand, ODD_IDS) : pick(rand, IDS));
  const quality = pick(rand, ['good', 'good', 'uncertain', 'error'] as const);
  const values: Partial<Record<Quantity, number>> = {};
  for (const q of QUANTITY_FIELDS) {
    if (rand() < 0.35)
      values[q] = rand() < 0.5 ? pick(rand, NUMBERS) : (rand() - 0.5) * 10 ** Math.floor(rand() * 12);
  }
  if (odd && rand() < 0.3) values[pick(rand, QUANTITY_FIELDS)] = pick(rand, [NaN, Infinity, -Infinity]);
  const r: StoredReading = {
    meter: id(),
    site: id(),
    gateway: id(),
    kind: pick(rand, ['electricity', 'water', 'heat'] as MeterKind[]),
    ts: odd && rand() < 0.3 ? pick(rand, [1.5, 2 ** 53, NaN]) : Math.floor(rand() * 2e12),
    seq: odd && rand() < 0.3 ? pick(rand, [0.5, 2 ** 60]) : Math.floor(rand() * 1e9),
    quality,
    values,
  };
  if (rand() < 0.3) r.deviceTs = Math.floor(rand() * 2e12);
  if (quality === 'error' || rand() < 0.05)
    r.error = { code: pick(rand, ['MODBUS_TIMEOUT', 'a"b', 'c\\d']), message: pick(rand, TEXTS) };
  if (rand() < 0.2)
    r.flags =
      rand() < 0.2
        ? []
        : Array.from({ length: 1 + Math.floor(rand() * 3) }, () =>
            pick(rand, ['OPCUA_UNCERTAIN', 'DEVICE_CLOCK_INVALID', 'X_1']),
          );
  return r;
}

function outcome(format: (r: StoredReading) => string, r: StoredReading): string {
  try {
    return `line ${format(r)}`;
  } catch (err) {
    return `${(err as Error).name} ${(err as Error).constructor.name}: ${(err as Error).message}`;
  }
}

describe('line protocol', () => {
  it('is byte for byte what the previous builder wrote, refusals included', () => {
    const rand = prng(16_001);
    let lines = 0;
    let refused = 0;
    // The adapter's way: every reading written into one batch, a refused one leaving no trace.
    const batch = new EncodedLines(16);
    const expectedBatch: string[] = [];
    for (let i = 0; i < 50_000; i++) {
      const r = randomReading(rand);
      const expected = outcome(previousFormatReading, r);
      try {
        writeReading(r, batch);
      } catch (err) {
        expect(err).toBeInstanceOf(InfluxFormatError);
      }
      if (expected.startsWith('line ')) expectedBatch.push(`${expected.slice(5)}\n`);
      const actual = outcome(formatReading, r);
      if (actual !== expected) expect(actual, JSON.stringify(r)).toBe(expected);
      if (expected.startsWith('line ')) {
        lines += 1;
        // What goes over HTTP: the UTF-8 bytes.
        if (Buffer.compare(Buffer.from(actual.slice(5)), Buffer.from(expected.slice(5))) !== 0) {
          expect.fail(`bytes differ for ${JSON.stringify(r)}`);
        }
      } else refused += 1;
    }
    expect(lines).toBeGreaterThan(40_000);
    expect(refused).toBeGreaterThan(500);
    expect(batch.count).toBe(lines);
    expect(batch.bytes(0, batch.count).equals(Buffer.from(expectedBatch.join(''), 'utf8'))).toBe(true);
  });

  it('gives a meter that moved to another gateway its new tags at once', () => {
    const base: StoredReading = {
      meter: 'E-1',
      site: 'east',
      gateway: 'gw1',
      kind: 'electricity',
      ts: 1000,
      seq: 1,
      quality: 'good',
      values: { power_kw: 1 },
    };
    expect(formatReading(base)).toBe(
      'reading,gateway=gw1,kind=electricity,meter=E-1,site=east power_kw=1,quality="good",seq=1i 1000000001',
    );
    expect(formatReading({ ...base, gateway: 'gw 2' })).toBe(
      'reading,gateway=gw\\ 2,kind=electricity,meter=E-1,site=east power_kw=1,quality="good",seq=1i 1000000001',
    );
    expect(() => formatReading({ ...base, site: 'a\\b' })).toThrow(InfluxFormatError);
    expect(formatReading(base)).toBe(
      'reading,gateway=gw1,kind=electricity,meter=E-1,site=east power_kw=1,quality="good",seq=1i 1000000001',
    );
  });
});
