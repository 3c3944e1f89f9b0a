import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { route } from '../../platform/http/route.ts';
import type { HeatPurchase } from './purchase.ts';

/** Heat purchase: the heat-exchange stations and the supplier's monthly heat bills checked against them. */

const tags = ['heating'];

export function heatPurchaseRoutes(purchase: () => HeatPurchase): ((app: FastifyInstance) => void)[] {
  return [
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/heating/purchase/stations',
        summary:
          "Heat-exchange stations: each one's primary heat meter, the meters billed below it, the supply agreement",
        tags,
        permission: 'invoices.check',
        handler: () => purchase().listStations(),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/heating/purchase/checks',
        summary: 'Heat bills checked, newest first, with every difference named',
        tags,
        permission: 'invoices.check',
        handler: () => purchase().checks(),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/heating/purchase/checks',
        summary:
          "Enter the supplier's monthly heat bill (GJ, MWh or kWh) and check it against the station's primary meter",
        tags,
        permission: 'invoices.check',
        body: z.unknown(),
        status: 201,
        handler: ({ body, actor }) => purchase().check(actor, body),
      }),
  ];
}
