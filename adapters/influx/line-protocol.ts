import { QUANTITIES } from '../../config/schemas/quantities.ts';
import type { Quantity } from '../../config/schemas/quantities.ts';
import type { StoredReading } from '../../services/metering/storage.ts';

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

/** `"good"` etc. as string field values, made once. */
const QUALITY_FIELDS: ReadonlyMap<string, string> = new Map(
  ['good', 'uncertain', 'error'].map((q) => [q, `quality="${q}",seq=`]),
);

/** A meter's escaped series key (measurement and tags, with the space before the fields). */
interface SeriesKey {
  site: string;
  gateway: string;
  kind: string;
  key: string;
}

/**
 * Series keys by meter: a meter's tags rarely change, so they are escaped and checked once, not
 * with four regular expressions per reading. An entry is used only while the reading's site,
 * gateway and kind are the ones it was made from; the map is emptied when it outgrows any campus.
 */
const seriesKeys = new Map<string, SeriesKey>();
const MAX_SERIES_KEYS = 200_000;

function seriesKey(r: StoredReading): string {
  const cached = seriesKeys.get(r.meter);
  if (cached && cached.site === r.site && cached.gateway === r.gateway && cached.kind === r.kind) {
    return cached.key;
  }
  const key =
    `${MEASUREMENT},gateway=${tagValue('gateway', r.gateway)},kind=${tagValue('kind', r.kind)}` +
    `,meter=${tagValue('meter', r.meter)},site=${tagValue('site', r.site)} `;
  if (seriesKeys.size >= MAX_SERIES_KEYS) seriesKeys.clear();
  seriesKeys.set(r.meter, { site: r.site, gateway: r.gateway, kind: r.kind, key });
  return key;
}

/**
 * One reading as one line of InfluxDB line protocol, with a millisecond timestamp (write with
 * `precision=ms`). Tags, sorted by key as InfluxDB prefers: `gateway`, `kind`, `meter`, `site`.
 * Fields: each quantity present (float), `quality` (string), `seq` (integer), and where present
 * `device_ts` (integer, UTC ms), `error_code` and `error_message` (strings), `flags` (string,
 * comma-separated codes).
 *
 * Built as one string in a single pass: the series key comes from a per-meter cache, the quality
 * field is a constant, and nothing else is allocated but the line. A test compares it byte for
 * byte with the previous builder (test/ingest/line-protocol.test.ts), escaping and refusals
 * included.
 *
 * The adapter's write path and the benchmark's raw ceiling both use this function, so that they
 * write the very same points.
 */
export function formatReading(r: StoredReading): string {
  let line = seriesKey(r);
  const values = r.values as Partial<Record<Quantity, number>>;
  for (let i = 0; i < QUANTITY_FIELDS.length; i++) {
    const q = QUANTITY_FIELDS[i]!;
    const v = values[q];
    if (v === undefined) continue;
    if (!Number.isFinite(v)) throw new InfluxFormatError(`${r.meter}: ${q} is not a finite number`);
    line += q + '=' + v + ',';
  }
  line += (QUALITY_FIELDS.get(r.quality) ?? `quality=${stringField(r.quality)},seq=`) + r.seq + 'i';
  if (r.deviceTs !== undefined) line += ',device_ts=' + r.deviceTs + 'i';
  if (r.error) {
    line += `,error_code=${stringField(r.error.code)},error_message=${stringField(r.error.message)}`;
  }
  if (r.flags?.length) line += `,flags=${stringField(r.flags.join(','))}`;
  if (!Number.isSafeInteger(r.ts) || !Number.isSafeInteger(r.seq)) {
    throw new InfluxFormatError(`${r.meter}: ts and seq must be integers`);
  }
  return line + ' ' + r.ts;
}
