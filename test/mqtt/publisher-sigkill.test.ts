import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  dropDuplicates,
  subscribeReadings,
  type ReadingSubscription,
} from '../../adapters/mqtt/subscriber.ts';
import type { PublisherStats } from '../../adapters/mqtt/publisher.ts';
import { Outbox } from '../../gateway/outbox/outbox.ts';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.ts';
import { range, seqsByMeter, waitFor } from '../helpers/readings.ts';

/**
 * The publisher's own QoS 1 path and crashes: a gateway process appending and publishing flat out
 * into the real mosquitto is SIGKILLed while rows are in flight (written to the broker, not yet
 * acknowledged, or acknowledged and not yet deleted); a second one with rows in flight that never
 * reached the broker (a proxy drops its bytes); then one more is started to drain. Every
 * reading must reach a persistent subscriber, once or more (a duplicate is a row resent after the
 * crash, dropped by seq), and each meter's readings in order.
 */

const CHILD = fileURLToPath(new URL('./publisher-appending-child.ts', import.meta.url));
const METERS = ['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8'];

let dir: string;
let mosquitto: Mosquitto;
let sub: ReadingSubscription;
let proxy: Proxy;

/** A TCP proxy to mosquitto that can stop passing the client's bytes on, dropping them. */
interface Proxy {
  url: string;
  blackhole: boolean;
  /** Closes the connections through it and passes bytes on again. */
  reset(): void;
  close(): Promise<void>;
}

async function startProxy(port: number): Promise<Proxy> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (chunk: Buffer) => {
      if (!proxy.blackhole) upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxy: Proxy = {
    url: `mqtt://127.0.0.1:${(server.address() as { port: number }).port}`,
    blackhole: false,
    reset() {
      for (const s of sockets) s.destroy();
      proxy.blackhole = false;
    },
    close: () => {
      proxy.reset();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'publisher-sigkill-'));
  mosquitto = await startMosquitto();
  proxy = await startProxy(mosquitto.port);
  sub = await subscribeReadings({
    url: mosquitto.url,
    topic: 'campus/v1/test/gw1/+/reading',
    clientId: 'test-consumer',
    clean: false,
  });
});
afterAll(async () => {
  await sub?.close();
  await proxy?.close();
  await mosquitto?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

type Line = PublisherStats & { drained?: boolean; highWater?: Record<string, number> };

function start(
  outbox: string,
  appendMs?: number,
): { proc: ChildProcess; lines: AsyncIterableIterator<string> } {
  const args = ['--import', 'tsx', CHILD, proxy.url, outbox, METERS.join(',')];
  if (appendMs !== undefined) args.push(String(appendMs));
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  return { proc, lines: createInterface({ input: proc.stdout! })[Symbol.asyncIterator]() };
}

async function next(lines: AsyncIterableIterator<string>): Promise<Line> {
  const { value, done } = await lines.next();
  if (done) throw new Error('the child ended');
  return JSON.parse(value as string) as Line;
}

/** Reads the child's counters until `when` says so, then SIGKILLs it. */
async function killWith(
  child: { proc: ChildProcess; lines: AsyncIterableIterator<string> },
  when: (stats: Line) => boolean,
): Promise<void> {
  const exited = new Promise<void>((resolve) => child.proc.once('exit', () => resolve()));
  while (!when(await next(child.lines)));
  child.proc.kill('SIGKILL');
  await exited;
}

describe('publisher killed with rows in flight', () => {
  it('delivers every reading at least once and in order per meter after SIGKILLs with rows in flight', async () => {
    const outbox = join(dir, 'outbox.sqlite');
    // Killed while publishing: rows written to the socket, acked and not yet deleted, or neither.
    const first = start(outbox);
    await killWith(first, (stats) => stats.acked >= 500 && stats.inFlight > 0);
    // Killed while its bytes no longer reach the broker: the rows in flight then were never
    // received, and only the outbox still has them.
    const second = start(outbox);
    await killWith(second, (stats) => {
      if (stats.acked >= 500) proxy.blackhole = true;
      return proxy.blackhole && stats.inFlight >= 50;
    });
    proxy.reset();
    const { proc, lines } = start(outbox, 500);
    let last: Line;
    do last = await next(lines);
    while (last.highWater === undefined);
    await new Promise<void>((resolve) =>
      proc.exitCode !== null ? resolve() : proc.once('exit', () => resolve()),
    );
    expect(last.drained).toBe(true);
    const highWater = last.highWater;
    const total = Object.values(highWater).reduce((a, b) => a + b, 0);
    await waitFor(
      () => dropDuplicates(sub.readings).length >= total,
      30_000,
      'every reading at the subscriber',
    );

    const kept = seqsByMeter(dropDuplicates(sub.readings));
    for (const meter of METERS) expect(kept.get(meter), meter).toEqual(range(1, highWater[meter]!));
    // Duplicates aside, nothing arrived out of order: a resend only repeats seqs already seen.
    for (const [meter, seqs] of seqsByMeter(sub.readings)) {
      let max = 0;
      for (const seq of seqs) {
        expect(seq, `${meter} seq ${seq} after ${max}`).toBeLessThanOrEqual(max + 1);
        max = Math.max(max, seq);
      }
    }
    console.log(`sigkill: ${total} readings, ${sub.readings.length - total} duplicates after the kills`);
    const reopened = Outbox.open({ path: outbox, maxBytes: 1_000_000_000 });
    expect(reopened.stats().messages).toBe(0);
    reopened.close();
  }, 120_000);
});
