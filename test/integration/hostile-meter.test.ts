import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openModbusTransport, type ModbusTransport } from '../../adapters/modbus/client.ts';
import { ModbusError, type ModbusErrorCode } from '../../adapters/modbus/errors.ts';

/**
 * Issue 26 item 6: a hostile Modbus TCP meter of our own, a raw server that answers each request
 * as told. After any malformed answer the transport must resynchronise, so that the same meter
 * answering correctly is read at the very next request (one truncated frame used to leave the
 * stream misaligned: every poll then timed out for minutes, reported as MODBUS_TIMEOUT though the
 * meter answered), and each failure is coded by what happened.
 */

type Answer = (req: Request) => Buffer[] | 'silence' | 'reset';

interface Request {
  tid: number;
  unit: number;
  fc: number;
  address: number;
  count: number;
}

/** The registers a correct meter holds: each register's own address. */
const registers = (r: Request): number[] =>
  Array.from({ length: r.count }, (_, i) => (r.address + i) & 0xffff);

function mbap(tid: number, unit: number, pdu: Buffer, lengthOverride?: number): Buffer {
  const head = Buffer.alloc(7);
  head.writeUInt16BE(tid, 0);
  head.writeUInt16BE(0, 2);
  head.writeUInt16BE(lengthOverride ?? pdu.length + 1, 4);
  head.writeUInt8(unit, 6);
  return Buffer.concat([head, pdu]);
}

function readPdu(fc: number, values: number[], byteCount = values.length * 2): Buffer {
  const pdu = Buffer.alloc(2 + values.length * 2);
  pdu.writeUInt8(fc, 0);
  pdu.writeUInt8(byteCount, 1);
  values.forEach((v, i) => pdu.writeUInt16BE(v, 2 + i * 2));
  return pdu;
}

const good: Answer = (r) => [mbap(r.tid, r.unit, readPdu(r.fc, registers(r)))];

/** The hostile answers, each with the codes it may be reported as. */
/** `null`: no error (the answer was read as sent, and what followed it must not disturb the next). */
const CASES: { name: string; answer: Answer; codes: (ModbusErrorCode | null)[] }[] = [
  {
    name: 'truncated frame (MBAP length promises more than is sent)',
    answer: (r) => [mbap(r.tid, r.unit, readPdu(r.fc, registers(r))).subarray(0, 9 + r.count)],
    codes: ['MODBUS_TIMEOUT', 'MODBUS_GARBAGE'],
  },
  {
    name: 'trailing garbage after a correct frame',
    answer: (r) => [
      Buffer.concat([
        mbap(r.tid, r.unit, readPdu(r.fc, [0xdead, ...registers(r).slice(1)])),
        Buffer.from([0x13, 0x37, 0x00, 0x05]),
      ]),
    ],
    codes: ['MODBUS_GARBAGE', 'MODBUS_TIMEOUT', null],
  },
  {
    name: 'byte count larger than the registers sent',
    answer: (r) => [mbap(r.tid, r.unit, readPdu(r.fc, registers(r), r.count * 2 + 40))],
    codes: ['MODBUS_GARBAGE'],
  },
  {
    name: 'byte count smaller than asked',
    answer: (r) => [mbap(r.tid, r.unit, readPdu(r.fc, registers(r).slice(0, 1)))],
    codes: ['MODBUS_GARBAGE', 'MODBUS_TIMEOUT'],
  },
  {
    name: 'wrong unit id',
    answer: (r) => [mbap(r.tid, (r.unit + 1) & 0xff, readPdu(r.fc, registers(r)))],
    codes: ['MODBUS_GARBAGE', 'MODBUS_TIMEOUT'],
  },
  {
    name: 'wrong function code',
    answer: (r) => [mbap(r.tid, r.unit, readPdu(r.fc === 3 ? 4 : 3, registers(r)))],
    codes: ['MODBUS_GARBAGE', 'MODBUS_TIMEOUT'],
  },
  {
    name: 'wrong transaction id (a stale answer)',
    answer: (r) => [mbap((r.tid + 7) & 0xffff, r.unit, readPdu(r.fc, registers(r)))],
    codes: ['MODBUS_TIMEOUT', 'MODBUS_GARBAGE'],
  },
  {
    name: 'an answer glued to a second, unrequested one',
    answer: (r) => [
      Buffer.concat([
        mbap(
          r.tid,
          r.unit,
          readPdu(
            r.fc,
            registers(r).map(() => 0xbeef),
          ),
        ),
        mbap(
          r.tid + 1,
          r.unit,
          readPdu(
            r.fc,
            registers(r).map(() => 0xbeef),
          ),
        ),
      ]),
    ],
    // The first is taken as this request's answer (its values are what the meter sent); the
    // second must not be taken for the next request's.
    codes: [null],
  },
  {
    name: 'the frame split into single bytes',
    answer: (r) => [...mbap(r.tid, r.unit, readPdu(r.fc, registers(r)))].map((b) => Buffer.from([b])),
    codes: [null],
  },
  {
    name: 'an exception',
    answer: (r) => [mbap(r.tid, r.unit, Buffer.from([r.fc | 0x80, 2]))],
    codes: ['MODBUS_EXCEPTION'],
  },
  {
    name: 'a flood of random bytes',
    answer: () => [Buffer.from(Array.from({ length: 8192 }, (_, i) => (i * 7919) & 0xff))],
    codes: ['MODBUS_GARBAGE', 'MODBUS_TIMEOUT', 'MODBUS_DISCONNECTED'],
  },
  { name: 'silence', answer: () => 'silence', codes: ['MODBUS_TIMEOUT'] },
  { name: 'a connection reset', answer: () => 'reset', codes: ['MODBUS_DISCONNECTED', 'MODBUS_TIMEOUT'] },
];

describe('a hostile Modbus TCP meter', () => {
  let server: Server;
  let port: number;
  let next: Answer = good;
  const sockets = new Set<Socket>();

  beforeAll(async () => {
    server = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
      let buf = Buffer.alloc(0);
      socket.on('data', (chunk) => {
        buf = Buffer.concat([buf, chunk]);
        while (buf.length >= 12) {
          const req: Request = {
            tid: buf.readUInt16BE(0),
            unit: buf.readUInt8(6),
            fc: buf.readUInt8(7),
            address: buf.readUInt16BE(8),
            count: buf.readUInt16BE(10),
          };
          buf = buf.subarray(12);
          const answer = next(req);
          next = good; // one hostile answer, then the meter behaves
          if (answer === 'silence') continue;
          if (answer === 'reset') {
            socket.resetAndDestroy();
            return;
          }
          for (const part of answer) socket.write(part);
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  for (const c of CASES) {
    it(`${c.name}: coded ${c.codes.map((x) => x ?? 'nothing').join(' or ')}, and the next request reads the meter`, async () => {
      let transport: ModbusTransport = await openModbusTransport(
        { type: 'modbus-tcp', host: '127.0.0.1', port },
        'hostile',
      );
      try {
        // A correct answer first, so the connection is in use when the hostile one comes.
        expect(await transport.read(1, 3, 100, 4, 300)).toEqual([100, 101, 102, 103]);
        next = c.answer;
        let code: ModbusErrorCode | null = null;
        try {
          await transport.read(1, 3, 200, 4, 300);
        } catch (err) {
          expect(err).toBeInstanceOf(ModbusError);
          code = (err as ModbusError).code;
        }
        expect(c.codes).toContain(code);
        // A transport that says it is closed is reopened, as the bus scheduler does before its next poll.
        if (!transport.isOpen) {
          await transport.close();
          transport = await openModbusTransport({ type: 'modbus-tcp', host: '127.0.0.1', port }, 'hostile');
        }
        // The meter answers correctly again: the very next request reads it, with its values.
        expect(await transport.read(1, 3, 300, 4, 300)).toEqual([300, 301, 302, 303]);
        expect(await transport.read(1, 4, 400, 2, 300)).toEqual([400, 401]);
      } finally {
        await transport.close();
      }
    });
  }
});
