import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog } from '../../services/platform/audit/audit-log.ts';
import { openBackofficeDb, type BackofficeDb } from '../../services/platform/db.ts';

/** A fresh back-office database in a temp folder, with a clock the test moves. */
export function tempBackoffice(file = 'backoffice.sqlite') {
  const dir = mkdtempSync(join(tmpdir(), 'campus-audit-'));
  const path = join(dir, file);
  const db: BackofficeDb = openBackofficeDb(path);
  let now = Date.UTC(2026, 10, 1, 0, 0, 0);
  const clock = () => now;
  const advance = (ms: number) => {
    now += ms;
  };
  const audit = new AuditLog(db, clock);
  return { dir, path, db, audit, clock, advance };
}

/** The example campus with its data folder moved to `dir`. */
export function tempCampusFile(dir: string): string {
  const file = join(dir, 'campus.yaml');
  writeFileSync(
    file,
    readFileSync('config/examples/campus.yaml', 'utf8').replace(/^dataDir: .*$/m, 'dataDir: .'),
  );
  return file;
}
