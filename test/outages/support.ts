import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateCampus } from '../../config/campus.ts';
import { OutagesSettingsSchema } from '../../config/schemas/operations-desk.ts';
import { openAuditLog } from '../../services/platform/audit/audit-log.ts';
import type { Actor } from '../../services/platform/auth/roles.ts';
import { openBackofficeDb } from '../../services/platform/db.ts';
import { campusTree } from '../../services/metering/live/tree.ts';
import { PlannedOutages } from '../../services/operations/outages/outages.ts';
import { demoCampus } from '../../simulators/campus/demo-campus.ts';
import { auditAndRows, expectRefusedUnchanged } from '../helpers/refused.ts';

const user = (id: string, ...roles: Actor['roles']): Actor => ({ id, kind: 'user', roles });
export const operator = user('op.zhao', 'operator');
export const supervisor = user('sup.li', 'supervisor');
export const waterSupervisor = user('sup.water', 'supervisor');
/** Holds operator and supervisor: the four-eyes rule must still stop them approving their own plan. */
export const lead = user('lead.zhou', 'operator', 'supervisor');
export const clerk = user('clerk.wang', 'clerk');

export const HOUR = 3_600_000;
/** 1 December 2026 08:00 in Asia/Shanghai (00:00 UTC). */
export const T0 = Date.UTC(2026, 11, 1, 0, 0);

/** The demo campus (2 rooms per floor line), its tree, a fresh back-office database and a movable clock. */
export function setup(settings: unknown = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'outages-'));
  const ports = Array.from({ length: 20 }, (_, i) => 20_000 + i);
  const campus = validateCampus(demoCampus({ ports, dataDir: dir, roomsPerFloorLine: 2 }), {
    file: '(demo)',
    dir,
  });
  const time = { now: T0 };
  const clock = () => time.now;
  const db = openBackofficeDb(join(dir, 'backoffice.db'));
  const audit = openAuditLog(db, clock, join(dir, 'audit-key.json'));
  const tree = campusTree(campus);
  const outages = new PlannedOutages({
    db,
    audit,
    clock,
    tree,
    settings: OutagesSettingsSchema.parse(settings),
    accounts: () => new Map([['E-E1-101', ['PRE-E1-101']]]),
  });
  return { dir, campus, time, clock, db, audit, tree, outages };
}

export function expectRefused(db: ReturnType<typeof setup>['db'], code: string, fn: () => unknown) {
  return expectRefusedUnchanged(auditAndRows(db, 'planned_outages'), code, fn);
}
