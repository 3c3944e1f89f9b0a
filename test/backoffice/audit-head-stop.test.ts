import { createServer, type Server, type Socket } from 'node:net';
import { Aedes } from 'aedes';
import { afterEach, describe, expect, it } from 'vitest';
import { createAuditHead } from '../../services/backoffice/parts/audit-head.ts';
import { connectControlMqtt, type ControlMqtt } from '../../services/operations/control/mqtt.ts';
import { AUDIT_HEAD_TOPIC } from '../../services/platform/audit/head-publisher.ts';
import { tempBackoffice } from '../audit/helpers.ts';
import { testLogger } from '../helpers/logger.ts';
import { waitFor } from '../helpers/readings.ts';

/**
 * The back office's stop publishes the audit head one last time. With the broker gone (under
 * `campus-energy run` it dies with the supervisor that tells the back office to stop) that publish
 * waited in mqtt.js's offline queue for a broker that was not coming back, until the process's
 * 4.5 s stop deadline, holding the HTTP port meanwhile; and closing the link then waited for that
 * head's PUBACK the same way. Found by the embedded fault suite. A real Aedes that withholds its
 * acknowledgement of the head, and a real link to it.
 */

const BOUND_MS = 10_000;

describe("the audit head's stop without a broker", () => {
  let server: Server | undefined;
  let broker: Aedes | undefined;
  let link: ControlMqtt | undefined;
  const sockets = new Set<Socket>();

  afterEach(async () => {
    await link?.close();
    server?.close();
    await new Promise<void>((r) => (broker ? broker.close(() => r()) : r()));
  });

  /** A broker that takes the first head and holds every later one unacknowledged (if `hold`). */
  async function startBroker(hold: boolean): Promise<{ heads: () => number; kill: () => void }> {
    let heads = 0;
    broker = await Aedes.createBroker({
      authorizePublish: (_client, packet, callback) => {
        if (packet.topic !== AUDIT_HEAD_TOPIC) return callback(null);
        heads += 1;
        if (!hold || heads === 1) callback(null);
      },
    });
    server = createServer((socket) => {
      sockets.add(socket);
      broker!.handle(socket);
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    link = await connectControlMqtt({
      url: `mqtt://127.0.0.1:${(server.address() as { port: number }).port}`,
      logger: testLogger(),
    });
    return {
      heads: () => heads,
      kill: () => {
        server!.close();
        for (const s of sockets) s.destroy();
      },
    };
  }

  const settlesWithin = (p: Promise<void>) =>
    Promise.race([
      p.then(() => 'stopped'),
      new Promise((r) => setTimeout(() => r(`still stopping after ${BOUND_MS} ms`), BOUND_MS)),
    ]);

  it('stops at once when the broker dies during the stop, a head still unacknowledged', async () => {
    const { audit, db, clock } = tempBackoffice();
    const b = await startBroker(true);
    const head = createAuditHead({ audit, clock, link: link!, logger: testLogger() });
    await waitFor(() => b.heads() === 1, 10_000, 'the first head published');
    audit.append({ actor: 'wang.fang', action: 'ledger.topup', subject: 'account:E1-101' });
    // The head after the change goes out 100 ms later and is held by the broker.
    await waitFor(() => b.heads() === 2, 10_000, 'the head after the change sent');
    const stopping = head.stop();
    b.kill();
    expect(await settlesWithin(stopping)).toBe('stopped');
    // Then the back office closes the link, whose graceful end waited for the held head's PUBACK.
    expect(await settlesWithin(link!.close())).toBe('stopped');
    link = undefined;
    db.close();
  }, 30_000);

  it('stops at once when the broker was already gone', async () => {
    const { audit, db, clock } = tempBackoffice();
    const b = await startBroker(false);
    const head = createAuditHead({ audit, clock, link: link!, logger: testLogger() });
    await waitFor(() => b.heads() === 1, 10_000, 'the first head published');
    b.kill();
    await waitFor(() => !link!.client.connected, 10_000, 'the link lost');
    audit.append({ actor: 'wang.fang', action: 'ledger.topup', subject: 'account:E1-101' });
    await new Promise((r) => setTimeout(r, 300)); // the head after the change waits offline
    expect(await settlesWithin(head.stop())).toBe('stopped');
    expect(await settlesWithin(link!.close())).toBe('stopped');
    link = undefined;
    db.close();
  }, 30_000);
});
