import { dlt645Error } from './errors.ts';

/**
 * DL/T 645-2007 framing: [FE FE FE FE] 68 A0..A5 68 C L DATA CS 16, where the address is 12 BCD
 * digits lowest byte first, every data byte goes on the wire plus 0x33, and CS is the sum mod 256
 * of every byte from the first 68 through the last data byte.
 */
export const DLT645_HEADER = 10; // 68, 6 address bytes, 68, C, L
export const BROADCAST_ADDRESS = '999999999999';
/** The wildcard address of "read address", only meaningful with one meter on the line. */
export const WILDCARD_ADDRESS = 'AAAAAAAAAAAA';

export const CONTROL = {
  broadcastTime: 0x08,
  read: 0x11,
  readFollowUp: 0x12,
  readAddress: 0x13,
  write: 0x14,
  relay: 0x1c,
} as const;

export interface Dlt645Frame {
  /** 12 digits as printed on the meter's nameplate, most significant first. */
  address: string;
  control: number;
  /** Data as the meter means it (the +0x33 already removed). */
  data: Buffer;
}

/** Checks a 12-digit meter address (or the broadcast/wildcard forms). */
export function isAddress(a: string): boolean {
  return /^\d{12}$/.test(a) || a === WILDCARD_ADDRESS;
}

function addressBytes(address: string): Buffer {
  if (!isAddress(address)) throw new Error(`DL/T 645 address must be 12 digits, got "${address}"`);
  const out = Buffer.alloc(6);
  // Nameplate order is most significant first; the wire carries A0 (the last two digits) first.
  for (let i = 0; i < 6; i++) out[i] = Number.parseInt(address.slice(10 - 2 * i, 12 - 2 * i), 16);
  return out;
}

function addressOf(bytes: Uint8Array): string {
  let s = '';
  for (let i = 5; i >= 0; i--) s += bytes[i]!.toString(16).padStart(2, '0');
  return s.toUpperCase();
}

export function checksum(bytes: Uint8Array, from: number, to: number): number {
  let sum = 0;
  for (let i = from; i < to; i++) sum = (sum + bytes[i]!) & 0xff;
  return sum;
}

export function encodeFrame(f: Dlt645Frame, preamble = 4): Buffer {
  if (f.data.length > 200) throw new Error(`DL/T 645 data of ${f.data.length} bytes is longer than 200`);
  const out = Buffer.alloc(preamble + DLT645_HEADER + f.data.length + 2, 0xfe);
  let i = preamble;
  out[i++] = 0x68;
  addressBytes(f.address).copy(out, i);
  i += 6;
  out[i++] = 0x68;
  out[i++] = f.control;
  out[i++] = f.data.length;
  for (const b of f.data) out[i++] = (b + 0x33) & 0xff;
  out[i] = checksum(out, preamble, i);
  out[i + 1] = 0x16;
  return out;
}

/** For the byte line: total length of the frame starting at buf[0] (a 68), 0 if unknown yet, -1 if none. */
export function frameLength(buf: Buffer): number {
  if (buf[0] !== 0x68) return -1;
  if (buf.length >= 8 && buf[7] !== 0x68) return -1;
  if (buf.length < DLT645_HEADER) return 0;
  return DLT645_HEADER + buf[9]! + 2;
}

/** Parses one frame (preamble already stripped); `device` names the line in errors. */
export function decodeFrame(buf: Buffer, device: string): Dlt645Frame {
  const len = frameLength(buf);
  if (len <= 0 || buf.length !== len || buf[len - 1] !== 0x16) {
    throw dlt645Error('DLT645_GARBAGE', `not a DL/T 645 frame: ${buf.toString('hex')}`, device);
  }
  const cs = checksum(buf, 0, len - 2);
  if (cs !== buf[len - 2]) {
    throw dlt645Error(
      'DLT645_CHECKSUM',
      `checksum 0x${buf[len - 2]!.toString(16)} but the bytes sum to 0x${cs.toString(16)}`,
      device,
    );
  }
  const data = Buffer.alloc(buf[9]!);
  for (let i = 0; i < data.length; i++) data[i] = (buf[DLT645_HEADER + i]! - 0x33) & 0xff;
  return { address: addressOf(buf.subarray(1, 7)), control: buf[8]!, data };
}

/** A data identifier as written in the standard (`00010000`) ↔ its 4 wire bytes DI0..DI3. */
export function diBytes(di: string): Buffer {
  if (!/^[0-9A-Fa-f]{8}$/.test(di)) throw new Error(`data identifier must be 8 hex digits, got "${di}"`);
  return Buffer.from(di, 'hex').reverse();
}

export function diOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.subarray(0, 4)).reverse().toString('hex').toUpperCase();
}
