import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startField, type Field } from '../helpers/field.ts';
import { freePort } from '../helpers/ports.ts';
import { waitFor } from '../helpers/readings.ts';
import { exited, killHard, querySqlite, storedSeqs } from '../helpers/campus-cli.ts';

/**
 * Issue 17 item 4: `campus-energy backup` copies a running campus's data folder consistently
 * (every SQLite file through the online backup API, keys as they are) and records the audit head;
 * `restore` puts it back only after checking every file and the audit chain — a damaged file or
 * an edited audit entry is refused, and data already in place is moved aside, never overwritten.
 */

function cli(args: string[]): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, ['bin/campus-energy.js', ...args], { encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('backup and restore', () => {
  let field: Field;
  let run: ChildProcess | undefined;
  let config: string;
  let backup: string;
  const scratch = mkdtempSync(join(tmpdir(), 'campus-backup-'));

  /** The same campus with its data folder elsewhere: where a restore goes. */
  function campusAt(name: string): { file: string; dataDir: string } {
    const dataDir = join(scratch, name);
    const file = join(scratch, `${name}.yaml`);
    writeFileSync(file, stringify({ ...(parse(readFileSync(config, 'utf8')) as object), dataDir }));
    return { file, dataDir };
  }

  beforeAll(async () => {
    field = await startField({ concentrators: [{ transport: 'modbus-tcp', meters: 2 }], pollInterval: 250 });
    config = join(field.dir, 'campus.yaml');
    writeFileSync(config, field.yaml());
    const http = await freePort();
    run = spawn(
      process.execPath,
      [
        'bin/campus-energy.js',
        'run',
        '-c',
        config,
        '--broker-port',
        String(await freePort()),
        '--http',
        `127.0.0.1:${http}`,
        '--insecure-cookie',
        '--log-level',
        'error',
      ],
      {
        stdio: ['ignore', 'inherit', 'inherit'],
        // The first administrator: the back office writes audit entries from its first start.
        env: { ...process.env, CAMPUS_ADMIN_USER: 'admin', CAMPUS_ADMIN_PASSWORD: 'a-long-first-password-1' },
      },
    );
    const store = join(field.dir, 'store.sqlite');
    await waitFor(() => storedSeqs(store).length >= 20, 90_000, 'readings stored');
    await waitFor(
      () =>
        // [] until the back office has made its tables (querySqlite's "no such table").
        (querySqlite<{ n: number }>(
          join(field.dir, 'backoffice.sqlite'),
          'select count(*) as n from audit_log',
        )[0]?.n ?? 0) > 0,
      60_000,
      'audit entries',
    );
  }, 180_000);

  afterAll(async () => {
    await killHard(run);
    await field?.stop();
  });

  it('copies the running campus consistently and records the audit head', async () => {
    backup = join(scratch, 'backup-1');
    const r = cli(['backup', '-c', config, '-o', backup]);
    expect(r.status, r.out).toBe(0);
    const manifest = JSON.parse(readFileSync(join(backup, 'manifest.json'), 'utf8')) as {
      files: { path: string; kind: string; sha256: string }[];
      notes: { auditHead: { seq: number; hash: string } };
    };
    const paths = manifest.files.map((f) => f.path);
    for (const expected of ['backoffice.sqlite', 'store.sqlite', 'gw1-outbox.sqlite', 'audit-key.json']) {
      expect(paths).toContain(expected);
    }
    expect(manifest.files.find((f) => f.path === 'store.sqlite')?.kind).toBe('sqlite');
    expect(paths.some((p) => /-(wal|shm)$/.test(p))).toBe(false);
    expect(statSync(backup).mode & 0o777).toBe(0o700);
    // Each SQLite copy is a whole database by itself (no WAL needed), and its integrity holds.
    for (const f of manifest.files.filter((x) => x.kind === 'sqlite')) {
      const db = new Database(join(backup, f.path), { readonly: true });
      expect(db.pragma('integrity_check', { simple: true }), f.path).toBe('ok');
      db.close();
      expect(sha(join(backup, f.path))).toBe(f.sha256);
    }
    expect(manifest.notes.auditHead.seq).toBeGreaterThan(0);
  }, 180_000);

  it('restores into an empty folder: readings and the audit chain as they were copied', async () => {
    const target = campusAt('restored');
    const r = cli(['restore', '-c', target.file, '--from', backup]);
    expect(r.status, r.out).toBe(0);
    const copied = storedSeqs(join(backup, 'store.sqlite')).length;
    expect(storedSeqs(join(target.dataDir, 'store.sqlite')).length).toBe(copied);
    const verify = cli(['audit', 'verify', '-c', target.file]);
    expect(verify.status, verify.out).toBe(0);
    expect(verify.out).toMatch(/^OK: \d+ entries/m);
    // Restoring again over it is refused; with --replace the data there is moved aside.
    const again = cli(['restore', '-c', target.file, '--from', backup]);
    expect(again.status).not.toBe(0);
    expect(again.out).toMatch(/already holds .* SQLite file/);
    const replaced = cli(['restore', '-c', target.file, '--from', backup, '--replace']);
    expect(replaced.status, replaced.out).toBe(0);
    const aside = readdirSync(target.dataDir).filter((n) => n.startsWith('replaced-'));
    expect(aside).toHaveLength(1);
    expect(existsSync(join(target.dataDir, aside[0]!, 'store.sqlite'))).toBe(true);
  }, 180_000);

  it('refuses a damaged backup, naming the file', async () => {
    const damaged = join(scratch, 'backup-damaged');
    expect(cli(['backup', '-c', config, '-o', damaged]).status).toBe(0);
    const store = join(damaged, 'store.sqlite');
    const bytes = readFileSync(store);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 100) ^ 0xff, bytes.length - 100);
    writeFileSync(store, bytes);
    const r = cli(['restore', '-c', campusAt('from-damaged').file, '--from', damaged]);
    expect(r.status).not.toBe(0);
    expect(r.out).toMatch(/store\.sqlite differs from the manifest/);
  }, 180_000);

  it('refuses a backup whose audit log was edited, even with the manifest made to match', async () => {
    const edited = join(scratch, 'backup-edited');
    expect(cli(['backup', '-c', config, '-o', edited]).status).toBe(0);
    const file = join(edited, 'backoffice.sqlite');
    const db = new Database(file);
    // An insider with the file: drops the append-only triggers and rewrites an entry's actor.
    const triggers = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'")
      .pluck()
      .all() as string[];
    for (const t of triggers) db.exec(`DROP TRIGGER ${t}`);
    db.prepare("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 1").run();
    db.close();
    const manifestFile = join(edited, 'manifest.json');
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as {
      files: { path: string; sha256: string; bytes: number }[];
    };
    const entry = manifest.files.find((f) => f.path === 'backoffice.sqlite')!;
    entry.sha256 = sha(file);
    entry.bytes = statSync(file).size;
    writeFileSync(manifestFile, JSON.stringify(manifest));
    const target = campusAt('from-edited');
    const r = cli(['restore', '-c', target.file, '--from', edited]);
    expect(r.status).not.toBe(0);
    expect(r.out).toMatch(/audit chain is broken at entry 1/);
    expect(existsSync(join(target.dataDir, 'backoffice.sqlite'))).toBe(false);
  }, 180_000);

  it('the campus ran on while it was copied', async () => {
    run!.kill('SIGTERM');
    await exited(run!);
    expect(run!.exitCode).toBe(0);
  }, 60_000);
});
