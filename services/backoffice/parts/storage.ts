import { mkdirSync } from 'node:fs';
import type { LoadedCampus } from '../../../config/campus.ts';
import { openAuditLog, type AuditLog } from '../../platform/audit/audit-log.ts';
import { auditKeyPath, backofficePath } from '../../platform/audit/paths.ts';
import { openBackofficeDb, type BackofficeDb, type Clock } from '../../platform/db.ts';

export interface StorageDeps {
  campus: LoadedCampus;
  clock: Clock;
}

export interface Storage {
  db: BackofficeDb;
  audit: AuditLog;
  /** The database file, for the start-up log line. */
  path: string;
  close(): void;
}

/** The back-office database in the campus data directory, and the audit log every service writes to. */
export function createStorage(deps: StorageDeps): Storage {
  mkdirSync(deps.campus.dataDir, { recursive: true });
  const path = backofficePath(deps.campus);
  const db = openBackofficeDb(path);
  // The MAC key lives beside the database, never in it (audit-key.ts).
  const audit = openAuditLog(db, deps.clock, auditKeyPath(deps.campus));
  return { db, audit, path, close: () => db.close() };
}
