import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { CONTENT_TYPE, renderMetrics, type Collector } from './exposition.ts';
import { startEventLoopMonitor } from './process.ts';

/**
 * A tiny HTTP server answering `GET /metrics` for processes without an API (gateway, ingest).
 * No authentication: bind it to loopback (the default) or to an interface only the monitoring
 * network reaches, e.g. `--metrics 127.0.0.1:9464` scraped through a local Prometheus agent.
 */

export interface MetricsServerOptions {
  collect: Collector;
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 picks a free port. */
  port: number;
  logger?: Logger;
}

export interface MetricsServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const log = options.logger?.child({ component: 'metrics' });
  startEventLoopMonitor();
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('only /metrics here\n');
      return;
    }
    Promise.resolve()
      .then(() => options.collect())
      .then((families) => {
        const body = renderMetrics(families);
        res.writeHead(200, { 'content-type': CONTENT_TYPE, 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : body);
      })
      .catch((err: unknown) => {
        log?.error({ err }, 'metrics collection failed');
        res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics collection failed; see the log\n');
      });
  });
  // A scrape is short; a client that never finishes its request must not hold a socket forever.
  server.requestTimeout = 10_000;
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  log?.info({ url: `http://${host}:${address.port}/metrics` }, 'metrics listening');
  return {
    url: `http://${host}:${address.port}/metrics`,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Parses `host:port` (or `[v6]:port`, or a bare port meaning loopback) as given to `--metrics`. */
export function parseListenAddress(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text.trim()) ?? /^()()(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) {
    throw new Error(`expected host:port for the metrics listener, e.g. 127.0.0.1:9464, got "${text}"`);
  }
  return { host: m[1] || m[2] || '127.0.0.1', port };
}
