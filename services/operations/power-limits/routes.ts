import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { route } from '../../platform/http/route.ts';
import { versionSha } from '../schedules/proposals.ts';
import type { Trips } from './trips.ts';
import type { PowerLimitWatcher } from './watcher.ts';

/** The power limits in force, their approval, and the latest trips (proposals: schedules/routes.ts). */
export function powerLimitRoutes(d: {
  watcher: PowerLimitWatcher;
  trips: Trips;
  limits: unknown;
}): ((app: FastifyInstance) => void)[] {
  return [
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/power-limits',
        summary: 'Power limits per customer type and room, their approval state and the latest trips',
        tags: ['schedules'],
        permission: 'relay.request',
        query: z.object({}).strict(),
        handler: () => {
          const status = d.watcher.status();
          return {
            limits: d.limits,
            sha256: versionSha(d.watcher.version()),
            status: status.state,
            proposal: status.state === 'not-approved' ? null : status.proposal,
            grant: status.state === 'approved' ? status.grant : null,
            trips: d.trips.recent(100),
          };
        },
      }),
  ];
}
