import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { LoadedCampus } from '../../../config/campus.ts';
import { campusTree } from '../../metering/live/tree.ts';
import type { ReadingStore } from '../../metering/storage.ts';
import type { ValidatedSource } from '../../metering/vee/types.ts';
import type { AuditLog } from '../../platform/audit/audit-log.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import { loadBillingAccounts } from '../billing/accounts.ts';
import { TariffStore } from '../billing/tariff-store.ts';
import type { Prepaid } from '../prepaid/prepaid.ts';
import { reportRoutes } from './routes.ts';
import { SettledIntervals } from './settled-intervals.ts';
import { ClosedReports } from './closed-reports.ts';
import { runReportInThread } from './report-job.ts';

/**
 * The report routes over a running back office: its campus file, store, prepaid accounts, VEE
 * and tariffs (read from the back office's versioned tariff table at each request, so an approved
 * change is in the next report).
 */
export interface CampusReportDeps {
  campus: LoadedCampus;
  store: ReadingStore;
  prepaid: Prepaid;
  vee: ValidatedSource;
  db: BackofficeDb;
  audit: AuditLog;
  clock?: Clock;
  /** Post-paid accounts; default `billing-accounts.yaml` next to the campus file, as billing reads it. */
  billingAccountsFile?: string;
  /** Each report on a thread of its own (report-job.ts) instead of this one. */
  inThread?: boolean;
}

export function campusReportRoutes(d: CampusReportDeps): ((app: FastifyInstance) => void)[] {
  const tariffs = new TariffStore({ db: d.db, audit: d.audit, ...(d.clock ? { clock: d.clock } : {}) });
  const accountsFile = d.billingAccountsFile ?? join(dirname(d.campus.file), 'billing-accounts.yaml');
  return reportRoutes({
    tree: campusTree(d.campus),
    store: d.store,
    tariffs: () => tariffs.current(),
    prepaidType: (account) => {
      try {
        const a = d.prepaid.account(account);
        // An unverified type is not yet known to be right (DOMAIN.md): it is not priced.
        return a.tariffType === 'verified' ? a.customerType : undefined;
      } catch {
        return undefined;
      }
    },
    billingAccounts: () => (existsSync(accountsFile) ? loadBillingAccounts(accountsFile) : []),
    validated: (q) => d.vee.intervals(q),
    intervals: new SettledIntervals(d.store),
    closed: new ClosedReports(),
    heatUnit: d.campus.config.reports.heatUnit,
    clock: d.clock ?? Date.now,
    ...(d.inThread ? { offload: (job) => runReportInThread({ campus: d.campus, ...job }) } : {}),
  });
}
