import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import swagger from '@fastify/swagger';
import type { Logger } from 'pino';
import { can, type Actor } from '../auth/roles.ts';
import { ServiceError } from '../errors.ts';

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

  for (const r of deps.routes) await app.register(async (scope) => r(scope));
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  await app.ready();
  return app;
}
