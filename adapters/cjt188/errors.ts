import { FieldbusError, lineCodes } from '../line/errors.ts';

/** Every way a CJ/T 188-2004 exchange can fail, as a coded error (see FieldbusError). */
export const CJT188_ERROR_CATALOGUE = Object.freeze({
  CJT188_TIMEOUT:
    'The water or heat meter did not answer within the request timeout: wrong address or meter type, battery meter asleep, wiring or baud rate.',
  CJT188_CHECKSUM:
    'A frame arrived whose checksum (sum mod 256 from 68 to the last data byte) does not match.',
  CJT188_GARBAGE:
    'Bytes arrived that are not the answer asked for: no frame, another meter type or address answering, another control code or DI, or a data field too short for the profile’s layout.',
  CJT188_DENIED:
    'The meter answered abnormally (control code with bit 6 set); `status` carries its status bytes.',
  CJT188_DISCONNECTED:
    'The serial port or the converter connection is closed, refused or could not be opened.',
  CJT188_BAD_UNIT:
    'A value came with a unit code that is not in the CJ/T 188 unit table or does not fit the quantity; the message names the code. No number is published.',
  CJT188_BAD_VALUE: 'A value is not BCD (a digit above 9), or the meter time is not a date.',
} as const);
export type Cjt188ErrorCode = keyof typeof CJT188_ERROR_CATALOGUE;

export const CJT188_LINE_CODES = lineCodes('CJT188');

export function cjt188Error(
  code: Cjt188ErrorCode,
  reason: string,
  device: string,
  detail?: Record<string, number | string>,
): FieldbusError {
  return new FieldbusError(code, reason, { device, ...(detail ? { detail } : {}) });
}
