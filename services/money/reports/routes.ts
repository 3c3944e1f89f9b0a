import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { CampusTree } from '../../metering/live/types.ts';
import type { ReadingStore } from '../../metering/storage.ts';
import type { ValidatedSource } from '../../metering/vee/types.ts';
import { route } from '../../platform/http/route.ts';
import type { BillingAccount } from '../billing/accounts.ts';
import { CUSTOMER_TYPES, type TariffTable } from '../billing/tariffs.ts';
import { energyReport, type EnergyReport } from './energy-report.ts';
import { parsePeriod, PERIOD_KINDS } from './period.ts';
import { reportCsv } from './report-csv.ts';
import type { ReportJob } from './report-job.ts';
import { reportTable, reportTitle } from './report-table.ts';
import { parseScope, type CustomerMeter } from './scope.ts';
import type { SettledIntervals } from './settled-intervals.ts';
import type { ClosedReports } from './closed-reports.ts';
import { xlsx } from './xlsx.ts';
import { inFlight } from './in-flight.ts';

/**
 * GET /api/reports/energy: the energy report of a day, month or year for the campus, a building
 * or a customer type, as JSON (the web page draws and prints it), CSV or XLSX; and
 * GET /api/reports/scopes, what a report can be asked for. Read by the director, supervisors,
 * billing and the business office (and operators and inspectors, who see the same readings).
 */

export interface ReportRouteDeps {
  tree: CampusTree;
  store: ReadingStore;
  /** The tariffs in force now (versions carry their effective dates, so a past period is priced as it was). */
  tariffs: () => TariffTable;
  /** A prepaid account's customer type if it is verified; undefined for no such account. */
  prepaidType: (account: string) => CustomerMeter['type'] | undefined;
  /** Post-paid accounts (the billing accounts file), read at each request. */
  billingAccounts: () => readonly BillingAccount[];
  validated?: ValidatedSource['intervals'];
  /** Settled intervals remembered between reports (one per process). */
  intervals?: SettledIntervals;
  /** Reports of closed periods kept while their inputs are unchanged (one per process). */
  closed?: ClosedReports;
  heatUnit: 'kWh' | 'GJ';
  clock: () => number;
  /**
   * Where a report is computed when not here (report-job.ts: a thread of its own), given what
   * lives in this process: the tariffs in force and each meter's customer.
   */
  offload?: (job: Omit<ReportJob, 'campus'>) => Promise<EnergyReport>;
}

/** Each meter's customer: post-paid accounts first (billing prices them), then prepaid accounts by the campus file's account. */
export function customersOf(deps: ReportRouteDeps): (meter: string) => CustomerMeter | undefined {
  const postPaid = new Map<string, CustomerMeter>();
  for (const a of deps.billingAccounts())
    for (const m of a.meters) postPaid.set(m.meter, { type: a.customerType, postPaid: true });
  const prepaid = new Map<string, CustomerMeter | undefined>();
  return (meter) => {
    const billed = postPaid.get(meter);
    if (billed) return billed;
    const account = deps.tree.nodes[meter]?.account;
    if (account === undefined) return undefined;
    if (!prepaid.has(account)) {
      const type = deps.prepaidType(account);
      prepaid.set(account, type ? { type, postPaid: false } : undefined);
    }
    return prepaid.get(account);
  };
}

const ReportQuery = z
  .object({
    period: z.enum(PERIOD_KINDS).describe('day: rows per hour; month: rows per day; year: rows per month'),
    date: z
      .string()
      .max(10)
      .describe('The day (YYYY-MM-DD), month (YYYY-MM) or year (YYYY), on the campus clock'),
    scope: z
      .string()
      .max(80)
      .default('campus')
      .describe('campus, building:<building meter id> or type:<customer type>'),
    format: z.enum(['json', 'csv', 'xlsx']).default('json'),
    lang: z.enum(['zh', 'en']).default('zh').describe('Language of the CSV and XLSX headers'),
  })
  .strict();

const tags = ['reports'];

export function reportRoutes(deps: ReportRouteDeps): ((app: FastifyInstance) => void)[] {
  // A yearly report is minutes of work on its thread: asked again while it runs, it is shared.
  const shared = inFlight<EnergyReport>();
  // The tariff table in force is part of what a shared report was computed from (a new version is
  // a new table object): a report asked after a version is approved is not the one priced before.
  const tariffVersions = new WeakMap<TariffTable, number>();
  let tablesSeen = 0;
  const versionOf = (t: TariffTable): number => {
    if (!tariffVersions.has(t)) tariffVersions.set(t, ++tablesSeen);
    return tariffVersions.get(t)!;
  };
  return [
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/reports/energy',
        summary:
          'Energy report of a day, month or year for the campus, a building or a customer type: consumption per utility row by row, cost at the tariff in force (integer fen), and the change against the previous period and the same period last year (null where there is no data)',
        tags,
        permission: 'readings.view',
        query: ReportQuery,
        handler: async ({ query, reply }): Promise<EnergyReport | string | Buffer> => {
          const tz = deps.tree.timezone;
          const scope = parseScope(query.scope, deps.tree);
          const period = parsePeriod(query.period, query.date, tz);
          const tariffs = deps.tariffs();
          const customerOf = customersOf(deps);
          const accountMeters = Object.values(deps.tree.nodes).filter((n) => n.account !== undefined);
          const customers = accountMeters
            .map((n) => `${n.id}=${JSON.stringify(customerOf(n.id) ?? null)}`)
            .join(';');
          const offload = deps.offload;
          const compute = offload
            ? () =>
                offload({
                  scope,
                  period,
                  tariffs,
                  customers: Object.keys(deps.tree.nodes).flatMap((m): [string, CustomerMeter][] => {
                    const c = customerOf(m);
                    return c ? [[m, c]] : [];
                  }),
                  validated: !!deps.validated,
                  now: deps.clock(),
                })
            : () =>
                energyReport(
                  {
                    ...{ tree: deps.tree, store: deps.store, tariffs, heatUnit: deps.heatUnit, customerOf },
                    ...(deps.validated ? { validated: deps.validated } : {}),
                    ...(deps.intervals ? { intervals: deps.intervals } : {}),
                    clock: deps.clock,
                  },
                  scope,
                  period,
                );
          const now = deps.clock();
          const postPaid = !!deps.validated && accountMeters.some((n) => customerOf(n.id)?.postPaid);
          const key = `${query.scope}|${period.kind}|${period.label}`;
          const report = await shared(`${key}|${versionOf(tariffs)}|${customers}`, () =>
            deps.closed
              ? deps.closed.get(key, { tariffs, customers, postPaid, periodEnd: period.to, now }, compute)
              : compute(),
          );
          if (query.format === 'json') return report;
          const title = reportTitle(report, query.lang);
          // An ASCII name: the scope's id with anything but letters, digits and - replaced.
          const base = `energy-report-${query.period}-${report.period.label}-${query.scope.replace(/[^A-Za-z0-9-]/g, '_')}`;
          reply.header('content-disposition', `attachment; filename="${base}.${query.format}"`);
          if (query.format === 'csv') {
            reply.type('text/csv; charset=utf-8');
            return reportCsv(report, query.lang, title);
          }
          reply.type('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
          const { header, rows } = reportTable(report, query.lang);
          return xlsx(report.period.label, title, header, rows);
        },
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/reports/scopes',
        summary:
          'What an energy report can cover: the campus, each building of the campus file, each customer type',
        tags,
        permission: 'readings.view',
        handler: () => ({
          campus: deps.tree.campus,
          timezone: deps.tree.timezone,
          buildings: Object.values(deps.tree.nodes)
            .filter((n) => n.role === 'building')
            .map((n) => ({ id: n.id, name: n.name, site: n.site, utility: n.kind }))
            .sort((a, b) => a.site.localeCompare(b.site) || a.name.localeCompare(b.name)),
          customerTypes: [...CUSTOMER_TYPES],
        }),
      }),
  ];
}
