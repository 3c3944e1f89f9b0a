import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { Aedes, type AedesOptions } from 'aedes';

/**
 * An in-process MQTT broker (Aedes, in-memory persistence, MQTT 3.1.1 only) for tests, trials and
 * the demo. Messages queued for offline persistent sessions live only as long as the process.
 * Run for a campus, it authenticates every client (`startCampusBroker` in ./campus-broker.ts).
 */

export type BrokerAuth = Pick<AedesOptions, 'authenticate' | 'authorizePublish' | 'authorizeSubscribe'>;

export interface EmbeddedBrokerOptions {
  /** 0 or absent picks a free port. */
  port?: number;
  /** Loopback by default: a broker reachable from the network is configured, not embedded. */
  host?: string;
  /**
   * Authentication and authorization hooks, e.g. `aedesAuthorizer(...)` from ./acl.ts, which
   * enforces the same ACL as the generated mosquitto files. Absent: anyone may do anything (tests).
   */
  auth?: BrokerAuth;
  /** A certificate and key (PEM): the broker then speaks TLS only, at mqtts://. */
  tls?: { cert: string | Buffer; key: string | Buffer };
}

/** What the broker refused since it started (exported as metrics by its host process). */
export interface BrokerRefusals {
  connections: number;
  publishes: number;
  subscriptions: number;
}

export interface EmbeddedBroker {
  url: string;
  port: number;
  broker: Aedes;
  refused(): BrokerRefusals;
  close(): Promise<void>;
}

/** Wraps the hooks so that each refusal is counted where it is decided. */
function counting(auth: BrokerAuth, refused: BrokerRefusals): BrokerAuth {
  const out: BrokerAuth = {};
  const { authenticate, authorizePublish, authorizeSubscribe } = auth;
  if (authenticate) {
    out.authenticate = (client, username, password, done) =>
      authenticate(client, username, password, (err, ok) => {
        if (err || !ok) refused.connections += 1;
        done(err, ok);
      });
  }
  if (authorizePublish) {
    out.authorizePublish = (client, packet, done) =>
      authorizePublish(client, packet, (err) => {
        if (err) refused.publishes += 1;
        done(err);
      });
  }
  if (authorizeSubscribe) {
    out.authorizeSubscribe = (client, sub, done) =>
      authorizeSubscribe(client, sub, (err, granted) => {
        if (err || !granted) refused.subscriptions += 1;
        done(err, granted);
      });
  }
  return out;
}

export async function startEmbeddedBroker(options: EmbeddedBrokerOptions = {}): Promise<EmbeddedBroker> {
  const host = options.host ?? '127.0.0.1';
  const refused: BrokerRefusals = { connections: 0, publishes: 0, subscriptions: 0 };
  const broker = await Aedes.createBroker(options.auth ? counting(options.auth, refused) : {});
  const server: Server = options.tls
    ? createTlsServer({ cert: options.tls.cert, key: options.tls.key }, (socket) => broker.handle(socket))
    : createServer((socket) => broker.handle(socket));
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
    url: `${options.tls ? 'mqtts' : 'mqtt'}://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    broker,
    refused: () => ({ ...refused }),
    async close() {
      if (closed) return;
      closed = true;
      // Closing the broker disconnects its clients, which lets the server close.
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
