import type { AlertStore } from '../../inspection/detection/alerts.ts';
import type { AuditLog } from '../../platform/audit/audit-log.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import {
  ManualReadings,
  type ManualReadingAlert,
  type ReadingRoute,
} from '../../metering/readings/manual.ts';
import type { Vee } from '../../metering/vee/service.ts';

export interface ManualReadingsDeps {
  db: BackofficeDb;
  audit: AuditLog;
  clock: Clock;
  /** The automatic readings each manual one is compared with. */
  vee: Vee;
  /** The inspectors' inbox, where each mismatch lands too. */
  alerts: AlertStore;
  routes?: readonly ReadingRoute[];
}

/** Manual reading rounds, with every mismatch against the automatic reading raised as an alert. */
export function createManualReadings(deps: ManualReadingsDeps): ManualReadings {
  const readings = new ManualReadings({
    db: deps.db,
    audit: deps.audit,
    routes: deps.routes ?? [],
    automatic: deps.vee,
    clock: deps.clock,
  });
  // A favour reading is the inspectors' business: each mismatch lands in their inbox too.
  readings.onAlert((a) => deps.alerts.raise(mismatchAlert(a), a.createdAt));
  return readings;
}

function mismatchAlert(a: ManualReadingAlert): Parameters<AlertStore['raise']>[0] {
  return {
    type: 'manual-reading-mismatch',
    key: `manual-reading:${a.round}:${a.meter}:${a.kind}`,
    severity: 'medium',
    meter: a.meter,
    score: 1,
    since: a.createdAt,
    reason: a.reason,
    evidence: {
      from: Math.min(...a.evidence.readings.map((r) => r.readAt)),
      to: a.createdAt,
      figures: {
        round: a.round,
        route: a.route,
        kind: a.kind,
        difference: a.evidence.difference,
        allowed: a.evidence.allowed,
        ...(a.evidence.automatic === null ? {} : { automatic: a.evidence.automatic }),
        ...Object.fromEntries(a.evidence.readings.map((r) => [r.reader, r.value])),
      },
    },
  };
}
