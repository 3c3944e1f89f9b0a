import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { route } from '../../platform/http/route.ts';
import { IdParams } from '../../platform/http/schemas.ts';
import type { Clock } from '../../platform/db.ts';
import type { PlannedOutages } from '../../operations/outages/outages.ts';
import { sendCached } from './cache.ts';
import { publicFail } from './errors.ts';
import type { BillRuns } from '../../money/billing/bill-run.ts';
import type { CapacityApplications } from '../../operations/capacity/capacity.ts';
import type { TariffStore } from '../../money/billing/tariff-store.ts';
import { isPublic, noticeHtml, publicOutage, type PublicOutage } from './outage-notice.ts';
import { disclosureHtml, windowHtml, type PublicWindow } from './page.ts';
import { publicCapacity, publicTariffs, publishedQuarters, quarterDisclosure } from './window.ts';
import { loadWindowData, type WindowData } from './window-data.ts';

/**
 * The center's public window: routes without a login, each answer built from an allow-list and
 * served with an ETag and a short max-age (cache.ts).
 *
 * | GET | /public/?lang=zh|en | the page (phone-first, printable, no script) |
 * | GET | /public/window.json | everything the page shows, as data |
 * | GET | /public/disclosure/:quarter?format=json|html | a published quarter's disclosure |
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
  campusName: string;
  /** The tariffs as approved (versions); absent: no tariff section. */
  tariffs?: TariffStore;
  /** The bill runs the quarterly disclosure is built from; absent: none published. */
  billRuns?: BillRuns;
  window?: WindowData;
  /** Capacity applications; the decided ones are public with their outcome. */
  capacity?: CapacityApplications;
}

/** The whole public window at this moment: what the page and /public/window.json show. */
export function publicWindow(d: PublicDeps): PublicWindow {
  const now = d.clock();
  const data = d.window ?? loadWindowData();
  const t = d.tariffs ? publicTariffs(d.tariffs, now, d.timezone) : { tariffs: [], versions: [] };
  return {
    campus: d.campusName,
    timezone: d.timezone,
    note: data.note,
    outages: publicOutages(d),
    tariffs: t.tariffs,
    tariffVersions: t.versions,
    feeStandards: data.feeStandards,
    procedures: data.procedures,
    capacityDecisions: d.capacity ? publicCapacity(d.capacity) : [],
    disclosures: d.billRuns ? publishedQuarters(d.billRuns, now, d.timezone) : [],
  };
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

export function publicRoutes(input: PublicDeps): ((app: FastifyInstance) => void)[] {
  // Read and checked once: a bad data file stops the start with its path.
  const d: PublicDeps = { ...input, window: input.window ?? loadWindowData() };
  return [
    (app) =>
      route(app, {
        method: 'GET',
        url: '/public/window.json',
        summary:
          'The public window: planned outages, tariffs in force and their history, fee standards, procedures, capacity decisions, published quarters (no login)',
        tags,
        handler: ({ req, reply }) =>
          sendCached(req, reply, JSON.stringify(publicWindow(d)), 'application/json; charset=utf-8'),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/public/',
        summary: 'The public window as a page for phones and print, in Chinese or English (no login)',
        tags,
        query: Lang,
        handler: ({ query, req, reply }) =>
          sendCached(req, reply, windowHtml(publicWindow(d), query.lang), 'text/html; charset=utf-8'),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/public/disclosure/:quarter',
        summary:
          "A quarter's disclosure as the rule publishes it: per account, readings and charges (no login)",
        tags,
        params: z.object({ quarter: z.string().regex(/^\d{4}-Q[1-4]$/, 'a quarter like 2026-Q4') }).strict(),
        query: z
          .object({
            format: z.enum(['json', 'html']).default('json'),
            lang: z.enum(['zh', 'en']).default('zh'),
          })
          .strict(),
        handler: ({ params, query, req, reply }) => {
          const published = d.billRuns ? publishedQuarters(d.billRuns, d.clock(), d.timezone) : [];
          const disclosure =
            published.includes(params.quarter) && d.billRuns && d.tariffs
              ? quarterDisclosure(d.billRuns, params.quarter, d.tariffs.current(), d.timezone)
              : null;
          if (!disclosure) {
            publicFail('DISCLOSURE_NOT_FOUND', `quarter ${params.quarter} is not published`);
          }
          return query.format === 'html'
            ? sendCached(req, reply, disclosureHtml(disclosure, query.lang), 'text/html; charset=utf-8')
            : sendCached(req, reply, JSON.stringify(disclosure), 'application/json; charset=utf-8');
        },
      }),
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
        params: IdParams.extend({ building: z.string().min(1).max(64) }),
        query: Lang,
        handler: ({ params, query, req, reply }) => {
          const o = publicOutages(d).find((x) => x.id === params.id);
          const html = o ? noticeHtml(o, params.building, query.lang, d.timezone) : null;
          if (!html) {
            publicFail(
              'NOTICE_NOT_FOUND',
              `no published outage ${params.id} for building ${params.building}`,
            );
          }
          return sendCached(req, reply, html, 'text/html; charset=utf-8');
        },
      }),
  ];
}
