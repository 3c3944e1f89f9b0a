import { join } from 'node:path';

/** The back office's one SQLite file (see services/backoffice/db.ts), in the campus data folder. */
export function backofficePath(campus: { readonly dataDir: string }): string {
  return join(campus.dataDir, 'backoffice.sqlite');
}
