import { join } from 'node:path';
import { Users } from '../../services/platform/auth/users.ts';
import type { Actor, Role } from '../../services/platform/auth/roles.ts';
import { AlertStore } from '../../services/inspection/detection/alerts.ts';
import type { Finding } from '../../services/inspection/detection/types.ts';
import { Complaints } from '../../services/inspection/complaints/cases.ts';
import { MailDrop } from '../../services/inspection/complaints/mail-drop.ts';
import { tempBackoffice } from '../audit/helpers.ts';
import { auditAndRows, expectRefusedUnchanged } from '../helpers/refused.ts';

/**
 * The complaints desk over a fresh back-office database: real users (the desk checks who is of the
 * complaints staff or an inspector), a real alert store with one alert assigned to an inspector,
 * two known accounts and meters, and the tip mailbox in the test's temp folder.
 */

export const PASSWORD = 'correct horse battery staple';
export const person = (id: string, ...roles: Role[]): Actor => ({ id, kind: 'user', roles });
export const desk = person('ts.liu', 'complaints');
export const desk2 = person('ts.ma', 'complaints');
export const supervisor = person('sup.chen', 'supervisor');
export const inspector = person('insp.wang', 'inspector');
export const otherInspector = person('insp.he', 'inspector');
export const admin = person('admin.zhou', 'admin');

const finding: Finding = {
  type: 'illegal-load',
  key: 'illegal-load:E-E1-101',
  severity: 'high',
  meter: 'E-E1-101',
  score: 1.8,
  since: Date.UTC(2026, 10, 1),
  reason: 'resistive load of 1.8 kW',
  evidence: { from: 0, to: 1, figures: { deltaPKw: 1.8, incrementalPf: 0.999 } },
  suspects: [],
};

export async function setup(o: { afterRecord?: (file: string) => void; maxMessageBytes?: number } = {}) {
  const t = tempBackoffice();
  const users = new Users({ db: t.db, audit: t.audit, clock: t.clock, scryptCost: 1024 });
  for (const a of [desk, desk2, supervisor, inspector, otherInspector])
    await users.provisionUser({ username: a.id, displayName: a.id, roles: a.roles, password: PASSWORD });
  const alerts = new AlertStore(t.db, t.audit, t.clock);
  alerts.sync([finding]);
  const alertId = alerts.list()[0]!.id;
  alerts.assign(alertId, { inspector: inspector.id, actor: inspector });
  const complaints = new Complaints({
    ...{ db: t.db, audit: t.audit, clock: t.clock, timezone: 'Asia/Shanghai' },
    staff: (u) => users.getUser(u),
    alert: (id) => {
      try {
        return { assignee: alerts.get(id).assignee ?? '' };
      } catch {
        return null;
      }
    },
    accountExists: (id) => ['PRE-E1-101', 'HH-R1-201'].includes(id),
    meterExists: (id) => ['E-E1-101', 'E-R1-201'].includes(id),
  });
  const mailDir = join(t.dir, 'Maildir');
  const mail = new MailDrop({
    ...{ db: t.db, audit: t.audit, complaints, clock: t.clock, dir: mailDir },
    maxMessageBytes: o.maxMessageBytes ?? 1_000_000,
    ...(o.afterRecord ? { afterRecord: o.afterRecord } : {}),
  });
  return { ...t, users, alerts, alertId, complaints, mail, mailDir };
}

/** Runs `fn`, expects the coded refusal, and that nothing was written (no case change, no audit entry). */
export function expectRefused(db: ReturnType<typeof tempBackoffice>['db'], code: string, fn: () => unknown) {
  return expectRefusedUnchanged(auditAndRows(db, 'complaint_cases'), code, fn);
}
