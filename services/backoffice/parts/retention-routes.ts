import type { RetentionConfig } from '../../../config/schemas/campus.ts';
import { route } from '../../platform/http/route.ts';
import type { RouteFn } from './api.ts';
import type { RetentionPart, RetentionRun } from './retention.ts';

export interface RetentionStatus {
  settings: RetentionConfig;
  /** The last run: what it deleted, or which hold source stopped it and why (null: none yet). */
  last: RetentionRun | null;
}

/**
 * GET /api/retention: where retention stands, for whoever reads the audit log (a run that deletes
 * is audited; one that a hold source stopped, such as ingest's gap ledger not being here, is not,
 * and this is where a supervisor sees it besides the log and /metrics).
 */
export function retentionRoutes(part: Pick<RetentionPart, 'last'>, settings: RetentionConfig): RouteFn[] {
  return [
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/retention',
        summary:
          'Retention of raw readings: its settings and its last run (readings deleted, holds, or the hold source that stopped it and why; the ingest gaps accepted unheld)',
        tags: ['storage'],
        permission: 'audit.view',
        handler: (): RetentionStatus => ({ settings, last: part.last() ?? null }),
      }),
  ];
}
