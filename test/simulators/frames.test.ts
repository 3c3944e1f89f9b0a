import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import {
  EXCEPTION,
  MbapRequestParser,
  RtuRequestParser,
  crc16,
  decodeMbapFrame,
  decodeResponsePdu,
  decodeRtuFrame,
  encodeMbapFrame,
  encodeReadRequest,
  encodeRtuFrame,
  encodeWriteMultipleRequest,
  encodeWriteSingleRequest,
  respond,
  type ModbusRequest,
  type RegisterDevice,
} from '../../simulators/modbus/frames.ts';
import { mulberry32 } from '../../simulators/meters/random.ts';

const require = createRequire(import.meta.url);
const referenceCrc16 = require('modbus-serial/utils/crc16') as (buf: Buffer) => number;

/** Registers 100..109 hold 1000..1009; writes to 200 are accepted, anything else is refused. */
const device: RegisterDevice & { written: number[] } = {
  written: [],
  readRegisters(_fc, address, quantity, out, offset) {
    if (address < 100 || address + quantity > 110) return EXCEPTION.illegalDataAddress;
    for (let i = 0; i < quantity; i++) out.writeUInt16BE(1000 + address - 100 + i, offset + i * 2);
    return 0;
  },
  writeRegisters(_fc, address, data, offset, quantity) {
    if (address !== 200) return EXCEPTION.illegalDataAddress;
    for (let i = 0; i < quantity; i++) this.written.push(data.readUInt16BE(offset + i * 2));
    return 0;
  },
};

function collectRtu(chunks: Buffer[]): { reqs: ModbusRequest[]; parser: RtuRequestParser } {
  const reqs: ModbusRequest[] = [];
  const parser = new RtuRequestParser((r) => reqs.push(r));
  for (const c of chunks) parser.push(c);
  return { reqs, parser };
}

function bytewise(buf: Buffer): Buffer[] {
  return [...buf].map((b) => Buffer.from([b]));
}

describe('CRC16/Modbus', () => {
  it('matches the textbook frame 01 03 00 00 00 0A C5 CD', () => {
    const frame = encodeRtuFrame(1, encodeReadRequest(3, 0, 10));
    expect(frame.toString('hex')).toBe('01030000000ac5cd');
  });

  it('agrees with modbus-serial on random buffers', () => {
    const rand = mulberry32(42);
    for (let n = 1; n < 300; n += 7) {
      const buf = Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)));
      expect(crc16(buf)).toBe(referenceCrc16(buf));
    }
  });
});

describe('framing', () => {
  it('round-trips RTU frames and rejects a bad CRC', () => {
    const pdu = encodeWriteMultipleRequest(0x1a, [1, 2, 3]);
    const frame = encodeRtuFrame(17, pdu);
    expect(decodeRtuFrame(frame)).toEqual({ unitId: 17, pdu });
    frame[3]! ^= 0xff;
    expect(decodeRtuFrame(frame)).toBeUndefined();
    expect(decodeRtuFrame(Buffer.from([1, 2, 3]))).toBeUndefined();
  });

  it('round-trips MBAP frames and rejects a wrong length or protocol', () => {
    const pdu = encodeReadRequest(4, 0x48, 4);
    const frame = encodeMbapFrame(0xbeef, 9, pdu);
    expect(frame.readUInt16BE(4)).toBe(pdu.length + 1);
    expect(decodeMbapFrame(frame)).toEqual({ transactionId: 0xbeef, unitId: 9, pdu });
    expect(decodeMbapFrame(frame.subarray(0, frame.length - 1))).toBeUndefined();
    const other = Buffer.from(frame);
    other.writeUInt16BE(1, 2);
    expect(decodeMbapFrame(other)).toBeUndefined();
  });

  it('decodes response PDUs', () => {
    expect(decodeResponsePdu(Buffer.from([0x84, 0x02]))).toEqual({ fc: 4, exception: 2 });
    expect(decodeResponsePdu(Buffer.from([3, 4, 0, 1, 0xff, 0xff]))).toEqual({
      fc: 3,
      registers: [1, 0xffff],
    });
    expect(decodeResponsePdu(encodeWriteSingleRequest(5, 7))).toEqual({ fc: 6, address: 5, value: 7 });
    expect(() => decodeResponsePdu(Buffer.from([3, 4, 0, 1]))).toThrow(/byte count/);
  });
});

describe('RTU request parser', () => {
  const stream = Buffer.concat([
    encodeRtuFrame(1, encodeReadRequest(3, 100, 2)),
    encodeRtuFrame(2, encodeReadRequest(4, 0x48, 4)),
    encodeRtuFrame(3, encodeWriteSingleRequest(0x1a, 1)),
    encodeRtuFrame(4, encodeWriteMultipleRequest(0x1a, [0, 7])),
  ]);

  it('yields every request whatever the chunking', () => {
    for (const chunks of [[stream], bytewise(stream), [stream.subarray(0, 11), stream.subarray(11)]]) {
      const { reqs, parser } = collectRtu(chunks);
      expect(reqs.map((r) => [r.unitId, r.fc, r.address, r.quantity, r.error])).toEqual([
        [1, 3, 100, 2, 0],
        [2, 4, 0x48, 4, 0],
        [3, 6, 0x1a, 1, 0],
        [4, 16, 0x1a, 2, 0],
      ]);
      expect(reqs[2]!.value).toBe(1);
      expect([...reqs[3]!.data!]).toEqual([0, 0, 0, 7]);
      expect(reqs[3]!.wireLength).toBe(13);
      expect(parser.buffered).toBe(0);
    }
  });

  it('resynchronises after noise and counts bad frames', () => {
    const { reqs, parser } = collectRtu([Buffer.from([0x07, 0x03, 0x99, 0x42, 0x13]), stream]);
    expect(reqs.map((r) => r.unitId)).toEqual([1, 2, 3, 4]);
    expect(parser.crcErrors).toBeGreaterThan(0);
  });

  it('answers an unknown function with exception 01 and a bad FC16 byte count with 03', () => {
    const { reqs } = collectRtu([encodeRtuFrame(5, Buffer.from([0x2b, 0x0e, 0x01, 0x00]))]);
    expect(reqs[0]).toMatchObject({ unitId: 5, fc: 0x2b, error: EXCEPTION.illegalFunction });
    const bad = encodeWriteMultipleRequest(0x1a, [1, 2]);
    bad.writeUInt16BE(3, 3); // quantity 3 but 4 data bytes
    const { reqs: r2 } = collectRtu([encodeRtuFrame(5, bad)]);
    expect(r2[0]!.error).toBe(EXCEPTION.illegalDataValue);
  });
});

describe('MBAP request parser', () => {
  it('yields requests split across chunks and flags a lost framing', () => {
    const a = encodeMbapFrame(1, 1, encodeReadRequest(3, 100, 3));
    const b = encodeMbapFrame(2, 7, encodeWriteMultipleRequest(200, [5]));
    const all = Buffer.concat([a, b]);
    const reqs: ModbusRequest[] = [];
    const parser = new MbapRequestParser((r) => reqs.push(r));
    for (const c of bytewise(all)) parser.push(c);
    expect(reqs.map((r) => [r.transactionId, r.unitId, r.fc, r.address, r.quantity])).toEqual([
      [1, 1, 3, 100, 3],
      [2, 7, 16, 200, 1],
    ]);
    expect(parser.desynchronised).toBe(false);
    parser.push(Buffer.from([0, 3, 0, 9, 0, 6, 1, 3]));
    expect(parser.desynchronised).toBe(true);
  });
});

describe('respond', () => {
  function ask(pdu: Buffer, framing: 'rtu' | 'mbap') {
    const reqs: ModbusRequest[] = [];
    if (framing === 'rtu') new RtuRequestParser((r) => reqs.push(r)).push(encodeRtuFrame(9, pdu));
    else new MbapRequestParser((r) => reqs.push(r)).push(encodeMbapFrame(77, 9, pdu));
    const out = respond(device, reqs[0]!, framing);
    if (framing === 'rtu') {
      const f = decodeRtuFrame(out)!;
      expect(f.unitId).toBe(9);
      return decodeResponsePdu(f.pdu);
    }
    const f = decodeMbapFrame(out)!;
    expect(f).toMatchObject({ transactionId: 77, unitId: 9 });
    return decodeResponsePdu(f.pdu);
  }

  for (const framing of ['rtu', 'mbap'] as const) {
    it(`serves reads, writes and exceptions (${framing})`, () => {
      expect(ask(encodeReadRequest(4, 101, 3), framing)).toEqual({ fc: 4, registers: [1001, 1002, 1003] });
      expect(ask(encodeReadRequest(3, 108, 3), framing)).toEqual({ fc: 3, exception: 2 });
      expect(ask(encodeReadRequest(3, 100, 126), framing)).toEqual({ fc: 3, exception: 3 });
      expect(ask(encodeReadRequest(3, 100, 0), framing)).toEqual({ fc: 3, exception: 3 });
      expect(ask(encodeWriteSingleRequest(200, 42), framing)).toEqual({ fc: 6, address: 200, value: 42 });
      expect(ask(encodeWriteMultipleRequest(200, [1, 2]), framing)).toEqual({
        fc: 16,
        address: 200,
        quantity: 2,
      });
      expect(ask(encodeWriteSingleRequest(201, 42), framing)).toEqual({ fc: 6, exception: 2 });
      expect(ask(Buffer.from([1, 0, 0, 0, 8]), framing)).toEqual({ fc: 1, exception: 1 });
    });
  }
});
