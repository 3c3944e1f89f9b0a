import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import { afterEach, describe, expect, it } from 'vitest';
import { startPublisher, type Publisher } from '../../adapters/mqtt/publisher.ts';
import { Outbox } from '../../gateway/outbox/outbox.ts';
import { testLogger } from '../helpers/logger.ts';
import { readingItem, waitFor } from '../helpers/readings.ts';

/**
 * A gateway stopping while its broker dies: under `campus-energy run` the embedded broker lives in
 * the supervisor, so a SIGKILLed supervisor takes the broker and tells the gateway to stop at the
 * same instant. The publisher's stop waited for the in-flight readings' PUBACKs (and then the
 * offline status's) for its whole stop timeout although the connection was gone and nothing could
 * answer any more: 5 s by default, past the process's 4.5 s stop deadline, so the gateway exited 1
 * and lingered beside the next supervisor's gateway. Found by the embedded fault suite.
 */

const STOP_TIMEOUT_MS = 30_000;

describe('the publisher stopping while its broker dies', () => {
  let dir: string;
  let outbox: Outbox;
  let publisher: Publisher | undefined;
  let server: Server | undefined;
  let broker: Aedes | undefined;

  afterEach(async () => {
    await publisher?.stop();
    outbox?.close();
    server?.close();
    await new Promise<void>((r) => (broker ? broker.close(() => r()) : r()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('stops as soon as the connection is gone, with the unacked readings kept in the outbox', async () => {
    dir = mkdtempSync(join(tmpdir(), 'publisher-stop-'));
    outbox = Outbox.open({ path: join(dir, 'outbox.sqlite'), maxBytes: 100_000_000 });
    // A broker that takes every reading and acknowledges none: they stay in flight.
    broker = await Aedes.createBroker({
      authorizePublish: (_client, packet, callback) => {
        if (!packet.topic.endsWith('/reading')) callback(null);
      },
    });
    const sockets = new Set<Socket>();
    server = createServer((socket) => {
      sockets.add(socket);
      broker!.handle(socket);
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    publisher = startPublisher({
      url: `mqtt://127.0.0.1:${port}`,
      clientId: 'gw1',
      outbox,
      statusTopic: 'campus/v1/test/gw1/status',
      willPayload: JSON.stringify({ gateway: 'gw1', state: 'offline', ts: 0 }),
      stopTimeoutMs: STOP_TIMEOUT_MS,
      logger: testLogger(),
    });
    outbox.append(['m1', 'm2', 'm3'].map((m) => readingItem(m)));
    await waitFor(() => publisher!.stats().inFlight === 3, 10_000, 'three readings in flight');

    const stopped = publisher.stop().then(() => 'stopped');
    // The broker dies with the stop under way (its process killed).
    server.close();
    for (const s of sockets) s.destroy();
    const outcome = await Promise.race([
      stopped,
      new Promise((r) =>
        setTimeout(() => r(`still stopping after ${STOP_TIMEOUT_MS / 3} ms`), STOP_TIMEOUT_MS / 3),
      ),
    ]);
    expect(outcome).toBe('stopped');
    publisher = undefined;
    // Nothing was acknowledged: every reading is still in the outbox for the next start.
    expect(outbox.stats().messages).toBe(3);
  }, 60_000);
});
