import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import {
  closeSync,
  openSync,
  readSync,
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';

/**
 * Consistent online copies of a campus's data directory (issue 17 item 4). Every SQLite file —
 * the back office, the reading store, outboxes, dead letters, the ingest ledger — is copied with
 * SQLite's online backup API, so the copy is one consistent snapshot of each file even while the
 * processes that own it keep writing (WAL); every other file (keys, the audit MAC key, the
 * broker's accounts) is copied as it is, with its mode. A manifest lists each file's SHA-256,
 * so a restore can tell a damaged or edited backup from a good one.
 *
 * The backup holds secrets (keys, passwords): its folder is 0700 and its files keep their modes.
 */

export interface BackupFile {
  /** Path inside the backup (and inside the data directory on restore). */
  path: string;
  kind: 'sqlite' | 'file';
  bytes: number;
  sha256: string;
}

export interface BackupManifest {
  format: 1;
  createdAt: number;
  files: BackupFile[];
  /** Whatever the caller records beside the files (the audit chain head). */
  notes: Record<string, unknown>;
}

export const MANIFEST = 'manifest.json';
/** SQLite's own side files: never copied (the backup API takes what is in them). */
const SIDE_FILE = /-(wal|shm|journal)$/;
const SQLITE_HEADER = 'SQLite format 3\u0000';

function isSqlite(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(16);
    return readSync(fd, head, 0, 16, 0) === 16 && head.toString('latin1') === SQLITE_HEADER;
  } finally {
    closeSync(fd);
  }
}

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const st = statSync(path);
    if (st.isDirectory()) walk(path, out);
    else if (st.isFile() && !SIDE_FILE.test(name)) out.push(path);
  }
  return out;
}

/**
 * Copies `dataDir` (and `extra` files kept elsewhere, e.g. an outbox on its own disk, stored
 * under `extra/`) into `dest`, which must not exist yet. Returns the manifest, not yet written:
 * the caller adds its notes and calls `writeManifest`.
 */
export async function backupDataDir(o: {
  dataDir: string;
  dest: string;
  extra?: { path: string; as: string }[];
  now?: () => number;
}): Promise<BackupManifest> {
  if (existsSync(o.dest)) throw new Error(`${o.dest} exists: a backup goes into a new folder`);
  mkdirSync(o.dest, { recursive: true, mode: 0o700 });
  const sources = walk(o.dataDir).map((path) => ({ path, as: relative(o.dataDir, path) }));
  for (const e of o.extra ?? []) if (existsSync(e.path)) sources.push(e);
  const files: BackupFile[] = [];
  for (const source of sources) {
    const target = join(o.dest, source.as);
    mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
    const sqlite = isSqlite(source.path);
    if (sqlite) {
      const db = new Database(source.path, { readonly: true, fileMustExist: true });
      try {
        await db.backup(target);
      } finally {
        db.close();
      }
    } else {
      copyFileSync(source.path, target);
    }
    chmodSync(target, statSync(source.path).mode & 0o777);
    files.push({
      path: source.as,
      kind: sqlite ? 'sqlite' : 'file',
      bytes: statSync(target).size,
      sha256: sha256(target),
    });
  }
  return { format: 1, createdAt: (o.now ?? Date.now)(), files, notes: {} };
}

export function writeManifest(dest: string, manifest: BackupManifest): void {
  writeFileSync(join(dest, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
}

/** Reads a backup's manifest and checks every file against it; throws naming the first that differs. */
export function checkBackup(dir: string): BackupManifest {
  const path = join(dir, MANIFEST);
  if (!existsSync(path)) throw new Error(`${dir} is not a backup: no ${MANIFEST}`);
  const manifest = JSON.parse(readFileSync(path, 'utf8')) as BackupManifest;
  if (manifest.format !== 1) throw new Error(`${path}: unknown backup format ${String(manifest.format)}`);
  for (const f of manifest.files) {
    const file = join(dir, f.path);
    if (!existsSync(file)) throw new Error(`backup damaged: ${f.path} is missing`);
    if (sha256(file) !== f.sha256)
      throw new Error(`backup damaged: ${f.path} differs from the manifest (SHA-256)`);
  }
  return manifest;
}

/**
 * Puts a checked backup's files into `dataDir` (extra files to where `extraTarget` says). A data
 * directory that already holds SQLite files is refused unless `replace`: then they are moved
 * aside into `dataDir/replaced-<time>/`, never deleted.
 */
export function restoreDataDir(o: {
  from: string;
  manifest: BackupManifest;
  dataDir: string;
  extraTarget?: (as: string) => string | undefined;
  replace?: boolean;
  now?: () => number;
}): { restored: number; movedAside: string | null } {
  mkdirSync(o.dataDir, { recursive: true, mode: 0o700 });
  const present = walk(o.dataDir).filter((p) => /\.sqlite$/.test(p));
  let movedAside: string | null = null;
  if (present.length > 0) {
    if (!o.replace) {
      throw new Error(
        `${o.dataDir} already holds ${present.length} SQLite file(s) (${relative(o.dataDir, present[0]!)}…): restore into an empty folder, or pass --replace to move them aside`,
      );
    }
    movedAside = join(
      o.dataDir,
      `replaced-${new Date((o.now ?? Date.now)()).toISOString().replace(/[:.]/g, '-')}`,
    );
    for (const p of walk(o.dataDir)) {
      const target = join(movedAside, relative(o.dataDir, p));
      mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
      renameSync(p, target);
      for (const side of ['-wal', '-shm']) if (existsSync(p + side)) renameSync(p + side, target + side);
    }
  }
  for (const f of o.manifest.files) {
    const target =
      (f.path.startsWith('extra/') ? o.extraTarget?.(f.path) : undefined) ?? join(o.dataDir, f.path);
    mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
    copyFileSync(join(o.from, f.path), target);
    chmodSync(target, statSync(join(o.from, f.path)).mode & 0o777);
  }
  return { restored: o.manifest.files.length, movedAside };
}
