import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDeskServer, type DeskServer } from '../web/desk-harness.ts';
import { HOUR, T0 } from './support.ts';

/**
 * Planned outages through the whole back office over HTTP: the operator plans, the planner cannot
 * approve (even holding both roles), a supervisor approves; the notice is then public without a
 * login (JSON with ETag/304, a printable page per building in zh and en) and published retained
 * on MQTT with the accounts for the messaging platform; during the window the live view marks the
 * building's meters and no other.
 */

const START = T0 + 48 * HOUR;
const END = T0 + 52 * HOUR;

const time = { now: T0 };
let desk: DeskServer;
const as: DeskServer['as'] = (...args) => desk.as(...args);
/** Sessions end when unused for long: after the clock moves, everyone logs in again. */
const logIn = () => desk.logIn();

beforeAll(async () => {
  desk = await startDeskServer({
    name: 'outages-api',
    get now() {
      return time.now;
    },
    staff: [
      ['op.zhao', 'operator'],
      ['sup.li', 'supervisor'],
      ['lead.qian', ['operator', 'supervisor']],
      ['clerk.wang', 'clerk'],
    ],
    readings: ['E-E1-101', 'E-E2-101'].map((meter) => ({
      ...{
        meter,
        ts: T0 - HOUR,
        seq: 1,
        quality: 'good' as const,
        site: 'east',
        gateway: 'gw-east',
        kind: 'electricity' as const,
      },
      values: { energy_import_kwh: 100 },
    })),
  });
});

afterAll(async () => {
  await desk?.close();
});

describe('planned outages over HTTP', () => {
  it('plans, refuses the planner’s approval, approves, publishes, and marks the live view in the window', async () => {
    const plan = {
      utility: 'electricity',
      node: 'E-E1-MAIN',
      startsAt: START,
      endsAt: END,
      reason: 'Busbar replacement',
    };
    expect((await as('clerk.wang', 'POST', '/api/outages', plan)).statusCode).toBe(403);
    expect((await as(null, 'POST', '/api/outages', plan)).statusCode).toBe(401);
    const bad = await as('op.zhao', 'POST', '/api/outages', { ...plan, startsAt: 'tomorrow' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toContain('body.startsAt');

    const own = await as('lead.qian', 'POST', '/api/outages', plan);
    expect(own.statusCode, own.body).toBe(201);
    const selfApproval = await as('lead.qian', 'POST', `/api/outages/${own.json().id}/approve`);
    expect([selfApproval.statusCode, selfApproval.json().code]).toEqual([403, 'SELF_APPROVAL']);
    expect((await as('op.zhao', 'POST', `/api/outages/${own.json().id}/approve`)).statusCode).toBe(403);
    // Withdrawn by its planner: never public.
    expect(
      (await as('lead.qian', 'POST', `/api/outages/${own.json().id}/cancel`, { note: 'duplicate' })).json()
        .state,
    ).toBe('cancelled');

    const made = await as('op.zhao', 'POST', '/api/outages', plan);
    expect(made.json()).toMatchObject({ state: 'planned', phase: 'awaiting-approval' });
    const id = made.json().id as number;
    // Not yet approved: not public.
    expect((await as(null, 'GET', '/public/outages.json')).json().outages).toEqual([]);

    const client = await mqtt.connectAsync(desk.brokerUrl);
    const announced = new Promise<Record<string, unknown>>((resolve) =>
      client.on('message', (_t, p) => resolve(JSON.parse(p.toString()) as Record<string, unknown>)),
    );
    await client.subscribeAsync('campus/v1/outages/#');
    const ok = await as('sup.li', 'POST', `/api/outages/${id}/approve`, { note: 'crew booked' });
    expect(ok.json()).toMatchObject({ state: 'approved', phase: 'announced', decidedBy: 'sup.li' });
    expect(await announced).toMatchObject({
      id,
      state: 'approved',
      accounts: ['ROOM-E1-101', 'ROOM-E1-102', 'ROOM-E1-201', 'ROOM-E1-202'],
    });
    await client.endAsync();

    const pub = await as(null, 'GET', '/public/outages.json');
    expect(pub.statusCode).toBe(200);
    expect(pub.headers['cache-control']).toBe('public, max-age=60');
    expect(pub.json().outages).toEqual([
      {
        id,
        utility: 'electricity',
        startsAt: START,
        endsAt: END,
        reason: 'Busbar replacement',
        phase: 'announced',
        publishedAt: T0,
        buildings: [{ id: 'E-E1-MAIN', name: 'Dorm E1 main' }],
        outcome: null,
      },
    ]);
    const again = await desk.bo.app!.inject({
      method: 'GET',
      url: '/public/outages.json',
      headers: { 'if-none-match': pub.headers.etag as string },
    });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');

    const zh = await as(null, 'GET', `/public/outages/${id}/notice/E-E1-MAIN?lang=zh`);
    expect(zh.headers['content-type']).toContain('text/html');
    // 3 December 2026 08:00 in Shanghai, the campus zone.
    expect(zh.body).toContain('停电通知');
    expect(zh.body).toContain('2026/12/03');
    expect(zh.body).toContain('08:00');
    const en = await as(null, 'GET', `/public/outages/${id}/notice/E-E1-MAIN?lang=en`);
    expect(en.body).toContain('Power outage notice');
    expect(en.body).toContain('Busbar replacement');
    expect(en.body).not.toContain('ROOM-E1');
    expect((await as(null, 'GET', `/public/outages/${id}/notice/E-E2-MAIN`)).statusCode).toBe(404);
    expect((await as(null, 'GET', `/public/outages/${own.json().id}/notice/E-E1-MAIN`)).statusCode).toBe(404);

    const latest = async () => {
      const res = await as('op.zhao', 'GET', '/api/readings/latest?meters=E-E1-101,E-E2-101');
      expect(res.statusCode, res.body).toBe(200);
      const rows = res.json() as { meter: string; plannedOutage?: number }[];
      return Object.fromEntries(rows.map((r) => [r.meter, r.plannedOutage ?? null]));
    };
    expect(await latest()).toEqual({ 'E-E1-101': null, 'E-E2-101': null });
    time.now = START + HOUR;
    await logIn();
    expect(await latest()).toEqual({ 'E-E1-101': id, 'E-E2-101': null });
    expect((await as(null, 'GET', '/public/outages.json')).json().outages[0].phase).toBe('in-progress');

    // Every route is in the OpenAPI document, the public ones without a security requirement.
    const doc = (await as(null, 'GET', '/openapi.json')).json() as {
      paths: Record<string, Record<string, { security?: unknown; tags?: string[] }>>;
    };
    for (const path of ['/api/outages', '/api/outages/{id}/approve', '/api/outages/{id}/cancel'])
      expect(Object.keys(doc.paths), path).toContain(path);
    for (const path of [
      '/public/',
      '/public/window.json',
      '/public/outages.json',
      '/public/disclosure/{quarter}',
    ])
      expect([path, !!doc.paths[path]?.get, doc.paths[path]?.get?.security]).toEqual([path, true, undefined]);
    expect(doc.paths['/api/outages']!.post!.security).toBeDefined();

    const auditRes = await as('sup.li', 'GET', `/api/audit?subject=outage:${id}`);
    expect(auditRes.statusCode, auditRes.body).toBe(200);
    const audit = auditRes.json() as { action: string }[];
    expect(audit.map((e) => e.action)).toEqual(['outage.plan', 'outage.approve']);
  });
});
