import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Clock } from '../../platform/db.ts';
import { route } from '../../platform/http/route.ts';
import { IdParams } from '../../platform/http/schemas.ts';
import type { BillingAccount } from './accounts.ts';
import type { BillRuns } from './bill-run.ts';
import { buildDisclosure, disclosureCsv, disclosureHtml, LANGUAGES } from './disclosure.ts';
import { billingError } from './errors.ts';
import { EXPORT_LISTS, exportRun } from './export.ts';
import type { InvoiceChecks } from './invoice-check.ts';
import { monthsOfQuarter, parsePeriod } from './period.ts';
import type { TariffTable } from './tariffs.ts';

/** What the billing routes call. */
export interface BillingRouteDeps {
  billRuns: BillRuns;
  invoices: InvoiceChecks;
  /** The post-paid accounts as they are now (read from the accounts file at each run). */
  accounts: () => readonly BillingAccount[];
  /** The table in force, or where to read it at each request (the back office's TariffStore). */
  tariffs: TariffTable | (() => TariffTable);
  /** The campus zone. */
  timezone: string;
  clock?: Clock;
}

const tags = ['billing'];
const Period = z
  .string()
  .trim()
  .max(32)
  .describe('A month (2026-11) or dates (2026-11-05..2026-12-05, the second exclusive), campus time');
const RunParams = z.object({ id: z.string().regex(/^br-[A-Za-z0-9_-]{1,64}$/, 'a bill run id') }).strict();

/**
 * Post-paid billing over HTTP: bill runs and their exports ('billing.export'), the quarterly
 * disclosure ('billing.export') and the utility invoice check ('invoices.check'). The services
 * check the permission again.
 */
export function billingRoutes(d: BillingRouteDeps): ((app: FastifyInstance) => void)[] {
  const clock = d.clock ?? Date.now;
  return [
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/billing/runs',
        summary: 'Bill every post-paid account for a period; blocked meters are reported, not billed',
        tags,
        permission: 'billing.export',
        body: z.object({ period: Period }).strict(),
        status: 201,
        handler: async ({ body, actor }) => {
          const run = await d.billRuns.run(actor, {
            period: parsePeriod(body.period, d.timezone),
            accounts: d.accounts(),
          });
          return d.billRuns.list(run.period.label).find((s) => s.id === run.id);
        },
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/billing/runs',
        summary: 'Bill runs, newest first',
        tags,
        permission: 'billing.export',
        query: z.object({ period: Period.optional() }).strict(),
        handler: ({ query }) => d.billRuns.list(query.period),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/billing/runs/:id',
        summary: 'A bill run with every line (fen as integers)',
        tags,
        permission: 'billing.export',
        params: RunParams,
        handler: ({ params }) => d.billRuns.get(params.id),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/billing/runs/:id/export',
        summary: 'A bill run, its payroll-deduction list or its payment-notice list as CSV or JSON',
        tags,
        permission: 'billing.export',
        params: RunParams,
        query: z
          .object({
            format: z.enum(['csv', 'json']).default('csv'),
            list: z.enum(EXPORT_LISTS).default('all'),
          })
          .strict(),
        handler: ({ params, query, reply }) => {
          const run = d.billRuns.get(params.id);
          reply.type(query.format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8');
          reply.header(
            'content-disposition',
            `attachment; filename="${run.id}-${query.list}.${query.format}"`,
          );
          return exportRun(run, query.format, query.list);
        },
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/billing/runs/:id/verify',
        summary: "Whether a run's stored lines still match the digest in its audit entry",
        tags,
        permission: 'billing.export',
        params: RunParams,
        handler: ({ params }) => d.billRuns.verify(params.id),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/billing/disclosure',
        summary: "A quarter's readings, tariffs and charges per account, from its months' latest bill runs",
        tags,
        permission: 'billing.export',
        query: z
          .object({
            quarter: z.string().regex(/^\d{4}-Q[1-4]$/, 'a quarter like 2026-Q4'),
            format: z.enum(['csv', 'html']).default('html'),
            lang: z.enum(LANGUAGES).default('zh'),
          })
          .strict(),
        handler: ({ query, reply }) => {
          const months = monthsOfQuarter(query.quarter, d.timezone);
          const runs = months.map((m) => {
            const run = d.billRuns.latest(m.label);
            if (!run) billingError('BILL_RUN_NOT_FOUND', `no bill run for ${m.label}: bill the month first`);
            return run;
          });
          const disclosure = buildDisclosure({
            quarter: parsePeriod(query.quarter, d.timezone),
            runs,
            tariffs: typeof d.tariffs === 'function' ? d.tariffs() : d.tariffs,
            timezone: d.timezone,
          });
          if (query.format === 'csv') {
            reply.type('text/csv; charset=utf-8');
            return disclosureCsv(disclosure, query.lang);
          }
          reply.type('text/html; charset=utf-8');
          return disclosureHtml(disclosure, query.lang, clock());
        },
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/billing/invoice-checks',
        summary: "Enter a utility's invoice for a supply point and check it against the campus meters",
        tags,
        permission: 'invoices.check',
        body: z.object({ period: Period, invoice: z.unknown() }).strict(),
        status: 201,
        handler: ({ body, actor }) =>
          d.invoices.check(actor, { period: parsePeriod(body.period, d.timezone), invoice: body.invoice }),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/billing/invoice-checks',
        summary: 'Stored invoice checks, oldest first',
        tags,
        permission: 'invoices.check',
        query: z.object({ supplyPoint: z.string().max(64).optional() }).strict(),
        handler: ({ query }) => d.invoices.list(query.supplyPoint),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/billing/invoice-checks/:id',
        summary: 'One invoice check with its figures',
        tags,
        permission: 'invoices.check',
        params: IdParams,
        handler: ({ params }) => d.invoices.get(params.id),
      }),
  ];
}
