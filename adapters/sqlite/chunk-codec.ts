import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { ByteReader, ByteWriter } from './bytes.ts';

/**
 * One meter's readings of one closed period (a UTC day by default) as a compressed column chunk.
 *
 * Lossless by construction: every value is stored under an encoding only after checking, value by
 * value with Object.is, that decoding gives back the very same double (so -0, subnormals and the
 * extremes come back bit for bit); a column that fits no compact encoding is stored as raw IEEE
 * bits. The compact encodings exist because a meter's values are not arbitrary doubles: the
 * gateway decodes a register as `raw × scale × 10^exp × unit factor` (adapters/modbus/decode.ts),
 * so a value is usually an integer register times a power of ten, or a float32 register times a
 * unit factor.
 *
 * Layout, deflated as a whole: version, n, then sections each prefixed by its byte length (so a
 * query for one quantity skips the others without parsing them):
 *   ts        first ts, then delta-of-delta (zigzag varints): a steady poll interval costs ~1 byte
 *   seq       first seq, then delta − 1: consecutive polls cost ~1 byte (0 before deflate)
 *   quality   one byte each
 *   deviceTs  per reading 0 (none) or 1 + zigzag(deviceTs − ts)
 *   extras    JSON of the rare fields: [index, error code, error message, flags][]
 *   values    per quantity present in the chunk: its id in the file's quantity dictionary, the
 *             presence (all, or a bitmap), the encoding and the values (see encodeValues)
 * Bytes of doubles are XORed with the previous value and transposed (all first bytes, then all
 * second bytes, …): slowly changing values leave long runs of zero bytes for deflate.
 */

export const CHUNK_FORMAT = 1;

/** A reading as the store's rows hold it: [seq, ts, quality, deviceTs, errorCode, errorMessage, flags, ...values]. */
export type ChunkRow = [
  seq: number,
  ts: number,
  quality: number,
  deviceTs: number | null,
  errorCode: string | null,
  errorMessage: string | null,
  flags: string | null,
  ...values: (number | null)[],
];

/**
 * Multiplier chains a value may be an integer or float32 register times, applied left to right as
 * the gateway's decoder does. The index is stored in the chunk: append only, never reorder.
 */
const SCALES: readonly (readonly number[])[] = [
  [1],
  [0.1],
  [0.01],
  [0.001],
  [0.0001],
  [0.00001],
  [0.000001],
  [10],
  [100],
  [1000],
  [0.1, 0.001],
  [0.01, 0.001],
  [0.001, 0.001],
  [1 / 3.6],
  [1000 / 3.6],
];
const SCALE_PRODUCT = SCALES.map((chain) => chain.reduce((a, b) => a * b, 1));

const ENC_INT = 0;
const ENC_F32 = 1;
const ENC_F64 = 2;
/** Scaled integers stay within ±2^50, so their deltas and zigzags stay exact in a double. */
const INT_LIMIT = 2 ** 50;

function applyChain(x: number, chain: readonly number[]): number {
  let v = x;
  for (const m of chain) v *= m;
  return v;
}

function asScaledInts(values: readonly number[], s: number): number[] | undefined {
  const chain = SCALES[s]!;
  const out = new Array<number>(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    // `+ 0` turns -0 into 0, so a -0 value fails the check below and keeps its sign elsewhere.
    const r = Math.round(v / SCALE_PRODUCT[s]!) + 0;
    if (!(Math.abs(r) < INT_LIMIT) || !Object.is(applyChain(r, chain), v)) return undefined;
    out[i] = r;
  }
  return out;
}

function asScaledF32(values: readonly number[], s: number): Float32Array | undefined {
  const chain = SCALES[s]!;
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    const f = Math.fround(v / SCALE_PRODUCT[s]!);
    if (!Object.is(applyChain(f, chain), v)) return undefined;
    out[i] = f;
  }
  return out;
}

/** XOR each word with the previous one, then transpose bytes: byte 0 of every value, byte 1, … */
function xorTranspose(words: Uint32Array, wordsPerValue: number): Uint8Array {
  const n = words.length / wordsPerValue;
  const width = wordsPerValue * 4;
  const out = new Uint8Array(n * width);
  for (let i = n - 1; i >= 0; i--) {
    for (let w = 0; w < wordsPerValue; w++) {
      const cur = words[i * wordsPerValue + w]!;
      const prev = i > 0 ? words[(i - 1) * wordsPerValue + w]! : 0;
      const x = (cur ^ prev) >>> 0;
      for (let b = 0; b < 4; b++) out[(w * 4 + b) * n + i] = (x >>> (8 * (3 - b))) & 0xff;
    }
  }
  return out;
}

function untransposeXor(bytes: Uint8Array, n: number, wordsPerValue: number): Uint32Array {
  const words = new Uint32Array(n * wordsPerValue);
  for (let i = 0; i < n; i++) {
    for (let w = 0; w < wordsPerValue; w++) {
      let x = 0;
      for (let b = 0; b < 4; b++) x = x * 256 + bytes[(w * 4 + b) * n + i]!;
      const prev = i > 0 ? words[(i - 1) * wordsPerValue + w]! : 0;
      words[i * wordsPerValue + w] = (x ^ prev) >>> 0;
    }
  }
  return words;
}

/** The present values of one quantity: the first encoding that gives every one of them back. */
function encodeValues(w: ByteWriter, values: readonly number[]): void {
  for (let s = 0; s < SCALES.length; s++) {
    const ints = asScaledInts(values, s);
    if (!ints) continue;
    w.byte(ENC_INT);
    w.byte(s);
    let prev = 0;
    for (const r of ints) {
      w.svarint(r - prev);
      prev = r;
    }
    return;
  }
  for (let s = 0; s < SCALES.length; s++) {
    const f32 = asScaledF32(values, s);
    if (!f32) continue;
    w.byte(ENC_F32);
    w.byte(s);
    w.bytes(xorTranspose(new Uint32Array(f32.buffer), 1));
    return;
  }
  w.byte(ENC_F64);
  const f64 = Float64Array.from(values);
  // Little-endian machines store the low word first; the high word (sign, exponent) changes least.
  const words = new Uint32Array(f64.buffer);
  const hiLo = new Uint32Array(words.length);
  for (let i = 0; i < values.length; i++) {
    hiLo[2 * i] = words[2 * i + 1]!;
    hiLo[2 * i + 1] = words[2 * i]!;
  }
  w.bytes(xorTranspose(hiLo, 2));
}

function decodeValues(r: ByteReader, n: number): number[] {
  const enc = r.byte();
  if (enc === ENC_INT) {
    const chain = SCALES[r.byte()];
    if (!chain) throw new RangeError('chunk names an unknown scale');
    const out = new Array<number>(n);
    let prev = 0;
    for (let i = 0; i < n; i++) {
      prev += r.svarint();
      out[i] = applyChain(prev, chain);
    }
    return out;
  }
  if (enc === ENC_F32) {
    const chain = SCALES[r.byte()];
    if (!chain) throw new RangeError('chunk names an unknown scale');
    const words = untransposeXor(r.bytes(n * 4), n, 1);
    const f32 = new Float32Array(words.buffer);
    return Array.from(f32, (f) => applyChain(f, chain));
  }
  if (enc === ENC_F64) {
    const hiLo = untransposeXor(r.bytes(n * 8), n, 2);
    const words = new Uint32Array(n * 2);
    for (let i = 0; i < n; i++) {
      words[2 * i] = hiLo[2 * i + 1]!;
      words[2 * i + 1] = hiLo[2 * i]!;
    }
    return Array.from(new Float64Array(words.buffer));
  }
  throw new RangeError(`chunk has an unknown value encoding ${enc}`);
}

/**
 * Encodes rows sorted by (ts, seq). `dictIds[c]` is the file's dictionary id of value column c.
 */
export function encodeChunk(rows: readonly ChunkRow[], dictIds: readonly number[]): Buffer {
  const n = rows.length;
  const w = new ByteWriter();
  w.byte(CHUNK_FORMAT);
  w.uvarint(n);

  const ts = new ByteWriter();
  let prevTs = 0;
  let prevDelta = 0;
  rows.forEach((row, i) => {
    if (i === 0) ts.svarint(row[1]);
    else {
      const delta = row[1] - prevTs;
      ts.svarint(delta - prevDelta);
      prevDelta = delta;
    }
    prevTs = row[1];
  });
  w.section(ts);

  const seq = new ByteWriter();
  rows.forEach((row, i) => seq.svarint(i === 0 ? row[0] : row[0] - rows[i - 1]![0] - 1));
  w.section(seq);

  const quality = new ByteWriter();
  for (const row of rows) quality.byte(row[2]);
  w.section(quality);

  const deviceTs = new ByteWriter();
  for (const row of rows) {
    if (row[3] === null) deviceTs.uvarint(0);
    else {
      const d = row[3] - row[1];
      deviceTs.uvarint(1 + (d >= 0 ? d * 2 : -d * 2 - 1));
    }
  }
  w.section(deviceTs);

  const extras: [number, string | null, string | null, string | null][] = [];
  rows.forEach((row, i) => {
    if (row[4] !== null || row[5] !== null || row[6] !== null) extras.push([i, row[4], row[5], row[6]]);
  });
  const ex = new ByteWriter();
  if (extras.length > 0) ex.bytes(Buffer.from(JSON.stringify(extras), 'utf8'));
  w.section(ex);

  const columns = rows.length > 0 ? rows[0]!.length - 7 : 0;
  for (let c = 0; c < columns; c++) {
    const present: number[] = [];
    const bitmap = new Uint8Array(Math.ceil(n / 8));
    rows.forEach((row, i) => {
      const v = row[7 + c] as number | null | undefined;
      if (v === null || v === undefined) return;
      present.push(v);
      bitmap[i >> 3]! |= 1 << (i & 7);
    });
    if (present.length === 0) continue;
    const col = new ByteWriter();
    col.uvarint(dictIds[c]!);
    const all = present.length === n;
    col.byte(all ? 1 : 0);
    if (!all) col.bytes(bitmap);
    encodeValues(col, present);
    w.section(col);
  }
  return deflateRawSync(w.finish(), { level: 6 });
}

/** What a decode returns; `values` only for the columns asked for (all when none were named). */
export interface DecodedChunk {
  n: number;
  ts: number[];
  seq: number[];
  quality: Uint8Array;
  /** Value columns by the store's column index; a null where the reading lacks the quantity. */
  values: Map<number, (number | null)[]>;
  deviceTs?: (number | null)[];
  extras?: [number, string | null, string | null, string | null][];
}

/**
 * Decodes a chunk. `columnOf[dictId]` is the store's column of a dictionary id. With `only`, just
 * ts, seq, quality and those columns are decoded (a series query); otherwise everything.
 */
export function decodeChunk(
  blob: Uint8Array,
  columnOf: ReadonlyMap<number, number>,
  only?: ReadonlySet<number>,
): DecodedChunk {
  const r = new ByteReader(inflateRawSync(blob));
  const format = r.byte();
  if (format !== CHUNK_FORMAT) throw new RangeError(`chunk format ${format} is not known to this release`);
  const n = r.uvarint();

  const tsr = r.section();
  const ts = new Array<number>(n);
  let prevTs = 0;
  let prevDelta = 0;
  for (let i = 0; i < n; i++) {
    if (i === 0) ts[0] = prevTs = tsr.svarint();
    else {
      prevDelta += tsr.svarint();
      ts[i] = prevTs += prevDelta;
    }
  }
  const seqr = r.section();
  const seq = new Array<number>(n);
  for (let i = 0; i < n; i++) seq[i] = i === 0 ? seqr.svarint() : seq[i - 1]! + 1 + seqr.svarint();
  const quality = Uint8Array.from(r.bytes(r.uvarint()));

  const out: DecodedChunk = { n, ts, seq, quality, values: new Map() };
  if (only) {
    r.skipSection();
    r.skipSection();
  } else {
    const dr = r.section();
    out.deviceTs = new Array<number | null>(n);
    for (let i = 0; i < n; i++) {
      const z = dr.uvarint();
      out.deviceTs[i] = z === 0 ? null : ts[i]! + ((z - 1) % 2 === 0 ? (z - 1) / 2 : -z / 2);
    }
    const exBytes = r.bytes(r.uvarint());
    out.extras = exBytes.length > 0 ? JSON.parse(Buffer.from(exBytes).toString('utf8')) : [];
  }
  while (!r.done) {
    const col = r.section();
    const dictId = col.uvarint();
    const c = columnOf.get(dictId);
    if (c === undefined)
      throw new RangeError(`chunk holds quantity id ${dictId} missing from the dictionary`);
    if (only && !only.has(c)) continue;
    const all = col.byte() === 1;
    const bitmap = all ? undefined : col.bytes(Math.ceil(n / 8));
    let count = n;
    if (bitmap) {
      count = 0;
      for (let i = 0; i < n; i++) if (bitmap[i >> 3]! & (1 << (i & 7))) count++;
    }
    const present = decodeValues(col, count);
    const values = new Array<number | null>(n);
    let k = 0;
    for (let i = 0; i < n; i++) {
      values[i] = !bitmap || bitmap[i >> 3]! & (1 << (i & 7)) ? present[k++]! : null;
    }
    out.values.set(c, values);
  }
  return out;
}

/** A decoded chunk back as rows of `columns` value columns, in the chunk's (ts, seq) order. */
export function chunkRows(d: DecodedChunk, columns: number): ChunkRow[] {
  const rows: ChunkRow[] = [];
  for (let i = 0; i < d.n; i++) {
    const row: ChunkRow = [d.seq[i]!, d.ts[i]!, d.quality[i]!, d.deviceTs?.[i] ?? null, null, null, null];
    for (let c = 0; c < columns; c++) row.push(d.values.get(c)?.[i] ?? null);
    rows.push(row);
  }
  for (const [i, code, message, flags] of d.extras ?? []) {
    const row = rows[i];
    if (!row) throw new RangeError('chunk extras name a reading it does not hold');
    row[4] = code;
    row[5] = message;
    row[6] = flags;
  }
  return rows;
}
