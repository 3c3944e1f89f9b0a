import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { route } from '../http/route.ts';
import type { Users } from '../auth/users.ts';
import type { AuditLog } from './audit-log.ts';
import { UtcMsQuery, wholeNumber } from '../http/schemas.ts';

const tags = ['audit'];

/**
 * The tamper-evident audit log: reading it, and checking it as `campus-energy audit verify` does
 * (the hash chain, the append-only triggers, the users and tokens tables against their history).
 */
export function auditRoutes(s: { audit: AuditLog; users: Users }): ((app: FastifyInstance) => void)[] {
  const { audit, users } = s;
  return [
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/audit',
        summary:
          'Audit entries, oldest first unless newestFirst, filtered by subject, actor, action prefix, time',
        tags,
        permission: 'audit.view',
        query: z
          .object({
            subject: z.string().min(1).max(200).optional().describe('E.g. account:E1-101, relay-request:42'),
            actor: z.string().min(1).max(200).optional(),
            action: z.string().min(1).max(100).optional().describe('A prefix, e.g. relay.'),
            from: UtcMsQuery.optional(),
            to: UtcMsQuery.optional(),
            afterSeq: wholeNumber('afterSeq').optional().describe('Entries after this sequence number'),
            limit: z
              .string()
              .regex(/^[1-9][0-9]{0,4}$/, 'limit is 1 to 10000')
              .transform(Number)
              .pipe(z.number().max(10_000))
              .optional(),
            newestFirst: z.enum(['true', 'false']).optional(),
          })
          .strict(),
        handler: ({ query }) => audit.query({ ...query, newestFirst: query.newestFirst === 'true' }),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/audit/head',
        summary: 'The chain head (seq, hash, time), to publish or compare with a published one',
        tags,
        permission: 'audit.verify',
        handler: () => ({ head: audit.head() }),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/audit/verify',
        summary:
          'Walk the whole chain; with expectedHead (published earlier) also find a log cut short or rewritten',
        tags,
        permission: 'audit.verify',
        body: z
          .object({
            expectedHead: z
              .object({
                seq: z.number().int().positive(),
                hash: z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 hash in hex'),
              })
              .strict()
              .optional(),
          })
          .strict()
          .optional(),
        handler: ({ body }) => {
          const chain = audit.verify(body?.expectedHead);
          const missingTriggers = audit.missingTriggers();
          const tables = users.checkAgainstAudit();
          return {
            ok: chain.ok && missingTriggers.length === 0 && tables.length === 0,
            chain,
            missingTriggers,
            tables,
          };
        },
      }),
  ];
}
