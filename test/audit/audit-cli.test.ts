import Database from 'better-sqlite3';
import { Command } from 'commander';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { registerAuditCommands } from '../../bin/audit-cli.ts';
import { Users } from '../../services/platform/auth/users.ts';
import { tempBackoffice, tempCampusFile } from './helpers.ts';

/** Runs `campus-energy audit …` in-process; what it printed and the exit code it set. */
async function audit(...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  let code = 0;
  const program = new Command('campus-energy').exitOverride().configureOutput({ writeErr: () => {} });
  registerAuditCommands(program, {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    exitCode: (c) => {
      code = c;
    },
  });
  await program.parseAsync(['audit', ...args], { from: 'user' });
  return { out: out.join('\n'), err: err.join('\n'), code };
}

const cleanup: { close(): void }[] = [];
afterEach(() => {
  for (const c of cleanup.splice(0)) c.close();
});

function campusWithLog(entries: number) {
  const t = tempBackoffice();
  cleanup.push(t.db);
  for (let i = 1; i <= entries; i++) {
    t.advance(60_000);
    t.audit.append({
      actor: i % 2 ? 'wang.fang' : 'li.wei',
      action: i % 2 ? 'ledger.topup' : 'relay.request',
      subject: `account:E1-${100 + i}`,
      after: { n: i },
      reason: `entry ${i}`,
    });
  }
  return { ...t, config: tempCampusFile(t.dir) };
}

describe('campus-energy audit', () => {
  it('verify prints OK with the number of entries and the head', async () => {
    const { config, audit: log } = campusWithLog(4);
    const r = await audit('verify', '--config', config);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`OK: 4 entries, head 4:${log.head()!.hash}`);
  });

  it('verify exits 1 naming an edited entry and the dropped triggers, without touching the file', async () => {
    const { config, path } = campusWithLog(4);
    const db = new Database(path);
    cleanup.push(db);
    db.exec('DROP TRIGGER audit_log_no_update');
    db.prepare(`UPDATE audit_log SET after = '{"n":40}' WHERE seq = 2`).run();
    const r = await audit('verify', '-c', config);
    expect(r.code).toBe(1);
    expect(r.out).toContain('BROKEN at entry 2: entry 2 was changed after it was written');
    expect(r.out).toContain('audit_log_no_update dropped');
    // Read-only: the evidence (a missing trigger) is still there after the check.
    expect(db.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'").pluck().get()).toBe(2);
  });

  it('verify finds a deleted tail with --head from "audit head"', async () => {
    const { config, path } = campusWithLog(5);
    const head = (await audit('head', '-c', config)).out.split(' ')[0]!;
    expect(head).toMatch(/^5:[0-9a-f]{64}$/);
    const db = new Database(path);
    cleanup.push(db);
    db.exec('DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq = 5;');
    const r = await audit('verify', '-c', config, '--head', head);
    expect(r.code).toBe(1);
    expect(r.out).toContain('BROKEN at entry 5: the log ends at entry 4 but entry 5 was published');
  });

  it('verify exits 1 naming a user whose roles were changed behind the service', async () => {
    const { config, path, db, audit: log, clock } = campusWithLog(1);
    const users = new Users({ db, audit: log, clock, scryptCost: 2 ** 4 });
    await users.bootstrapAdmin('root', 'correct horse battery');
    const raw = new Database(path);
    cleanup.push(raw);
    raw.prepare(`UPDATE users SET roles = '["admin","supervisor"]'`).run();
    const r = await audit('verify', '-c', config);
    expect(r.code).toBe(1);
    expect(r.out).toContain('OK: 2 entries');
    expect(r.out).toContain(
      'BROKEN: user:root: roles ["supervisor","admin"] differ from the audited ["admin"]',
    );
  });

  it('verify accepts the retained head message as --head', async () => {
    const { config, audit: log } = campusWithLog(2);
    const r = await audit(
      'verify',
      '-c',
      config,
      '--head',
      JSON.stringify({ ...log.head(), publishedAt: 1 }),
    );
    expect(r.code).toBe(0);
  });

  it('verify refuses a malformed --head and a missing database with exit 2', async () => {
    const { config } = campusWithLog(1);
    expect(await audit('verify', '-c', config, '--head', '5:abc')).toMatchObject({ code: 2 });
    const other = tempBackoffice('other.sqlite');
    cleanup.push(other.db);
    const r = await audit('verify', '-c', tempCampusFile(other.dir));
    expect(r).toMatchObject({ code: 2 });
    expect(r.err).toMatch(/no back-office database at .*backoffice\.sqlite/);
  });

  it('a bad campus file exits 1 naming the file', async () => {
    const { dir } = campusWithLog(0);
    const r = await audit('head', '-c', `${dir}/nowhere.yaml`);
    expect(r.code).toBe(1);
    expect(r.err).toContain('nowhere.yaml: invalid configuration');
  });

  it('show lists the newest entries oldest first, filtered, in campus time', async () => {
    const { config } = campusWithLog(6);
    const r = await audit('show', '-c', config, '--actor', 'li.wei', '--limit', '2');
    const lines = r.out.split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      /^#4 2026-11-01 08:04 li\.wei relay\.request account:E1-104 \{"n":4\} \(entry 4\)$/,
    );
    expect(lines[1]).toMatch(/^#6 /);
    expect(
      (await audit('show', '-c', config, '--action', 'ledger.', '--subject', 'account:E1-103')).out,
    ).toMatch(/^#3 .* wang\.fang ledger\.topup account:E1-103/);
  });

  it('show refuses a bad --limit', async () => {
    const { config } = campusWithLog(1);
    await expect(audit('show', '-c', config, '--limit', 'lots')).rejects.toThrow(/--limit must be/);
  });

  // Through the real launcher once bin/cli.ts registers the commands.
  it.runIf(readFileSync('bin/cli.ts', 'utf8').includes('registerAuditCommands'))(
    'node bin/campus-energy.js audit verify exits 1 naming the deleted entry',
    () => {
      const { config, path } = campusWithLog(3);
      const db = new Database(path);
      cleanup.push(db);
      db.exec('DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq = 2;');
      const r = spawnSync(process.execPath, ['bin/campus-energy.js', 'audit', 'verify', '--config', config], {
        encoding: 'utf8',
      });
      expect(r.status).toBe(1);
      expect(r.stdout).toContain('BROKEN at entry 2: entry 2 missing');
    },
  );
});
