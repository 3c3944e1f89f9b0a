/**
 * Modbus frame codecs for the simulators: Modbus TCP (MBAP header + PDU) and Modbus RTU (unit id +
 * PDU + CRC16), streaming request parsers for both, and the server side of FC3, FC4, FC6 and FC16.
 *
 * The server path writes each response straight into one exactly sized buffer, so a request costs
 * one parsed-request object and one response buffer.
 */
import { crc16Modbus } from '../../adapters/modbus/crc.ts';

export const FC_READ_HOLDING = 3;
export const FC_READ_INPUT = 4;
export const FC_WRITE_SINGLE = 6;
export const FC_WRITE_MULTIPLE = 16;

export const EXCEPTION = {
  illegalFunction: 0x01,
  illegalDataAddress: 0x02,
  illegalDataValue: 0x03,
  serverDeviceFailure: 0x04,
  gatewayPathUnavailable: 0x0a,
  gatewayTargetFailedToRespond: 0x0b,
} as const;

/** Most registers one FC3/FC4 response can carry (250 data bytes). */
export const MAX_READ_REGISTERS = 125;
/** Most registers one FC16 request can carry (246 data bytes). */
export const MAX_WRITE_REGISTERS = 123;

const MBAP_HEADER = 7; // transaction id, protocol id, length, unit id
const MAX_MBAP_LENGTH = 254; // unit id + largest PDU (253)
const MAX_RTU_FRAME = 256;

/** CRC-16/MODBUS of `buf[start, end)`: the one the gateway's transport checks (adapters/modbus/crc.ts). */
export const crc16 = crc16Modbus;

// ---------------------------------------------------------------------------------------------
// Framing

/** Unit id + PDU + CRC. */
export function encodeRtuFrame(unitId: number, pdu: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(pdu.length + 3);
  out[0] = unitId;
  out.set(pdu, 1);
  out.writeUInt16LE(crc16(out, 0, pdu.length + 1), pdu.length + 1);
  return out;
}

/** The unit id and PDU of a whole RTU frame, or undefined if it is too short or its CRC is wrong. */
export function decodeRtuFrame(frame: Buffer): { unitId: number; pdu: Buffer } | undefined {
  if (frame.length < 4) return undefined;
  if (frame.readUInt16LE(frame.length - 2) !== crc16(frame, 0, frame.length - 2)) return undefined;
  return { unitId: frame[0]!, pdu: frame.subarray(1, frame.length - 2) };
}

/** MBAP header (protocol id 0) + PDU. */
export function encodeMbapFrame(transactionId: number, unitId: number, pdu: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(MBAP_HEADER + pdu.length);
  out.writeUInt16BE(transactionId & 0xffff, 0);
  out.writeUInt16BE(0, 2);
  out.writeUInt16BE(pdu.length + 1, 4);
  out[6] = unitId;
  out.set(pdu, MBAP_HEADER);
  return out;
}

/** Header fields and PDU of one whole MBAP frame, or undefined if it is not one. */
export function decodeMbapFrame(
  frame: Buffer,
): { transactionId: number; unitId: number; pdu: Buffer } | undefined {
  if (frame.length < MBAP_HEADER + 1) return undefined;
  if (frame.readUInt16BE(2) !== 0) return undefined;
  if (frame.readUInt16BE(4) !== frame.length - MBAP_HEADER + 1) return undefined;
  return {
    transactionId: frame.readUInt16BE(0),
    unitId: frame[6]!,
    pdu: frame.subarray(MBAP_HEADER),
  };
}

// ---------------------------------------------------------------------------------------------
// Client-side PDUs (tests and tools)

export function encodeReadRequest(fc: 3 | 4, address: number, quantity: number): Buffer {
  const b = Buffer.allocUnsafe(5);
  b[0] = fc;
  b.writeUInt16BE(address, 1);
  b.writeUInt16BE(quantity, 3);
  return b;
}

export function encodeWriteSingleRequest(address: number, value: number): Buffer {
  const b = Buffer.allocUnsafe(5);
  b[0] = FC_WRITE_SINGLE;
  b.writeUInt16BE(address, 1);
  b.writeUInt16BE(value, 3);
  return b;
}

export function encodeWriteMultipleRequest(address: number, values: readonly number[]): Buffer {
  const b = Buffer.allocUnsafe(6 + values.length * 2);
  b[0] = FC_WRITE_MULTIPLE;
  b.writeUInt16BE(address, 1);
  b.writeUInt16BE(values.length, 3);
  b[5] = values.length * 2;
  values.forEach((v, i) => b.writeUInt16BE(v, 6 + i * 2));
  return b;
}

export function encodeExceptionPdu(fc: number, code: number): Buffer {
  return Buffer.from([(fc | 0x80) & 0xff, code]);
}

export type ResponsePdu =
  | { fc: number; exception: number }
  | { fc: 3 | 4; registers: number[] }
  | { fc: 6; address: number; value: number }
  | { fc: 16; address: number; quantity: number };

/** Decodes a response PDU of the functions served here; throws on a malformed one. */
export function decodeResponsePdu(pdu: Buffer): ResponsePdu {
  const fc = pdu[0];
  if (fc === undefined) throw new RangeError('empty PDU');
  if (fc & 0x80) {
    if (pdu.length !== 2) throw new RangeError('exception PDU must be 2 bytes');
    return { fc: fc & 0x7f, exception: pdu[1]! };
  }
  if (fc === FC_READ_HOLDING || fc === FC_READ_INPUT) {
    const n = pdu[1];
    if (n === undefined || n % 2 !== 0 || pdu.length !== 2 + n) throw new RangeError('bad byte count');
    const registers: number[] = [];
    for (let i = 0; i < n; i += 2) registers.push(pdu.readUInt16BE(2 + i));
    return { fc, registers };
  }
  if (pdu.length !== 5) throw new RangeError(`FC${fc} response must be 5 bytes`);
  if (fc === FC_WRITE_SINGLE) return { fc, address: pdu.readUInt16BE(1), value: pdu.readUInt16BE(3) };
  if (fc === FC_WRITE_MULTIPLE) return { fc, address: pdu.readUInt16BE(1), quantity: pdu.readUInt16BE(3) };
  throw new RangeError(`unsupported function ${fc}`);
}

// ---------------------------------------------------------------------------------------------
// Server side

/**
 * One parsed request. `data` views the FC16 register bytes inside the received frame. `error` is
 * the exception code a malformed or unsupported PDU must be answered with, else 0.
 */
export interface ModbusRequest {
  transactionId: number;
  unitId: number;
  fc: number;
  address: number;
  quantity: number;
  /** FC6: the value written. */
  value: number;
  /** FC16: the register bytes written (2 × quantity). */
  data: Buffer | undefined;
  error: number;
  /** Length of the request frame on the wire, for bus timing. */
  wireLength: number;
}

/** Registers a simulated device serves; both return 0 or a Modbus exception code. */
export interface RegisterDevice {
  readRegisters(fc: 3 | 4, address: number, quantity: number, out: Buffer, offset: number): number;
  writeRegisters(fc: 6 | 16, address: number, data: Buffer, offset: number, quantity: number): number;
}

function parsePdu(
  buf: Buffer,
  start: number,
  length: number,
  transactionId: number,
  unitId: number,
  wireLength: number,
): ModbusRequest {
  const fc = length > 0 ? buf[start]! : 0;
  const req: ModbusRequest = {
    transactionId,
    unitId,
    fc,
    address: 0,
    quantity: 0,
    value: 0,
    data: undefined,
    error: 0,
    wireLength,
  };
  switch (fc) {
    case FC_READ_HOLDING:
    case FC_READ_INPUT:
      if (length !== 5) {
        req.error = EXCEPTION.illegalDataValue;
        break;
      }
      req.address = buf.readUInt16BE(start + 1);
      req.quantity = buf.readUInt16BE(start + 3);
      if (req.quantity < 1 || req.quantity > MAX_READ_REGISTERS) req.error = EXCEPTION.illegalDataValue;
      break;
    case FC_WRITE_SINGLE:
      if (length !== 5) {
        req.error = EXCEPTION.illegalDataValue;
        break;
      }
      req.address = buf.readUInt16BE(start + 1);
      req.quantity = 1;
      req.value = buf.readUInt16BE(start + 3);
      break;
    case FC_WRITE_MULTIPLE: {
      if (length < 6) {
        req.error = EXCEPTION.illegalDataValue;
        break;
      }
      req.address = buf.readUInt16BE(start + 1);
      req.quantity = buf.readUInt16BE(start + 3);
      const byteCount = buf[start + 5]!;
      if (
        req.quantity < 1 ||
        req.quantity > MAX_WRITE_REGISTERS ||
        byteCount !== req.quantity * 2 ||
        length !== 6 + byteCount
      ) {
        req.error = EXCEPTION.illegalDataValue;
        break;
      }
      req.data = buf.subarray(start + 6, start + 6 + byteCount);
      break;
    }
    default:
      req.error = EXCEPTION.illegalFunction;
  }
  return req;
}

export type Framing = 'mbap' | 'rtu';

function frameHead(framing: Framing): number {
  return framing === 'mbap' ? MBAP_HEADER : 1;
}
function frameTail(framing: Framing): number {
  return framing === 'mbap' ? 0 : 2;
}

/** Writes the header (and for RTU the CRC) around a PDU already in place in `out`. */
function seal(out: Buffer, framing: Framing, req: ModbusRequest): Buffer {
  if (framing === 'mbap') {
    out.writeUInt16BE(req.transactionId, 0);
    out.writeUInt16BE(0, 2);
    out.writeUInt16BE(out.length - 6, 4);
    out[6] = req.unitId;
  } else {
    out[0] = req.unitId;
    out.writeUInt16LE(crc16(out, 0, out.length - 2), out.length - 2);
  }
  return out;
}

export function encodeExceptionResponse(req: ModbusRequest, code: number, framing: Framing): Buffer {
  const head = frameHead(framing);
  const out = Buffer.allocUnsafe(head + 2 + frameTail(framing));
  out[head] = (req.fc | 0x80) & 0xff;
  out[head + 1] = code;
  return seal(out, framing, req);
}

/** The complete response frame a device gives to one request. */
export function respond(device: RegisterDevice, req: ModbusRequest, framing: Framing): Buffer {
  if (req.error !== 0) return encodeExceptionResponse(req, req.error, framing);
  const head = frameHead(framing);
  const tail = frameTail(framing);
  if (req.fc === FC_READ_HOLDING || req.fc === FC_READ_INPUT) {
    const out = Buffer.allocUnsafe(head + 2 + req.quantity * 2 + tail);
    const code = device.readRegisters(req.fc, req.address, req.quantity, out, head + 2);
    if (code !== 0) return encodeExceptionResponse(req, code, framing);
    out[head] = req.fc;
    out[head + 1] = req.quantity * 2;
    return seal(out, framing, req);
  }
  let code: number;
  if (req.fc === FC_WRITE_SINGLE) {
    const one = Buffer.allocUnsafe(2);
    one.writeUInt16BE(req.value, 0);
    code = device.writeRegisters(FC_WRITE_SINGLE, req.address, one, 0, 1);
  } else {
    code = device.writeRegisters(FC_WRITE_MULTIPLE, req.address, req.data!, 0, req.quantity);
  }
  if (code !== 0) return encodeExceptionResponse(req, code, framing);
  const out = Buffer.allocUnsafe(head + 5 + tail);
  out[head] = req.fc;
  out.writeUInt16BE(req.address, head + 1);
  out.writeUInt16BE(req.fc === FC_WRITE_SINGLE ? req.value : req.quantity, head + 3);
  return seal(out, framing, req);
}

/** Length in bytes of a normal (non-exception) response frame to `req`. */
export function responseLength(req: ModbusRequest, framing: Framing): number {
  const pdu = req.fc === FC_READ_HOLDING || req.fc === FC_READ_INPUT ? 2 + req.quantity * 2 : 5;
  return frameHead(framing) + pdu + frameTail(framing);
}

// ---------------------------------------------------------------------------------------------
// Streaming parsers

/** Accumulates bytes that arrive in arbitrary chunks; keeps the unconsumed tail between pushes. */
abstract class StreamParser {
  private pending: Buffer | undefined;

  constructor(protected readonly onRequest: (req: ModbusRequest) => void) {}

  push(chunk: Buffer): void {
    // The common case, whole frames per chunk, is parsed in place without copying.
    const buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    const used = this.consume(buf);
    this.pending = used < buf.length ? Buffer.from(buf.subarray(used)) : undefined;
  }

  /** Bytes waiting for the rest of their frame. */
  get buffered(): number {
    return this.pending?.length ?? 0;
  }

  reset(): void {
    this.pending = undefined;
  }

  /** Emits every whole frame at the start of `buf`; returns how many bytes it consumed. */
  protected abstract consume(buf: Buffer): number;
}

/**
 * Modbus TCP request stream. A header with a protocol id other than 0 or an impossible length
 * means the stream lost its framing; the parser then drops everything buffered, as a server
 * closing such a connection would lose it too.
 */
export class MbapRequestParser extends StreamParser {
  /** Set when the stream lost its framing; servers close such connections. */
  desynchronised = false;

  protected consume(buf: Buffer): number {
    let off = 0;
    while (buf.length - off >= MBAP_HEADER) {
      const length = buf.readUInt16BE(off + 4);
      if (buf.readUInt16BE(off + 2) !== 0 || length < 2 || length > MAX_MBAP_LENGTH) {
        this.desynchronised = true;
        return buf.length;
      }
      const total = 6 + length;
      if (buf.length - off < total) break;
      this.onRequest(
        parsePdu(buf, off + MBAP_HEADER, length - 1, buf.readUInt16BE(off), buf[off + 6]!, total),
      );
      off += total;
    }
    return off;
  }
}

/**
 * Length of the RTU request frame starting at `off`, if its function code fixes it and enough
 * bytes are there to tell; undefined while more bytes are needed; -1 for a function whose length
 * is unknown.
 */
export function rtuRequestLength(buf: Buffer, off: number): number | undefined {
  if (buf.length - off < 2) return undefined;
  switch (buf[off + 1]) {
    case 1:
    case 2:
    case 3:
    case 4:
    case 5:
    case 6:
      return 8;
    case 15:
    case 16:
      return buf.length - off < 7 ? undefined : 9 + buf[off + 6]!;
    default:
      return -1;
  }
}

/**
 * Modbus RTU request stream, framed by function code rather than by the 3.5-character silence
 * (which a TCP stream or a pseudo-terminal does not preserve). A frame with a bad CRC is dropped
 * one byte at a time until a valid frame lines up again, as a slave listening on a noisy bus
 * resynchronises. A function of unknown length is taken to end where the received bytes end.
 */
export class RtuRequestParser extends StreamParser {
  /** Frames dropped for a bad CRC. */
  crcErrors = 0;

  protected consume(buf: Buffer): number {
    let off = 0;
    while (buf.length - off >= 4) {
      let len = rtuRequestLength(buf, off);
      if (len === undefined) break;
      if (len === -1) len = buf.length - off;
      if (len > MAX_RTU_FRAME) {
        off += 1;
        continue;
      }
      if (buf.length - off < len) break;
      const end = off + len;
      if (buf.readUInt16LE(end - 2) !== crc16(buf, off, end - 2)) {
        this.crcErrors++;
        off += 1;
        continue;
      }
      this.onRequest(parsePdu(buf, off + 1, len - 3, 0, buf[off]!, len));
      off = end;
    }
    return off;
  }
}
