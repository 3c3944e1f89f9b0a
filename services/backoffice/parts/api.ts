import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildApi } from '../../platform/http/app.ts';
import type { Users } from '../../platform/auth/users.ts';

export type RouteFn = (app: FastifyInstance) => void;

export interface HttpSettings {
  host: string;
  port: number;
  /**
   * false lets a browser keep its session cookie over plain HTTP (only behind a TLS-terminating
   * proxy or on loopback); bearer tokens work either way.
   */
  secureCookie?: boolean;
  /**
   * The origins the web app is reached at (`https://energy.example.edu`), for the cross-site check
   * on state-changing requests; absent, the request's own Host. Set it behind a reverse proxy.
   */
  publicOrigins?: readonly string[];
}

export const DEFAULT_HTTP: HttpSettings = { host: '127.0.0.1', port: 8080 };

export interface ApiDeps {
  http: HttpSettings;
  /** Checks every route's permission against the caller's session or token. */
  auth: Users;
  routes: readonly RouteFn[];
  logger: Logger;
}

export interface RunningApi {
  app: FastifyInstance;
  /** The base URL it listens on (the real port when `port: 0`). */
  url: string;
}

/** The HTTP API over the given routes, listening. */
export async function createApi(deps: ApiDeps): Promise<RunningApi> {
  const app = await buildApi({
    auth: deps.auth,
    routes: [...deps.routes],
    logger: deps.logger.child({ component: 'api' }),
    ...(deps.http.publicOrigins ? { publicOrigins: deps.http.publicOrigins } : {}),
  });
  try {
    await app.listen({ host: deps.http.host, port: deps.http.port });
  } catch (err) {
    await app.close();
    throw err;
  }
  const address = app.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return { app, url: `http://${host}:${address.port}` };
}
