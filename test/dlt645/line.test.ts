import { createServer, type AddressInfo, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Dlt645Client } from '../../adapters/dlt645/client.ts';
import { DLT645_LINE_CODES } from '../../adapters/dlt645/errors.ts';
import { decodeFrame, encodeFrame } from '../../adapters/dlt645/frame.ts';
import { openByteLine, type ByteLine } from '../../adapters/line/transport.ts';
import { failure } from './golden-harness.ts';

/**
 * The line's promises, attacked with a meter that answers late: a late answer never passes for
 * the answer to the next request, whether the quiet period catches it or the checks do.
 */
const ADDRESS = '000012345678';

/** A meter that answers each read after `delays[i]` ms with the DI it was asked, value 12.34. */
async function lateMeter(delays: number[]): Promise<{ port: number; close(): Promise<void> }> {
  let n = 0;
  const server: Server = createServer((sock) => {
    sock.on('data', (chunk) => {
      const req = decodeFrame(chunk.subarray(4), 'meter');
      const delay = delays[n++] ?? 0;
      const answer = encodeFrame({
        address: ADDRESS,
        control: 0x91,
        data: Buffer.concat([req.data.subarray(0, 4), Buffer.from([0x34, 0x12, 0x00, 0x00])]),
      });
      setTimeout(() => !sock.destroyed && sock.write(answer), delay);
    });
    sock.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('byte line: late answers', () => {
  let line: ByteLine | undefined;
  let meter: { close(): Promise<void> } | undefined;
  afterEach(async () => {
    await line?.close();
    await meter?.close();
    line = meter = undefined;
  });

  it('a late answer falls into the quiet period after the timeout and is dropped', async () => {
    const m = await lateMeter([250, 0]);
    meter = m;
    line = await openByteLine(
      { kind: 'tcp', host: '127.0.0.1', port: m.port },
      { device: 'l', codes: DLT645_LINE_CODES, resyncDelayMs: 400 },
    );
    const client = new Dlt645Client(line);
    expect((await failure(client.read(ADDRESS, '00010000', 100))).code).toBe('DLT645_TIMEOUT');
    const started = Date.now();
    // Asked for another DI: the late answer to the first (00010000) arrives while the line is quiet.
    expect((await client.read(ADDRESS, '00020000', 500)).toString('hex')).toBe('34120000');
    expect(Date.now() - started).toBeGreaterThanOrEqual(250); // it waited out the quiet period
  });

  it('without a quiet period the DI check refuses the late answer for the next request', async () => {
    const m = await lateMeter([150, 400]);
    meter = m;
    line = await openByteLine(
      { kind: 'tcp', host: '127.0.0.1', port: m.port },
      { device: 'l', codes: DLT645_LINE_CODES, resyncDelayMs: 0 },
    );
    const client = new Dlt645Client(line);
    expect((await failure(client.read(ADDRESS, '00010000', 100))).code).toBe('DLT645_TIMEOUT');
    const err = await failure(client.read(ADDRESS, '00020000', 300));
    expect(err.code).toBe('DLT645_GARBAGE');
    expect(err.message).toContain('asked for DI 00020000, the answer carries DI 00010000');
  });

  it('a closed converter connection fails the request in flight with DLT645_DISCONNECTED and closes the line', async () => {
    const server = createServer((sock) => sock.on('data', () => sock.destroy()));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    meter = { close: () => new Promise<void>((r) => server.close(() => r())) };
    line = await openByteLine(
      { kind: 'tcp', host: '127.0.0.1', port: (server.address() as AddressInfo).port },
      { device: 'l', codes: DLT645_LINE_CODES },
    );
    expect((await failure(new Dlt645Client(line).read(ADDRESS, '00010000', 2_000))).code).toBe(
      'DLT645_DISCONNECTED',
    );
    expect(line.isOpen).toBe(false);
  });
});
