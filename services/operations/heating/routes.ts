import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Clock } from '../../platform/db.ts';
import { ServiceError } from '../../platform/errors.ts';
import { route } from '../../platform/http/route.ts';
import { IdParams } from '../../platform/http/schemas.ts';
import type { HeatingDesk } from './desk.ts';
import { FINDINGS, type SpotChecks } from './spot-checks.ts';

/** The heating desk: applications and work orders, the valve and signatures, stopped units, spot checks. */

const tags = ['heating'];
const Name = z.string().trim().min(1).max(64);

export function heatingDeskRoutes(
  desk: HeatingDesk,
  spots: SpotChecks,
  clock: Clock,
): ((app: FastifyInstance) => void)[] {
  const post = (url: string, summary: string, permission: 'heating.apply' | 'heating.work') => ({
    method: 'POST' as const,
    url: `/api/heating/applications/:id/${url}`,
    summary,
    tags,
    permission,
    params: IdParams,
  });
  return [
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/heating/applications',
        summary: 'Heating start/stop applications, newest first; mine=true: the work orders I am on',
        tags,
        permission: 'heating.view',
        query: z
          .object({ state: z.string().max(32).optional(), mine: z.enum(['true', 'false']).optional() })
          .strict(),
        handler: ({ query, actor }) =>
          desk.list({
            ...(query.state ? { state: query.state } : {}),
            ...(query.mine === 'true' ? { crewMember: actor.id } : {}),
          }),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/heating/applications',
        summary:
          "Record a household's heating start or stop application at the desk (a start waits for its fee unless on the payroll)",
        tags,
        permission: 'heating.apply',
        body: z
          .object({
            kind: z.enum(['start', 'stop']),
            unit: z.string().min(1).max(64).describe("The unit's heat meter"),
            applicant: z.string().trim().min(1).max(200),
            applicantStaffId: Name.optional().describe(
              "The applicant's user name when they are staff of the center",
            ),
            reason: z.string().trim().min(1).max(2000),
          })
          .strict(),
        status: 201,
        handler: ({ body, actor }) => desk.apply(actor, body),
      }),
    (app) =>
      route(app, {
        ...post(
          'dispatch',
          'Dispatch the work order to named maintenance staff (two at least for a stop)',
          'heating.apply',
        ),
        body: z.object({ crew: z.array(Name).min(1).max(10) }).strict(),
        handler: ({ params, body, actor }) => desk.dispatch(actor, params.id, body.crew),
      }),
    (app) =>
      route(app, {
        ...post(
          'valve',
          'Record the valve opened (start) or locked with its seal (stop) on site: the first signature of a stop',
          'heating.work',
        ),
        body: z
          .object({
            at: z.number().int().optional().describe('When it was done on site, UTC ms'),
            minutesAgo: z
              .number()
              .int()
              .min(0)
              .max(7 * 24 * 60)
              .optional()
              .describe(
                "Instead of at: minutes before now by the server's clock (a phone's clock is not trusted)",
              ),
            seal: z.string().trim().min(1).max(64).optional(),
            note: z.string().trim().max(500).optional(),
          })
          .strict(),
        handler: ({ params, body, actor }) => {
          const at =
            body.at ?? (body.minutesAgo === undefined ? undefined : clock() - body.minutesAgo * 60_000);
          if (at === undefined) throw new ServiceError('INVALID_REQUEST', 400, 'body: give at or minutesAgo');
          return desk.valve(actor, params.id, { ...body, at });
        },
      }),
    (app) =>
      route(app, {
        ...post(
          'sign',
          'Sign a locked stop (a second maintenance person of the crew); the signed stop is reported to inspection',
          'heating.work',
        ),
        handler: ({ params, actor }) => desk.sign(actor, params.id),
      }),
    (app) =>
      route(app, {
        ...post('household', "Record the household's signature on an opened start", 'heating.work'),
        body: z.object({ name: z.string().trim().min(1).max(200) }).strict(),
        handler: ({ params, body, actor }) => desk.householdSigned(actor, params.id, body.name),
      }),
    (app) =>
      route(app, {
        ...post('cancel', 'Cancel an application not yet carried out, with the reason', 'heating.apply'),
        body: z.object({ reason: z.string().trim().min(1).max(2000) }).strict(),
        handler: ({ params, body, actor }) => desk.cancel(actor, params.id, body.reason),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/heating/stopped',
        summary:
          'Units registered stopped (signed stops reported to inspection): what detection checks heat use against',
        tags,
        permission: 'heating.view',
        handler: () => desk.registrations(),
      }),
    ...spotCheckRoutes(spots),
  ];
}

function spotCheckRoutes(spots: SpotChecks): ((app: FastifyInstance) => void)[] {
  return [
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/heating/spot-checks',
        summary: "The inspectors' spot-check lists, newest first, with every candidate's evidence and weight",
        tags,
        permission: 'heating.spot-check',
        handler: () => spots.list(),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/heating/spot-checks',
        summary:
          "Draw a spot-check list of stopped units at random, weighted by their heat meters' evidence (seed recorded)",
        tags,
        permission: 'heating.spot-check',
        body: z
          .object({
            size: z.number().int().min(1).max(200),
            windowDays: z.number().int().min(1).max(180).optional(),
            seed: z.string().min(1).max(64).optional().describe('Absent: a random one, recorded'),
          })
          .strict(),
        status: 201,
        handler: ({ body, actor }) => spots.draw(actor, body),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/heating/spot-checks/:id/findings',
        summary: 'Record what was found at a drawn unit',
        tags,
        permission: 'heating.spot-check',
        params: IdParams,
        body: z
          .object({
            unit: z.string().min(1).max(64),
            outcome: z.enum(FINDINGS),
            note: z.string().trim().max(500).optional(),
          })
          .strict(),
        handler: ({ params, body, actor }) => spots.record(actor, params.id, body),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/heating/spot-checks/:id/verify',
        summary: 'Recompute a list from its recorded seed and weights: whether it is what was drawn',
        tags,
        permission: 'heating.view',
        params: IdParams,
        handler: ({ params }) => spots.verify(params.id),
      }),
  ];
}
