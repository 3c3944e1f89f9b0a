import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { route } from '../../platform/http/route.ts';
import { Id, IdParams, Text } from '../../platform/http/schemas.ts';
import type { Payments } from './payments.ts';

const tags = ['payments'];
const LocalDate = z.string().regex(/^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/, 'a date is YYYY-MM-DD');

/**
 * The payment channel over HTTP: the provider's notice (public: it proves itself by its signature,
 * and the route keeps the exact body bytes the signature covers), and the business office's side —
 * an order at the counter, the orders, the query of orders whose notice never came, the daily
 * reconciliation and the clerk's queue of mismatches.
 */
export function paymentRoutes(payments: Payments): ((app: FastifyInstance) => void)[] {
  return [
    (app) => {
      // This scope only: the body stays the string the provider signed.
      app.removeContentTypeParser('application/json');
      app.addContentTypeParser(
        'application/json',
        { parseAs: 'string', bodyLimit: 16_384 },
        (_req, body, done) => done(null, body),
      );
      app.post<{ Params: { provider: string } }>(
        '/api/payments/notify/:provider',
        { schema: { summary: "A payment provider's signed asynchronous notice", tags } },
        async (req, reply) => {
          const raw = typeof req.body === 'string' ? req.body : '';
          const answer = payments.receiveNotice(req.params.provider, req.headers, raw, req.ip);
          return reply.code(answer.status).send(answer.body);
        },
      );
    },
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/payments/orders',
        summary:
          'Create a payment order for an account (the customer pays it at the provider, e.g. by QR code)',
        tags,
        permission: 'payments.record',
        body: z.object({ account: Id, amountFen: z.number().int(), provider: Id.optional() }).strict(),
        status: 201,
        handler: ({ body, actor }) => payments.createOrder(actor.id, body),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/payments/orders',
        summary: 'Payment orders, newest first',
        tags,
        permission: 'accounts.view',
        query: z
          .object({ account: Id.optional(), status: z.enum(['open', 'paid', 'closed']).optional() })
          .strict(),
        handler: ({ query }) => payments.orders(query),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/payments/query',
        summary: 'Ask the provider now about every open order whose notice has not come',
        tags,
        permission: 'payments.record',
        body: z.object({}).strict().optional(),
        handler: () => payments.sweep(),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/payments/reconciliations',
        summary:
          "Compare a provider's statement file for a local day with the ledger; mismatches go to the queue",
        tags,
        permission: 'payments.record',
        body: z.object({ provider: Id, date: LocalDate }).strict(),
        status: 201,
        handler: ({ body, actor }) => payments.reconcile(actor.id, body.provider, body.date),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/payments/mismatches',
        summary: "The clerk's queue: reconciliation mismatches not yet resolved (all with ?all=true)",
        tags,
        permission: 'accounts.view',
        query: z.object({ all: z.enum(['true', 'false']).optional() }).strict(),
        handler: ({ query }) => payments.mismatches(query.all !== 'true'),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/payments/mismatches/:id/resolve',
        summary: 'Resolve a mismatch with what was done about it (audited)',
        tags,
        permission: 'payments.record',
        params: IdParams,
        body: z.object({ note: Text }).strict(),
        handler: ({ params, body, actor }) => payments.resolveMismatch(actor.id, params.id, body.note),
      }),
  ];
}
