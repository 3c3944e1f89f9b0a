import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import { z } from 'zod';
import type { Actor, Permission } from '../auth/roles.ts';
import { ServiceError } from '../errors.ts';
import { inputProblems } from '../input-problems.ts';

/**
 * One way to declare a route: zod schemas validate the request (and become the OpenAPI document
 * through z.toJSONSchema), the permission is checked on the server before the handler runs, and
 * the handler gets typed, parsed input plus the acting user. Routes without `permission` are
 * public (login, health); every other route requires a logged-in user or a scoped API token.
 */
export interface RouteSpec<B extends z.ZodType, Q extends z.ZodType, P extends z.ZodType, R> {
  method: HTTPMethods;
  url: string;
  summary: string;
  tags?: string[];
  /** Absent: public. */
  permission?: Permission | 'authenticated';
  body?: B;
  query?: Q;
  params?: P;
  /** 200 unless given. */
  status?: number;
  handler: (input: {
    body: z.infer<B>;
    query: z.infer<Q>;
    params: z.infer<P>;
    actor: Actor;
    req: FastifyRequest;
    reply: FastifyReply;
  }) => Promise<R> | R;
}

declare module 'fastify' {
  interface FastifyRequest {
    actor?: Actor;
  }
  interface FastifyContextConfig {
    permission?: Permission | 'authenticated';
  }
}

const toSchema = (s: z.ZodType) =>
  z.toJSONSchema(s, { target: 'openapi-3.0', io: 'input', unrepresentable: 'any' });

function parse<S extends z.ZodType>(schema: S | undefined, value: unknown, where: string): z.infer<S> {
  if (!schema) return undefined as z.infer<S>;
  const r = schema.safeParse(value ?? (where === 'body' ? undefined : {}));
  if (r.success) return r.data;
  throw new ServiceError('INVALID_REQUEST', 400, inputProblems(r.error, where));
}

export function route<B extends z.ZodType, Q extends z.ZodType, P extends z.ZodType, R>(
  app: FastifyInstance,
  spec: RouteSpec<B, Q, P, R>,
): void {
  const schema: Record<string, unknown> = { summary: spec.summary, tags: spec.tags };
  if (spec.body) schema.body = toSchema(spec.body);
  if (spec.query) schema.querystring = toSchema(spec.query);
  if (spec.params) schema.params = toSchema(spec.params);
  if (spec.permission) schema.security = [{ bearer: [] }, { cookie: [] }];
  app.route({
    method: spec.method,
    url: spec.url,
    schema,
    config: { permission: spec.permission },
    // zod validates (below); the JSON schemas above are documentation only.
    validatorCompiler: () => () => true,
    handler: async (req, reply) => {
      const body = parse(spec.body, req.body, 'body');
      const query = parse(spec.query, req.query, 'query');
      const params = parse(spec.params, req.params, 'params');
      const actor = req.actor ?? { id: 'anonymous', kind: 'user' as const, roles: [] };
      const result = await spec.handler({ body, query, params, actor, req, reply });
      if (spec.status) reply.code(spec.status);
      return result;
    },
  });
}
