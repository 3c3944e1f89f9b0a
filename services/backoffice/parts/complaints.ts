import { dirname, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { LoadedCampus } from '../../../config/campus.ts';
import type { AuditLog } from '../../platform/audit/audit-log.ts';
import type { Users } from '../../platform/auth/users.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import { everyInterval } from '../../platform/timers.ts';
import { campusTree } from '../../metering/live/tree.ts';
import type { BillingAccount } from '../../money/billing/accounts.ts';
import type { Prepaid } from '../../money/prepaid/index.ts';
import type { AlertStore } from '../../inspection/detection/alerts.ts';
import { Complaints } from '../../inspection/complaints/cases.ts';
import { MailDrop } from '../../inspection/complaints/mail-drop.ts';
import { complaintsRoutes } from '../../inspection/complaints/routes.ts';
import type { RouteFn } from './api.ts';

/**
 * Complaints and tips (services/inspection/complaints) over the back office's users, alerts,
 * prepaid and post-paid accounts and the campus tree; the tip mailbox polled when the campus file
 * names one. A failed scan is logged and tried again at the next poll: the message stays in new/.
 */

export interface ComplaintsPartDeps {
  campus: LoadedCampus;
  db: BackofficeDb;
  audit: AuditLog;
  clock: Clock;
  users: Users;
  alerts: AlertStore;
  prepaid: Prepaid;
  /** The post-paid side: its accounts are read from their file at each call. */
  billing: { accounts: () => readonly BillingAccount[] };
  logger: Logger;
}

export interface ComplaintsPart {
  complaints: Complaints;
  mailDrop: MailDrop | null;
  routes: RouteFn[];
  stop(): Promise<void>;
}

export function createComplaints(deps: ComplaintsPartDeps): ComplaintsPart {
  const log = deps.logger.child({ component: 'complaints' });
  const settings = deps.campus.config.complaints;
  const tree = campusTree(deps.campus);
  const complaints = new Complaints({
    ...{ db: deps.db, audit: deps.audit, clock: deps.clock, timezone: deps.campus.config.campus.timezone },
    staff: (u) => deps.users.getUser(u),
    alert: (id) => {
      try {
        return { assignee: deps.alerts.get(id).assignee ?? '' };
      } catch {
        return null;
      }
    },
    accountExists: (id) => hasPrepaid(deps.prepaid, id) || deps.billing.accounts().some((a) => a.id === id),
    meterExists: (id) => tree.nodes[id] !== undefined,
  });
  const mailDrop = settings.mailDrop
    ? new MailDrop({
        ...{ db: deps.db, audit: deps.audit, complaints, clock: deps.clock },
        dir: resolve(dirname(deps.campus.file), settings.mailDrop),
        maxMessageBytes: settings.maxMessageBytes,
      })
    : null;
  // A failed scan leaves the messages in new/ for the next one.
  const timer = mailDrop
    ? everyInterval(
        'tip mailbox scan',
        settings.pollSeconds * 1000,
        async () => {
          const r = await mailDrop.scan();
          if (r.taken + r.duplicates + r.moved > 0) log.info(r, 'tip mailbox read');
        },
        log,
      )
    : null;
  void timer?.runNow();
  return {
    complaints,
    mailDrop,
    routes: complaintsRoutes(complaints, mailDrop, deps.campus.config.campus.timezone),
    // No new scan starts, and the one running finishes before the database closes.
    stop: async () => {
      await timer?.stop();
      await mailDrop?.idle();
    },
  };
}

function hasPrepaid(prepaid: Prepaid, id: string): boolean {
  try {
    prepaid.account(id);
    return true;
  } catch {
    return false;
  }
}
