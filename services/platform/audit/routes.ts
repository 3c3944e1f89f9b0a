import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { route } from '../http/route.ts';
import type { Users } from '../auth/users.ts';
import { can, type Actor } from '../auth/roles.ts';
import { ServiceError } from '../errors.ts';
import type { AuditLog } from './audit-log.ts';
import { UtcMsQuery, wholeNumber } from '../http/schemas.ts';

const tags = ['audit'];

/**
 * Whose entries an actor may read: everyone those with `audit.view` (supervisors, inspectors,
 * administrators, billing), and everyone else only their own actions, so a clerk can show what
 * they did without reading what others did. Asking for another actor's entries without
 * `audit.view` is refused by name rather than quietly answered with one's own. An API token gets
 * nothing beyond its scopes, so without audit.view it reads nothing.
 */
function scopedActor(actor: Actor, asked: string | undefined): string | undefined {
  if (can(actor, 'audit.view')) return asked;
  // An API token does what its scopes say and nothing more: reading the log needs audit.view.
  if (actor.kind === 'token')
    throw new ServiceError('FORBIDDEN', 403, `${actor.id} may not read the audit log (scope audit.view)`);
  if (asked !== undefined && asked !== actor.id)
    throw new ServiceError(
      'FORBIDDEN',
      403,
      `${actor.id} may read the audit entries of their own actions only, not those of ${asked}`,
    );
  return actor.id;
}

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
        url: '/api/audit/entries',
        summary:
          'One page of audit entries, newest first, with the number that match: filtered by actor, action prefix, subject prefix and time on the server. Without audit.view, only the caller’s own actions',
        tags,
        permission: 'authenticated',
        query: z
          .object({
            actor: z.string().min(1).max(200).optional(),
            action: z.string().min(1).max(100).optional().describe('A prefix, e.g. ledger. or ledger.topup'),
            subject: z
              .string()
              .min(1)
              .max(200)
              .optional()
              .describe('A prefix, e.g. account: or account:E1-101'),
            from: UtcMsQuery.optional().describe('UTC ms, inclusive'),
            to: UtcMsQuery.optional().describe('UTC ms, exclusive'),
            maxSeq: wholeNumber('maxSeq')
              .optional()
              .describe('The maxSeq of the first page, for the next pages'),
            offset: wholeNumber('offset').optional(),
            limit: z
              .string()
              .regex(/^[1-9][0-9]{0,2}$/, 'limit is 1 to 200')
              .transform(Number)
              .pipe(z.number().max(200, 'limit is 1 to 200'))
              .optional(),
          })
          .strict(),
        handler: ({ query, actor }) => {
          const own = !can(actor, 'audit.view');
          return { ...audit.search({ ...query, actor: scopedActor(actor, query.actor) }), ownOnly: own };
        },
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/audit/actions',
        summary: 'The action keys in the log (the caller’s own without audit.view), for a filter',
        tags,
        permission: 'authenticated',
        handler: ({ actor }) => audit.actions(scopedActor(actor, undefined)),
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
