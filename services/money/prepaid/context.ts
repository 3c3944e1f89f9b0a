import type { AuditLog } from '../../platform/audit/audit-log.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import type { TariffTable } from '../billing/tariffs.ts';
import type { FreeQuotaSettings } from '../../../config/schemas/prepaid.ts';
import type { FreeQuotaRule } from './free-quota.ts';
import type { Policy } from './policy.ts';

/** What every part of the prepaid service works with: one database, its audit log, the tariffs, the clock. */
export interface PrepaidContext {
  db: BackofficeDb;
  audit: AuditLog;
  tariffs: TariffTable;
  clock: Clock;
  policy: Policy;
  quotaRules: readonly FreeQuotaRule[] | null;
  /** The campus file's cap on free quota per room and term. */
  freeQuota: FreeQuotaSettings;
  /** Runs `fn` in one transaction: a change and its audit entry commit together or not at all. */
  tx<T>(fn: () => T): T;
}
