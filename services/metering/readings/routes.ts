import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { route } from '../../platform/http/route.ts';
import { IdParams } from '../../platform/http/schemas.ts';
import type { ManualReadings } from './manual.ts';

const tags = ['readings'];

/**
 * Manual readings over HTTP. Drawing a round is done by the system (the actor recorded is
 * `system:manual-readings`); a supervisor triggers it ('readings.assign'). Readers enter readings under their own login ('readings.enter-manual').
 */
export function readingsRoutes(d: { readings: ManualReadings }): ((app: FastifyInstance) => void)[] {
  return [
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/readings/rounds',
        summary: 'Draw two readers at random (rotated) for the next round of a route',
        tags,
        permission: 'readings.assign',
        body: z
          .object({
            route: z.string().min(1).max(64),
            dueAt: z.number().int().positive(),
            pool: z.array(z.string().min(1).max(64)).min(2).max(200),
          })
          .strict(),
        status: 201,
        handler: ({ body }) => d.readings.drawRound(body),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/readings/my-rounds',
        summary: "The logged-in reader's open rounds, with the meters to read and which are entered",
        tags,
        permission: 'readings.enter-manual',
        handler: ({ actor }) => d.readings.roundsFor(actor.id, Date.now()),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/readings/routes',
        summary: 'The routes of meters read by hand',
        tags,
        permission: 'readings.assign',
        handler: () => d.readings.routeList(),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/readings/rounds/:id',
        summary: 'A round, its readers and the readings entered so far',
        tags,
        permission: 'readings.view',
        params: IdParams,
        handler: ({ params }) => ({
          ...d.readings.round(params.id),
          readings: d.readings.readings(params.id),
        }),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/readings/rounds/:id/readings',
        summary: 'Enter your reading of a meter of your round; disagreements raise an inspection alert',
        tags,
        permission: 'readings.enter-manual',
        params: IdParams,
        body: z
          .object({
            meter: z.string().min(1).max(64),
            value: z.number().finite().nonnegative(),
            readAt: z.number().int().positive().describe('UTC ms'),
          })
          .strict(),
        status: 201,
        handler: ({ params, body, actor }) => d.readings.enter(actor, { round: params.id, ...body }),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/readings/alerts',
        summary: "Manual-reading mismatch alerts ('manual-reading-mismatch')",
        tags,
        permission: 'alerts.view',
        query: z
          .object({
            round: z
              .string()
              .regex(/^[1-9][0-9]{0,15}$/)
              .transform(Number)
              .optional(),
            meter: z.string().max(64).optional(),
          })
          .strict(),
        handler: ({ query }) => d.readings.alerts(query),
      }),
  ];
}
