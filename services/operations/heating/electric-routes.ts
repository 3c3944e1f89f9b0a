import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { route } from '../../platform/http/route.ts';
import { IdParams } from '../../platform/http/schemas.ts';
import type { ElectricHeating } from './electric.ts';

/**
 * Units registered as heated electrically: the desk proposes, a supervisor approves or refuses, the
 * desk withdraws a proposal or ends an approved record; detection reads the approved ones.
 */

const tags = ['heating'];

export function electricHeatingRoutes(electric: ElectricHeating): ((app: FastifyInstance) => void)[] {
  return [
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/heating/electric',
        summary:
          'Electric heating records, newest first: proposals, approved, refused and withdrawn ones, with who proposed, decided and ended each',
        tags,
        permission: 'heating.view',
        handler: () => electric.list(),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/heating/electric',
        summary:
          'Propose a unit as heated electrically (its electricity meter), from now or a later date: once a supervisor approves it, detection stops judging its electricity against the cold',
        tags,
        permission: 'heating.apply',
        body: z
          .object({
            meter: z.string().min(1).max(64).describe("The unit's electricity meter"),
            applicant: z.string().trim().min(1).max(200),
            applicantStaffId: z.string().trim().min(1).max(64).optional(),
            reason: z.string().trim().min(1).max(2000).describe('The tariff or contract it is charged under'),
            from: z.number().int().optional().describe('UTC ms, not before now; absent: now'),
          })
          .strict(),
        status: 201,
        handler: ({ body, actor }) => electric.register(actor, body),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/heating/electric/:id/end',
        summary: 'End an electric heating registration now, with the reason: the unit is judged again',
        tags,
        permission: 'heating.apply',
        params: IdParams,
        body: z.object({ reason: z.string().trim().min(1).max(2000) }).strict(),
        handler: ({ params, body, actor }) => electric.end(actor, params.id, body.reason),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/heating/electric/:id/approve',
        summary:
          'Approve an electric heating proposal: a supervisor independent of the clerk who proposed it; in force from then (or its later start)',
        tags,
        permission: 'heating.electric-approve',
        params: IdParams,
        body: z.object({ reason: z.string().trim().min(1).max(2000).optional() }).strict(),
        handler: ({ params, body, actor }) => electric.approve(actor, params.id, body.reason),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/heating/electric/:id/refuse',
        summary: 'Refuse an electric heating proposal, with the reason: kept, never in force',
        tags,
        permission: 'heating.electric-approve',
        params: IdParams,
        body: z.object({ reason: z.string().trim().min(1).max(2000) }).strict(),
        handler: ({ params, body, actor }) => electric.refuse(actor, params.id, body.reason),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/heating/electric/:id/withdraw',
        summary:
          'Withdraw an electric heating proposal not yet decided, with the reason: kept, never in force',
        tags,
        permission: 'heating.apply',
        params: IdParams,
        body: z.object({ reason: z.string().trim().min(1).max(2000) }).strict(),
        handler: ({ params, body, actor }) => electric.withdraw(actor, params.id, body.reason),
      }),
  ];
}
