import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { route } from '../../platform/http/route.ts';
import { Id, Text, UtcMs, UtcMsQuery } from '../../platform/http/schemas.ts';
import { EDIT_REASONS, type EditReason } from './edit.ts';
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
  ];
}
