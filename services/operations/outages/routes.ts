import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { route } from '../../platform/http/route.ts';
import { IdParams } from '../../platform/http/schemas.ts';
import type { Clock } from '../../platform/db.ts';
import type { OutageDelivery, OutageNotices } from './outage-notices.ts';
import type { PlannedOutage, PlannedOutages } from './outages.ts';

/** An email address as staff see it on the desk: enough to tell two apart, not to write to. */
export function maskEmail(address: string): string {
  const at = address.lastIndexOf('@');
  if (at < 1) return '***';
  return `${address[0]}***${address.slice(at)}`;
}

function noticeReport(deliveries: readonly OutageDelivery[]) {
  const counts: Record<string, Record<string, number>> = {};
  for (const x of deliveries) {
    const byStatus = (counts[x.kind] ??= {});
    byStatus[x.status] = (byStatus[x.status] ?? 0) + 1;
  }
  return {
    counts,
    deliveries: deliveries.map((x) => ({
      ...x,
      recipient: x.channel === 'email' ? maskEmail(x.recipient) : x.recipient,
    })),
  };
}

/**
 * The operations desk's outage routes (staff only; the public notice is served by
 * services/backoffice/public): list and read with the phase at the time of asking, plan, approve,
 * reject, cancel. Times are UTC ms; the web app shows them in the campus zone.
 */

const tags = ['outages'];
const Text = z.string().trim().min(1).max(2000);
const Ms = z.number().int().min(0).max(8_640_000_000_000);
const PlanBody = z
  .object({
    utility: z.enum(['electricity', 'water', 'heat']),
    node: z
      .string()
      .trim()
      .min(1)
      .max(64)
      .describe('A meter id of the metering tree (feeder, substation, building, riser)'),
    startsAt: Ms.describe('UTC ms'),
    endsAt: Ms.describe('UTC ms'),
    reason: Text,
  })
  .strict();

export function outageRoutes(d: {
  outages: PlannedOutages;
  clock: Clock;
  /** The notices to customers, once the back office has their channels (absent: none configured). */
  notices?: () => OutageNotices | undefined;
}): ((app: FastifyInstance) => void)[] {
  const withPhase = (o: PlannedOutage) => ({ ...o, phase: d.outages.phase(o, d.clock()) });
  return [
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/outages',
        summary: 'Planned outages, newest first, with where each stands now',
        tags,
        permission: 'outages.view',
        query: z
          .object({ state: z.enum(['planned', 'approved', 'rejected', 'cancelled']).optional() })
          .strict(),
        handler: ({ query }) => d.outages.list(query.state ? { state: query.state } : {}).map(withPhase),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/outages/:id',
        summary: 'One planned outage: everyone downstream, its approval and what the readings showed',
        tags,
        permission: 'outages.view',
        params: IdParams,
        handler: ({ params }) => withPhase(d.outages.get(params.id)),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/outages/:id/notices',
        summary:
          "Who was told of an outage and its withdrawal: each delivery's channel, status and tries (addresses masked), counted by status",
        tags,
        permission: 'outages.view',
        params: IdParams,
        handler: ({ params }) => {
          d.outages.get(params.id);
          return noticeReport(d.notices?.()?.deliveries(params.id) ?? []);
        },
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/outages',
        summary: 'Plan an outage on a node (an operator); it waits for a supervisor of the utility',
        tags,
        permission: 'outages.plan',
        body: PlanBody,
        status: 201,
        handler: ({ body, actor }) => withPhase(d.outages.plan(actor, body)),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/outages/:id/approve',
        summary: 'Approve (a supervisor of the utility, not the planner): publishes the notice',
        tags,
        permission: 'outages.approve',
        params: IdParams,
        body: z.object({ note: Text.optional() }).strict().optional(),
        handler: ({ params, body, actor }) => withPhase(d.outages.approve(actor, params.id, body?.note)),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/outages/:id/reject',
        summary: 'Reject a planned outage, with the reason',
        tags,
        permission: 'outages.approve',
        params: IdParams,
        body: z.object({ note: Text }).strict(),
        handler: ({ params, body, actor }) => withPhase(d.outages.reject(actor, params.id, body.note)),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/outages/:id/cancel',
        summary: 'Withdraw a plan (its planner) or cancel an approved outage before it starts (a supervisor)',
        tags,
        permission: 'authenticated',
        params: IdParams,
        body: z.object({ note: Text }).strict(),
        handler: ({ params, body, actor }) => withPhase(d.outages.cancel(actor, params.id, body.note)),
      }),
  ];
}
