import { join } from 'node:path';

/** The back office's one SQLite file (see services/backoffice/db.ts), in the campus data folder. */
export function backofficePath(campus: { readonly dataDir: string }): string {
  return join(campus.dataDir, 'backoffice.sqlite');
}

/** The audit log's MAC key (audit-key.ts), beside the database, never inside it. */
export function auditKeyPath(campus: { readonly dataDir: string }): string {
  return join(campus.dataDir, 'audit-key.json');
}
