import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { LoadedCampus } from '../../../config/campus.ts';
import type { AuditLog } from '../../platform/audit/audit-log.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import { loadBillingAccounts, type BillingAccount } from '../../money/billing/accounts.ts';
import { BillRuns } from '../../money/billing/bill-run.ts';
import { runBillRunInThread } from '../../money/billing/bill-run-job.ts';
import { InvoiceChecks, type SupplyPointInput } from '../../money/billing/invoice-check.ts';
import type { TariffStore } from '../../money/billing/tariff-store.ts';
import type { Vee } from '../../metering/vee/service.ts';

export interface BillingDeps {
  campus: LoadedCampus;
  db: BackofficeDb;
  audit: AuditLog;
  clock: Clock;
  /** The back office's tariffs: each bill run prices with the version in force when it starts. */
  tariffs: TariffStore;
  /** Validated readings: what is billed and what the utility's invoice is checked against. */
  vee: Vee;
  /** Post-paid accounts (YAML); default `billing-accounts.yaml` next to the campus file, if present. */
  accountsFile?: string;
  /** Utility supply points for the invoice check; default the campus file's billing.supplyPoints. */
  supplyPoints?: readonly SupplyPointInput[];
  /** Each bill run on a thread of its own (bill-run-job.ts) instead of this one. */
  inThread?: boolean;
}

export interface Billing {
  billRuns: BillRuns;
  invoices: InvoiceChecks;
  /** The post-paid accounts, read from their file at each call (edited without a restart). */
  accounts: () => readonly BillingAccount[];
}

/** Post-paid billing runs and the check of the utility's invoices, both from VEE's readings. */
export function createBilling(deps: BillingDeps): Billing {
  const { db, audit, clock, tariffs } = deps;
  const timezone = deps.campus.config.campus.timezone;
  const accountsFile = deps.accountsFile ?? join(dirname(deps.campus.file), 'billing-accounts.yaml');
  return {
    billRuns: new BillRuns({
      db,
      audit,
      tariffs: () => tariffs.current(),
      source: deps.vee,
      timezone,
      clock,
      ...(deps.inThread
        ? {
            offload: (actor, input, table) =>
              runBillRunInThread({ campus: deps.campus, actor, ...input, tariffs: table, now: clock() }),
          }
        : {}),
    }),
    invoices: new InvoiceChecks({
      db,
      audit,
      source: deps.vee,
      supplyPoints: deps.supplyPoints ?? deps.campus.config.billing.supplyPoints,
      timezone,
      clock,
    }),
    accounts: () => (existsSync(accountsFile) ? loadBillingAccounts(accountsFile) : []),
  };
}
