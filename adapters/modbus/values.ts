import type { ByteOrder, RegisterType } from '../../config/schemas/profile.ts';
import { REGISTER_WIDTH } from '../../config/schemas/profile.ts';

/**
 * Register value codec. A Modbus register is a big-endian 16-bit word; wider values span
 * several registers. `wordOrder: little` means the least significant word comes first (CDAB);
 * `byteOrder: little` means the two bytes inside each word are swapped (BADC). Both happen in
 * the field (Telegraf #8855), so every type is decodable in all four orders.
 */
// One scratch buffer for every decode: the poll path decodes tens of thousands of values a
// second, and a Buffer per value was a measurable share of the gateway's CPU.
const scratch = new DataView(new ArrayBuffer(8));

/** Copies `width` registers into the scratch buffer as big-endian bytes (ABCD…). */
function loadBigEndian(
  regs: ArrayLike<number>,
  offset: number,
  width: number,
  wordOrder: ByteOrder,
  byteOrder: ByteOrder,
): void {
  for (let i = 0; i < width; i++) {
    const word = regs[offset + (wordOrder === 'big' ? i : width - 1 - i)];
    if (word === undefined) throw new RangeError(`register ${offset + i} missing`);
    scratch.setUint16(i * 2, word, byteOrder === 'little');
  }
}

export function decodeValue(
  regs: ArrayLike<number>,
  offset: number,
  type: RegisterType,
  wordOrder: ByteOrder = 'big',
  byteOrder: ByteOrder = 'big',
): number {
  loadBigEndian(regs, offset, REGISTER_WIDTH[type], wordOrder, byteOrder);
  switch (type) {
    case 'u16':
      return scratch.getUint16(0);
    case 'i16':
      return scratch.getInt16(0);
    case 'u32':
      return scratch.getUint32(0);
    case 'i32':
      return scratch.getInt32(0);
    case 'f32':
      return scratch.getFloat32(0);
    case 'f64':
      return scratch.getFloat64(0);
    // Energy registers in Wh stay far below 2^53 (9 PWh), so Number is exact for them.
    case 'u64':
      return Number(scratch.getBigUint64(0));
    case 'i64':
      return Number(scratch.getBigInt64(0));
  }
}

/** Inverse of decodeValue, for simulators and golden cases. Integers are rounded and wrapped. */
export function encodeValue(
  value: number,
  type: RegisterType,
  wordOrder: ByteOrder = 'big',
  byteOrder: ByteOrder = 'big',
): number[] {
  const width = REGISTER_WIDTH[type];
  const b = Buffer.alloc(width * 2);
  const int = Math.round(value);
  switch (type) {
    case 'u16':
      b.writeUInt16BE(((int % 0x10000) + 0x10000) % 0x10000, 0);
      break;
    case 'i16':
      b.writeInt16BE(((((int + 0x8000) % 0x10000) + 0x10000) % 0x10000) - 0x8000, 0);
      break;
    case 'u32':
      b.writeUInt32BE(((int % 2 ** 32) + 2 ** 32) % 2 ** 32, 0);
      break;
    case 'i32':
      b.writeInt32BE(((((int + 2 ** 31) % 2 ** 32) + 2 ** 32) % 2 ** 32) - 2 ** 31, 0);
      break;
    case 'f32':
      b.writeFloatBE(value, 0);
      break;
    case 'f64':
      b.writeDoubleBE(value, 0);
      break;
    case 'u64':
      b.writeBigUInt64BE(BigInt.asUintN(64, BigInt(int)), 0);
      break;
    case 'i64':
      b.writeBigInt64BE(BigInt.asIntN(64, BigInt(int)), 0);
      break;
  }
  const words: number[] = [];
  for (let i = 0; i < width; i++) {
    const hi = b[i * 2]!;
    const lo = b[i * 2 + 1]!;
    words.push(byteOrder === 'big' ? (hi << 8) | lo : (lo << 8) | hi);
  }
  return wordOrder === 'big' ? words : words.reverse();
}
