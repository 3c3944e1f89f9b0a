import type { Quantity } from '../../config/schemas/quantities.ts';
import type { MeterKind, StoredReading } from '../../services/metering/storage.ts';

/**
 * A meter's latest reading packed into one BLOB of the `latest` table, so that the first latest()
 * of 10,000 meters reads two values a row (meter id, blob) instead of 29 columns: better-sqlite3
 * hands each column to V8 through its generic path, which was most of that call's time.
 *
 * Layout, little-endian:
 *   u8 format (1) · u8 quality (0 good, 1 error, 2 uncertain) · u8 fields (1 deviceTs, 2 error, 4 flags)
 *   f64 ts · f64 seq · [f64 deviceTs]
 *   u8 n · n × (u8 quantity id, f64 value)      ids from the file's quantity dictionary
 *   str site · str gateway · str kind · [str code · str message] · [u8 count · count × str flag]
 * where str is u32 byte length + UTF-8. Values are the doubles' own bits: -0, subnormals and the
 * extremes come back as written; flags are kept one by one (no joining on commas).
 */

const FORMAT = 1;
const HAS_DEVICE_TS = 1;
const HAS_ERROR = 2;
const HAS_FLAGS = 4;
const QUALITY_CODE = { good: 0, error: 1, uncertain: 2 } as const;
const QUALITY_NAME = ['good', 'error', 'uncertain'] as const;

export class LatestCodecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LatestCodecError';
  }
}

/**
 * `idOf[c]` is the dictionary id of quantity column c, `columns` the quantity of each column: the
 * values are written in column order, so they come back in it.
 */
export function encodeLatest(
  r: StoredReading,
  columns: readonly Quantity[],
  idOf: readonly number[],
): Buffer {
  const strings: string[] = [r.site, r.gateway, r.kind];
  let fields = 0;
  if (r.deviceTs !== undefined) fields |= HAS_DEVICE_TS;
  if (r.error) {
    fields |= HAS_ERROR;
    strings.push(r.error.code, r.error.message);
  }
  if (r.flags) {
    fields |= HAS_FLAGS;
    strings.push(...r.flags);
  }
  const present: number[] = [];
  for (let c = 0; c < columns.length; c++) if (r.values[columns[c]!] !== undefined) present.push(c);
  let size = 3 + 16 + (r.deviceTs !== undefined ? 8 : 0) + 1 + present.length * 9 + (r.flags ? 1 : 0);
  const bytes = strings.map((s) => Buffer.byteLength(s));
  for (const b of bytes) size += 4 + b;
  const buf = Buffer.allocUnsafe(size);
  let o = buf.writeUInt8(FORMAT, 0);
  o = buf.writeUInt8(QUALITY_CODE[r.quality], o);
  o = buf.writeUInt8(fields, o);
  o = buf.writeDoubleLE(r.ts, o);
  o = buf.writeDoubleLE(r.seq, o);
  if (r.deviceTs !== undefined) o = buf.writeDoubleLE(r.deviceTs, o);
  if (present.length > 255) throw new LatestCodecError(`${present.length} values: at most 255`);
  o = buf.writeUInt8(present.length, o);
  for (const c of present) {
    const id = idOf[c]!;
    if (!(id >= 0 && id <= 255))
      throw new LatestCodecError(`quantity id ${id} of ${columns[c]} out of range`);
    o = buf.writeUInt8(id, o);
    o = buf.writeDoubleLE(r.values[columns[c]!]!, o);
  }
  const writeString = (s: string, n: number): void => {
    o = buf.writeUInt32LE(n, o);
    o += buf.write(s, o, n, 'utf8');
  };
  for (let i = 0; i < 3; i++) writeString(strings[i]!, bytes[i]!);
  let i = 3;
  if (r.error) {
    writeString(strings[i]!, bytes[i]!);
    writeString(strings[i + 1]!, bytes[i + 1]!);
    i += 2;
  }
  if (r.flags) {
    if (r.flags.length > 255) throw new LatestCodecError(`${r.flags.length} flags: at most 255`);
    o = buf.writeUInt8(r.flags.length, o);
    for (; i < strings.length; i++) writeString(strings[i]!, bytes[i]!);
  }
  return buf;
}

/**
 * Where the string readString read last ends. A module-level cursor rather than a closure over the
 * offset: under tsx (esbuild's keepNames) a closure made per decoded row cost a defineProperty each,
 * a fifth of a cold latest().
 */
let at = 0;

function readString(buf: Buffer, offset: number): string {
  const len = buf.readUInt32LE(offset);
  at = offset + 4 + len;
  return buf.toString('utf8', offset + 4, at);
}

/** `quantityOf[id]` is the quantity of a dictionary id (undefined: one this release does not know). */
export function decodeLatest(
  meter: string,
  buf: Buffer,
  quantityOf: readonly (Quantity | undefined)[],
): StoredReading {
  if (buf.length < 20 || buf[0] !== FORMAT)
    throw new LatestCodecError(`latest reading of ${meter}: not a packed reading (format ${buf[0]})`);
  const quality = QUALITY_NAME[buf[1]!] ?? 'error';
  const fields = buf[2]!;
  const ts = buf.readDoubleLE(3);
  const seq = buf.readDoubleLE(11);
  let o = 19;
  let deviceTs: number | undefined;
  if (fields & HAS_DEVICE_TS) {
    deviceTs = buf.readDoubleLE(o);
    o += 8;
  }
  const values: Partial<Record<Quantity, number>> = {};
  const n = buf[o++]!;
  for (let k = 0; k < n; k++) {
    const q = quantityOf[buf[o]!];
    // A quantity a newer release wrote is skipped, as a column this release lacks would be.
    if (q !== undefined) values[q] = buf.readDoubleLE(o + 1);
    o += 9;
  }
  // Key order as the column layout's reader built it, so callers see the same objects.
  const reading: StoredReading = {
    meter,
    ts,
    seq,
    quality,
    values,
    site: readString(buf, o),
    gateway: readString(buf, at),
    kind: readString(buf, at) as MeterKind,
  };
  o = at;
  if (deviceTs !== undefined) reading.deviceTs = deviceTs;
  if (fields & HAS_ERROR) {
    reading.error = { code: readString(buf, o), message: readString(buf, at) };
    o = at;
  }
  if (fields & HAS_FLAGS) {
    const count = buf[o++]!;
    const flags: string[] = [];
    for (let k = 0; k < count; k++) {
      flags.push(readString(buf, o));
      o = at;
    }
    reading.flags = flags;
  }
  if (o > buf.length) throw new LatestCodecError(`latest reading of ${meter}: truncated`);
  if (o < buf.length)
    throw new LatestCodecError(`latest reading of ${meter}: ${buf.length - o} bytes left over`);
  return reading;
}
