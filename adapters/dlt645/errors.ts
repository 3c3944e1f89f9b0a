import { FieldbusError, lineCodes } from '../line/errors.ts';

/**
 * Every way a DL/T 645-2007 exchange can fail, as a coded error (see FieldbusError). The gateway
 * publishes the code as a reading's `error.code`; the README's error table lists each one and a
 * test checks that.
 */
export const DLT645_ERROR_CATALOGUE = Object.freeze({
  DLT645_TIMEOUT:
    'The meter did not answer within the request timeout: wrong address, meter off, wiring, baud rate or parity (DL/T 645 lines usually run 2400 8E1).',
  DLT645_CHECKSUM:
    'A frame arrived whose checksum (sum mod 256 from the first 68 to the last data byte) does not match: noise, missing termination or two masters.',
  DLT645_GARBAGE:
    'Bytes arrived that are not the answer asked for: no frame, a frame from another address (wrong meter answering), another control code or data identifier, or a length that does not fit.',
  DLT645_DENIED:
    'The meter answered abnormally (control code with bit 6 set) with its error byte; `errorBits` names the bits (bit 1 no such data, bit 2 wrong password or not authorised, …).',
  DLT645_DISCONNECTED:
    'The serial port or the converter connection is closed, refused or could not be opened.',
  DLT645_BAD_VALUE:
    'A value is not a number: a BCD digit above 9 (a meter fills unsupported data with FF), or a date that does not exist.',
} as const);
export type Dlt645ErrorCode = keyof typeof DLT645_ERROR_CATALOGUE;

export const DLT645_LINE_CODES = lineCodes('DLT645');

/** Names of the bits of the error byte in an abnormal answer (DL/T 645-2007, table of error codes). */
export const DLT645_ERROR_BITS: readonly string[] = [
  'other error',
  'no data requested',
  'wrong password or not authorised',
  'communication rate cannot be changed',
  'annual time zones exceeded',
  'daily time periods exceeded',
  'tariffs exceeded',
  'reserved',
];

export function describeErrorByte(byte: number): string {
  const names = DLT645_ERROR_BITS.filter((_, bit) => byte & (1 << bit));
  return `error byte 0x${byte.toString(16).padStart(2, '0').toUpperCase()}${names.length ? ` (${names.join(', ')})` : ''}`;
}

export function dlt645Error(
  code: Dlt645ErrorCode,
  reason: string,
  device: string,
  extra: { meter?: string; detail?: Record<string, number | string> } = {},
): FieldbusError {
  return new FieldbusError(code, reason, { device, ...extra });
}
