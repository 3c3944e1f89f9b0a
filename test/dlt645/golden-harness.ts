import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { FieldbusError } from '../../adapters/line/errors.ts';
import { openByteLine, type ByteLine } from '../../adapters/line/transport.ts';
import type { LineCodes } from '../../adapters/line/errors.ts';

/**
 * Golden cases as files: test/golden/<protocol>/<case>.json, each with the exchanges on the wire
 * (request and answer as hex, hand-computed from the standard's text) and what our code must make
 * of them. The harness plays the meter on a real TCP socket (a converter in transparent mode): it
 * answers only if the gateway sent exactly the golden request, so the encoder is checked against
 * the hand-computed bytes and the decoder is fed them.
 */
export interface GoldenCase {
  name: string;
  description: string;
  op: string;
  exchanges: { request: string; answer?: string }[];
  expected: Record<string, unknown>;
  [k: string]: unknown;
}

export function goldenCases(protocol: string): GoldenCase[] {
  const dir = join(import.meta.dirname, '..', 'golden', protocol);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map(
      (f) =>
        ({
          name: f.replace(/\.json$/, ''),
          ...(JSON.parse(readFileSync(join(dir, f), 'utf8')) as object),
        }) as GoldenCase,
    );
}

export const bytesOf = (hex: string): Buffer => Buffer.from(hex.replace(/\s+/g, ''), 'hex');

export interface GoldenMeter {
  line: ByteLine;
  /** Requests that did not match the golden bytes (hex), in order. */
  mismatches: string[];
  /** How many golden exchanges were played, once the meter side has seen them all (or 1 s passed). */
  played(): Promise<number>;
  close(): Promise<void>;
}

export async function goldenMeter(c: GoldenCase, codes: LineCodes): Promise<GoldenMeter> {
  const mismatches: string[] = [];
  let next = 0;
  const server: Server = createServer((sock) => {
    let rx = Buffer.alloc(0);
    sock.on('data', (chunk) => {
      rx = Buffer.concat([rx, chunk]);
      const ex = c.exchanges[next];
      if (!ex) {
        mismatches.push(`unexpected request ${rx.toString('hex')}`);
        rx = Buffer.alloc(0);
        return;
      }
      const want = bytesOf(ex.request);
      if (rx.length < want.length) return;
      if (!rx.subarray(0, want.length).equals(want)) mismatches.push(rx.toString('hex'));
      else if (ex.answer) sock.write(bytesOf(ex.answer));
      rx = rx.subarray(want.length);
      next++;
    });
    sock.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const line = await openByteLine(
    { kind: 'tcp', host: '127.0.0.1', port },
    { device: 'golden', codes, resyncDelayMs: 1 },
  );
  return {
    line,
    mismatches,
    async played() {
      // A broadcast resolves once written; the meter side may not have read it yet.
      for (let i = 0; i < 100 && next < c.exchanges.length; i++) await new Promise((r) => setTimeout(r, 10));
      return next;
    },
    async close() {
      await line.close();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** The error a promise rejects with, as a FieldbusError (fails the test if it resolves). */
export async function failure(p: Promise<unknown>): Promise<FieldbusError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof FieldbusError) return err;
    throw err;
  }
  throw new Error('expected a failure, got success');
}
