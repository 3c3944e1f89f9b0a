import { cjt188Error } from './errors.ts';

/**
 * CJ/T 188-2004 framing: [FE…] 68 T A0..A6 C L DATA CS 16. T is the meter type, the address 14
 * BCD digits lowest byte first, data is sent as is (no +0x33, unlike DL/T 645), CS the sum mod 256
 * from 68 through the last data byte. A DI is printed high byte first (901F) and sent low byte
 * first (1F 90).
 */
export const CJT188_HEADER = 11; // 68, T, 7 address bytes, C, L

export const METER_TYPE = { coldWater: 0x10, hotWater: 0x11, heat: 0x20, gas: 0x30 } as const;
export const CONTROL = { read: 0x01, write: 0x04, readAddress: 0x03 } as const;
export const DI = { current: '901F', valve: 'A017' } as const;
export const VALVE = { open: 0x55, close: 0x99 } as const;

export interface Cjt188Frame {
  meterType: number;
  /** 14 digits as printed, most significant first. */
  address: string;
  control: number;
  data: Buffer;
}

export function isAddress(a: string): boolean {
  return /^\d{14}$/.test(a);
}

function addressBytes(address: string): Buffer {
  if (!isAddress(address) && address !== 'AAAAAAAAAAAAAA')
    throw new Error(`CJ/T 188 address must be 14 digits, got "${address}"`);
  return Buffer.from(address, 'hex').reverse();
}

function checksum(bytes: Uint8Array, from: number, to: number): number {
  let sum = 0;
  for (let i = from; i < to; i++) sum = (sum + bytes[i]!) & 0xff;
  return sum;
}

export function diBytes(di: string): Buffer {
  if (!/^[0-9A-Fa-f]{4}$/.test(di)) throw new Error(`CJ/T 188 DI must be 4 hex digits, got "${di}"`);
  return Buffer.from(di, 'hex').reverse();
}

export function encodeFrame(f: Cjt188Frame, preamble = 2): Buffer {
  const out = Buffer.alloc(preamble + CJT188_HEADER + f.data.length + 2, 0xfe);
  let i = preamble;
  out[i++] = 0x68;
  out[i++] = f.meterType;
  addressBytes(f.address).copy(out, i);
  i += 7;
  out[i++] = f.control;
  out[i++] = f.data.length;
  f.data.copy(out, i);
  i += f.data.length;
  out[i] = checksum(out, preamble, i);
  out[i + 1] = 0x16;
  return out;
}

export function frameLength(buf: Buffer): number {
  if (buf[0] !== 0x68) return -1;
  if (buf.length < CJT188_HEADER) return 0;
  return CJT188_HEADER + buf[10]! + 2;
}

export function decodeFrame(buf: Buffer, device: string): Cjt188Frame {
  const len = frameLength(buf);
  if (len <= 0 || buf.length !== len || buf[len - 1] !== 0x16) {
    throw cjt188Error('CJT188_GARBAGE', `not a CJ/T 188 frame: ${buf.toString('hex')}`, device);
  }
  const cs = checksum(buf, 0, len - 2);
  if (cs !== buf[len - 2]) {
    throw cjt188Error(
      'CJT188_CHECKSUM',
      `checksum 0x${buf[len - 2]!.toString(16)} but the bytes sum to 0x${cs.toString(16)}`,
      device,
    );
  }
  return {
    meterType: buf[1]!,
    address: Buffer.from(buf.subarray(2, 9)).reverse().toString('hex').toUpperCase(),
    control: buf[9]!,
    data: Buffer.from(buf.subarray(CJT188_HEADER, len - 2)),
  };
}
