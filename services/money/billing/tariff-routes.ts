import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { route } from '../../platform/http/route.ts';
import { IdParams } from '../../platform/http/schemas.ts';
import { TariffProposalInput, type TariffStore } from './tariff-store.ts';

const tags = ['tariffs'];

/**
 * Tariffs over HTTP: the versions (billing and supervisors read them, 'billing.export'), proposals
 * by billing ('tariffs.edit'), approval by a second, independent person ('tariffs.approve') and
 * rejection (a supervisor, or the proposer withdrawing it). The store checks each rule again.
 */
export function tariffRoutes(store: TariffStore): ((app: FastifyInstance) => void)[] {
  return [
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/tariffs',
        summary: 'The tariff table in force: the latest approved version',
        tags,
        permission: 'billing.export',
        handler: () => store.version(store.currentVersion()),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/tariffs/versions',
        summary: 'Every tariff version, newest first, with who proposed and who approved it',
        tags,
        permission: 'billing.export',
        handler: () => store.versions(),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/tariffs/proposals',
        summary: 'Tariff change proposals, newest first, with what each would change',
        tags,
        permission: 'billing.export',
        query: z.object({ status: z.enum(['pending', 'approved', 'rejected', 'stale']).optional() }).strict(),
        handler: ({ query }) => store.proposals(query.status),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/tariffs/proposals',
        summary:
          'Propose a tariff change: a whole table, or one tariff version with its effective date; in force only once another person approves',
        tags,
        permission: 'tariffs.edit',
        body: TariffProposalInput,
        status: 201,
        handler: ({ body, actor }) => store.propose(actor, body),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/tariffs/proposals/:id/approve',
        summary: 'Approve a tariff change (a supervisor other than, and independent of, the proposer)',
        tags,
        permission: 'tariffs.approve',
        params: IdParams,
        handler: ({ params, actor }) => store.approve(actor, params.id),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/tariffs/proposals/:id/reject',
        summary: 'Reject a tariff change (a supervisor), or withdraw it (its proposer); nothing changes',
        tags,
        permission: 'authenticated',
        params: IdParams,
        body: z.object({ reason: z.string().trim().min(3).max(500) }).strict(),
        handler: ({ params, body, actor }) => store.reject(actor, params.id, body.reason),
      }),
  ];
}
