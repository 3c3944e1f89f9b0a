import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { route } from '../../platform/http/route.ts';
import type { Clock } from '../../platform/db.ts';
import { ServiceError } from '../../platform/errors.ts';
import type { PlannedOutages } from '../../operations/outages/outages.ts';
import { sendCached } from './cache.ts';
import { isPublic, noticeHtml, publicOutage, type PublicOutage } from './outage-notice.ts';

/**
 * The center's public window: routes without a login, each answer built from an allow-list and
 * served with an ETag and a short max-age (cache.ts).
 *
 * | GET | /public/outages.json | planned outages announced, under way and of the last 90 days |
 * | GET | /public/outages/:id/notice/:building?lang=zh|en | the printable notice for one building |
 */

const tags = ['public'];
const DAY = 86_400_000;
/** How long an ended or cancelled outage stays on the public list. */
const KEEP_MS = 90 * DAY;

export interface PublicDeps {
  outages: PlannedOutages;
  timezone: string;
  clock: Clock;
}

export function publicOutages(d: PublicDeps): PublicOutage[] {
  const now = d.clock();
  return d.outages
    .list({ endsAfter: now - KEEP_MS, limit: 500 })
    .filter(isPublic)
    .map((o) => publicOutage(o, d.outages.phase(o, now)))
    .sort((a, b) => a.startsAt - b.startsAt || a.id - b.id);
}

const Lang = z.object({ lang: z.enum(['zh', 'en']).default('zh') }).strict();

export function publicRoutes(d: PublicDeps): ((app: FastifyInstance) => void)[] {
  return [
    (app) =>
      route(app, {
        method: 'GET',
        url: '/public/outages.json',
        summary:
          'Planned water, power and heat outages: announced, under way, and of the last 90 days (no login)',
        tags,
        handler: ({ req, reply }) =>
          sendCached(
            req,
            reply,
            JSON.stringify({ timezone: d.timezone, outages: publicOutages(d) }),
            'application/json; charset=utf-8',
          ),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/public/outages/:id/notice/:building',
        summary:
          'The printable notice of a planned outage for one building, in Chinese or English (no login)',
        tags,
        params: z
          .object({
            id: z
              .string()
              .regex(/^[1-9][0-9]{0,9}$/, 'id is a positive whole number')
              .transform(Number),
            building: z.string().min(1).max(64),
          })
          .strict(),
        query: Lang,
        handler: ({ params, query, req, reply }) => {
          const o = publicOutages(d).find((x) => x.id === params.id);
          const html = o ? noticeHtml(o, params.building, query.lang, d.timezone) : null;
          if (!html) {
            throw new ServiceError(
              'NOTICE_NOT_FOUND',
              404,
              `no published outage ${params.id} for building ${params.building}`,
            );
          }
          return sendCached(req, reply, html, 'text/html; charset=utf-8');
        },
      }),
  ];
}
