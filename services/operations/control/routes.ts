import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { RelayActionSchema } from './commands.ts';
import type { RequestState } from './relay-control.ts';
import { route } from '../../platform/http/route.ts';
import type { RelayControl } from './relay-control.ts';
import { Id, IdParams, Text, UtcMs } from '../../platform/http/schemas.ts';

const tags = ['relay'];
const REQUEST_STATES = [
  'pending',
  'rejected',
  'cancelled',
  'approved',
  'sent',
  'done',
  'armed',
  'failed',
  'timed_out',
  'held',
] as const satisfies readonly RequestState[];
const Action = RelayActionSchema.describe('open: cut off; close: restore');
const Note = z.string().trim().max(500).optional();

/**
 * Cut-off and restore (DOMAIN.md): a relay moves only after a second person approves, and every
 * step is audited. `relay.approve` is what the route checks; for a request the prepaid policy
 * raised, the service additionally requires `relay.policy-approval`, and refuses the requester.
 * Power-room line operations and shift handover live here too: they are the duty operators' record.
 */
export function relayRoutes(s: { control: RelayControl }): ((app: FastifyInstance) => void)[] {
  const { control } = s;
  return [
    // ── Relay requests ──
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/relay-requests',
        summary: 'Ask for a cut-off (open) or restore (close); nothing moves until another person approves',
        tags,
        permission: 'relay.request',
        body: z.object({ meter: Id, action: Action, reason: Text }).strict(),
        status: 201,
        handler: ({ body, actor }) => control.request({ ...body, requestedBy: actor }),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/relay-requests',
        summary: 'Relay requests, oldest first, by state and meter',
        tags,
        permission: 'relay.request',
        query: z.object({ state: z.enum(REQUEST_STATES).optional(), meter: Id.optional() }).strict(),
        handler: ({ query }) => control.list(query),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/relay-requests/:id',
        summary: 'One relay request, with the relay state the gateway read back',
        tags,
        permission: 'relay.request',
        params: IdParams,
        handler: ({ params }) => control.get(params.id),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/relay-requests/:id/approve',
        summary: 'Approve (not the requester): the signed command is published before this answers',
        tags,
        permission: 'relay.approve',
        params: IdParams,
        body: z.object({ note: Note }).strict().optional(),
        handler: ({ params, body, actor }) => control.approve(actor, params.id, body?.note),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/relay-requests/:id/reject',
        summary: 'Reject a pending request, with the reason',
        tags,
        permission: 'relay.approve',
        params: IdParams,
        body: z.object({ reason: Text }).strict(),
        handler: ({ params, body, actor }) => control.reject(actor, params.id, body.reason),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/relay-requests/:id/cancel',
        summary: 'Withdraw a pending request: your own, or anyone’s as an approver',
        tags,
        permission: 'relay.request',
        params: IdParams,
        body: z.object({ reason: Text }).strict(),
        handler: ({ params, body, actor }) => control.cancel(actor, params.id, body.reason),
      }),

    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/relay-holds',
        summary:
          'Why relays are held open (credit, schedule:<id>, power-limit, illegal-load, manual): a relay closes only when none is left',
        tags,
        permission: 'relay.request',
        query: z.object({ meter: Id.optional() }).strict(),
        handler: ({ query }) => (query.meter ? control.holds(query.meter) : control.allHolds()),
      }),

    // ── Standing approvals for policy-raised requests ──
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/policy-approvals',
        summary: 'Standing approvals in force for cut-offs and restores the prepaid policy raises',
        tags,
        permission: 'relay.request',
        handler: () => control.activePolicyApprovals(),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/policy-approvals',
        summary: 'Grant a standing approval for policy-raised requests within a scope',
        tags,
        permission: 'relay.policy-approval',
        body: z
          .object({
            scope: z
              .object({
                actions: z.array(Action).min(1).max(2),
                sites: z.array(Id).min(1).max(64).optional(),
                meters: z.array(Id).min(1).max(1000).optional(),
              })
              .strict()
              .describe('Neither sites nor meters: the whole campus'),
            reason: Text,
            until: UtcMs.optional(),
          })
          .strict(),
        status: 201,
        handler: ({ body, actor }) => control.grantPolicyApproval(actor, body),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/policy-approvals/:id/revoke',
        summary: 'Revoke a standing approval',
        tags,
        permission: 'relay.policy-approval',
        params: IdParams,
        body: z.object({ reason: Text }).strict(),
        handler: ({ params, body, actor }) => control.revokePolicyApproval(actor, params.id, body.reason),
      }),

    // ── Power-room line operations ──
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/line-operations',
        summary: 'Record a line cut or restore done in the power room; a second person confirms it',
        tags,
        permission: 'lines.record',
        body: z
          .object({
            line: Id,
            action: z.enum(['cut', 'restore']),
            reason: Text,
            at: UtcMs.describe('When it was done (UTC ms)'),
          })
          .strict(),
        status: 201,
        handler: ({ body, actor }) => control.recordLineOperation(actor, body),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/line-operations',
        summary: 'Line operation records, newest first (state=unconfirmed: waiting for a second person)',
        tags,
        permission: 'lines.confirm',
        query: z.object({ state: z.enum(['unconfirmed', 'confirmed', 'disputed']).optional() }).strict(),
        handler: ({ query }) => control.lineOperations(query.state ? { state: query.state } : {}),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/line-operations/:id',
        summary: 'One line operation record',
        tags,
        permission: 'lines.confirm',
        params: IdParams,
        handler: ({ params }) => control.lineOperation(params.id),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/line-operations/:id/confirm',
        summary: 'Confirm a line operation record (not the person who recorded it)',
        tags,
        permission: 'lines.confirm',
        params: IdParams,
        body: z.object({ note: Note }).strict().optional(),
        handler: ({ params, body, actor }) =>
          control.confirmLineOperation(actor, params.id, true, body?.note),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/line-operations/:id/dispute',
        summary: 'Dispute a line operation record, saying what is wrong',
        tags,
        permission: 'lines.confirm',
        params: IdParams,
        body: z.object({ note: Text }).strict(),
        handler: ({ params, body, actor }) =>
          control.confirmLineOperation(actor, params.id, false, body.note),
      }),

    // ── Shift handover ──
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/shift-handovers',
        summary: 'Hand over the shift: notes, and a snapshot of the requests and records still open',
        tags,
        permission: 'handover.report',
        body: z.object({ to: z.string().min(1).max(64), notes: Text }).strict(),
        status: 201,
        handler: ({ body, actor }) => control.handover(actor, body.to, body.notes),
      }),
  ];
}
