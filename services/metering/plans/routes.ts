import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { route } from '../../platform/http/route.ts';
import { IdParams } from '../../platform/http/schemas.ts';
import type { UsePlans } from './plans.ts';
import { yearEndHtml } from './report-html.ts';

/** The annual use plans' routes: list, propose, approve, reject, status against the plan, year-end report. */

const tags = ['plans'];
const Year = z.number().int().min(2000).max(2100);

export function planRoutes(plans: UsePlans): ((app: FastifyInstance) => void)[] {
  return [
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/plans',
        summary: 'Annual use plans, by unit',
        tags,
        permission: 'plans.view',
        query: z
          .object({
            year: z
              .string()
              .regex(/^\d{4}$/, 'a year like 2026')
              .transform(Number)
              .optional(),
          })
          .strict(),
        handler: ({ query }) => plans.list(query.year),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/plans',
        summary: "Propose a unit's annual plan (an operator); it waits for a supervisor",
        tags,
        permission: 'plans.propose',
        body: z
          .object({
            unit: z.string().trim().min(1).max(64),
            name: z.string().trim().min(1).max(200),
            utility: z.enum(['water', 'electricity']),
            year: Year,
            meters: z.array(z.string().min(1).max(64)).min(1).max(500),
            quantity: z.number().positive().max(1e9).describe('m³ or kWh for the year'),
          })
          .strict(),
        status: 201,
        handler: ({ body, actor }) => plans.propose(actor, body),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/plans/:id/approve',
        summary: 'Approve a plan (not its proposer); it replaces the unit’s earlier plan for the year',
        tags,
        permission: 'plans.approve',
        params: IdParams,
        handler: ({ params, actor }) => plans.approve(actor, params.id),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/plans/:id/reject',
        summary: 'Reject a plan, with the reason',
        tags,
        permission: 'plans.approve',
        params: IdParams,
        body: z.object({ note: z.string().trim().min(1).max(2000) }).strict(),
        handler: ({ params, body, actor }) => plans.reject(actor, params.id, body.note),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/plans/:id/status',
        summary: 'Use per month against the plan, the share used and the warning level (80, 100)',
        tags,
        permission: 'plans.view',
        params: IdParams,
        handler: ({ params }) => plans.status(plans.get(params.id)),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/plans/report',
        summary: "A unit's year-end report: its approved plan, use per month, over or under",
        tags,
        permission: 'plans.view',
        query: z
          .object({
            unit: z.string().min(1).max(64),
            utility: z.enum(['water', 'electricity']).default('water'),
            year: z
              .string()
              .regex(/^\d{4}$/, 'a year like 2026')
              .transform(Number),
            format: z.enum(['json', 'html']).default('json'),
            lang: z.enum(['zh', 'en']).default('zh'),
          })
          .strict(),
        handler: async ({ query, reply }) => {
          const report = await plans.yearEnd(query.unit, query.utility, query.year);
          if (query.format === 'json') return report;
          reply.type('text/html; charset=utf-8');
          return yearEndHtml(report, query.lang);
        },
      }),
  ];
}
