import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry, AuditSearch } from '../../services/platform/audit/audit-log.ts';
import { apiFixture, nameOf, PASSWORD, STAFF, type ApiFixture, type Staff } from '../api/routes/support.ts';

/**
 * Issue 24 item 5 on the server: the audit page's entries are filtered, counted and paged by the
 * database, and each person reads the entries of their own actions unless their role may read the
 * whole log. The search is checked against a recomputation by a different method (the whole log
 * read out and filtered here), and the rule against a clerk, a meter reader and a token.
 */

const HOUR = 3_600_000;
const ACTORS = ['clerk.test', 'clerk2.test', 'supervisor.test', 'system:policy'];
const ACTIONS = ['ledger.topup', 'ledger.refund', 'refund.request', 'relay.request', 'relay.approve'];
const SUBJECTS = ['account:E1-101', 'account:E1-102', 'account:E1_10', 'relay-request:7', 'relay-request:70'];

/** The same filter the long way: every entry, filtered in JavaScript, newest first. */
function byHand(all: AuditEntry[], q: AuditSearch): AuditEntry[] {
  return all
    .filter((e) => e.seq <= (q.maxSeq ?? Infinity))
    .filter((e) => q.actor === undefined || e.actor === q.actor)
    .filter((e) => q.action === undefined || e.action.startsWith(q.action))
    .filter((e) => q.subject === undefined || e.subject.startsWith(q.subject))
    .filter((e) => q.from === undefined || e.at >= q.from)
    .filter((e) => q.to === undefined || e.at < q.to)
    .sort((a, b) => b.seq - a.seq);
}

describe('audit entries: server-side search, paging and who may read what', () => {
  let f: ApiFixture;
  let t0: number;

  beforeAll(async () => {
    f = await apiFixture();
    t0 = f.clock();
    // 300 entries over 300 hours from a fixed rotation (no randomness: a failure reproduces).
    for (let i = 0; i < 300; i++) {
      f.advance(HOUR);
      f.audit.append({
        actor: ACTORS[i % ACTORS.length]!,
        action: ACTIONS[(i * 7) % ACTIONS.length]!,
        subject: SUBJECTS[(i * 3) % SUBJECTS.length]!,
        after: { amountFen: 100 * i },
        reason: `step ${i}`,
      });
    }
    // 300 hours later the fixture's sessions have expired: everyone logs in again.
    for (const who of [...Object.keys(STAFF), 'admin', 'admin2'] as Staff[])
      f.tokens[who] = (await f.users.login(nameOf(who), PASSWORD, { ip: '10.9.9.9' })).token;
  });

  afterAll(async () => {
    await f?.close();
  });

  it('finds, counts and pages exactly what a filter over the whole log finds', () => {
    const all = f.audit.query({ limit: 10_000 });
    const filters: AuditSearch[] = [
      {},
      { actor: 'clerk.test' },
      { action: 'ledger.' },
      { action: 'relay.approve' },
      { subject: 'account:' },
      { subject: 'relay-request:7' }, // a prefix: 7 and 70
      { subject: 'account:E1_' }, // "_" is a character: only account:E1_10
      { action: '%' }, // "%" is a character: nothing
      { from: t0 + 50 * HOUR, to: t0 + 120 * HOUR },
      { actor: 'supervisor.test', action: 'relay.', from: t0 + 10 * HOUR },
    ];
    for (const q of filters) {
      const want = byHand(all, q);
      const got: AuditEntry[] = [];
      let page = f.audit.search({ ...q, limit: 37 });
      for (;;) {
        expect(page.total, JSON.stringify(q)).toBe(want.length);
        got.push(...page.entries);
        if (page.offset + page.entries.length >= page.total) break;
        page = f.audit.search({ ...q, limit: 37, offset: page.offset + 37, maxSeq: page.maxSeq });
      }
      expect(
        got.map((e) => e.seq),
        JSON.stringify(q),
      ).toEqual(want.map((e) => e.seq));
    }
    expect(
      f.audit.search({ subject: 'account:E1_' }).entries.every((e) => e.subject === 'account:E1_10'),
    ).toBe(true);
    expect(f.audit.search({ action: '%' }).total).toBe(0);
  });

  it('keeps later pages where they were while entries are appended (maxSeq)', () => {
    const first = f.audit.search({ actor: 'clerk.test', limit: 10 });
    for (let i = 0; i < 5; i++)
      f.audit.append({ actor: 'clerk.test', action: 'ledger.topup', subject: 'account:E1-101' });
    const second = f.audit.search({ actor: 'clerk.test', limit: 10, offset: 10, maxSeq: first.maxSeq });
    expect(second.entries[0]!.seq).toBeLessThan(first.entries.at(-1)!.seq);
    expect(second.total).toBe(first.total);
    expect(f.audit.search({ actor: 'clerk.test' }).total).toBe(first.total + 5);
  });

  it('gives a clerk and a meter reader the entries of their own actions and nothing of anyone else', async () => {
    // What the clerk did through the API, and what a supervisor did to the same account.
    const own = await f.call('clerk', 'GET', '/api/audit/entries?limit=200');
    expect(own.statusCode, own.body).toBe(200);
    const body = own.json();
    expect(body.ownOnly).toBe(true);
    expect(body.total).toBe(byHand(f.audit.query({ limit: 10_000 }), { actor: nameOf('clerk') }).length);
    expect(new Set(body.entries.map((e: AuditEntry) => e.actor))).toEqual(new Set([nameOf('clerk')]));

    // On a subject others acted on too, still only the clerk's own entries.
    const onAccount = (
      await f.call('clerk', 'GET', '/api/audit/entries?subject=account:E1-101&limit=200')
    ).json();
    expect(onAccount.entries.length).toBeGreaterThan(0);
    expect(onAccount.entries.every((e: AuditEntry) => e.actor === nameOf('clerk'))).toBe(true);

    // Asking for another person's entries is refused by name, not answered with one's own.
    const other = await f.call('clerk', 'GET', '/api/audit/entries?actor=supervisor.test');
    expect(other.statusCode).toBe(403);
    expect(other.json()).toMatchObject({
      code: 'FORBIDDEN',
      message: expect.stringContaining('own actions only'),
    });
    expect((await f.call('clerk', 'GET', '/api/audit?limit=5')).statusCode).toBe(403);

    // The action filter offers the clerk's own actions only.
    const actions = (await f.call('clerk', 'GET', '/api/audit/actions')).json();
    expect(actions).toEqual(
      [
        ...new Set(byHand(f.audit.query({ limit: 10_000 }), { actor: nameOf('clerk') }).map((e) => e.action)),
      ].sort(),
    );

    // A meter reader reads their readings and their own log-ins, and no one else's.
    f.audit.append({ actor: nameOf('reader'), action: 'readings.manual-enter', subject: 'meter:E-1' });
    const reader = (await f.call('reader', 'GET', '/api/audit/entries')).json();
    expect(reader.entries[0].action).toBe('readings.manual-enter');
    expect(reader.entries.every((e: AuditEntry) => e.actor === nameOf('reader'))).toBe(true);
    expect(reader.entries.slice(1).every((e: AuditEntry) => e.action.startsWith('auth.'))).toBe(true);
  });

  it('gives whoever may read the log (supervisor, inspector) everyone, filtered by actor', async () => {
    const all = (await f.call('supervisor', 'GET', '/api/audit/entries?actor=clerk.test&limit=200')).json();
    expect(all.ownOnly).toBe(false);
    expect(all.total).toBe(byHand(f.audit.query({ limit: 10_000 }), { actor: 'clerk.test' }).length);
    const inspector = (await f.call('inspector', 'GET', '/api/audit/entries?action=relay.&limit=5')).json();
    expect(inspector.entries).toHaveLength(5);
    expect(inspector.entries.every((e: AuditEntry) => e.action.startsWith('relay.'))).toBe(true);
  });

  it('refuses anonymous callers, tokens without audit.view and pages over 200', async () => {
    expect((await f.call(null, 'GET', '/api/audit/entries')).statusCode).toBe(401);
    const token = await f.app.inject({
      method: 'GET',
      url: '/api/audit/entries',
      headers: { authorization: `Bearer ${await scopedToken(f)}` },
    });
    expect(token.statusCode, token.body).toBe(403);
    const big = await f.call('supervisor', 'GET', '/api/audit/entries?limit=201');
    expect(big.statusCode).toBe(400);
    expect(big.json().message).toContain('limit is 1 to 200');
    expect((await f.call('supervisor', 'GET', '/api/audit/entries?from=yesterday')).statusCode).toBe(400);
  });
});

/** An API token for billing exports only (made by one administrator, approved by the other). */
async function scopedToken(f: ApiFixture): Promise<string> {
  const proposed = await f.call('admin', 'POST', '/api/tokens', {
    name: 'export-only',
    roles: ['billing'],
    scopes: ['billing.export'],
  });
  expect(proposed.statusCode, proposed.body).toBe(202);
  const ok = await f.call('admin2', 'POST', `/api/user-requests/${proposed.json().id}/approve`);
  expect(ok.statusCode, ok.body).toBe(200);
  return ok.json().token.token as string;
}
