import { QUANTITIES } from '../../config/schemas/quantities.ts';
import type { Quantity } from '../../config/schemas/quantities.ts';
import type { StoredReading } from '../../services/metering/storage.ts';
import { EncodedLines } from './encoded-lines.ts';

export const MEASUREMENT = 'reading';

/** The quantities in a fixed order, so that every point lists its fields the same way. */
export const QUANTITY_FIELDS = Object.keys(QUANTITIES) as Quantity[];

/** A reading that cannot be written as an InfluxDB point; see `formatReading`. */
export class InfluxFormatError extends Error {
  override readonly name = 'InfluxFormatError';
  readonly code = 'INFLUX_UNREPRESENTABLE';
}

/**
 * Escapes a tag value for line protocol: comma, space and `=` take a backslash. InfluxDB 1.x cannot
 * round-trip a backslash in a tag value (it keeps escape backslashes literally and fails on a
 * trailing one), nor a line break, nor an empty value (the tag is dropped): such values are refused
 * rather than stored under a different name. Ids published on MQTT topics never contain them.
 */
function tagValue(key: string, value: string): string {
  if (value === '' || /[\\\n\r]/.test(value)) {
    throw new InfluxFormatError(`${key} ${JSON.stringify(value)} cannot be an InfluxDB tag value`);
  }
  return value.replace(/[, =]/g, '\\$&');
}

/** A string field value: double-quoted, with `"` and `\` escaped; line breaks are allowed. */
function stringField(value: string): string {
  return `"${value.replace(/[\\"]/g, '\\$&')}"`;
}

/** A meter's escaped series key (measurement and tags, with the space before the fields), encoded. */
interface SeriesKey {
  site: string;
  gateway: string;
  kind: string;
  bytes: Buffer;
}

/**
 * Series keys by meter: a meter's tags rarely change, so they are escaped, checked and encoded
 * once, not with four regular expressions per reading. An entry is used only while the reading's
 * site, gateway and kind are the ones it was made from; the map is emptied when it outgrows any
 * campus.
 */
const seriesKeys = new Map<string, SeriesKey>();
const MAX_SERIES_KEYS = 200_000;

function seriesKey(r: StoredReading): Buffer {
  const cached = seriesKeys.get(r.meter);
  if (cached && cached.site === r.site && cached.gateway === r.gateway && cached.kind === r.kind) {
    return cached.bytes;
  }
  const key =
    `${MEASUREMENT},gateway=${tagValue('gateway', r.gateway)},kind=${tagValue('kind', r.kind)}` +
    `,meter=${tagValue('meter', r.meter)},site=${tagValue('site', r.site)} `;
  if (seriesKeys.size >= MAX_SERIES_KEYS) seriesKeys.clear();
  const bytes = Buffer.from(key, 'utf8');
  seriesKeys.set(r.meter, { site: r.site, gateway: r.gateway, kind: r.kind, bytes });
  return bytes;
}

/** `energy_import_kwh=` etc., encoded once. */
const FIELD_PREFIXES = QUANTITY_FIELDS.map((q) => Buffer.from(`${q}=`));
const SEQ_PREFIXES: ReadonlyMap<string, Buffer> = new Map(
  ['good', 'uncertain', 'error'].map((q) => [q, Buffer.from(`quality="${q}",seq=`)]),
);

/** A number as JavaScript writes it (ASCII); anything else a caller slipped past the types, as UTF-8. */
function writeNumber(out: EncodedLines, v: unknown): void {
  if (typeof v === 'number') out.ascii('' + v);
  else out.utf8(String(v));
}

/**
 * The latest UTC ms a point can have: InfluxDB's timestamps are int64 nanoseconds (to 2262), and
 * a point's sub-millisecond digits are its seq's (below).
 */
const MAX_TS_MS = 9_223_372_036_853;

/**
 * One reading as one line of InfluxDB line protocol, written into `out` and ended with a newline.
 *
 * Its timestamp is in nanoseconds (write with `precision=ns`): the reading's UTC millisecond, then
 * the last six digits of its seq. InfluxDB identifies a point by its series and timestamp, and a
 * second point there replaces the first: at whole milliseconds, two readings of one meter stamped
 * in the same millisecond (a breaker's "not polled" reading and a probe in that millisecond, a
 * gateway whose clock was set back) were one point, and a reading was gone (a clean-clone CI run
 * stored 100,100 of 100,103 through a real influxd). With the seq's digits they
 * are two; a redelivered reading is the same point again; and every query that reads times in
 * milliseconds (`epoch=ms`, which truncates) sees the reading's own `ts`. Roll-ups group by
 * 15 minutes and days, which sub-millisecond digits never cross. Tags, sorted by key as InfluxDB
 * prefers: `gateway`, `kind`, `meter`, `site`. Fields: each quantity present (float), `quality`
 * (string), `seq` (integer), and where present `device_ts` (integer, UTC ms), `error_code` and
 * `error_message` (strings), `flags` (string, comma-separated codes).
 *
 * Written as bytes in a single pass, with no string for the line: the series key and field names
 * are encoded once, numbers are written as ASCII. A reading that cannot be a point throws
 * InfluxFormatError and leaves `out` as it was. A test compares the result byte for byte with the
 * builder of two versions ago (test/ingest/line-protocol.test.ts), escaping and refusals included.
 */
export function writeReading(r: StoredReading, out: EncodedLines): void {
  try {
    out.raw(seriesKey(r));
    const values = r.values as Partial<Record<Quantity, number>>;
    for (let i = 0; i < QUANTITY_FIELDS.length; i++) {
      const v = values[QUANTITY_FIELDS[i]!];
      if (v === undefined) continue;
      if (!Number.isFinite(v))
        throw new InfluxFormatError(`${r.meter}: ${QUANTITY_FIELDS[i]} is not a finite number`);
      out.raw(FIELD_PREFIXES[i]!);
      out.ascii('' + v);
      out.ascii(',');
    }
    const seqPrefix = SEQ_PREFIXES.get(r.quality);
    if (seqPrefix) out.raw(seqPrefix);
    else out.utf8(`quality=${stringField(r.quality)},seq=`);
    writeNumber(out, r.seq);
    out.ascii('i');
    if (r.deviceTs !== undefined) {
      out.ascii(',device_ts=');
      writeNumber(out, r.deviceTs);
      out.ascii('i');
    }
    if (r.error) {
      out.utf8(`,error_code=${stringField(r.error.code)},error_message=${stringField(r.error.message)}`);
    }
    if (r.flags?.length) out.utf8(`,flags=${stringField(r.flags.join(','))}`);
    if (!Number.isSafeInteger(r.ts) || !Number.isSafeInteger(r.seq)) {
      throw new InfluxFormatError(`${r.meter}: ts and seq must be integers`);
    }
    if (r.ts < 0 || r.ts > MAX_TS_MS || r.seq < 0) {
      throw new InfluxFormatError(
        `${r.meter}: ts ${r.ts} is outside what InfluxDB can store (1970 to 2262), or seq ${r.seq} is negative`,
      );
    }
    out.ascii(' ');
    out.ascii('' + r.ts);
    // The seq's last six digits, zero-padded: 1,000,000 + n has seven digits, the first a 1.
    out.ascii(('' + (1_000_000 + (r.seq % 1_000_000))).slice(1));
  } catch (err) {
    out.dropLine();
    throw err;
  }
  out.endLine();
}

const scratch = new EncodedLines(1);

/**
 * One reading's line as a string, without the newline: what `writeReading` writes. The
 * benchmark's raw ceiling and the tests write the very same points as the adapter.
 */
export function formatReading(r: StoredReading): string {
  scratch.clear();
  writeReading(r, scratch);
  const bytes = scratch.bytes(0, 1);
  return bytes.toString('utf8', 0, bytes.length - 1);
}
