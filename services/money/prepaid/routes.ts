import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { CUSTOMER_TYPES } from '../billing/tariffs.ts';
import { localTimeToUtc } from '../../metering/consumption/zone.ts';
import { PeriodSchema } from './free-quota.ts';
import { MAX_ENTRY_FEN, PAYMENT_METHODS } from './prepaid.ts';
import { ServiceError } from '../../platform/errors.ts';
import { route } from '../../platform/http/route.ts';
import type { Prepaid } from './prepaid.ts';
import { MAX_SEARCH_PAGE } from './search.ts';
import {
  AccountParams,
  Id,
  IdParams,
  OptionalReason,
  Text,
  UtcMs,
  wholeNumber,
} from '../../platform/http/schemas.ts';

const tags = ['prepaid'];
const Method = z.enum(PAYMENT_METHODS);
const REQUEST_KINDS = ['refund', 'meter-reset', 'free-quota'] as const;
const LocalDate = z
  .string()
  .regex(/^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/, 'a date is YYYY-MM-DD')
  .describe('A calendar day in the campus time zone');

/**
 * Prepaid electricity at the business office: accounts, sales, and the steps a second person
 * approves (refunds, meter resets, free quota, tariff type). The route checks the permission; the
 * service re-checks it and the request-dependent rules (not the requester, tariff type verified).
 */
/** A positive whole amount of fen (0.01 CNY), at most what one ledger entry may carry. */
const Fen = z.number().int().positive().max(MAX_ENTRY_FEN).describe('Integer fen (0.01 CNY)');

/** What the prepaid routes need: the service, and the campus time zone for local calendar days. */
export interface PrepaidRouteDeps {
  prepaid: Prepaid;
  timezone: string;
}

export function accountRoutes(s: PrepaidRouteDeps): ((app: FastifyInstance) => void)[] {
  const { prepaid } = s;
  return [
    // ── Accounts ──
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/accounts',
        summary: 'Open a prepaid account; its tariff type stays unverified until a supervisor verifies it',
        tags,
        permission: 'accounts.open',
        body: z
          .object({
            id: Id,
            customerType: z.enum(CUSTOMER_TYPES),
            holder: Text,
            meters: z.array(Id).min(1).max(16),
            payrollCode: z.string().min(1).max(64).optional(),
            protected: z.boolean().optional(),
            occupants: z.number().int().min(0).max(64).optional(),
          })
          .strict(),
        status: 201,
        handler: ({ body, actor }) => prepaid.openAccount(actor, body),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/accounts',
        summary:
          'Find accounts by any part of the account number, holder or meter; or list those at or below their low-balance level (list=low) or out of credit (list=out). A page of at most 200, with the total',
        tags,
        permission: 'accounts.view',
        query: z
          .object({
            q: z.string().trim().max(64, 'search text is at most 64 characters').optional(),
            list: z.enum(['low', 'out']).optional(),
            offset: wholeNumber('offset').optional(),
            limit: z
              .string()
              .regex(/^[1-9][0-9]{0,2}$/, `limit is 1 to ${MAX_SEARCH_PAGE}`)
              .transform(Number)
              .pipe(z.number().max(MAX_SEARCH_PAGE, `limit is 1 to ${MAX_SEARCH_PAGE}`))
              .optional(),
          })
          .strict(),
        handler: ({ query }) => prepaid.search(query),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/accounts/:id',
        summary: 'An account, with its balance in fen',
        tags,
        permission: 'accounts.view',
        params: AccountParams,
        handler: ({ params }) => ({
          ...prepaid.account(params.id),
          refundableFen: prepaid.refundable(params.id),
        }),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/accounts/:id/ledger',
        summary: "An account's ledger entries, oldest first; the balance is their sum",
        tags,
        permission: 'accounts.view',
        params: AccountParams,
        handler: ({ params }) => {
          prepaid.account(params.id);
          return prepaid.ledger(params.id);
        },
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/accounts/:id/verify-tariff',
        summary: "Confirm the account's customer (tariff) type; a supervisor other than the opener",
        tags,
        permission: 'accounts.verify-tariff',
        params: AccountParams,
        handler: ({ params, actor }) => prepaid.verifyTariffType(actor, params.id),
      }),

    // ── Money in and corrections ──
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/topups',
        summary: 'Record a sale (top-up) with its receipt, card or transfer reference',
        tags,
        permission: 'payments.record',
        body: z
          .object({
            account: Id,
            amountFen: Fen,
            method: Method,
            reference: z.string().trim().min(1).max(128),
          })
          .strict(),
        status: 201,
        handler: ({ body, actor }) => prepaid.topUp(actor, body),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/corrections',
        summary: 'Book a correction to a ledger (either sign, never zero), with the reason',
        tags,
        permission: 'ledger.correct',
        body: z
          .object({
            account: Id,
            amountFen: z
              .number()
              .int()
              .min(-MAX_ENTRY_FEN)
              .max(MAX_ENTRY_FEN)
              .refine((n) => n !== 0, 'a correction is not zero')
              .describe('Integer fen, signed'),
            reason: Text,
          })
          .strict(),
        status: 201,
        handler: ({ body, actor }) => prepaid.correct(actor, body),
      }),

    // ── Refunds ──
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/refunds',
        summary: 'Ask to pay money back; nothing moves until a supervisor approves',
        tags,
        permission: 'refunds.request',
        body: z.object({ account: Id, amountFen: Fen, method: Method, reason: Text }).strict(),
        status: 201,
        handler: ({ body, actor }) => prepaid.requestRefund(actor, body),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/refunds/:id/approve',
        summary: 'Approve a refund (not the requester); it is booked if the balance still allows it',
        tags,
        permission: 'refunds.approve',
        params: IdParams,
        handler: ({ params, actor }) => prepaid.approveRefund(actor, params.id),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/refunds/:id/reject',
        summary: 'Reject a refund request',
        tags,
        permission: 'refunds.approve',
        params: IdParams,
        body: OptionalReason,
        handler: ({ params, body, actor }) => prepaid.rejectRefund(actor, params.id, body ?? {}),
      }),

    // ── Meter resets ──
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/meter-resets',
        summary: 'Ask to record a meter reset (register cleared or meter exchanged)',
        tags,
        permission: 'meter-reset.request',
        body: z
          .object({
            account: Id,
            meter: Id,
            at: UtcMs.describe('When the register was cleared or the meter exchanged (UTC ms)'),
            registerBefore: z.number().finite().nonnegative().optional(),
            registerAfter: z.number().finite().nonnegative().optional(),
            reason: Text,
          })
          .strict(),
        status: 201,
        handler: ({ body, actor }) => prepaid.requestMeterReset(actor, body),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/meter-resets/:id/approve',
        summary: 'Approve a meter reset (not the requester)',
        tags,
        permission: 'meter-reset.approve',
        params: IdParams,
        handler: ({ params, actor }) => prepaid.approveMeterReset(actor, params.id),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/meter-resets/:id/reject',
        summary: 'Reject a meter reset request',
        tags,
        permission: 'meter-reset.approve',
        params: IdParams,
        body: OptionalReason,
        handler: ({ params, body, actor }) => prepaid.rejectMeterReset(actor, params.id, body ?? {}),
      }),

    // ── Free quota ──
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/free-quota',
        summary: 'Credit free electricity for a month; it counts once a supervisor confirms it',
        tags,
        permission: 'free-quota.credit',
        body: z
          .object({
            account: Id,
            period: PeriodSchema,
            kwh: z.number().positive().max(100_000).describe('kWh, at most 3 decimals'),
          })
          .strict(),
        status: 201,
        handler: ({ body, actor }) => prepaid.creditFreeQuota(actor, body),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/free-quota/:id/confirm',
        summary: 'Confirm a free quota (not the person who credited it); it is booked in fen',
        tags,
        permission: 'free-quota.confirm',
        params: IdParams,
        handler: ({ params, actor }) => prepaid.confirmFreeQuota(actor, params.id),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/free-quota/:id/reject',
        summary: 'Reject a free-quota credit',
        tags,
        permission: 'free-quota.confirm',
        params: IdParams,
        body: OptionalReason,
        handler: ({ params, body, actor }) => prepaid.rejectFreeQuota(actor, params.id, body ?? {}),
      }),

    // ── Requests waiting for a second person ──
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/prepaid-requests',
        summary: 'Pending refund, meter-reset and free-quota requests, oldest first',
        tags,
        permission: 'accounts.view',
        query: z.object({ kind: z.enum(REQUEST_KINDS).optional() }).strict(),
        handler: ({ query }) => prepaid.pendingRequests(query.kind),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/prepaid-requests/:id',
        summary: 'One refund, meter-reset or free-quota request, whatever its state',
        tags,
        permission: 'accounts.view',
        params: IdParams,
        handler: ({ params }) => prepaid.request(params.id),
      }),

    // ── Handover ──
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/handover-reports',
        summary:
          "Print a handover report (audited): a clerk's entries for a local day or [from, to), with totals",
        tags,
        permission: 'handover.report',
        body: z
          .object({
            clerk: z.string().min(1).max(64).optional().describe('Whose shift; yourself unless given'),
            date: LocalDate.optional(),
            from: UtcMs.optional(),
            to: UtcMs.optional(),
          })
          .strict(),
        status: 201,
        handler: ({ body, actor }) => {
          const range = handoverRange(body, s.timezone);
          return prepaid.handoverReport(actor, { clerk: body.clerk ?? actor.id, ...range });
        },
      }),
  ];
}

/** The report's [from, to): a local calendar day, or the bounds given; exactly one of the two. */
function handoverRange(
  body: { date?: string; from?: number; to?: number },
  timezone: string,
): { from: number; to: number } {
  if (body.date !== undefined && body.from === undefined && body.to === undefined) {
    const [y, m, d] = body.date.split('-').map(Number) as [number, number, number];
    return { from: localTimeToUtc(timezone, y, m, d), to: localTimeToUtc(timezone, y, m, d + 1) };
  }
  if (body.date === undefined && body.from !== undefined && body.to !== undefined && body.from < body.to) {
    return { from: body.from, to: body.to };
  }
  throw new ServiceError('INVALID_REQUEST', 400, 'give either date, or from and to with from < to');
}
