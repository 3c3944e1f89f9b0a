import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { route } from '../../platform/http/route.ts';
import { IdParams } from '../../platform/http/schemas.ts';
import {
  ExplainSchema,
  FinanceRecordSchema,
  InspectionItemSchema,
  PrepareSchema,
  type Reconciliation,
} from './reconciliation.ts';

/**
 * The half-monthly reconciliation over HTTP. Signing names no single permission on the route (the
 * clerk, the assistant and the supervisor each sign their own step); the service checks the step's.
 */

const tags = ['reconciliation'];
const HalfParams = z
  .object({ half: z.string().trim().max(16).describe('2026-11-H1 or 2026-11-H2') })
  .strict();

export function reconciliationRoutes(r: Reconciliation): ((app: FastifyInstance) => void)[] {
  return [
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/reconciliation/reports',
        summary: 'Every report version, newest half month first (without figures)',
        tags,
        permission: 'reconciliation.view',
        handler: () => r.list(),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/reconciliation/halves/:half',
        summary: "A half month: its report versions with figures, finance's records and the inspection list",
        tags,
        permission: 'reconciliation.view',
        params: HalfParams,
        handler: ({ params }) => ({ ...r.records(params.half), reports: r.reports(params.half) }),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/reconciliation/finance-records',
        summary:
          'A cash deposit or bank record for a half month (finance); reverse a wrong one with a negative amount',
        tags,
        permission: 'reconciliation.finance-records',
        body: FinanceRecordSchema,
        status: 201,
        handler: ({ body, actor }) => r.recordFinance(actor, body),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/reconciliation/inspection-items',
        summary: "One line of the inspection department's list: paid on a notice in the half month",
        tags,
        permission: 'reconciliation.inspection-list',
        body: InspectionItemSchema,
        status: 201,
        handler: ({ body, actor }) => r.recordInspection(actor, body),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/reconciliation/reports',
        summary:
          'Prepare a new version of a half month’s report (after the half month; a reason after the first)',
        tags,
        permission: 'reconciliation.prepare',
        body: PrepareSchema,
        status: 201,
        handler: ({ body, actor }) => r.prepare(actor, body),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/reconciliation/reports/:id',
        summary: 'A report version: figures in fen, differences, explanations, signatures, the next step',
        tags,
        permission: 'reconciliation.view',
        params: IdParams,
        handler: ({ params }) => r.report(params.id),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/reconciliation/reports/:id/explanations',
        summary: 'Explain one difference of an unsigned report',
        tags,
        permission: 'reconciliation.prepare',
        params: IdParams,
        body: ExplainSchema,
        status: 201,
        handler: ({ params, body, actor }) => r.explain(actor, params.id, body),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/reconciliation/reports/:id/sign',
        summary: 'Sign the next step: clerk, then assistant, then supervisor, three independent people',
        tags,
        permission: 'reconciliation.view',
        params: IdParams,
        handler: ({ params, actor }) => r.sign(actor, params.id),
      }),
  ];
}
