import { once } from 'node:events';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import ModbusSerial from 'modbus-serial';
import { openModbusTransport, type ModbusTransport } from '../../adapters/modbus/client.ts';
import { ModbusError } from '../../adapters/modbus/errors.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function rejection(p: Promise<unknown>): Promise<ModbusError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ModbusError) return e;
    throw e;
  }
  throw new Error('expected a rejection');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An in-process Modbus TCP server on a loopback port chosen by the OS. */
async function startTcpServer(): Promise<{ port: number; writes: [number, number[]][] }> {
  const writes: [number, number[]][] = [];
  const holding = (addr: number) => addr + 1; // register n holds n + 1
  const server = new ModbusSerial.ServerTCP(
    {
      getMultipleHoldingRegisters: (
        addr: number,
        length: number,
        _unit: number,
        cb: (err: Error | null, values: number[]) => void,
      ) => {
        if (addr >= 1000) return cb(Object.assign(new Error('no such register'), { modbusErrorCode: 2 }), []);
        const values = Array.from({ length }, (_, i) => (addr === 500 ? 0xbad0 : holding(addr + i)));
        // Address 500 answers late, with values no other read returns.
        if (addr === 500) setTimeout(() => cb(null, values), 300);
        else cb(null, values);
      },
      getMultipleInputRegisters: (addr: number, length: number) =>
        Array.from({ length }, (_, i) => 0x4000 + addr + i),
      getHoldingRegister: (addr: number) => holding(addr),
      getInputRegister: (addr: number) => 0x4000 + addr,
      setRegister: (addr: number, value: number) => void writes.push([addr, [value]]),
      setRegisterArray: (addr: number, values: number[]) => void writes.push([addr, values]),
    },
    { host: '127.0.0.1', port: 0 },
  );
  await once(server, 'initialized');
  const inner = (server as unknown as { _server: net.Server })._server;
  const port = (inner.address() as net.AddressInfo).port;
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  return { port, writes };
}

async function open(port: number): Promise<ModbusTransport> {
  const t = await openModbusTransport({ type: 'modbus-tcp', host: '127.0.0.1', port }, 'bus-test');
  cleanups.push(() => t.close());
  return t;
}

describe('Modbus TCP transport', () => {
  it('reads holding and input registers', async () => {
    const { port } = await startTcpServer();
    const t = await open(port);
    expect(t.isOpen).toBe(true);
    expect(await t.read(1, 3, 10, 3, 1000)).toEqual([11, 12, 13]);
    expect(await t.read(1, 4, 2, 2, 1000)).toEqual([0x4002, 0x4003]);
  });

  it('maps an exception response to MODBUS_EXCEPTION with its code and the device', async () => {
    const { port } = await startTcpServer();
    const t = await open(port);
    const e = await rejection(t.read(7, 3, 1000, 2, 1000));
    expect(e.code).toBe('MODBUS_EXCEPTION');
    expect(e.exceptionCode).toBe(2);
    expect(e.device).toBe('bus-test');
    expect(e.message).toContain('bus-test');
    // The connection survives an exception.
    expect(await t.read(7, 3, 0, 1, 1000)).toEqual([1]);
  });

  it('times out per request and never hands the late answer to the next request', async () => {
    const { port } = await startTcpServer();
    const t = await open(port);
    const e = await rejection(t.read(1, 3, 500, 2, 100));
    expect(e.code).toBe('MODBUS_TIMEOUT');
    // Same count as the late answer, issued before it arrives, and again after it arrived.
    expect(await t.read(1, 3, 20, 2, 1000)).toEqual([21, 22]);
    await sleep(300);
    expect(await t.read(1, 3, 30, 2, 1000)).toEqual([31, 32]);
    // A longer timeout on the same client applies to that request only.
    expect(await t.read(1, 3, 500, 2, 1000)).toEqual([0xbad0, 0xbad0]);
  });

  it('serialises concurrent requests, each with its own timeout', async () => {
    const { port } = await startTcpServer();
    const t = await open(port);
    const [a, b, c] = await Promise.allSettled([
      t.read(1, 3, 500, 2, 50),
      t.read(1, 3, 0, 1, 1000),
      t.read(1, 4, 0, 1, 1000),
    ]);
    expect(a.status === 'rejected' && (a.reason as ModbusError).code).toBe('MODBUS_TIMEOUT');
    expect(b).toEqual({ status: 'fulfilled', value: [1] });
    expect(c).toEqual({ status: 'fulfilled', value: [0x4000] });
  });

  it('writes registers with FC16 and FC6', async () => {
    const { port, writes } = await startTcpServer();
    const t = await open(port);
    await t.writeRegisters(1, 0x1a, [1], 16, 1000);
    await t.writeRegisters(1, 0x1b, [0], 6, 1000);
    expect(writes).toEqual([
      [0x1a, [1]],
      [0x1b, [0]],
    ]);
    expect((await rejection(t.writeRegisters(1, 0, [1, 2], 6, 1000))).code).toBe('MODBUS_BAD_VALUE');
  });

  it('reports a refused connection as MODBUS_DISCONNECTED', async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const e = await rejection(
      openModbusTransport({ type: 'modbus-tcp', host: '127.0.0.1', port }, 'bus-gone'),
    );
    expect(e.code).toBe('MODBUS_DISCONNECTED');
    expect(e.message).toContain('bus-gone');
  });

  it('reports a missing serial port as MODBUS_DISCONNECTED', async () => {
    const e = await rejection(
      openModbusTransport(
        {
          type: 'modbus-rtu',
          path: '/dev/campus-energy-no-such-port',
          baudRate: 9600,
          parity: 'even',
          dataBits: 8,
          stopBits: 1,
        },
        'rs485-1',
      ),
    );
    expect(e.code).toBe('MODBUS_DISCONNECTED');
    expect(e.message).toContain('rs485-1');
  });

  it('notifies close when the peer goes away, then fails fast with MODBUS_DISCONNECTED', async () => {
    const { port } = await startTcpServer();
    const t = await open(port);
    const closed = new Promise<void>((r) => t.on('close', r));
    await cleanups.shift()!(); // stop the server, which destroys its sockets
    await closed;
    expect(t.isOpen).toBe(false);
    expect((await rejection(t.read(1, 3, 0, 1, 200))).code).toBe('MODBUS_DISCONNECTED');
  });
});

function crc16(buf: Buffer): number {
  let crc = 0xffff;
  for (const b of buf) {
    crc ^= b;
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >> 1) ^ 0xa001 : crc >> 1;
  }
  return crc;
}
function rtuFrame(body: number[]): Buffer {
  const b = Buffer.from(body);
  const out = Buffer.alloc(b.length + 2);
  b.copy(out);
  out.writeUInt16LE(crc16(b), b.length);
  return out;
}

/**
 * A transparent serial-to-Ethernet converter with one RTU meter behind it: raw RTU frames on
 * TCP. Register n holds n + 1; address 500 answers after 300 ms; 600 answers with a bad CRC;
 * 1000 and up answer with exception 2.
 */
async function startRtuOverTcp(): Promise<{ port: number; requests: Buffer[]; connections: () => number }> {
  const requests: Buffer[] = [];
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    connections++;
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    sock.on('data', (req) => {
      requests.push(req);
      const [unit, fc] = [req[0]!, req[1]!];
      const addr = req.readUInt16BE(2);
      const count = req.readUInt16BE(4);
      if (addr >= 1000) return void sock.write(rtuFrame([unit, fc | 0x80, 2]));
      const words = Array.from({ length: count }, (_, i) => (addr === 500 ? 0xbad0 : addr + i + 1));
      const frame = rtuFrame([unit, fc, count * 2, ...words.flatMap((w) => [w >> 8, w & 0xff])]);
      if (addr === 600) frame[frame.length - 1]! ^= 0xff;
      if (addr === 500) setTimeout(() => sock.writable && sock.write(frame), 300);
      else sock.write(frame);
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
  return { port: (server.address() as net.AddressInfo).port, requests, connections: () => connections };
}

describe('RTU over TCP transport', () => {
  async function openRtu(port: number): Promise<ModbusTransport> {
    const t = await openModbusTransport({ type: 'rtu-over-tcp', host: '127.0.0.1', port }, 'converter-1', {
      resyncDelayMs: 50,
    });
    cleanups.push(() => t.close());
    return t;
  }

  it('sends raw RTU frames (CRC, no MBAP header) and decodes the answer', async () => {
    const srv = await startRtuOverTcp();
    const t = await openRtu(srv.port);
    expect(await t.read(5, 3, 0x0100, 2, 1000)).toEqual([0x0101, 0x0102]);
    expect(srv.requests[0]).toEqual(rtuFrame([5, 3, 0x01, 0x00, 0x00, 0x02]));
  });

  it('maps exception and CRC errors', async () => {
    const srv = await startRtuOverTcp();
    const t = await openRtu(srv.port);
    const ex = await rejection(t.read(1, 4, 1000, 2, 1000));
    expect(ex).toMatchObject({ code: 'MODBUS_EXCEPTION', exceptionCode: 2, device: 'converter-1' });
    expect((await rejection(t.read(1, 3, 600, 2, 1000))).code).toBe('MODBUS_CRC');
    expect(await t.read(1, 3, 7, 1, 1000)).toEqual([8]);
  });

  it('resynchronises after a timeout so a late answer is not taken for the next one', async () => {
    const srv = await startRtuOverTcp();
    const t = await openRtu(srv.port);
    expect((await rejection(t.read(1, 3, 500, 2, 100))).code).toBe('MODBUS_TIMEOUT');
    expect(t.isOpen).toBe(true);
    // Same unit, function and length as the late answer (which the converter sends at ~300 ms).
    const started = Date.now();
    expect(await t.read(1, 3, 40, 2, 1000)).toEqual([41, 42]);
    await sleep(300 - (Date.now() - started));
    expect(await t.read(1, 3, 50, 2, 1000)).toEqual([51, 52]);
    expect(srv.connections()).toBe(2);
  });
});
