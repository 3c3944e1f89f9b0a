import { pino } from 'pino';
import type { LoadedCampus } from '../../../config/campus.ts';
import { openAuditLog } from '../../platform/audit/audit-log.ts';
import { auditKeyPath, backofficePath } from '../../platform/audit/paths.ts';
import type { Actor } from '../../platform/auth/roles.ts';
import { openBackofficeDb } from '../../platform/db.ts';
import { runOneShot, serveOneShot, siblingUrl } from '../../platform/threads/one-shot.ts';
import { pauseAfterWrites } from '../../platform/threads/paced-writes.ts';
import { openStore } from '../../metering/open-store.ts';
import { campusVee } from '../../metering/vee/campus.ts';
import type { BillingAccount } from './accounts.ts';
import { BillRuns } from './bill-run.ts';
import type { BillingPeriod } from './period.ts';
import type { TariffTable } from './tariffs.ts';

/**
 * A bill run on a thread of its own (platform/threads/one-shot.ts): the thread opens its own
 * connections on the campus's reading store and the back office's database, runs VEE and prices
 * every meter exactly as the back office would, records the run, its pins and audit entries there,
 * and answers with the run's id; the back office then reads the recorded run. The actor, the
 * accounts and the tariff table in force are the back office's, sent with the job, so the run is
 * priced from the version in force when it was asked, as in-process. The permission is checked
 * on both sides.
 *
 * Two connections write the back office's database during a run (this thread and the back
 * office's own), as they do when the billing CLI runs beside a back office: every write that reads
 * before it writes takes the write lock first (immediate transactions in the audit log, VEE's
 * versions and pins, the run's record), and the thread's transactions are kept short (VEE records
 * and pins per meter or per few thousand intervals), so the back office's own writes wait
 * milliseconds, not the run.
 */

export interface BillRunJob {
  campus: LoadedCampus;
  actor: Actor;
  period: BillingPeriod;
  accounts: readonly BillingAccount[];
  tariffs: TariffTable;
  /** The back office's clock when the run was asked: VEE's "now" and the run's createdAt. */
  now: number;
}

const JOB = siblingUrl(import.meta.url, 'bill-run-job');

/** Runs a bill run on a new thread; resolves with the recorded run's id. */
export function runBillRunInThread(job: BillRunJob, signal?: AbortSignal): Promise<string> {
  return runOneShot<string>(JOB, job, signal ? { signal } : {});
}

async function billInThisThread(job: BillRunJob): Promise<string> {
  const campus = job.campus;
  const store = await openStore(campus, pino({ level: 'silent' }));
  const db = openBackofficeDb(backofficePath(campus), { pace: pauseAfterWrites() });
  try {
    // The clock stands still at the moment the run was asked, as one consistent "now" for VEE.
    const clock = () => job.now;
    const audit = openAuditLog(db, clock, auditKeyPath(campus));
    const vee = campusVee({ campus, store, db, audit, clock });
    const runs = new BillRuns({
      db,
      audit,
      tariffs: job.tariffs,
      source: vee,
      timezone: campus.config.campus.timezone,
      clock,
    });
    const run = await runs.run(job.actor, { period: job.period, accounts: job.accounts });
    return run.id;
  } finally {
    db.close();
    await store.close?.();
  }
}

serveOneShot(billInThisThread);
