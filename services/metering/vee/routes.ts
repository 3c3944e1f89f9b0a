import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { route } from '../../platform/http/route.ts';
import { Id, IdParams, Text, UtcMs, UtcMsQuery } from '../../platform/http/schemas.ts';
import { EDIT_REASONS, type EditReason } from './edit.ts';
import { EXCHANGE_KINDS } from './exchanges.ts';
import type { Vee } from './service.ts';

const tags = ['vee'];

/** The registers VEE validates (CumulativeQuantity). */
const Register = z.enum(['energy_import_kwh', 'energy_export_kwh', 'volume_m3', 'heat_kwh']);
const Reason = z.enum(Object.keys(EDIT_REASONS) as [EditReason, ...EditReason[]]).describe(
  Object.entries(EDIT_REASONS)
    .map(([code, text]) => `${code}: ${text}`)
    .join('\n'),
);

const EditBody = z
  .object({
    meter: Id,
    quantity: Register,
    start: UtcMs.describe('Start of the 15-min interval (UTC ms)'),
    value: z.number().finite().nonnegative().describe('The interval’s consumption in the register’s unit'),
    reason: Reason,
    note: Text.describe('What was done and why, in words'),
    expectedVersion: z
      .number()
      .int()
      .positive()
      .optional()
      .describe('The version the editor saw; refused (409) if a newer one exists'),
  })
  .strict();

const HistoryQuery = z
  .object({
    meter: Id,
    quantity: Register,
    start: UtcMsQuery.describe('Start of the 15-min interval (UTC ms)'),
  })
  .strict();

const ExchangeBody = z
  .object({
    meter: Id,
    kind: z.enum(EXCHANGE_KINDS),
    at: UtcMs.describe('When the old register stopped and the new one started (UTC ms)'),
    registerBefore: z
      .number()
      .finite()
      .nonnegative()
      .describe('The old register at removal (or before the reset)'),
    registerAfter: z
      .number()
      .finite()
      .nonnegative()
      .describe('The new register at installation (or after the reset)'),
    newSerial: z
      .string()
      .trim()
      .min(1)
      .max(64)
      .optional()
      .describe('The new meter’s serial number (an exchange)'),
    note: Text.describe('Who did it and why'),
  })
  .strict();
const DecisionBody = z.object({ approve: z.boolean(), reason: Text.optional() }).strict();

/**
 * VEE over HTTP for supervisors: correcting one validated 15-min interval (a new version with a
 * reason code and a note, audited; see edit.ts) and every version of an interval. The intervals
 * themselves are served by the live API (GET /api/vee/intervals).
 */
export function veeRoutes(vee: Vee): ((app: FastifyInstance) => void)[] {
  return [
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/vee/edits',
        summary:
          'Correct one validated 15-min interval: a new version with a reason code and a note, audited',
        tags,
        permission: 'readings.edit',
        body: EditBody,
        status: 201,
        handler: ({ body, actor }) => vee.edit(actor, body),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/vee/history',
        summary: 'Every version of one 15-min interval, oldest first',
        tags,
        permission: 'readings.view',
        query: HistoryQuery,
        handler: ({ query }) => vee.history(query.meter, query.quantity, query.start),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/vee/exchanges',
        summary:
          'Record a post-paid meter exchange or reset with the registers read; it counts once a supervisor approves',
        tags,
        permission: 'meter-reset.request',
        body: ExchangeBody,
        status: 201,
        handler: ({ body, actor }) => vee.exchanges.request(actor, body),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/vee/exchanges/:id/decision',
        summary: 'Approve or reject a recorded exchange or reset (another, independent person)',
        tags,
        permission: 'meter-reset.approve',
        params: IdParams,
        body: DecisionBody,
        handler: ({ params, body, actor }) =>
          vee.exchanges.decide(actor, params.id, body.approve, body.reason),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/vee/exchanges',
        summary: 'Recorded meter exchanges and resets, by time',
        tags,
        permission: 'readings.view',
        query: z.object({ status: z.enum(['pending', 'approved', 'rejected']).optional() }).strict(),
        handler: ({ query }) => vee.exchanges.list(query.status),
      }),
  ];
}
