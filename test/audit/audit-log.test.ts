import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AuditLog,
  entryHash,
  GENESIS_HASH,
  type AuditEntry,
} from '../../services/platform/audit/audit-log.ts';
import { canonicalJson } from '../../services/platform/audit/canonical-json.ts';
import { tempBackoffice } from './helpers.ts';

const opened: { close(): void }[] = [];
afterEach(() => {
  for (const db of opened.splice(0)) db.close();
});

function withEntries(n: number) {
  const t = tempBackoffice();
  opened.push(t.db);
  for (let i = 1; i <= n; i++) {
    t.advance(1000);
    t.audit.append({
      actor: 'wang.fang',
      action: 'ledger.topup',
      subject: `account:E1-${100 + i}`,
      before: { balanceFen: 0 },
      after: { balanceFen: 1000 * i },
      reason: i % 2 ? 'counter sale' : undefined,
    });
  }
  return t;
}

/** An insider with file access: a second connection, the triggers dropped. */
function insider(path: string) {
  const db = new Database(path);
  opened.push(db);
  db.exec('DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;');
  return db;
}

describe('audit log', () => {
  it('chains entries and verifies', () => {
    const { audit } = withEntries(5);
    const all = audit.query();
    expect(all.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(all[0]!.prevHash).toBe(GENESIS_HASH);
    for (let i = 1; i < all.length; i++) expect(all[i]!.prevHash).toBe(all[i - 1]!.hash);
    expect(audit.verify()).toEqual({ ok: true, entries: 5, head: audit.head() });
    expect(audit.head()).toMatchObject({ seq: 5, hash: all[4]!.hash });
  });

  it('an empty log verifies, and its head is null', () => {
    const t = tempBackoffice();
    opened.push(t.db);
    expect(t.audit.verify()).toEqual({ ok: true, entries: 0, head: null });
    expect(t.audit.verify({ seq: 0, hash: GENESIS_HASH }).ok).toBe(true);
  });

  it('refuses UPDATE and DELETE through the normal connection', () => {
    const { db } = withEntries(2);
    expect(() => db.prepare("UPDATE audit_log SET actor = 'x' WHERE seq = 1").run()).toThrow(/append-only/);
    expect(() => db.prepare('DELETE FROM audit_log WHERE seq = 2').run()).toThrow(/append-only/);
  });

  it('queries by subject, actor, action prefix, newest first, with a limit', () => {
    const { audit } = withEntries(6);
    audit.append({ actor: 'li.wei', action: 'relay.request', subject: 'relay-request:1' });
    expect(audit.query({ subject: 'account:E1-103' }).map((e) => e.seq)).toEqual([3]);
    expect(audit.query({ actor: 'li.wei' }).map((e) => e.action)).toEqual(['relay.request']);
    expect(audit.query({ action: 'ledger.' }).length).toBe(6);
    expect(audit.query({ action: 'ledger_' }).length).toBe(0);
    expect(audit.query({ limit: 2, newestFirst: true }).map((e) => e.seq)).toEqual([7, 6]);
    expect(audit.query({ limit: Number.NaN }).length).toBe(7);
  });

  it('a change and its audit entry roll back together', () => {
    const { db, audit } = withEntries(1);
    db.exec('CREATE TABLE balances (account TEXT PRIMARY KEY, fen INTEGER NOT NULL)');
    const topup = db.transaction((fen: number) => {
      db.prepare('INSERT INTO balances VALUES (?, ?)').run('E1-101', fen);
      audit.append({ actor: 'wang.fang', action: 'ledger.topup', subject: 'account:E1-101', after: { fen } });
      if (fen > 100_000) throw new Error('over the single-sale limit');
    });
    expect(() => topup(500_000)).toThrow(/limit/);
    expect(db.prepare('SELECT count(*) FROM balances').pluck().get()).toBe(0);
    expect(audit.head()?.seq).toBe(1);
    topup(5000);
    expect(audit.head()?.seq).toBe(2);
    expect(audit.verify().ok).toBe(true);
  });

  it('tells listeners only about committed entries', async () => {
    const { db, audit } = withEntries(1);
    const seen: AuditEntry[] = [];
    audit.onAppend((e) => seen.push(e));
    audit.onAppend(() => {
      throw new Error('a broken listener does not crash the process');
    });
    expect(() =>
      db.transaction(() => {
        audit.append({ actor: 'a', action: 'x.y', subject: 's:1' });
        throw new Error('rolled back');
      })(),
    ).toThrow('rolled back');
    db.transaction(() => audit.append({ actor: 'a', action: 'x.y', subject: 's:2' }))();
    await new Promise((r) => setImmediate(r));
    expect(seen.map((e) => [e.seq, e.subject])).toEqual([[2, 's:2']]);
  });

  it('stores before/after exactly as hashed, whatever the key order or a __proto__ key', () => {
    const { audit } = withEntries(0);
    const after = JSON.parse('{"b":1,"a":{"__proto__":{"x":1},"d":[3,{"z":1,"y":2}]}}') as unknown;
    const e = audit.append({ actor: 'a', action: 'x.y', subject: 's:1', after, before: new Date(0) });
    expect(canonicalJson(e.after)).toBe('{"a":{"__proto__":{"x":1},"d":[3,{"y":2,"z":1}]},"b":1}');
    expect(e.before).toBe('1970-01-01T00:00:00.000Z');
    expect(audit.query()[0]).toEqual(e);
    expect(audit.verify().ok).toBe(true);
  });

  it('keeps time monotonic when the clock steps back', () => {
    const { db, clock, advance } = withEntries(0);
    const audit = new AuditLog(db, clock);
    advance(10_000);
    audit.append({ actor: 'a', action: 'x.y', subject: 's:1' });
    advance(-5_000);
    expect(audit.append({ actor: 'a', action: 'x.y', subject: 's:2' }).at).toBe(clock() + 5_000);
  });
});

describe('audit log tampered by an insider with the SQLite file', () => {
  it('names an entry whose content was changed', () => {
    const { path, audit } = withEntries(5);
    insider(path).prepare(`UPDATE audit_log SET after = '{"balanceFen":999999}' WHERE seq = 3`).run();
    const r = audit.verify();
    expect(r).toMatchObject({ ok: false, firstBroken: { seq: 3 } });
    expect(!r.ok && r.firstBroken.problem).toMatch(/entry 3 was changed/);
    expect(audit.missingTriggers()).toEqual(['audit_log_no_update', 'audit_log_no_delete']);
  });

  it('names the entry after one whose hash was recomputed to fit its new content', () => {
    const { path, audit } = withEntries(5);
    const e3 = audit.query({ subject: 'account:E1-103' })[0]!;
    const forged = { ...e3, actor: 'someone.else' };
    const { hash: _h, ...content } = forged;
    const db = insider(path);
    db.prepare('UPDATE audit_log SET actor = ?, hash = ? WHERE seq = 3').run(
      'someone.else',
      // The insider can compute the hash too: the algorithm is no secret.
      entryHash(content),
    );
    expect(audit.verify()).toMatchObject({ ok: false, firstBroken: { seq: 4 } });
  });

  it('names a deleted middle entry', () => {
    const { path, audit } = withEntries(5);
    insider(path).prepare('DELETE FROM audit_log WHERE seq = 3').run();
    const r = audit.verify();
    expect(r).toMatchObject({ ok: false, firstBroken: { seq: 3 } });
    expect(!r.ok && r.firstBroken.problem).toMatch(/entry 3 missing/);
  });

  it('finds a deleted tail only with the published head', () => {
    const { path, audit } = withEntries(5);
    const published = audit.head()!;
    insider(path).prepare('DELETE FROM audit_log WHERE seq >= 4').run();
    expect(audit.verify().ok).toBe(true);
    const r = audit.verify(published);
    expect(r).toMatchObject({ ok: false, firstBroken: { seq: 4 } });
    expect(!r.ok && r.firstBroken.problem).toMatch(/ends at entry 3 but entry 5 was published/);
  });

  it('finds a tail rewritten after the head was published', () => {
    const { path, audit, clock } = withEntries(5);
    const published = audit.head()!;
    insider(path).prepare('DELETE FROM audit_log WHERE seq >= 5').run();
    // Re-appended with the service's own code, so the chain is whole again.
    const other = new Database(path);
    opened.push(other);
    new AuditLog(other, clock).append({ actor: 'x', action: 'ledger.topup', subject: 'account:E1-105' });
    expect(audit.verify().ok).toBe(true);
    expect(audit.verify(published)).toMatchObject({ ok: false, firstBroken: { seq: 5 } });
  });
});
