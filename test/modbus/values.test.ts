import { describe, expect, it } from 'vitest';
import { decodeValue, encodeValue } from '../../adapters/modbus/values.ts';
import { REGISTER_WIDTH, type ByteOrder, type RegisterType } from '../../config/schemas/profile.ts';

const TYPES = Object.keys(REGISTER_WIDTH) as RegisterType[];
const ORDERS: [ByteOrder, ByteOrder][] = [
  ['big', 'big'],
  ['little', 'big'],
  ['big', 'little'],
  ['little', 'little'],
];
const SAMPLES: Record<RegisterType, number[]> = {
  u16: [0, 1, 0x1234, 0xffff],
  i16: [0, -1, -32768, 32767, 1234],
  u32: [0, 1, 0x12345678, 0xffffffff],
  i32: [0, -1, -(2 ** 31), 2 ** 31 - 1, -123456],
  u64: [0, 1, 2 ** 40 + 5, Number.MAX_SAFE_INTEGER],
  i64: [0, -1, -(2 ** 40) - 5, Number.MIN_SAFE_INTEGER, 123456789],
  f32: [0, 1, -1, 230, 0.5, -1234.5, 3.4e38],
  f64: [0, Math.PI, -1e300, 1e-300, 12345.678901],
};

describe('register codec', () => {
  for (const type of TYPES) {
    for (const [wordOrder, byteOrder] of ORDERS) {
      it(`round-trips ${type} word=${wordOrder} byte=${byteOrder}`, () => {
        for (const v of SAMPLES[type]) {
          const regs = encodeValue(v, type, wordOrder, byteOrder);
          expect(regs).toHaveLength(REGISTER_WIDTH[type]);
          for (const r of regs) expect(r >= 0 && r <= 0xffff).toBe(true);
          // Decode at an offset inside a larger block, as the planner does.
          const block = [0xdead, ...regs, 0xbeef];
          const back = decodeValue(block, 1, type, wordOrder, byteOrder);
          if (type === 'f32') expect(back).toBeCloseTo(Math.fround(v), 5);
          else expect(back).toBe(v);
        }
      });
    }
  }

  it('decodes known float32 words in all four orders', () => {
    // 230.0 = 0x43660000, 1234.5 = 0x449A5000
    expect(decodeValue([0x4366, 0x0000], 0, 'f32')).toBe(230);
    expect(decodeValue([0x449a, 0x5000], 0, 'f32')).toBe(1234.5);
    expect(decodeValue([0x5000, 0x449a], 0, 'f32', 'little', 'big')).toBe(1234.5);
    expect(decodeValue([0x9a44, 0x0050], 0, 'f32', 'big', 'little')).toBe(1234.5);
    expect(decodeValue([0x0050, 0x9a44], 0, 'f32', 'little', 'little')).toBe(1234.5);
    expect(decodeValue([0x7fc0, 0x0000], 0, 'f32')).toBeNaN();
    expect(decodeValue([0x7f80, 0x0000], 0, 'f32')).toBe(Infinity);
  });

  it('decodes known integer words', () => {
    expect(decodeValue([0xffff], 0, 'i16')).toBe(-1);
    expect(decodeValue([0xff9c], 0, 'i16')).toBe(-100);
    expect(decodeValue([0x0001, 0xe240], 0, 'u32')).toBe(123456);
    expect(decodeValue([0xe240, 0x0001], 0, 'u32', 'little')).toBe(123456);
    expect(decodeValue([0xffff, 0xfffe], 0, 'i32')).toBe(-2);
    // 123456789 Wh as int64, most significant word first (Schneider iEM3000 energy).
    expect(decodeValue([0x0000, 0x0000, 0x075b, 0xcd15], 0, 'i64')).toBe(123456789);
    expect(decodeValue([0xffff, 0xffff, 0xffff, 0xffff], 0, 'i64')).toBe(-1);
    expect(decodeValue([0x4009, 0x21fb, 0x5444, 0x2d18], 0, 'f64')).toBe(Math.PI);
  });

  it('encodes known vectors', () => {
    expect(encodeValue(230, 'f32')).toEqual([0x4366, 0x0000]);
    expect(encodeValue(-100, 'i16')).toEqual([0xff9c]);
    expect(encodeValue(123456, 'u32', 'little')).toEqual([0xe240, 0x0001]);
  });

  it('reports a missing register instead of reading garbage', () => {
    expect(() => decodeValue([0x4366], 0, 'f32')).toThrow(RangeError);
  });
});
