import Fastify, { type FastifyInstance, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import swagger from '@fastify/swagger';
import type { Logger } from 'pino';
import { can, type Actor } from '../auth/roles.ts';
import { ServiceError } from '../errors.ts';
import { httpFail } from './errors.ts';
import { endEventStreams } from './sse.ts';

/** How the API learns who is calling; services/platform/auth implements it. */
export interface Authenticator {
  /** The actor for a session or API token, or a ServiceError (401) if it is not valid. */
  authenticate(token: string): Actor | Promise<Actor>;
}

export interface ApiDeps {
  auth: Authenticator;
  logger?: Logger;
  /** Routes, each a fastify plugin registered inside the authorized context. */
  routes: ((app: FastifyInstance) => void | Promise<void>)[];
  /**
   * The origins the web app is served from (`https://energy.example.edu`). State-changing requests
   * from any other origin are refused. Absent: the origin of the request's own Host, so a page on
   * another port or host is refused without configuration; set it behind a reverse proxy.
   */
  publicOrigins?: readonly string[];
}

export const SESSION_COOKIE = 'ce_session';

/** The session or API token of a request: the Bearer header first, else the session cookie. */
export function tokenOf(header: string | undefined, cookie: string | undefined): string | undefined {
  const bearer = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  if (bearer) return bearer[1];
  for (const part of (cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === SESSION_COOKIE) return decodeURIComponent(v.join('='));
  }
  return undefined;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/**
 * Cross-site request forgery: a page of another site — another port of the same host counts, and
 * SameSite cookies do not separate those — must not act with a logged-in user's session. Every
 * state-changing request whose Origin header is present must come from the back office's own
 * origin; a browser request that carries the session cookie must say where it comes from (Origin,
 * or Sec-Fetch-Site: same-origin). Bodies are JSON, which a cross-site form cannot send without a
 * CORS preflight that this server never grants. Machines with a Bearer token send no cookie and
 * no Origin, and are not affected.
 */
function assertSameSite(req: FastifyRequest, publicOrigins: readonly string[] | undefined): void {
  if (SAFE_METHODS.has(req.method)) return;
  const origin = req.headers.origin;
  const site = req.headers['sec-fetch-site'];
  const allowed = publicOrigins ?? [`http://${req.headers.host}`, `https://${req.headers.host}`];
  const cookie = tokenOf(undefined, req.headers.cookie) !== undefined;
  const bearer = /^Bearer\s/i.test(req.headers.authorization ?? '');
  if (origin !== undefined) {
    if (!allowed.includes(origin)) {
      httpFail('CROSS_SITE_REQUEST', `a request from ${origin.slice(0, 100)} may not change anything here`);
    }
  } else if (site !== undefined) {
    if (site !== 'same-origin') {
      httpFail('CROSS_SITE_REQUEST', `a ${String(site).slice(0, 20)} request may not change anything here`);
    }
  } else if (cookie && !bearer) {
    httpFail('CROSS_SITE_REQUEST', 'a browser request with a session must say where it comes from (Origin)');
  }
  if (
    BODY_METHODS.has(req.method) &&
    !/^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? '')
  ) {
    httpFail(
      'UNSUPPORTED_MEDIA_TYPE',
      `${req.method} bodies are application/json; send {} when there is nothing to say`,
    );
  }
}

/**
 * Builds the back-office HTTP API without listening (tests use `app.inject`). Authorization is a
 * hook on every route: a route's `permission` is checked against the actor the server itself
 * established from the session or token; a client can't claim a role.
 */
export async function buildApi(deps: ApiDeps, options: FastifyServerOptions = {}): Promise<FastifyInstance> {
  // fastify 5 takes a ready pino instance as `loggerInstance`; `logger` is only for options.
  const app = deps.logger
    ? Fastify({ loggerInstance: deps.logger, ...options })
    : Fastify({ logger: false, ...options });
  await app.register(swagger, {
    openapi: {
      info: { title: 'campus-energy back office', version: '1' },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          cookie: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE },
        },
      },
    },
  });

  app.setErrorHandler((err: Error & { statusCode?: number; validation?: unknown }, req, reply) => {
    if (err instanceof ServiceError) {
      return reply.code(err.status).send({ code: err.code, message: err.message });
    }
    if (err.statusCode && err.statusCode < 500) {
      return reply.code(err.statusCode).send({ code: 'INVALID_REQUEST', message: err.message });
    }
    req.log.error({ err }, 'request failed');
    return reply.code(500).send({ code: 'INTERNAL', message: 'internal error; see the server log' });
  });

  app.addHook('onRequest', async (req) => assertSameSite(req, deps.publicOrigins));

  app.addHook('onRequest', async (req) => {
    const permission = req.routeOptions.config.permission;
    if (!permission) return;
    const token = tokenOf(req.headers.authorization, req.headers.cookie);
    if (!token) throw new ServiceError('UNAUTHENTICATED', 401, 'log in first (no session or API token)');
    const actor = await deps.auth.authenticate(token);
    req.actor = actor;
    if (permission !== 'authenticated' && !can(actor, permission)) {
      throw new ServiceError(
        'FORBIDDEN',
        403,
        `${actor.id} (${actor.roles.join(', ') || 'no role'}) may not ${permission}`,
      );
    }
  });

  // Event streams never end by themselves: end them before the server closes, or it waits.
  app.addHook('preClose', (done) => {
    endEventStreams(app.server);
    done();
  });

  for (const r of deps.routes) await app.register(async (scope) => r(scope));
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  await app.ready();
  return app;
}
