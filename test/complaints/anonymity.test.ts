import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceError } from '../../services/platform/errors.ts';
import { startDeskServer, type DeskServer } from '../web/desk-harness.ts';
import { composed, deliver } from './maildir.ts';

/**
 * The insider attacks on a tipster's anonymity, through the whole back office over HTTP: an
 * administrator, a supervisor, an inspector sent to the case and one who is not, the audit log,
 * the CSV export and every GET route of the OpenAPI document, each searched for any piece of the
 * two tipsters' identities (a hotline caller and an emailer) and the caller's own words. Only the
 * complaints staff read them, each read audited.
 */

const NOW = Date.UTC(2026, 11, 1, 2);
const CALLER = { name: 'Zhao Liuliu', phone: '139 1234 5678', email: 'zhao.liuliu@staff.campus.example' };
const EMAILER = { name: '钱七七', email: 'qian.qiqi@student.campus.example' };
const CALLER_WORDS = 'I live next door in E1-102';
/** Every piece of identity that must not leak, as it might be written. */
const SECRETS = [
  'Zhao Liuliu',
  'Liuliu',
  '13912345678',
  '139 1234 5678',
  'zhao.liuliu',
  '钱七七',
  'qian.qiqi',
  CALLER_WORDS,
];

let desk: DeskServer;
let caseNumber: string;
let mailNumber: string;
const as: DeskServer['as'] = (...args) => desk.as(...args);

function expectNoSecret(where: string, text: string) {
  for (const s of SECRETS) expect(text.includes(s), `${where} shows "${s}"`).toBe(false);
}

beforeAll(async () => {
  desk = await startDeskServer({
    name: 'complaints-anon',
    now: NOW,
    staff: [
      ['ts.liu', 'complaints'],
      ['sup.chen', 'supervisor'],
      ['insp.wang', 'inspector'],
      ['insp.he', 'inspector'],
      ['clerk.wang', 'clerk'],
    ],
    edit: (raw) => Object.assign(raw, { complaints: { mailDrop: 'tips' } }),
  });
  const made = await as('ts.liu', 'POST', '/api/complaints', {
    channel: 'hotline',
    kind: 'tip',
    summary: 'Someone taps the corridor lighting circuit in E1',
    details: `${CALLER_WORDS}; call back after 18:00.`,
    anonymous: true,
    tipster: CALLER,
  });
  expect(made.statusCode, made.body).toBe(201);
  caseNumber = made.json().number;
  expect(
    (
      await as('ts.liu', 'POST', `/api/complaints/${caseNumber}/links`, {
        kind: 'inspection',
        ref: 'insp.wang',
      })
    ).statusCode,
  ).toBe(201);
  expect(
    (await as('ts.liu', 'POST', `/api/complaints/${caseNumber}/links`, { kind: 'meter', ref: 'E-E1-101' }))
      .statusCode,
  ).toBe(201);
  deliver(
    join(desk.dir, 'tips'),
    await composed({
      from: `"${EMAILER.name}" <${EMAILER.email}>`,
      subject: '西区路灯白天也亮',
      text: '每天都这样。',
    }),
  );
  const scan = await as('ts.liu', 'POST', '/api/complaints/mail-drop/scan');
  expect(scan.json()).toMatchObject({ taken: 1 });
  mailNumber = (await as('ts.liu', 'GET', '/api/complaints?channel=email')).json()[0].number;
});

afterAll(async () => {
  await desk?.close();
});

describe("a tipster's anonymity against insiders", () => {
  it('the complaints staff read the identity, and each read is audited without it', async () => {
    const t = await as('ts.liu', 'GET', `/api/complaints/${caseNumber}/tipster`);
    expect(t.json()).toMatchObject({ ...CALLER, anonymous: true, commitmentHolds: true });
    expect((await as('ts.liu', 'GET', `/api/complaints/${mailNumber}/tipster`)).json()).toMatchObject(
      EMAILER,
    );
    expect((await as('ts.liu', 'GET', `/api/complaints/${caseNumber}`)).json().details).toContain(
      CALLER_WORDS,
    );
    const reads = desk.bo.audit.query({ action: 'complaint.tipster-read' });
    expect(reads.map((e) => [e.actor, e.subject])).toEqual([
      ['ts.liu', `complaint:${caseNumber}`],
      ['ts.liu', `complaint:${mailNumber}`],
    ]);
    const raw = await as('ts.liu', 'GET', `/api/complaints/${mailNumber}/raw`);
    expect(raw.headers['content-type']).toMatch(/message\/rfc822/);
    expect(raw.body).toContain(EMAILER.email);
  });

  it('an administrator cannot read cases, and cannot give themselves the complaints role', async () => {
    for (const url of [
      '/api/complaints',
      `/api/complaints/${caseNumber}`,
      `/api/complaints/${caseNumber}/tipster`,
      '/api/complaints/export',
    ]) {
      const r = await as('admin.zhou', 'GET', url);
      expect(r.statusCode, url).toBe(403);
      expectNoSecret(url, r.body);
    }
    const admin = { id: 'admin.zhou', kind: 'user' as const, roles: ['admin' as const] };
    let refused: unknown;
    try {
      desk.bo.users.setRoles(admin, 'admin.zhou', ['admin', 'complaints']);
    } catch (e) {
      refused = e;
    }
    expect(refused).toBeInstanceOf(ServiceError);
  });

  it('a supervisor sees the cases, never who tipped or their words: not in the case, the list, a search or the export', async () => {
    const one = await as('sup.chen', 'GET', `/api/complaints/${caseNumber}`);
    expect(one.json()).toMatchObject({
      anonymous: true,
      details: '',
      tipster: { name: 'anonymous', phone: 'anonymous', email: 'anonymous' },
    });
    const list = await as('sup.chen', 'GET', '/api/complaints');
    expect(list.json()).toHaveLength(2);
    expectNoSecret('supervisor list', list.body);
    // A search cannot be used as an oracle: the identity is not what it searches.
    for (const q of ['Zhao', '139', 'qian', 'next door'])
      expect((await as('sup.chen', 'GET', `/api/complaints?q=${encodeURIComponent(q)}`)).json(), q).toEqual(
        [],
      );
    const csv = await as('sup.chen', 'GET', '/api/complaints/export');
    expect(csv.headers['content-type']).toMatch(/text\/csv/);
    expect(csv.body.split('\n')[1]).toContain('anonymous,anonymous,anonymous');
    expectNoSecret('supervisor export', csv.body);
    expect((await as('sup.chen', 'GET', `/api/complaints/${caseNumber}/tipster`)).statusCode).toBe(403);
    expect((await as('sup.chen', 'GET', `/api/complaints/${mailNumber}/raw`)).statusCode).toBe(403);
  });

  it('an inspector sent to the case reads it as anonymous; another inspector does not read it at all', async () => {
    const mine = await as('insp.wang', 'GET', '/api/complaints');
    expect(mine.json().map((c: { number: string }) => c.number)).toEqual([caseNumber]);
    expectNoSecret('linked inspector', mine.body);
    expect(mine.json()[0].tipster).toEqual({
      anonymous: true,
      name: 'anonymous',
      phone: 'anonymous',
      email: 'anonymous',
    });
    expect((await as('insp.he', 'GET', '/api/complaints')).json()).toEqual([]);
    const other = await as('insp.he', 'GET', `/api/complaints/${caseNumber}`);
    expect([other.statusCode, other.json().code]).toEqual([404, 'NOT_LINKED']);
    expect((await as('clerk.wang', 'GET', `/api/complaints/${caseNumber}`)).statusCode).toBe(403);
  });

  it('the audit log holds no identity: not in any entry, as read by anyone who may read it', async () => {
    expectNoSecret('audit log', JSON.stringify(desk.bo.audit.query({})));
    for (const who of ['admin.zhou', 'sup.chen', 'insp.wang']) {
      const r = await as(who, 'GET', '/api/audit?limit=10000');
      expect(r.statusCode).toBe(200);
      expect(r.body).toContain(`complaint:${caseNumber}`);
      expectNoSecret(`audit as ${who}`, r.body);
    }
    // What the audit keeps instead: the commitment, which the staff's read checks.
    const record = desk.bo.audit.query({
      subject: `complaint:${caseNumber}`,
      action: 'complaint.record',
    })[0]!;
    expect((record.after as { identityCommitment: string }).identityCommitment).toMatch(/^[0-9a-f]{64}$/);
  });

  it('no GET route of the OpenAPI document shows the identity to a supervisor, an inspector or an administrator', async () => {
    const doc = (await desk.bo.app!.inject({ method: 'GET', url: '/openapi.json' })).json() as {
      paths: Record<string, Record<string, unknown>>;
    };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/api/complaints', '/api/complaints/{ref}/tipster']),
    );
    const paths = Object.entries(doc.paths)
      .filter(([p, ops]) => ops.get && !/stream|events/.test(p))
      .map(([p]) => p.replace('{ref}', caseNumber).replace('{id}', '1'))
      .filter((p) => !p.includes('{'));
    expect(paths.length).toBeGreaterThan(30);
    for (const who of ['sup.chen', 'insp.wang', 'admin.zhou'])
      for (const url of paths) expectNoSecret(`${who} GET ${url}`, (await as(who, 'GET', url)).body);
  });
});
