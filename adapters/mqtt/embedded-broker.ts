import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Aedes, type AedesOptions } from 'aedes';

/**
 * An in-process MQTT broker (Aedes, in-memory persistence) for tests and the demo. Messages queued
 * for offline persistent sessions live only as long as the process.
 */

export interface EmbeddedBrokerOptions {
  /** 0 or absent picks a free port. */
  port?: number;
  host?: '127.0.0.1';
  /**
   * Authentication and authorization hooks, e.g. `aedesAuthorizer(...)` from ./acl.ts, which
   * enforces the same ACL as the generated mosquitto files. Absent: anyone may do anything (demo).
   */
  auth?: Pick<AedesOptions, 'authenticate' | 'authorizePublish' | 'authorizeSubscribe'>;
}

export interface EmbeddedBroker {
  url: string;
  port: number;
  broker: Aedes;
  close(): Promise<void>;
}

export async function startEmbeddedBroker(options: EmbeddedBrokerOptions = {}): Promise<EmbeddedBroker> {
  const host = options.host ?? '127.0.0.1';
  const broker = await Aedes.createBroker({ ...options.auth });
  const server = createServer((socket) => broker.handle(socket));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let closed = false;
  return {
    url: `mqtt://${host}:${port}`,
    port,
    broker,
    async close() {
      if (closed) return;
      closed = true;
      // Closing the broker disconnects its clients, which lets the server close.
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
