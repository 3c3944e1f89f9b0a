import type { Quantity } from '../../config/schemas/quantities.ts';
import type { MeterKind, StoredReading } from '../../services/metering/storage.ts';

/**
 * A meter's latest reading packed into one BLOB of the `latest` table. The first latest() of
 * 10,000 meters then reads every blob at once, concatenated by SQLite into one value
 * (decodeLatestRun): better-sqlite3 handing V8 29 columns a row, then a Buffer and an array a row,
 * was most of that call's time. Each record therefore starts with its own length and meter id.
 *
 * Layout, little-endian:
 *   u32 record length · u32 meter id
 *   u8 format (1) · u8 quality (0 good, 1 error, 2 uncertain) · u8 fields (1 deviceTs, 2 error, 4 flags)
 *   f64 ts · f64 seq · [f64 deviceTs]
 *   u8 n · n × (u8 quantity id, f64 value)      ids from the file's quantity dictionary
 *   str site · str gateway · str kind · [str code · str message] · [u8 count · count × str flag]
 * where str is u32 byte length + UTF-8. Values are the doubles' own bits: -0, subnormals and the
 * extremes come back as written; flags are kept one by one (no joining on commas).
 */

const FORMAT = 1;
const HEADER = 8;
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
  meterId: number,
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
  let size =
    HEADER + 3 + 16 + (r.deviceTs !== undefined ? 8 : 0) + 1 + present.length * 9 + (r.flags ? 1 : 0);
  const bytes: number[] = [];
  for (const str of strings) {
    const b = Buffer.byteLength(str);
    bytes.push(b);
    size += 4 + b;
  }
  const buf = Buffer.allocUnsafe(size);
  let o = buf.writeUInt32LE(size, 0);
  o = buf.writeUInt32LE(meterId, o);
  o = buf.writeUInt8(FORMAT, o);
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
  for (let i = 0; i < 3; i++) o = writeString(buf, o, strings[i]!, bytes[i]!);
  let i = 3;
  if (r.error) {
    o = writeString(buf, o, strings[i]!, bytes[i]!);
    o = writeString(buf, o, strings[i + 1]!, bytes[i + 1]!);
    i += 2;
  }
  if (r.flags) {
    if (r.flags.length > 255) throw new LatestCodecError(`${r.flags.length} flags: at most 255`);
    o = buf.writeUInt8(r.flags.length, o);
    for (; i < strings.length; i++) o = writeString(buf, o, strings[i]!, bytes[i]!);
  }
  return buf;
}

/** A string as u32 byte length + UTF-8 at `o`; returns the offset after it (no closure: see `at`). */
function writeString(buf: Buffer, o: number, s: string, n: number): number {
  const after = buf.writeUInt32LE(n, o);
  return after + buf.write(s, after, n, 'utf8');
}

/**
 * Where the string readString read last ends. A module-level cursor rather than a closure over the
 * offset: under tsx (esbuild's keepNames) a closure made per decoded row cost a defineProperty each,
 * a fifth of a cold latest().
 */
let at = 0;

function readString(buf: Buffer, offset: number, end: number): string {
  const len = buf.readUInt32LE(offset);
  at = offset + 4 + len;
  // Past the record's end: left for the caller's check to name as truncated.
  return buf.toString('utf8', offset + 4, Math.min(at, end));
}

/**
 * One record (as encodeLatest made it) of `meter`. `quantityOf[id]` is the quantity of a dictionary
 * id (undefined: one this release does not know).
 */
export function decodeLatest(
  meter: string,
  buf: Buffer,
  quantityOf: readonly (Quantity | undefined)[],
): StoredReading {
  if (buf.length < HEADER || buf.readUInt32LE(0) !== buf.length)
    throw new LatestCodecError(`latest reading of ${meter}: ${buf.length} bytes, not one record`);
  return decodeAt(meter, buf, HEADER, buf.length, quantityOf);
}

/**
 * Every record of `run` (blobs laid end to end), each handed to `each` with its meter's name;
 * `nameOf` gives the name of a meter id (it throws for an unknown one).
 */
export function decodeLatestRun(
  run: Buffer,
  nameOf: (meterId: number) => string,
  quantityOf: readonly (Quantity | undefined)[],
  each: (reading: StoredReading) => void,
): void {
  let o = 0;
  while (o < run.length) {
    const size = o + HEADER <= run.length ? run.readUInt32LE(o) : 0;
    if (size < HEADER + 20 || o + size > run.length)
      throw new LatestCodecError(`latest readings: a record at byte ${o} of ${run.length} is damaged`);
    each(decodeAt(nameOf(run.readUInt32LE(o + 4)), run, o + HEADER, o + size, quantityOf));
    o += size;
  }
}

function decodeAt(
  meter: string,
  buf: Buffer,
  start: number,
  end: number,
  quantityOf: readonly (Quantity | undefined)[],
): StoredReading {
  if (end - start < 20 || buf[start] !== FORMAT)
    throw new LatestCodecError(`latest reading of ${meter}: not a packed reading (format ${buf[start]})`);
  const quality = QUALITY_NAME[buf[start + 1]!] ?? 'error';
  const fields = buf[start + 2]!;
  const ts = buf.readDoubleLE(start + 3);
  const seq = buf.readDoubleLE(start + 11);
  let o = start + 19;
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
    site: readString(buf, o, end),
    gateway: readString(buf, at, end),
    kind: readString(buf, at, end) as MeterKind,
  };
  o = at;
  if (deviceTs !== undefined) reading.deviceTs = deviceTs;
  if (fields & HAS_ERROR) {
    reading.error = { code: readString(buf, o, end), message: readString(buf, at, end) };
    o = at;
  }
  if (fields & HAS_FLAGS) {
    const count = buf[o++]!;
    const flags: string[] = [];
    for (let k = 0; k < count; k++) {
      flags.push(readString(buf, o, end));
      o = at;
    }
    reading.flags = flags;
  }
  if (o > end) throw new LatestCodecError(`latest reading of ${meter}: truncated`);
  if (o < end) throw new LatestCodecError(`latest reading of ${meter}: ${end - o} bytes left over`);
  return reading;
}
