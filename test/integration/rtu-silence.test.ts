import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { interFrameSilenceMs, openModbusTransport } from '../../adapters/modbus/client.ts';
import { encodeRtuFrame } from '../../simulators/modbus/frames.ts';
import { socatAvailable, startPtyPair } from '../helpers/socat.ts';

/**
 * Issue 26 item 5: the next request followed the previous answer after 0.12–0.45 ms, where Modbus
 * RTU requires 3.5 characters of silence (4 ms at 9600 8E1), which other meters on a multi-drop
 * line can merge into one frame. A raw meter on the far end of a pseudo-terminal pair timestamps
 * the end of each answer it writes and the arrival of each request.
 */
describe('t3.5 from the line settings', () => {
  it('is 3.5 characters of start, data, parity and stop bits, and 1.75 ms above 19,200 baud', () => {
    const rtu = (baudRate: number, parity: 'none' | 'even', stopBits = 1) =>
      interFrameSilenceMs({ type: 'modbus-rtu', path: '/dev/x', baudRate, parity, dataBits: 8, stopBits });
    expect(rtu(9600, 'even')).toBeCloseTo((3.5 * 11 * 1000) / 9600, 6); // 4.01 ms
    expect(rtu(9600, 'none')).toBeCloseTo((3.5 * 10 * 1000) / 9600, 6);
    expect(rtu(2400, 'none', 2)).toBeCloseTo((3.5 * 11 * 1000) / 2400, 6); // 16 ms
    expect(rtu(38_400, 'even')).toBe(1.75);
    expect(interFrameSilenceMs({ type: 'modbus-tcp', host: 'h', port: 502 })).toBe(0);
  });
});

describe.skipIf(!socatAvailable())('the silence before every request on a serial line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'campus-t35-'));
  const meterEnd = join(dir, 'ttyMeter');
  const gatewayEnd = join(dir, 'ttyGateway');
  let socat: { close(): void };
  let meter: SerialPort;
  const answeredAt: number[] = [];
  const requestAt: number[] = [];

  beforeAll(async () => {
    socat = await startPtyPair(meterEnd, gatewayEnd);
    meter = new SerialPort({ path: meterEnd, baudRate: 9600, autoOpen: false });
    await new Promise<void>((resolve, reject) => meter.open((err) => (err ? reject(err) : resolve())));
    let buf = Buffer.alloc(0);
    meter.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 8) {
        requestAt.push(performance.now());
        const unit = buf[0]!;
        const fc = buf[1]!;
        const count = buf.readUInt16BE(4);
        buf = buf.subarray(8);
        const pdu = Buffer.alloc(2 + count * 2);
        pdu[0] = fc;
        pdu[1] = count * 2;
        const frame = encodeRtuFrame(unit, pdu);
        answeredAt.push(performance.now());
        meter.write(frame);
      }
    });
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => meter.close(() => resolve()));
    socat?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  // A pseudo-terminal refuses parity (the transport now refuses to run such a line), so 8N1 here.
  it('keeps at least 3.5 characters of quiet between an answer and the next request (9600 8N1)', async () => {
    const transport = await openModbusTransport(
      { type: 'modbus-rtu', path: gatewayEnd, baudRate: 9600, parity: 'none', dataBits: 8, stopBits: 1 },
      'line',
    );
    try {
      for (let i = 0; i < 40; i++) await transport.read(1 + (i % 4), 3, 0, 4, 500);
    } finally {
      await transport.close();
    }
    expect(requestAt).toHaveLength(40);
    const gaps = requestAt.slice(1).map((t, i) => t - answeredAt[i]!);
    const t35 = (3.5 * 10 * 1000) / 9600;
    // Measured from when the meter began writing its answer: the gap on the wire is this less the
    // answer's own transfer, which on a pseudo-terminal is immediate.
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(t35);
  });
});
