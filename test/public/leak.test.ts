import { describe, expect, it } from 'vitest';
import { HOUR, operator, supervisor } from '../outages/support.ts';
import { NOW, publicFixture } from './support.ts';

/**
 * The public window publishes nothing the rule does not: every JSON answer is walked key by key
 * against an allow-list (a new field fails here until someone decides it is public), and every
 * answer, JSON and HTML, is searched for what must never be public — holders' names, a payroll
 * code, staff user names, and, outside the quarterly disclosure, accounts and room meters.
 */

const OUTAGE = [
  'id',
  'utility',
  'startsAt',
  'endsAt',
  'reason',
  'phase',
  'publishedAt',
  'buildings[]',
  'buildings[].id',
  'buildings[].name',
  'outcome',
].map((k) => `outages[].${k}`);

const WINDOW = new Set([
  ...['campus', 'timezone', 'note', 'note.zh', 'note.en', 'outages[]', ...OUTAGE],
  ...['tariffs[]', 'tariffVersions[]', 'tariffVersions[].version', 'tariffVersions[].approvedAt'],
  ...['utility', 'customerTypes[]', 'effectiveFrom', 'unit', 'components[]', 'components[].name'].map(
    (k) => `tariffs[].${k}`,
  ),
  ...[
    'components[].price',
    'components[].tiers[]',
    'components[].tiers[].upTo',
    'components[].tiers[].price',
  ].map((k) => `tariffs[].${k}`),
  ...['note', 'inForce'].map((k) => `tariffs[].${k}`),
  ...[
    'id',
    'name',
    'name.zh',
    'name.en',
    'amountFen',
    'per',
    'per.zh',
    'per.en',
    'basis',
    'basis.zh',
    'basis.en',
  ].map((k) => `feeStandards[].${k}`),
  'feeStandards[]',
  'procedures[]',
  ...['id', 'name', 'name.zh', 'name.en', 'decides', 'steps[]', 'steps[].who', 'steps[].what'].map(
    (k) => `procedures[].${k}`,
  ),
  'procedures[].steps[].what.zh',
  'procedures[].steps[].what.en',
  'capacityDecisions[]',
  ...['id', 'utility', 'increase', 'unit', 'outcome', 'decidedAt', 'feeFen', 'doneAt'].map(
    (k) => `capacityDecisions[].${k}`,
  ),
  'disclosures[]',
]);

const OUTAGES = new Set(['timezone', 'outages[]', ...OUTAGE]);

const METER = [
  'meter',
  'utility',
  'unit',
  'opening',
  'openingEstimated',
  'closing',
  'closingEstimated',
  'quantityMilli',
  'estimatedMilli',
  'notes[]',
  'components[]',
  'components[].name',
  'components[].amountFen',
  'totalFen',
].map((k) => `accounts[].months[].meters[].${k}`);
const DISCLOSURE = new Set([
  ...[
    'quarter',
    'timezone',
    'accounts[]',
    'accounts[].account',
    'accounts[].customerType',
    'accounts[].totalFen',
  ],
  ...[
    'accounts[].months[]',
    'accounts[].months[].period',
    'accounts[].months[].meters[]',
    'accounts[].months[].totalFen',
  ],
  ...METER,
]);

/** Every key path of a JSON value: `a.b`, `a[]` for an array's items, `a[].c` within them. */
function paths(v: unknown, at = ''): string[] {
  if (Array.isArray(v)) return [...(at ? [`${at}[]`] : []), ...v.flatMap((x) => paths(x, `${at}[]`))];
  if (v && typeof v === 'object')
    return Object.entries(v).flatMap(([k, x]) => {
      const p = at ? `${at}.${k}` : k;
      return [p, ...paths(x, p)];
    });
  return [];
}

/** The allowed paths and every container on the way to them (`a[].b` allows `a[]` and `a`). */
function withContainers(allowed: Set<string>): Set<string> {
  const out = new Set<string>();
  for (const p of allowed) {
    let q = p;
    while (q) {
      out.add(q);
      q = q.endsWith('[]') ? q.slice(0, -2) : q.includes('.') ? q.slice(0, q.lastIndexOf('.')) : '';
    }
  }
  return out;
}

const outside = (allowed: Set<string>, v: unknown) => {
  const ok = withContainers(allowed);
  return [...new Set(paths(v))].filter((p) => !ok.has(p));
};

/** Never public: the fixture's holders, its payroll code, staff user names. */
const NEVER = ['Dorm E1 room 101', 'Staff household 12-301', 'Campus cafe', 'Laundry vendor', 'P004211'];
const STAFF = ['fin.zhang', 'op.zhao', 'sup.li', 'sup.zhao', 'clerk.wang', 'token:'];
/** Public only in the quarterly disclosure (the rule publishes readings and charges per account). */
const ACCOUNTS = [
  'S-E1-101',
  'H-12-301',
  'B-CAFE',
  'V-LAUNDRY',
  'ROOM-E1-1',
  'PRE-E1-101',
  'E-E1-101',
  'E-E1-102',
];

describe('the public window leaks nothing', () => {
  it('publishes only allow-listed fields, no names, staff or (outside the disclosure) accounts', async () => {
    const f = await publicFixture();
    // An approved outage on a dorm building (its rooms and accounts are on the staff's record),
    // one still waiting and one rejected: only the approved one is public.
    const plan = (node: string) =>
      f.outages.plan(operator, {
        ...{ utility: 'electricity', node, reason: 'Busbar' },
        ...{ startsAt: NOW + 48 * HOUR, endsAt: NOW + 52 * HOUR },
      });
    f.outages.approve(supervisor, plan('E-E1-MAIN').id, 'crew booked by sup.li');
    plan('E-E2-MAIN');
    f.outages.reject(supervisor, plan('E-E3-MAIN').id, 'no');

    // A decided capacity application: public with its outcome, never its applicant or meter.
    const clerk = { id: 'clerk.wang', kind: 'user' as const, roles: ['clerk' as const] };
    const sup2 = { id: 'sup.zhao', kind: 'user' as const, roles: ['supervisor' as const] };
    const app = f.capacity.apply(clerk, {
      ...{ utility: 'electricity', meter: 'E-E-CANTEEN', applicant: 'Campus cafe', increase: 30 },
      reason: 'New ovens',
    });
    await f.capacity.review(operator, app.id, 'ok');
    f.capacity.approve(supervisor, app.id);
    f.capacity.approve(sup2, app.id);
    f.capacity.apply(clerk, {
      utility: 'electricity',
      meter: 'E-E-CANTEEN',
      applicant: 'Campus cafe',
      increase: 5,
      reason: 'x',
    });

    const get = async (url: string) => {
      const res = await f.app.inject({ method: 'GET', url });
      expect(res.statusCode, `${url}: ${res.body}`).toBe(200);
      return res;
    };
    const window = await get('/public/window.json');
    expect(outside(WINDOW, window.json())).toEqual([]);
    expect(window.json().outages.map((o: { buildings: { id: string }[] }) => o.buildings)).toEqual([
      [{ id: 'E-E1-MAIN', name: 'Dorm E1 main' }],
    ]);
    expect(window.json().disclosures).toEqual(['2026-Q3']);
    expect(window.json().capacityDecisions).toEqual([
      {
        id: app.id,
        utility: 'electricity',
        increase: 30,
        unit: 'kVA',
        outcome: 'approved',
        decidedAt: NOW,
        feeFen: 600_000,
        doneAt: null,
      },
    ]);
    expect(window.json().tariffs.length).toBeGreaterThan(0);
    const outages = await get('/public/outages.json');
    expect(outside(OUTAGES, outages.json())).toEqual([]);
    const disclosure = await get('/public/disclosure/2026-Q3?format=json');
    expect(outside(DISCLOSURE, disclosure.json())).toEqual([]);

    const pages = await Promise.all(
      [
        '/public/?lang=zh',
        '/public/?lang=en',
        '/public/outages/1/notice/E-E1-MAIN?lang=zh',
        '/public/outages/1/notice/E-E1-MAIN?lang=en',
      ].map(get),
    );
    for (const body of [window.body, outages.body, ...pages.map((p) => p.body)])
      for (const s of [...NEVER, ...STAFF, ...ACCOUNTS]) expect(body, s).not.toContain(s);
    const disclosures = [disclosure, await get('/public/disclosure/2026-Q3?format=html&lang=zh')];
    for (const d of disclosures) for (const s of [...NEVER, ...STAFF]) expect(d.body, s).not.toContain(s);
    // The rule publishes per account: the disclosure does name them.
    expect(disclosures[1]!.body).toContain('S-E1-101');
  });

  it('publishes the disclosure’s charges as billed: recomputed from the bill runs’ lines, to the fen', async () => {
    const f = await publicFixture();
    const d = (await f.app.inject({ method: 'GET', url: '/public/disclosure/2026-Q3' })).json() as {
      accounts: {
        account: string;
        totalFen: number;
        months: { meters: { components: { amountFen: number }[] }[] }[];
      }[];
    };
    for (const a of d.accounts) {
      const fromRuns = ['2026-07', '2026-08', '2026-09']
        .map((m) => f.runs.latest(m)!.lines.filter((l) => l.account === a.account))
        .flat()
        .reduce((s, l) => s + l.totalFen, 0);
      const fromComponents = a.months
        .flatMap((m) => m.meters.flatMap((x) => x.components))
        .reduce((s, c) => s + c.amountFen, 0);
      expect([a.account, a.totalFen]).toEqual([a.account, fromRuns]);
      expect(fromComponents).toBe(fromRuns);
      expect(Number.isInteger(a.totalFen)).toBe(true);
    }
    expect(d.accounts.map((a) => a.account).sort()).toEqual(['B-CAFE', 'H-12-301', 'S-E1-101', 'V-LAUNDRY']);
    // A quarter not billed in full is not published.
    const q2 = await f.app.inject({ method: 'GET', url: '/public/disclosure/2026-Q2' });
    expect([q2.statusCode, q2.json().code]).toEqual([404, 'DISCLOSURE_NOT_FOUND']);
    const bad = await f.app.inject({ method: 'GET', url: '/public/disclosure/2026-Q5' });
    expect(bad.statusCode).toBe(400);
  });

  it('is cached by ETag and max-age, and a published change changes the ETag', async () => {
    const f = await publicFixture();
    const first = await f.app.inject({ method: 'GET', url: '/public/window.json' });
    expect(first.headers['cache-control']).toBe('public, max-age=60');
    const etag = first.headers.etag as string;
    const again = await f.app.inject({
      method: 'GET',
      url: '/public/window.json',
      headers: { 'if-none-match': etag },
    });
    expect([again.statusCode, again.body]).toEqual([304, '']);
    const o = f.outages.plan(operator, {
      ...{ utility: 'water', node: 'W-E-MASTER', reason: 'Main valve' },
      ...{ startsAt: NOW + 48 * HOUR, endsAt: NOW + 50 * HOUR },
    });
    // Planned but not approved: nothing public changed.
    expect(
      (await f.app.inject({ method: 'GET', url: '/public/window.json', headers: { 'if-none-match': etag } }))
        .statusCode,
    ).toBe(304);
    f.outages.approve(supervisor, o.id);
    const changed = await f.app.inject({
      method: 'GET',
      url: '/public/window.json',
      headers: { 'if-none-match': etag },
    });
    expect(changed.statusCode).toBe(200);
    expect(changed.headers.etag).not.toBe(etag);
    const page = await f.app.inject({ method: 'GET', url: '/public/?lang=en' });
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.headers.etag).toBeDefined();
  });
});
