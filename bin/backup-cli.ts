import type { Command } from 'commander';
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { loadCampus, type LoadedCampus } from '../config/campus.ts';
import { AuditLog } from '../services/platform/audit/audit-log.ts';
import { readAuditKey } from '../services/platform/audit/audit-key.ts';
import { auditKeyPath, backofficePath } from '../services/platform/audit/paths.ts';
import {
  backupDataDir,
  checkBackup,
  restoreDataDir,
  writeManifest,
} from '../services/platform/backup/backup.ts';

interface BackupHelpers {
  guarded(fn: () => Promise<void>): Promise<void>;
}

/** Outbox files a campus keeps outside its data folder (gateway outbox.path), stored under extra/. */
function outsideFiles(campus: LoadedCampus): { path: string; as: string }[] {
  const out: { path: string; as: string }[] = [];
  for (const site of campus.config.sites) {
    for (const g of site.gateways) {
      if (!g.outbox.path) continue;
      const path = resolve(dirname(campus.file), g.outbox.path);
      if (!relative(campus.dataDir, path).startsWith('..')) continue;
      out.push({ path, as: join('extra', g.id, basename(path)) });
    }
  }
  return out;
}

/** The audit chain of the back-office database in `dir` (a backup or a data folder): verified, with its head. */
function auditOf(
  dir: string,
): { ok: true; head: { seq: number; hash: string } | null } | { ok: false; problem: string } {
  const path = backofficePath({ dataDir: dir });
  if (!existsSync(path)) return { ok: true, head: null };
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_log'").get();
    if (!table) return { ok: true, head: null };
    const log = new AuditLog(db, Date.now, readAuditKey(auditKeyPath({ dataDir: dir })));
    const result = log.verify();
    if (!result.ok)
      return { ok: false, problem: `entry ${result.firstBroken.seq}: ${result.firstBroken.problem}` };
    const head = log.head();
    return { ok: true, head: head ? { seq: head.seq, hash: head.hash } : null };
  } finally {
    db.close();
  }
}

/**
 * `campus-energy backup` and `campus-energy restore` (issue 17 item 4). A backup is taken online
 * (the campus keeps running) and records the audit chain's head as it was copied; a restore
 * checks every file against the manifest and the chain against that head before anything is put
 * in place, so a damaged backup, or one whose audit log was edited, is refused.
 */
export function registerBackupCommands(program: Command, h: BackupHelpers): void {
  program
    .command('backup')
    .description(
      'A consistent online copy of every data file (back office, store, outboxes, keys), with the audit head',
    )
    .requiredOption('-c, --config <file>', 'campus YAML file')
    .requiredOption('-o, --out <dir>', 'a new folder for the backup (0700: it holds keys)')
    .action((opts: { config: string; out: string }) =>
      h.guarded(async () => {
        const campus = loadCampus(opts.config);
        const dest = resolve(opts.out);
        const manifest = await backupDataDir({ dataDir: campus.dataDir, dest, extra: outsideFiles(campus) });
        const audit = auditOf(dest);
        if (!audit.ok)
          throw new Error(
            `the audit chain in the copy is broken at ${audit.problem}: backup kept in ${dest} for inspection`,
          );
        manifest.notes.auditHead = audit.head;
        manifest.notes.campus = campus.config.campus.name;
        writeManifest(dest, manifest);
        const bytes = manifest.files.reduce((n, f) => n + f.bytes, 0);
        console.log(
          `backup: ${manifest.files.length} files (${manifest.files.filter((f) => f.kind === 'sqlite').length} SQLite), ${(bytes / 1e6).toFixed(1)} MB in ${dest}`,
        );
        console.log(`  audit head: ${audit.head ? `${audit.head.seq}:${audit.head.hash}` : 'no audit log'}`);
      }),
    );

  program
    .command('restore')
    .description(
      'Put a backup back after checking every file and the audit chain; refuses a damaged or edited backup',
    )
    .requiredOption('-c, --config <file>', 'campus YAML file (its dataDir is restored into)')
    .requiredOption('--from <dir>', 'the backup folder')
    .option(
      '--replace',
      'move the data files already there aside (into dataDir/replaced-<time>/) instead of refusing',
    )
    .action((opts: { config: string; from: string; replace?: boolean }) =>
      h.guarded(async () => {
        const campus = loadCampus(opts.config);
        const from = resolve(opts.from);
        const manifest = checkBackup(from);
        const audit = auditOf(from);
        if (!audit.ok) throw new Error(`refused: the backup's audit chain is broken at ${audit.problem}`);
        const recorded = manifest.notes.auditHead as { seq: number; hash: string } | null | undefined;
        if (JSON.stringify(audit.head ?? null) !== JSON.stringify(recorded ?? null)) {
          throw new Error(
            `refused: the backup's audit head ${audit.head ? `${audit.head.seq}:${audit.head.hash}` : 'none'} is not the one recorded when it was taken (${recorded ? `${recorded.seq}:${recorded.hash}` : 'none'})`,
          );
        }
        const extra = new Map(outsideFiles(campus).map((e) => [e.as, e.path]));
        const result = restoreDataDir({
          from,
          manifest,
          dataDir: campus.dataDir,
          extraTarget: (as) => extra.get(as),
          replace: !!opts.replace,
        });
        console.log(
          `restored ${result.restored} files into ${campus.dataDir}; audit chain verified up to ${recorded ? recorded.seq : 0}`,
        );
        if (result.movedAside) console.log(`  the files that were there: ${result.movedAside}`);
      }),
    );
}
