import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureAuditKey } from '../../services/platform/audit/audit-key.ts';
import { AuditLog, entryHash, entryMac, openAuditLog } from '../../services/platform/audit/audit-log.ts';
import { openBackofficeDb } from '../../services/platform/db.ts';
import { tempBackoffice } from './helpers.ts';

/**
 * The audit log against someone who can write its database file: the statements that would
 * replace a row are refused, and a row rewritten with the triggers gone and every later hash
 * recomputed is named by `verify` — the MAC key lives outside the database.
 */
function filled(n: number) {
  const t = tempBackoffice();
  const keyFile = join(t.dir, 'audit-key.json');
  const audit = openAuditLog(t.db, t.clock, keyFile);
  for (let i = 1; i <= n; i++)
    audit.append({
      actor: 'clerk.wang',
      action: 'ledger.topup',
      subject: `account:A${i}`,
      after: { fen: i * 100 },
    });
  return { ...t, audit, keyFile };
}

const row = (seq: number) =>
  `(${seq}, 0, 'mallory', 'ledger.topup', 'account:A1', NULL, '{"fen":1}', NULL, '${'0'.repeat(64)}', '${'1'.repeat(64)}', NULL)`;

describe('the audit log cannot be rewritten in place', () => {
  it.each([
    ['INSERT OR REPLACE', (seq: number) => `INSERT OR REPLACE INTO audit_log VALUES ${row(seq)}`],
    ['REPLACE', (seq: number) => `REPLACE INTO audit_log VALUES ${row(seq)}`],
    [
      'an upsert',
      (seq: number) =>
        `INSERT INTO audit_log VALUES ${row(seq)} ON CONFLICT (seq) DO UPDATE SET after = excluded.after`,
    ],
    ['a plain INSERT of a taken seq', (seq: number) => `INSERT INTO audit_log VALUES ${row(seq)}`],
  ])('%s of an existing entry is refused, on the service’s connection and on a fresh one', (_what, sql) => {
    const { db, path, audit } = filled(10);
    expect(() => db.exec(sql(5))).toThrow(/append-only|UNIQUE/);
    // Someone else's connection: default pragmas, as the sqlite3 shell has them.
    const raw = new Database(path);
    expect(() => raw.exec(sql(5))).toThrow(/append-only|UNIQUE/);
    raw.close();
    expect(audit.verify()).toMatchObject({ ok: true, entries: 10 });
    expect(audit.query({ afterSeq: 4, limit: 1 })[0]!.actor).toBe('clerk.wang');
  });

  it('names the rewritten entry, not the head, when every later hash was recomputed', () => {
    const { path, dir, keyFile, clock } = filled(600);
    const raw = new Database(path);
    raw.exec(
      'DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete; DROP TRIGGER audit_log_no_replace;',
    );
    // Entry 75 says something else now, and the chain after it is rebuilt to match.
    raw.prepare(`UPDATE audit_log SET after = '{"fen":1}' WHERE seq = 75`).run();
    const rows = raw.prepare('SELECT * FROM audit_log WHERE seq >= 75 ORDER BY seq').all() as {
      seq: number;
      at: number;
      actor: string;
      action: string;
      subject: string;
      before: string | null;
      after: string | null;
      reason: string | null;
    }[];
    let prevHash = raw.prepare('SELECT hash FROM audit_log WHERE seq = 74').pluck().get() as string;
    for (const r of rows) {
      const hash = entryHash({
        seq: r.seq,
        at: r.at,
        actor: r.actor,
        action: r.action,
        subject: r.subject,
        before: r.before === null ? null : JSON.parse(r.before),
        after: r.after === null ? null : JSON.parse(r.after),
        reason: r.reason,
        prevHash,
      });
      // Without the key the MACs can only be copied, dropped or guessed.
      raw.prepare('UPDATE audit_log SET prev_hash = ?, hash = ? WHERE seq = ?').run(prevHash, hash, r.seq);
      prevHash = hash;
    }
    raw.close();
    // Without the key the chain looks whole: that is the attack.
    const unkeyed = new AuditLog(new Database(path, { readonly: true }));
    expect(unkeyed.verify().ok).toBe(true);
    // With it, verify names entry 75.
    const keyed = new AuditLog(new Database(path, { readonly: true }), clock, ensureAuditKey(keyFile, 0));
    const result = keyed.verify();
    expect(result).toMatchObject({ ok: false, firstBroken: { seq: 75 } });
    expect(JSON.stringify(result)).toMatch(/without the key/);
    void dir;
  });

  it('entries carry a MAC from the key’s first entry on; older ones are covered by the chain and the published head', () => {
    const t = tempBackoffice();
    const old = new AuditLog(t.db, t.clock);
    for (let i = 0; i < 3; i++) old.append({ actor: 'a', action: 'x.y', subject: 's:1' });
    const keyFile = join(t.dir, 'audit-key.json');
    const audit = openAuditLog(t.db, t.clock, keyFile);
    audit.append({ actor: 'a', action: 'x.y', subject: 's:2' });
    const macs = t.db.prepare('SELECT seq, mac FROM audit_log ORDER BY seq').all() as {
      seq: number;
      mac: string | null;
    }[];
    expect(macs.map((m) => m.mac === null)).toEqual([true, true, true, false]);
    const key = ensureAuditKey(keyFile, 0);
    expect(key.since).toBe(4);
    const hash = t.db.prepare('SELECT hash FROM audit_log WHERE seq = 4').pluck().get() as string;
    expect(macs[3]!.mac).toBe(entryMac(key.key, hash));
    expect(audit.verify().ok).toBe(true);
    // A write by a program without the key (an entry after `since` with no MAC) is named.
    new AuditLog(openBackofficeDb(t.path), t.clock).append({
      actor: 'mallory',
      action: 'x.y',
      subject: 's:3',
    });
    expect(audit.verify()).toMatchObject({ ok: false, firstBroken: { seq: 5 } });
  });
});
