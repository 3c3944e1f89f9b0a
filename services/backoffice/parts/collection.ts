import type { LoadedCampus } from '../../../config/campus.ts';
import type { AuditLog } from '../../platform/audit/audit-log.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import type { BillRuns } from '../../money/billing/bill-run.ts';
import { Collection } from '../../money/collection/collection.ts';
import { collectionRoutes } from '../../money/collection/routes.ts';
import { Reconciliation } from '../../money/reconciliation/reconciliation.ts';
import { reconciliationRoutes } from '../../money/reconciliation/routes.ts';
import type { RouteFn } from './api.ts';

/**
 * Post-paid collection (fee tables, notices, payments, arrears, penalties) and the half-monthly
 * reconciliation of the business office's takings, over the back office's database and audit log;
 * the rules come from the campus file's `collection` section.
 */

export interface CollectionDeps {
  campus: LoadedCampus;
  db: BackofficeDb;
  audit: AuditLog;
  clock: Clock;
  /** Where a fee table's bill run is found (the bill runs, and the heating seasons' fee runs). */
  billRuns: Pick<BillRuns, 'get'>;
}

export interface CollectionSide {
  collection: Collection;
  reconciliation: Reconciliation;
  routes: RouteFn[];
}

export function createCollection(deps: CollectionDeps): CollectionSide {
  const { db, audit, clock } = deps;
  const timezone = deps.campus.config.campus.timezone;
  const collection = new Collection({
    ...{ db, audit, clock, timezone },
    settings: deps.campus.config.collection,
    runs: deps.billRuns,
  });
  const reconciliation = new Reconciliation({ db, audit, clock, timezone });
  return {
    collection,
    reconciliation,
    routes: [...collectionRoutes(collection), ...reconciliationRoutes(reconciliation)],
  };
}
