import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../services/platform/audit/audit-log.ts';
import { readAuditKey } from '../../services/platform/audit/audit-key.ts';
import { STORE_MIGRATIONS } from '../../adapters/sqlite/store.ts';
import { OUTBOX_MIGRATIONS } from '../../gateway/outbox/outbox.ts';
import { BACKOFFICE_MIGRATIONS } from '../../services/platform/db.ts';
import { freePort } from '../helpers/ports.ts';
import { exited, killHard, querySqlite } from '../helpers/campus-cli.ts';

/**
 * Issue 17 item 4: this release starts on a data folder made by the previous one (the demo's,
 * test/upgrade/fixtures/) and carries on: its schema changes apply in place (each file gets this
 * release's schema version; adapters/sqlite/migrations.ts), the readings and the
 * audit chain of the previous release stay whole, its users still log in, and the gateways number
 * on where they stopped.
 */

const FIXTURE = new URL('./fixtures/demo-data-07ed489.tgz', import.meta.url);

function auditOf(dir: string): { ok: boolean; entries: number } {
  const db = new Database(join(dir, 'backoffice.sqlite'), { readonly: true });
  try {
    const r = new AuditLog(db, Date.now, readAuditKey(join(dir, 'audit-key.json'))).verify();
    return { ok: r.ok, entries: r.entries };
  } finally {
    db.close();
  }
}

function userVersion(file: string): number {
  const db = new Database(file, { readonly: true });
  try {
    return db.pragma('user_version', { simple: true }) as number;
  } finally {
    db.close();
  }
}

// Rows plus the readings moved into day chunks (schema version 2), where the file has them.
const readings = (dir: string) => {
  const file = join(dir, 'store.sqlite');
  const chunked =
    querySqlite<{ n: number }>(file, "select count(*) as n from sqlite_master where name = 'chunks'")[0]!.n >
    0;
  const sql = chunked
    ? 'select (select count(*) from readings) + (select coalesce(sum(n), 0) from chunks) as n'
    : 'select count(*) as n from readings';
  return querySqlite<{ n: number }>(file, sql)[0]!.n;
};
const nextSeqs = (dir: string) =>
  new Map(
    querySqlite<{ meter: string; next_seq: number }>(
      join(dir, 'gw-east-outbox.sqlite'),
      'select meter, next_seq from meter_seq',
    ).map((r) => [r.meter, r.next_seq]),
  );

describe('upgrading a data folder made by the previous release', () => {
  const root = mkdtempSync(join(tmpdir(), 'campus-upgrade-'));
  const dir = join(root, 'prevdata');
  let demo: ChildProcess | undefined;
  afterAll(async () => killHard(demo));

  it('starts on it, keeps its readings, audit chain and users, and numbers on', async () => {
    execFileSync('tar', ['xzf', FIXTURE.pathname, '-C', root]);
    const before = {
      readings: readings(dir),
      audit: auditOf(dir),
      seqs: nextSeqs(dir),
      versions: new Map(
        ['store.sqlite', 'gw-east-outbox.sqlite', 'backoffice.sqlite'].map((f) => [
          f,
          userVersion(join(dir, f)),
        ]),
      ),
    };
    expect(before.audit.ok).toBe(true);
    expect(before.readings).toBeGreaterThan(10_000);
    const httpPort = await freePort();
    let out = '';
    demo = spawn(
      process.execPath,
      [
        'bin/campus-energy.js',
        'demo',
        '--rooms',
        '2',
        '--history',
        '1',
        '--data-dir',
        dir,
        '--broker-port',
        String(await freePort()),
        '--http-port',
        String(httpPort),
        '--log-level',
        'error',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    demo.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    demo.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    for (let i = 0; !out.includes('Ctrl-C stops everything'); i++) {
      if (demo.exitCode !== null || i > 600)
        throw new Error(`the demo did not start on the old data:\n${out}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    // A user of the previous release logs in with the password it was given then.
    const users = JSON.parse(readFileSync(join(dir, 'demo-users.json'), 'utf8')) as {
      username: string;
      password: string;
    }[];
    const admin = users.find((u) => u.username === 'demo.admin')!;
    const login = await fetch(`http://127.0.0.1:${httpPort}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: `http://127.0.0.1:${httpPort}` },
      body: JSON.stringify({ username: admin.username, password: admin.password }),
    });
    expect(login.status, await login.clone().text()).toBe(201);
    // The gateways number on from where the previous release stopped, and ingest stores it.
    await new Promise((r) => setTimeout(r, 15_000));
    const after = nextSeqs(dir);
    for (const [meter, next] of before.seqs) expect(after.get(meter) ?? 0, meter).toBeGreaterThan(next);
    expect(readings(dir)).toBeGreaterThan(before.readings);
    demo.kill('SIGINT');
    await exited(demo);
    expect(demo.exitCode, out.slice(-2000)).toBe(0);
    // The previous release's audit entries are all there and the chain still verifies.
    const audit = auditOf(dir);
    expect(audit.ok).toBe(true);
    expect(audit.entries).toBeGreaterThanOrEqual(before.audit.entries);
    const db = new Database(join(dir, 'store.sqlite'), { readonly: true });
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.close();
    // Each file now carries the schema version of this release (the previous one had none).
    for (const [file, version] of [
      ['store.sqlite', STORE_MIGRATIONS.at(-1)!.version],
      ['gw-east-outbox.sqlite', OUTBOX_MIGRATIONS.at(-1)!.version],
      ['backoffice.sqlite', BACKOFFICE_MIGRATIONS.at(-1)!.version],
    ] as const) {
      expect(before.versions.get(file), file).toBe(0);
      expect(userVersion(join(dir, file)), file).toBe(version);
    }
  }, 240_000);
});
