import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { route } from '../../platform/http/route.ts';
import { Id, IdParams, Text } from '../../platform/http/schemas.ts';
import { proposalError } from './errors.ts';
import type { PolicyProposals, PolicyVersion } from './proposals.ts';
import type { ScheduleRunner } from './runner.ts';
import { upcoming } from './schedule-time.ts';

const tags = ['schedules'];
const Note = z.string().trim().max(500).optional();

export interface StandingPolicyRoutesDeps {
  proposals: PolicyProposals;
  runner: ScheduleRunner;
  timezone: string;
  clock: () => number;
  /** The version the campus file holds now of a subject (`schedule:<id>`, `power-limits`). */
  current: (subject: string) => PolicyVersion | undefined;
}

/**
 * Schedules and their approval: anyone who may request relay operations sees them and proposes
 * the current version; a supervisor other than the proposer approves or rejects it.
 */
export function standingPolicyRoutes(d: StandingPolicyRoutesDeps): ((app: FastifyInstance) => void)[] {
  const version = (subject: string): PolicyVersion =>
    d.current(subject) ?? proposalError('NOT_FOUND', `no ${subject} in the campus file`);
  return [
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/schedules',
        summary: 'Lights-out schedules: their approval state, what they want now, the coming nights',
        tags,
        permission: 'relay.request',
        handler: () =>
          d.runner.views().map((v) => ({
            id: v.schedule.id,
            name: v.schedule.name ?? null,
            schedule: v.schedule,
            sha256: v.sha256,
            meters: v.version.meters,
            skipped: v.skipped,
            status: v.status.state,
            proposal: v.status.state === 'not-approved' ? null : v.status.proposal,
            grant: v.status.state === 'approved' ? v.status.grant : null,
            phase: v.phase,
            upcoming: upcoming(v.schedule, d.clock(), d.timezone, 7),
          })),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/schedules/:id/proposals',
        summary: 'Propose the schedule as the campus file holds it now; it acts only once approved',
        tags,
        permission: 'relay.request',
        params: z.object({ id: Id }).strict(),
        body: z.object({ reason: Text }).strict(),
        status: 201,
        handler: ({ params, body, actor }) =>
          d.proposals.propose(actor, version(`schedule:${params.id}`), body.reason),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/power-limits/proposals',
        summary: 'Propose the power limits as the campus file holds them now',
        tags,
        permission: 'relay.request',
        body: z.object({ reason: Text }).strict(),
        status: 201,
        handler: ({ body, actor }) => d.proposals.propose(actor, version('power-limits'), body.reason),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/policy-proposals',
        summary: 'Proposals of schedules and power limits, newest first',
        tags,
        permission: 'relay.request',
        query: z
          .object({ state: z.enum(['pending', 'approved', 'rejected', 'withdrawn']).optional() })
          .strict(),
        handler: ({ query }) => d.proposals.list(query),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/policy-proposals/:id/approve',
        summary: 'Approve (not the proposer): grants the standing approval for exactly this version',
        tags,
        permission: 'relay.policy-approval',
        params: IdParams,
        body: z.object({ note: Note }).strict().optional(),
        handler: ({ params, body, actor }) => {
          const p = d.proposals.get(params.id);
          return d.proposals.approve(actor, params.id, version(p.subject), body?.note);
        },
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/policy-proposals/:id/reject',
        summary: 'Reject a proposal, with the reason',
        tags,
        permission: 'relay.policy-approval',
        params: IdParams,
        body: z.object({ reason: Text }).strict(),
        handler: ({ params, body, actor }) => d.proposals.reject(actor, params.id, body.reason),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/policy-proposals/:id/withdraw',
        summary: 'Withdraw your own pending proposal',
        tags,
        permission: 'relay.request',
        params: IdParams,
        body: z.object({ reason: Text }).strict(),
        handler: ({ params, body, actor }) => d.proposals.withdraw(actor, params.id, body.reason),
      }),
  ];
}
