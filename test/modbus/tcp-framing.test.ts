import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { openModbusTransport, type ModbusTransport } from '../../adapters/modbus/client.ts';
import { ModbusError, type ModbusErrorCode } from '../../adapters/modbus/errors.ts';

/**
 * The socket transports (adapters/modbus/net-transport.ts) against hostile byte streams from a raw
 * net server we script byte by byte: answers split anywhere, glued together, with every header
 * field wrong in turn, bytes nobody asked for, floods, resets. Each case says what the request is
 * coded as and that the request after it reads the meter's own values (never the hostile bytes).
 */

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What the server sends for one request: chunks written one by one (a number waits that many ms). */
type Script = (req: Buffer) => (Buffer | number)[] | 'reset';

interface Scripted {
  port: number;
  requests: Buffer[];
  connections: () => number;
  /** The answer to the next request only; then the meter behaves. */
  once(s: Script): void;
  /** Writes bytes on the newest connection, asked for or not. */
  push(b: Buffer): void;
}

async function scriptedServer(good: Script): Promise<Scripted> {
  const requests: Buffer[] = [];
  let connections = 0;
  let next: Script | null = null;
  const sockets = new Set<net.Socket>();
  let newest: net.Socket | null = null;
  const server = net.createServer((sock) => {
    connections++;
    sockets.add(sock);
    newest = sock;
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    sock.on('data', async (req) => {
      requests.push(req);
      const script = next ?? good;
      next = null;
      const parts = script(req);
      if (parts === 'reset') return void sock.resetAndDestroy();
      for (const p of parts) {
        if (typeof p === 'number') await sleep(p);
        else if (sock.writable) sock.write(p);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  return {
    port: (server.address() as net.AddressInfo).port,
    requests,
    connections: () => connections,
    once: (s) => void (next = s),
    push: (b) => void newest?.write(b),
  };
}

async function codeOf(p: Promise<unknown>): Promise<ModbusErrorCode | null> {
  try {
    await p;
    return null;
  } catch (e) {
    if (e instanceof ModbusError) return e.code;
    throw e;
  }
}

/** Register n holds n + 1 (so a register never holds its own address). */
const values = (address: number, count: number): number[] =>
  Array.from({ length: count }, (_, i) => (address + i + 1) & 0xffff);
const words = (vs: number[]): number[] => vs.flatMap((v) => [v >> 8, v & 0xff]);

// ---------------------------------------------------------------- Modbus TCP

interface TcpReq {
  tid: number;
  unit: number;
  fc: number;
  address: number;
  count: number;
}
const tcpReq = (b: Buffer): TcpReq => ({
  tid: b.readUInt16BE(0),
  unit: b[6]!,
  fc: b[7]!,
  address: b.readUInt16BE(8),
  count: b.readUInt16BE(10),
});
function mbap(
  tid: number,
  unit: number,
  pdu: number[],
  opts: { length?: number; protocol?: number } = {},
): Buffer {
  const b = Buffer.alloc(7 + pdu.length);
  b.writeUInt16BE(tid, 0);
  b.writeUInt16BE(opts.protocol ?? 0, 2);
  b.writeUInt16BE(opts.length ?? pdu.length + 1, 4);
  b[6] = unit;
  Buffer.from(pdu).copy(b, 7);
  return b;
}
/** The correct answer to a read, or the echo of a write. */
function tcpAnswer(b: Buffer): Buffer {
  const r = tcpReq(b);
  if (r.fc === 6 || r.fc === 16) return mbap(r.tid, r.unit, [...b.subarray(7, 12)]);
  return mbap(r.tid, r.unit, [r.fc, r.count * 2, ...words(values(r.address, r.count))]);
}

async function openTcp(port: number): Promise<ModbusTransport> {
  const t = await openModbusTransport({ type: 'modbus-tcp', host: '127.0.0.1', port }, 'tcp-hostile');
  cleanups.push(() => t.close());
  return t;
}

/** After the hostile answer the transport reads the meter again (reopened as a bus poller would). */
async function readsAgain(t: ModbusTransport, port: number, open: (p: number) => Promise<ModbusTransport>) {
  const transport = t.isOpen ? t : await open(port);
  expect(await transport.read(1, 3, 300, 4, 500)).toEqual(values(300, 4));
  expect(await transport.read(1, 4, 40, 2, 500)).toEqual(values(40, 2));
}

describe('Modbus TCP framing against a hostile server', () => {
  it('reads an answer split at every byte boundary, and one sent a byte at a time', async () => {
    const srv = await scriptedServer((b) => [tcpAnswer(b)]);
    const t = await openTcp(srv.port);
    const whole = tcpAnswer(Buffer.from([0, 1, 0, 0, 0, 6, 1, 3, 0, 10, 0, 3])).length;
    for (let cut = 1; cut < whole; cut++) {
      srv.once((b) => {
        const a = tcpAnswer(b);
        return [a.subarray(0, cut), 2, a.subarray(cut)];
      });
      expect(await t.read(1, 3, 10, 3, 500)).toEqual(values(10, 3));
    }
    srv.once((b) => [...tcpAnswer(b)].flatMap((x) => [Buffer.from([x]), 1]));
    expect(await t.read(1, 3, 10, 3, 1000)).toEqual(values(10, 3));
    expect(srv.connections()).toBe(1);
  });

  it('reads a 125-register answer (the largest) split across chunks', async () => {
    const srv = await scriptedServer((b) => {
      const a = tcpAnswer(b);
      return [a.subarray(0, 100), 2, a.subarray(100, 200), 2, a.subarray(200)];
    });
    const t = await openTcp(srv.port);
    expect(await t.read(1, 3, 1000, 125, 500)).toEqual(values(1000, 125));
  });

  const hostile: { name: string; script: Script; codes: (ModbusErrorCode | null)[] }[] = [
    {
      name: 'a wrong transaction id',
      script: (b) => {
        const r = tcpReq(b);
        return [
          mbap((r.tid + 1) & 0xffff, r.unit, [r.fc, r.count * 2, ...words(values(r.address, r.count))]),
        ];
      },
      codes: ['MODBUS_GARBAGE'],
    },
    {
      name: 'a protocol id other than 0',
      script: (b) => {
        const r = tcpReq(b);
        return [
          mbap(r.tid, r.unit, [r.fc, r.count * 2, ...words(values(r.address, r.count))], { protocol: 1 }),
        ];
      },
      codes: ['MODBUS_GARBAGE'],
    },
    {
      name: 'a wrong unit id',
      script: (b) => {
        const r = tcpReq(b);
        return [mbap(r.tid, r.unit + 1, [r.fc, r.count * 2, ...words(values(r.address, r.count))])];
      },
      codes: ['MODBUS_GARBAGE'],
    },
    {
      name: 'a wrong function code',
      script: (b) => {
        const r = tcpReq(b);
        return [mbap(r.tid, r.unit, [4, r.count * 2, ...words(values(r.address, r.count))])];
      },
      codes: ['MODBUS_GARBAGE'],
    },
    {
      name: 'a byte count that is not the registers asked for (frame consistent)',
      script: (b) => {
        const r = tcpReq(b);
        return [mbap(r.tid, r.unit, [r.fc, (r.count - 1) * 2, ...words(values(r.address, r.count - 1))])];
      },
      codes: ['MODBUS_GARBAGE'],
    },
    {
      name: 'a byte count the frame does not hold',
      script: (b) => {
        const r = tcpReq(b);
        return [mbap(r.tid, r.unit, [r.fc, r.count * 2 + 40, ...words(values(r.address, r.count))])];
      },
      codes: ['MODBUS_GARBAGE'],
    },
    {
      name: 'an MBAP length of 0',
      script: (b) => [mbap(tcpReq(b).tid, 1, [3, 0], { length: 0 })],
      codes: ['MODBUS_GARBAGE'],
    },
    {
      name: 'an MBAP length beyond any frame (65535)',
      script: (b) => [mbap(tcpReq(b).tid, 1, [3, 0], { length: 0xffff })],
      codes: ['MODBUS_GARBAGE'],
    },
    {
      name: 'an MBAP length that promises more than is sent (truncated)',
      script: (b) => [tcpAnswer(b).subarray(0, 12)],
      codes: ['MODBUS_TIMEOUT'],
    },
    {
      name: 'an exception of the wrong length',
      script: (b) => [mbap(tcpReq(b).tid, 1, [0x83, 2, 0])],
      codes: ['MODBUS_GARBAGE'],
    },
    {
      name: 'a flood of bytes larger than any frame, in pieces',
      script: (b) => {
        const head = mbap(tcpReq(b).tid, 1, [3, 250], { length: 254 });
        return [head, 1, Buffer.alloc(400, 0x55), 1, Buffer.alloc(4000, 0xaa)];
      },
      codes: ['MODBUS_GARBAGE'],
    },
    {
      name: 'the answer, then a second one glued to it',
      script: (b) => {
        const r = tcpReq(b);
        const a = tcpAnswer(b);
        const next = { ...r, tid: (r.tid + 1) & 0xffff, address: 300 };
        const fake = mbap(next.tid, r.unit, [r.fc, 8, ...words([0xbeef, 0xbeef, 0xbeef, 0xbeef])]);
        return [Buffer.concat([a, fake])];
      },
      codes: [null],
    },
    { name: 'a reset', script: () => 'reset', codes: ['MODBUS_DISCONNECTED'] },
  ];
  for (const c of hostile) {
    it(`${c.name}: ${c.codes.map((x) => x ?? 'the answer stands').join(' or ')}, then the meter is read`, async () => {
      const srv = await scriptedServer((b) => [tcpAnswer(b)]);
      const t = await openTcp(srv.port);
      expect(await t.read(1, 3, 100, 4, 500)).toEqual(values(100, 4));
      srv.once(c.script);
      expect(c.codes).toContain(await codeOf(t.read(1, 3, 200, 4, 300)));
      await readsAgain(t, srv.port, openTcp);
    });
  }

  it('an exception keeps the connection; its code is reported', async () => {
    const srv = await scriptedServer((b) => [tcpAnswer(b)]);
    const t = await openTcp(srv.port);
    srv.once((b) => [mbap(tcpReq(b).tid, 1, [0x84, 11])]);
    const e = await t.read(1, 4, 0, 2, 500).catch((x: unknown) => x as ModbusError);
    expect(e).toMatchObject({ code: 'MODBUS_EXCEPTION', exceptionCode: 11, device: 'tcp-hostile' });
    expect(await t.read(1, 3, 0, 2, 500)).toEqual(values(0, 2));
    expect(srv.connections()).toBe(1);
  });

  it('bytes nobody asked for, sent between requests, are never read as an answer', async () => {
    const srv = await scriptedServer((b) => [tcpAnswer(b)]);
    const t = await openTcp(srv.port);
    expect(await t.read(1, 3, 0, 2, 500)).toEqual(values(0, 2));
    // What would be a correct answer to the next request (its transaction id, unit, count), but false.
    srv.push(mbap(2, 1, [3, 4, 0xde, 0xad, 0xbe, 0xef]));
    await sleep(50);
    expect(t.isOpen).toBe(true);
    expect(await t.read(1, 3, 0, 2, 500)).toEqual(values(0, 2));
    expect(srv.connections()).toBe(2);
  });

  it('a late answer after a timeout is never taken for the next request', async () => {
    const srv = await scriptedServer((b) => [tcpAnswer(b)]);
    const t = await openTcp(srv.port);
    srv.once((b) => {
      const r = tcpReq(b);
      return [150, mbap(r.tid, r.unit, [r.fc, r.count * 2, ...words(r.count === 2 ? [0xbad0, 0xbad0] : [])])];
    });
    expect(await codeOf(t.read(1, 3, 7, 2, 50))).toBe('MODBUS_TIMEOUT');
    expect(await t.read(1, 3, 7, 2, 500)).toEqual(values(7, 2));
    await sleep(150);
    expect(await t.read(1, 3, 7, 2, 500)).toEqual(values(7, 2));
  });

  it('writes FC6 and FC16 frames as the spec has them, and refuses an answer that does not echo the write', async () => {
    const srv = await scriptedServer((b) => [tcpAnswer(b)]);
    const t = await openTcp(srv.port);
    await t.writeRegisters(9, 0x1a, [0xabcd], 6, 500);
    await t.writeRegisters(9, 0x1b, [1, 0xffff], 16, 500);
    const fc6 = srv.requests[0]!;
    const fc16 = srv.requests[1]!;
    expect([...fc6.subarray(2)]).toEqual([0, 0, 0, 6, 9, 6, 0x00, 0x1a, 0xab, 0xcd]);
    expect([...fc16.subarray(2)]).toEqual([0, 0, 0, 11, 9, 16, 0x00, 0x1b, 0, 2, 4, 0, 1, 0xff, 0xff]);
    srv.once((b) => [mbap(tcpReq(b).tid, 9, [6, 0x00, 0x1a, 0x00, 0x00])]);
    expect(await codeOf(t.writeRegisters(9, 0x1a, [0xabcd], 6, 500))).toBe('MODBUS_GARBAGE');
    srv.once((b) => [mbap(tcpReq(b).tid, 9, [16, 0x00, 0x1b, 0x00, 0x03])]);
    const t2 = t.isOpen ? t : await openTcp(srv.port);
    expect(await codeOf(t2.writeRegisters(9, 0x1b, [1, 2], 16, 500))).toBe('MODBUS_GARBAGE');
  });
});

// ---------------------------------------------------------------- RTU over TCP

function crc16(buf: Buffer): number {
  let crc = 0xffff;
  for (const b of buf) {
    crc ^= b;
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >> 1) ^ 0xa001 : crc >> 1;
  }
  return crc;
}
function rtu(body: number[]): Buffer {
  const b = Buffer.alloc(body.length + 2);
  Buffer.from(body).copy(b);
  b.writeUInt16LE(crc16(b.subarray(0, body.length)), body.length);
  return b;
}
function rtuAnswer(req: Buffer): Buffer {
  const [unit, fc] = [req[0]!, req[1]!];
  if (fc === 6 || fc === 16) return rtu([...req.subarray(0, 6)]);
  const address = req.readUInt16BE(2);
  const count = req.readUInt16BE(4);
  return rtu([unit, fc, count * 2, ...words(values(address, count))]);
}

async function openRtu(port: number): Promise<ModbusTransport> {
  const t = await openModbusTransport({ type: 'rtu-over-tcp', host: '127.0.0.1', port }, 'rtu-hostile', {
    resyncDelayMs: 80,
  });
  cleanups.push(() => t.close());
  return t;
}

describe('RTU over TCP framing against a hostile converter', () => {
  it('reads an answer split at every byte boundary', async () => {
    const srv = await scriptedServer((b) => [rtuAnswer(b)]);
    const t = await openRtu(srv.port);
    const whole = 5 + 3 * 2;
    for (let cut = 1; cut < whole; cut++) {
      srv.once((b) => {
        const a = rtuAnswer(b);
        return [a.subarray(0, cut), 2, a.subarray(cut)];
      });
      expect(await t.read(4, 4, 10, 3, 500)).toEqual(values(10, 3));
    }
    expect(srv.connections()).toBe(1);
  });

  it('writes raw RTU frames with their CRC for reads, FC6 and FC16', async () => {
    const srv = await scriptedServer((b) => [rtuAnswer(b)]);
    const t = await openRtu(srv.port);
    await t.read(5, 3, 0x0100, 2, 500);
    await t.writeRegisters(5, 0x0010, [0x1234], 6, 500);
    await t.writeRegisters(5, 0x0011, [1, 2], 16, 500);
    expect(srv.requests[0]).toEqual(rtu([5, 3, 0x01, 0x00, 0x00, 0x02]));
    expect(srv.requests[1]).toEqual(rtu([5, 6, 0x00, 0x10, 0x12, 0x34]));
    expect(srv.requests[2]).toEqual(rtu([5, 16, 0x00, 0x11, 0x00, 0x02, 4, 0, 1, 0, 2]));
  });

  const hostile: { name: string; script: Script; codes: (ModbusErrorCode | null)[] }[] = [
    {
      name: 'a bad CRC',
      script: (b) => {
        const a = rtuAnswer(b);
        a[a.length - 1]! ^= 0x01;
        return [a];
      },
      codes: ['MODBUS_CRC'],
    },
    {
      name: 'a wrong unit id',
      script: (b) => [rtuAnswer(Buffer.from([b[0]! + 1, ...b.subarray(1)]))],
      codes: ['MODBUS_GARBAGE'],
    },
    {
      name: 'a wrong function code',
      script: (b) => [rtuAnswer(Buffer.from([b[0]!, 4, ...b.subarray(2)]))],
      codes: ['MODBUS_GARBAGE'],
    },
    {
      name: 'a byte count that is not the registers asked for',
      script: (b) => [rtu([b[0]!, b[1]!, 2, 0, 1])],
      codes: ['MODBUS_GARBAGE'],
    },
    {
      name: 'an exception with a bad CRC',
      script: (b) => [Buffer.from([b[0]!, 0x83, 2, 0, 0])],
      codes: ['MODBUS_CRC'],
    },
    { name: 'a truncated frame', script: (b) => [rtuAnswer(b).subarray(0, 6)], codes: ['MODBUS_TIMEOUT'] },
    {
      name: 'trailing bytes after a correct frame',
      script: (b) => [Buffer.concat([rtuAnswer(b), Buffer.from([b[0]!, 3, 4])])],
      codes: [null],
    },
    { name: 'a reset', script: () => 'reset', codes: ['MODBUS_DISCONNECTED'] },
  ];
  for (const c of hostile) {
    it(`${c.name}: ${c.codes.map((x) => x ?? 'the answer stands').join(' or ')}, then the meter is read`, async () => {
      const srv = await scriptedServer((b) => [rtuAnswer(b)]);
      const t = await openRtu(srv.port);
      expect(await t.read(1, 3, 100, 4, 500)).toEqual(values(100, 4));
      srv.once(c.script);
      expect(c.codes).toContain(await codeOf(t.read(1, 3, 200, 4, 300)));
      await readsAgain(t, srv.port, openRtu);
    });
  }

  it('an exception keeps the line; its code is reported', async () => {
    const srv = await scriptedServer((b) => [rtuAnswer(b)]);
    const t = await openRtu(srv.port);
    srv.once((b) => [rtu([b[0]!, 0x83, 6])]);
    const e = await t.read(2, 3, 0, 2, 500).catch((x: unknown) => x as ModbusError);
    expect(e).toMatchObject({ code: 'MODBUS_EXCEPTION', exceptionCode: 6, device: 'rtu-hostile' });
    expect(await t.read(2, 3, 0, 2, 500)).toEqual(values(0, 2));
    expect(srv.connections()).toBe(1);
  });

  it('after a bad frame the line stays closed for the resync delay, so the rest of the frame is lost', async () => {
    const srv = await scriptedServer((b) => [rtuAnswer(b)]);
    const t = await openRtu(srv.port);
    // A frame whose CRC is bad, followed 30 ms later by the bytes of a correct-looking answer.
    srv.once((b) => {
      const bad = rtuAnswer(b);
      bad[bad.length - 1]! ^= 0xff;
      return [bad, 30, rtuAnswer(Buffer.from([b[0]!, 3, 0, 0, 0, 2]))];
    });
    const failedAt = performance.now();
    expect(await codeOf(t.read(1, 3, 50, 2, 500))).toBe('MODBUS_CRC');
    expect(await t.read(1, 3, 60, 2, 500)).toEqual(values(60, 2));
    expect(performance.now() - failedAt).toBeGreaterThanOrEqual(75);
    expect(srv.connections()).toBe(2);
  });
});
