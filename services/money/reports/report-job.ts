import { pino } from 'pino';
import type { LoadedCampus } from '../../../config/campus.ts';
import { campusTree } from '../../metering/live/tree.ts';
import { openStore } from '../../metering/open-store.ts';
import { campusVee } from '../../metering/vee/campus.ts';
import { openAuditLog } from '../../platform/audit/audit-log.ts';
import { auditKeyPath, backofficePath } from '../../platform/audit/paths.ts';
import { openBackofficeDb } from '../../platform/db.ts';
import { runOneShot, serveOneShot, siblingUrl } from '../../platform/threads/one-shot.ts';
import { pauseAfterWrites } from '../../platform/threads/paced-writes.ts';
import type { TariffTable } from '../billing/tariffs.ts';
import { energyReport, type EnergyReport } from './energy-report.ts';
import type { ReportPeriod } from './period.ts';
import type { CustomerMeter, ReportScope } from './scope.ts';

/**
 * An energy report on a thread of its own (platform/threads/one-shot.ts), like a bill run
 * (billing/bill-run-job.ts): a year of a campus is a year of readings to read and, for post-paid
 * meters, a year of VEE, which on the back office's loop held the API (and in the demo the
 * gateways and ingest) for minutes. The back office resolves what lives in its memory — the
 * tariff table in force, each meter's customer (post-paid accounts, verified prepaid types) —
 * and sends it with the job; the thread opens its own connections on the store and, for VEE, the
 * back office's database, and answers the report.
 */

export interface ReportJob {
  campus: LoadedCampus;
  scope: ReportScope;
  period: ReportPeriod;
  tariffs: TariffTable;
  /** Every meter with a customer, as the back office's `customerOf` answers. */
  customers: [string, CustomerMeter][];
  /** Post-paid meters priced from VEE's validated days (the back office has VEE). */
  validated: boolean;
  now: number;
}

const JOB = siblingUrl(import.meta.url, 'report-job');

export function runReportInThread(job: ReportJob): Promise<EnergyReport> {
  return runOneShot<EnergyReport>(JOB, job);
}

async function reportInThisThread(job: ReportJob): Promise<EnergyReport> {
  const { campus } = job;
  const store = await openStore(campus, pino({ level: 'silent' }));
  const db = job.validated
    ? openBackofficeDb(backofficePath(campus), { pace: pauseAfterWrites() })
    : undefined;
  try {
    const clock = () => job.now;
    const vee =
      db && campusVee({ campus, store, db, audit: openAuditLog(db, clock, auditKeyPath(campus)), clock });
    const customers = new Map(job.customers);
    return await energyReport(
      {
        tree: campusTree(campus),
        store,
        tariffs: job.tariffs,
        heatUnit: campus.config.reports.heatUnit,
        customerOf: (meter) => customers.get(meter),
        ...(vee ? { validated: (q) => vee.intervals(q) } : {}),
        clock,
      },
      job.scope,
      job.period,
    );
  } finally {
    db?.close();
    await store.close();
  }
}

serveOneShot(reportInThisThread);
