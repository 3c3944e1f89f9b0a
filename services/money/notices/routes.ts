import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { route } from '../../platform/http/route.ts';
import { Id } from '../../platform/http/schemas.ts';
import type { Notices } from './notices.ts';

/** The business office sees every notice sent to an account, and how each delivery went. */
export function noticeRoutes(notices: Notices): ((app: FastifyInstance) => void)[] {
  return [
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/notices',
        summary:
          'Notices to customers (low balance, cut-off ahead, restored), newest first, with their deliveries',
        tags: ['prepaid'],
        permission: 'accounts.view',
        query: z.object({ account: Id.optional() }).strict(),
        handler: ({ query }) => notices.list(query.account),
      }),
  ];
}
