import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { route } from '../../platform/http/route.ts';
import { IdParams } from '../../platform/http/schemas.ts';
import type { CapacityApplications } from './capacity.ts';

/** Capacity-increase applications: record, review (with the year's peaks for the chart), approve twice, reject, work order done. */

const tags = ['capacity'];
const Note = z.object({ note: z.string().trim().min(1).max(2000) }).strict();

export function capacityRoutes(c: CapacityApplications): ((app: FastifyInstance) => void)[] {
  return [
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/capacity',
        summary: 'Capacity-increase applications, newest first, with their review and approvals',
        tags,
        permission: 'capacity.view',
        handler: () => c.list(),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/capacity',
        summary: "Record a customer's capacity-increase application at the window",
        tags,
        permission: 'capacity.apply',
        body: z
          .object({
            utility: z.enum(['electricity', 'water', 'heat']),
            meter: z.string().min(1).max(64).describe("The customer's meter"),
            applicant: z.string().trim().min(1).max(200),
            increase: z.number().int().positive().max(1_000_000).describe('Whole kVA, m³/h or m²'),
            reason: z.string().trim().min(1).max(2000),
            attachments: z
              .array(
                z
                  .object({ name: z.string().min(1).max(200), sha256: z.string().regex(/^[0-9a-f]{64}$/) })
                  .strict(),
              )
              .max(20)
              .optional(),
          })
          .strict(),
        status: 201,
        handler: ({ body, actor }) => c.apply(actor, body),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/capacity/:id/review',
        summary:
          "Review against the feeder's or transformer's peak and headroom over the last year (an operator)",
        tags,
        permission: 'capacity.review',
        params: IdParams,
        body: Note,
        handler: ({ params, body, actor }) => c.review(actor, params.id, body.note),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/capacity/:id/approve',
        summary: 'Approve (two supervisors, independent of the recorder, the reviewer and each other)',
        tags,
        permission: 'capacity.approve',
        params: IdParams,
        handler: ({ params, actor }) => c.approve(actor, params.id),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/capacity/:id/reject',
        summary: 'Reject, with the reason',
        tags,
        permission: 'capacity.approve',
        params: IdParams,
        body: Note,
        handler: ({ params, body, actor }) => c.reject(actor, params.id, body.note),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/capacity/:id/done',
        summary: 'The work order carried out (an operator)',
        tags,
        permission: 'capacity.review',
        params: IdParams,
        handler: ({ params, actor }) => c.done(actor, params.id),
      }),
  ];
}
