import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Clock } from '../../platform/db.ts';
import { route } from '../../platform/http/route.ts';
import type { HeatingFees } from './fees.ts';
import type { HeatingUnits } from './units.ts';

/** Certified heated areas and contracts (dated history), heating seasons and their fee runs. */

const tags = ['heating'];

export function heatingMoneyRoutes(d: {
  units: HeatingUnits;
  fees: HeatingFees;
  clock: Clock;
}): ((app: FastifyInstance) => void)[] {
  return [
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/heating/units',
        summary: "Every unit's certified area or contract in force now",
        tags,
        permission: 'heating.view',
        handler: () => d.units.allInForce(d.clock()),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/heating/units/:unit/history',
        summary: "A unit's certificates and contracts, oldest first (never overwritten)",
        tags,
        permission: 'heating.view',
        params: z.object({ unit: z.string().min(1).max(64) }).strict(),
        handler: ({ params }) => d.units.history(params.unit),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/heating/units',
        summary:
          'Certify a heated area (households) or record a heating contract (business, external), in force from a day',
        tags,
        permission: 'heating.units',
        body: z.unknown(),
        status: 201,
        handler: ({ body, actor }) => d.units.record(actor, body),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/heating/seasons',
        summary: 'Heating seasons, newest first, with their price per m²',
        tags,
        permission: 'heating.view',
        handler: () => d.fees.seasons(),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/heating/seasons',
        summary: "Define a heating season's days and price per m² (until its fees are computed)",
        tags,
        permission: 'heating.fees',
        body: z.unknown(),
        status: 201,
        handler: ({ body, actor }) => d.fees.defineSeason(actor, body),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/heating/seasons/:id/bill',
        summary:
          "Compute the season's fees once: a bill run (br-heat-<season>) that collection publishes as a fee table",
        tags,
        permission: 'heating.fees',
        params: z.object({ id: z.string().regex(/^\d{4}-\d{4}$/) }).strict(),
        status: 201,
        handler: ({ params, actor }) => d.fees.bill(actor, params.id),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/heating/fee-runs',
        summary: "Each season's fee run with its lines",
        tags,
        permission: 'heating.view',
        handler: () => d.fees.runs(),
      }),
  ];
}
