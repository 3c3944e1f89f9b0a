import type { ByteOrder, RegisterType } from '../../config/schemas/profile.ts';
import { REGISTER_WIDTH } from '../../config/schemas/profile.ts';

/**
 * Register value codec. A Modbus register is a big-endian 16-bit word; wider values span
 * several registers. `wordOrder: little` means the least significant word comes first (CDAB);
 * `byteOrder: little` means the two bytes inside each word are swapped (BADC). Both happen in
 * the field (Telegraf #8855), so every type is decodable in all four orders.
 */
function toBigEndianBytes(
  regs: ArrayLike<number>,
  offset: number,
  width: number,
  wordOrder: ByteOrder,
  byteOrder: ByteOrder,
): Buffer {
  const buf = Buffer.alloc(width * 2);
  for (let i = 0; i < width; i++) {
    const word = regs[offset + (wordOrder === 'big' ? i : width - 1 - i)];
    if (word === undefined) throw new RangeError(`register ${offset + i} missing`);
    const hi = (word >> 8) & 0xff;
    const lo = word & 0xff;
    buf[i * 2] = byteOrder === 'big' ? hi : lo;
    buf[i * 2 + 1] = byteOrder === 'big' ? lo : hi;
  }
  return buf;
}

export function decodeValue(
  regs: ArrayLike<number>,
  offset: number,
  type: RegisterType,
  wordOrder: ByteOrder = 'big',
  byteOrder: ByteOrder = 'big',
): number {
  const b = toBigEndianBytes(regs, offset, REGISTER_WIDTH[type], wordOrder, byteOrder);
  switch (type) {
    case 'u16':
      return b.readUInt16BE(0);
    case 'i16':
      return b.readInt16BE(0);
    case 'u32':
      return b.readUInt32BE(0);
    case 'i32':
      return b.readInt32BE(0);
    case 'f32':
      return b.readFloatBE(0);
    case 'f64':
      return b.readDoubleBE(0);
    // Energy registers in Wh stay far below 2^53 (9 PWh), so Number is exact for them.
    case 'u64':
      return Number(b.readBigUInt64BE(0));
    case 'i64':
      return Number(b.readBigInt64BE(0));
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
