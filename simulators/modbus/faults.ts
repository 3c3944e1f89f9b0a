import { z } from 'zod';
import { crc16, responseLength, type Framing, type ModbusRequest } from './frames.ts';

/**
 * Faults a simulated meter can be told to show, at runtime, one at a time:
 * - `timeout`: no response at all.
 * - `exception`: a Modbus exception response with the given code.
 * - `garbage`: a response of the wrong length with random content. Over RTU it starts with the
 *   unit id and function code, so a buffered client takes it for the answer; over Modbus TCP it
 *   keeps a valid MBAP header, so the stream stays framed.
 * - `crc`: over RTU a correct response with a corrupted CRC; over Modbus TCP (which has no CRC) a
 *   malformed response: the byte count promises more registers than the frame carries.
 * - `slow`: the correct response after `delayMs`. On an RTU bus the bus stays busy meanwhile.
 * - `disconnect`: the concentrator drops the TCP connection the request came on (a serial bus has
 *   nothing to drop: there it behaves as `timeout`).
 */
export const FaultSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('none') }).strict(),
  z.object({ type: z.literal('timeout') }).strict(),
  z.object({ type: z.literal('exception'), code: z.number().int().min(1).max(255) }).strict(),
  z.object({ type: z.literal('garbage') }).strict(),
  z.object({ type: z.literal('crc') }).strict(),
  z.object({ type: z.literal('slow'), delayMs: z.number().int().min(0) }).strict(),
  z.object({ type: z.literal('disconnect') }).strict(),
]);
export type Fault = z.infer<typeof FaultSchema>;
export type FaultType = Fault['type'];

export const NO_FAULT: Fault = Object.freeze({ type: 'none' });

/** A response of the wrong length with random content; `random()` returns [0, 1). */
export function garbageResponse(req: ModbusRequest, framing: Framing, random: () => number): Buffer {
  const head = framing === 'mbap' ? 7 : 1;
  const expected = responseLength(req, framing);
  let len = head + 2 + Math.floor(random() * 40);
  if (len === expected) len += 1;
  const out = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) out[i] = Math.floor(random() * 256);
  if (framing === 'mbap') {
    out.writeUInt16BE(req.transactionId, 0);
    out.writeUInt16BE(0, 2);
    out.writeUInt16BE(len - 6, 4);
  }
  out[head - 1] = req.unitId;
  out[head] = req.fc;
  return out;
}

/** Turns a correct response into one that fails its integrity check (see `crc` above). */
export function corruptResponse(good: Buffer, framing: Framing): Buffer {
  if (framing === 'rtu') {
    good.writeUInt16LE(crc16(good, 0, good.length - 2) ^ 0xa5a5, good.length - 2);
    return good;
  }
  // Modbus TCP has no checksum: drop the last byte but keep the byte count, and make the MBAP
  // length match what is sent so the stream itself stays framed.
  const short = good.subarray(0, good.length - 1);
  short.writeUInt16BE(short.length - 6, 4);
  return short;
}
