import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { route } from '../../platform/http/route.ts';
import { IdParams } from '../../platform/http/schemas.ts';
import type { Collection } from './collection.ts';
import {
  DecisionSchema,
  ObjectionSchema,
  PaymentSchema,
  PublishSchema,
  ReminderSchema,
  ReversalSchema,
  WaiverSchema,
} from './collection.ts';
import { NOTICE_LANGUAGES, noticesHtml, payrollCsv } from './print.ts';

/**
 * Post-paid collection over HTTP. Each route names its permission (the API checks it first); the
 * service checks again, with the rules that depend on the request (two people, periods).
 */

const tags = ['collection'];
const TableParams = z
  .object({ id: z.string().regex(/^ft-br-[A-Za-z0-9_-]{1,64}$/, 'a fee table id') })
  .strict();
const NumberParams = z.object({ number: z.string().trim().min(1).max(64) }).strict();
const AsOf = z
  .object({
    asOf: z
      .string()
      .regex(/^[0-9]{1,15}$/, 'UTC ms')
      .transform(Number)
      .optional()
      .describe('The instant (UTC ms) debts and penalties are computed at; now unless given'),
  })
  .strict();

export function collectionRoutes(c: Collection): ((app: FastifyInstance) => void)[] {
  return [
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/collection/fee-tables',
        summary: "Publish a bill run's fee table; it is open for objections until the date it names",
        tags,
        permission: 'collection.publish',
        body: PublishSchema,
        status: 201,
        handler: ({ body, actor }) => c.publish(actor, body),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/collection/fee-tables',
        summary: 'Fee tables, newest first',
        tags,
        permission: 'collection.view',
        handler: () => c.feeTables(),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/collection/fee-tables/:id',
        summary: 'A fee table: accounts, fees in fen, objections and their decisions, its state',
        tags,
        permission: 'collection.view',
        params: TableParams,
        handler: ({ params }) => c.feeTable(params.id),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/collection/fee-tables/:id/objections',
        summary: "Record a customer's objection to their fee, while the table is open for objections",
        tags,
        permission: 'collection.objection',
        params: TableParams,
        body: ObjectionSchema.omit({ feeTable: true }),
        status: 201,
        handler: ({ params, body, actor }) => c.object(actor, { ...body, feeTable: params.id }),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/collection/objections/:id/decision',
        summary:
          'Decide an objection (a supervisor other than whoever recorded it): upheld with the amount, or dismissed',
        tags,
        permission: 'collection.resolve-objection',
        params: IdParams,
        body: DecisionSchema,
        handler: ({ params, body, actor }) => c.decideObjection(actor, params.id, body),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/collection/fee-tables/:id/confirm',
        summary: 'Confirm a fee table after its objection period: notices per door and the payroll list',
        tags,
        permission: 'collection.publish',
        params: TableParams,
        handler: ({ params, actor }) => c.confirm(actor, params.id),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/collection/fee-tables/:id/notices',
        summary: "A confirmed table's payment notices with what is owed on each as of an instant",
        tags,
        permission: 'collection.view',
        params: TableParams,
        query: AsOf,
        handler: ({ params, query }) => c.notices(params.id, query.asOf),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/collection/fee-tables/:id/notices/print',
        summary: 'The payment notices as printable HTML, one page per door, with the signature line',
        tags,
        permission: 'collection.view',
        params: TableParams,
        query: z
          .object({
            lang: z.enum(NOTICE_LANGUAGES).default('zh'),
            notice: z.string().trim().min(1).max(64).optional().describe('Only this notice'),
          })
          .strict(),
        handler: ({ params, query, reply }) => {
          const notices = c.notices(params.id).filter((n) => !query.notice || n.number === query.notice);
          reply.type('text/html; charset=utf-8');
          return noticesHtml(notices, c.runOf(params.id), query.lang, c.timezone);
        },
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/collection/fee-tables/:id/payroll',
        summary: 'The payroll deduction list (staff with a payroll code) as CSV or JSON',
        tags,
        permission: 'collection.view',
        params: TableParams,
        query: z.object({ format: z.enum(['csv', 'json']).default('csv') }).strict(),
        handler: ({ params, query, reply }) => {
          const rows = c.payrollList(params.id);
          if (query.format === 'json') return rows;
          reply.type('text/csv; charset=utf-8');
          reply.header('content-disposition', `attachment; filename="${params.id}-payroll.csv"`);
          return payrollCsv(rows);
        },
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/collection/notices/:number',
        summary: 'One notice: fee, payments, penalty accrued, paid and waived, days overdue',
        tags,
        permission: 'collection.view',
        params: NumberParams,
        query: AsOf,
        handler: ({ params, query }) => c.notice(params.number, query.asOf),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/collection/payments',
        summary:
          'Record a payment against a notice (cash, card, transfer); beyond the debt it is the account’s credit',
        tags,
        permission: 'payments.record',
        body: PaymentSchema,
        status: 201,
        handler: ({ body, actor }) => c.pay(actor, body),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/collection/payments/:id/reversal',
        summary:
          'Ask for the reversal of a payment recorded by mistake (the latest of its notice); a supervisor decides',
        tags,
        permission: 'payments.record',
        params: IdParams,
        body: ReversalSchema,
        status: 201,
        handler: ({ params, body, actor }) => c.requestReversal(actor, params.id, body),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/collection/reversals',
        summary: 'Payment reversals waiting for a decision',
        tags,
        permission: 'collection.view',
        handler: () => c.pendingReversals(),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/collection/reversals/:id/decision',
        summary: 'Approve or reject a payment reversal (neither its requester nor who recorded the payment)',
        tags,
        permission: 'payment-reversal.approve',
        params: IdParams,
        body: z
          .object({ approve: z.boolean(), reason: z.string().trim().min(1).max(2000).optional() })
          .strict(),
        handler: ({ params, body, actor }) =>
          c.decideReversal(actor, params.id, {
            approve: body.approve,
            ...(body.reason ? { reason: body.reason } : {}),
          }),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/collection/arrears',
        summary: 'Overdue notices aged 0–30, 31–60, 61–90 and over 90 days (campus days) with totals in fen',
        tags,
        permission: 'collection.view',
        query: AsOf,
        handler: ({ query, actor }) => c.arrears(actor, query.asOf),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/collection/reminders',
        summary: 'Record a reminder delivered for an overdue notice',
        tags,
        permission: 'collection.remind',
        body: ReminderSchema,
        status: 201,
        handler: ({ body, actor }) => c.remind(actor, body),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/collection/waivers',
        summary: 'Ask for a penalty waiver; a second, independent supervisor decides',
        tags,
        permission: 'penalty-waiver.request',
        body: WaiverSchema,
        status: 201,
        handler: ({ body, actor }) => c.requestWaiver(actor, body),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/collection/waivers',
        summary: 'Penalty waivers waiting for a decision',
        tags,
        permission: 'collection.view',
        handler: () => c.pendingWaivers(),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/collection/waivers/:id/decision',
        summary: 'Approve or reject a penalty waiver (not its requester)',
        tags,
        permission: 'penalty-waiver.approve',
        params: IdParams,
        body: z
          .object({ approve: z.boolean(), reason: z.string().trim().min(1).max(2000).optional() })
          .strict(),
        handler: ({ params, body, actor }) =>
          c.decideWaiver(actor, params.id, {
            approve: body.approve,
            ...(body.reason ? { reason: body.reason } : {}),
          }),
      }),
  ];
}
