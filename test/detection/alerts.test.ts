import { readFileSync, readdirSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { buildApi } from '../../services/platform/http/app.ts';
import type { Actor } from '../../services/platform/auth/roles.ts';
import { ServiceError } from '../../services/platform/errors.ts';
import { AlertStore, type AlertChange } from '../../services/inspection/detection/alerts.ts';
import { DETECTION_ERRORS } from '../../services/inspection/detection/errors.ts';
import {
  AlertMessageSchema,
  alertRoutes,
  startDetection,
} from '../../services/inspection/detection/service.ts';
import type { Finding } from '../../services/inspection/detection/types.ts';
import { tempBackoffice } from '../audit/helpers.ts';
import { campusScenario, scenarioCampus } from './heating-loads-support.ts';
import { SqliteStore } from '../../adapters/sqlite/store.ts';

const inspector: Actor = { id: 'li.inspector', kind: 'user', roles: ['inspector'] };
const inspector2: Actor = { id: 'wu.inspector', kind: 'user', roles: ['inspector'] };
const supervisor: Actor = { id: 'chen.supervisor', kind: 'user', roles: ['supervisor'] };
const clerk: Actor = { id: 'zhou.clerk', kind: 'user', roles: ['clerk'] };

const finding = (meter: string, score = 1.5, type: Finding['type'] = 'illegal-load'): Finding => ({
  type,
  key: `${type}:${meter}`,
  severity: 'high',
  meter,
  score,
  since: Date.UTC(2026, 10, 1),
  reason: `resistive load of ${score} kW`,
  evidence: { from: 0, to: 1, figures: { deltaPKw: score, incrementalPf: 0.999 } },
  suspects: [{ meter: 'E-R2', score: 1, reasons: ['heater'] }],
});

function setup() {
  const t = tempBackoffice();
  const alerts = new AlertStore(t.db, t.audit, t.clock);
  return { ...t, alerts };
}

describe('alert store: alerts raised by events', () => {
  it('raises a manual-reading mismatch once per key; detection runs never close it', () => {
    const { alerts, advance } = setup();
    const mismatch: Finding = {
      ...finding('W-LAUNDRY', 1, 'manual-reading-mismatch'),
      key: 'manual-reading:7:W-LAUNDRY:readers-disagree',
    };
    const id = alerts.raise(mismatch);
    expect(alerts.raise(mismatch)).toBe(id);
    advance(60_000);
    expect(alerts.sync([finding('E-R2')]).closed).toEqual([]);
    // The detector's own condition ends and closes; the event alert stays.
    expect(alerts.sync([]).closed.map((a) => a.type)).toEqual(['illegal-load']);
    expect(alerts.get(id)).toMatchObject({ type: 'manual-reading-mismatch', state: 'open', active: true });
    expect(() => alerts.raise(finding('E-R9'))).toThrow(/use sync/);
  });
});

describe('alert store: one alert per condition', () => {
  it('opens once, updates while it lasts, closes when it ends, opens anew when it comes back', () => {
    const { alerts, audit, advance } = setup();
    const r1 = alerts.sync([finding('E-R2')]);
    expect(r1.opened).toHaveLength(1);
    const id = r1.opened[0]!.id;
    advance(60_000);
    const r2 = alerts.sync([finding('E-R2')]);
    expect(r2).toEqual({ opened: [], updated: [], closed: [], ended: [] });
    advance(60_000);
    const r3 = alerts.sync([finding('E-R2', 2.1), finding('E-R2', 1.0)]);
    expect(r3.updated.map((a) => [a.id, a.score])).toEqual([[id, 2.1]]);
    expect(alerts.list()).toHaveLength(1);
    expect(alerts.get(id).suspects).toEqual([{ meter: 'E-R2', score: 1, reasons: ['heater'] }]);
    expect(alerts.get(id).evidence.figures.deltaPKw).toBe(2.1);

    advance(60_000);
    const r4 = alerts.sync([]);
    expect(r4.closed.map((a) => a.id)).toEqual([id]);
    const closed = alerts.get(id);
    expect(closed).toMatchObject({ state: 'closed', closedReason: 'condition ended', active: false });

    const r5 = alerts.sync([finding('E-R2')]);
    expect(r5.opened[0]!.id).not.toBe(id);
    expect(alerts.list({ active: true })).toHaveLength(1);
    const actions = audit.query({ subject: `alert:${id}` }).map((e) => [e.actor, e.action]);
    expect(actions).toEqual([
      ['system:detection', 'alert.open'],
      ['system:detection', 'alert.update'],
      ['system:detection', 'alert.close'],
    ]);
  });

  it('keeps an inspector’s decision when the condition ends', () => {
    const { alerts } = setup();
    const id = alerts.sync([finding('E-R3')]).opened[0]!.id;
    alerts.dismiss(id, { notes: 'a permitted medical heater', actor: inspector });
    const r = alerts.sync([]);
    expect(r.ended.map((a) => a.id)).toEqual([id]);
    expect(alerts.get(id)).toMatchObject({ state: 'dismissed', active: false });
  });
});

describe('alert lifecycle for inspectors', () => {
  it('open → assigned → field-checked → confirmed, every step attributed and audited', () => {
    const { alerts, audit } = setup();
    const id = alerts.sync([finding('E-R2')]).opened[0]!.id;
    alerts.assign(id, { inspector: 'wu.inspector', actor: inspector });
    alerts.fieldCheck(id, { notes: '1.5 kW oil heater found under the desk', actor: inspector2 });
    const done = alerts.confirm(id, { notes: 'heater confiscated, report filed', actor: inspector2 });
    expect(done.state).toBe('confirmed');
    expect(done.assignee).toBe('wu.inspector');
    expect(done.steps.map((s) => [s.state, s.by])).toEqual([
      ['open', 'system:detection'],
      ['assigned', 'li.inspector'],
      ['field-checked', 'wu.inspector'],
      ['confirmed', 'wu.inspector'],
    ]);
    const entries = audit.query({ subject: `alert:${id}` });
    expect(entries.map((e) => [e.actor, e.action])).toEqual([
      ['system:detection', 'alert.open'],
      ['li.inspector', 'alert.assign'],
      ['wu.inspector', 'alert.field-check'],
      ['wu.inspector', 'alert.confirm'],
    ]);
    expect(entries[2]!.reason).toBe('1.5 kW oil heater found under the desk');
    expect(audit.verify().ok).toBe(true);
  });

  it('dismisses with notes; refuses wrong roles, invalid steps and empty notes', () => {
    const { alerts } = setup();
    const id = alerts.sync([finding('E-R4')]).opened[0]!.id;
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return (e as ServiceError).code;
      }
      return 'no error';
    };
    expect(code(() => alerts.assign(id, { inspector: 'li.inspector', actor: supervisor }))).toBe('FORBIDDEN');
    expect(code(() => alerts.dismiss(id, { notes: 'x', actor: clerk }))).toBe('FORBIDDEN');
    expect(code(() => alerts.confirm(id, { notes: 'sure', actor: inspector }))).toBe('INVALID_TRANSITION');
    expect(code(() => alerts.fieldCheck(id, { notes: 'went there', actor: inspector }))).toBe(
      'INVALID_TRANSITION',
    );
    expect(code(() => alerts.dismiss(id, { notes: '  ', actor: inspector }))).toBe('BAD_INPUT');
    expect(code(() => alerts.get(999))).toBe('ALERT_NOT_FOUND');
    const d = alerts.dismiss(id, { notes: 'kettle, allowed', actor: inspector });
    expect(d.steps.at(-1)).toMatchObject({
      state: 'dismissed',
      by: 'li.inspector',
      notes: 'kettle, allowed',
    });
    expect(code(() => alerts.assign(id, { inspector: 'li.inspector', actor: inspector }))).toBe(
      'INVALID_TRANSITION',
    );
    expect(alerts.get(id).state).toBe('dismissed');
  });
});

describe('detection error catalogue', () => {
  it.each(Object.entries(DETECTION_ERRORS))('%s has a status and a description', (_c, e) => {
    expect([400, 403, 404, 409, 422]).toContain(e.status);
    expect(e.description.length).toBeGreaterThan(10);
  });
  it('every code is used and none outside it', () => {
    const src = readdirSync('services/inspection/detection')
      .filter((f) => f.endsWith('.ts') && f !== 'errors.ts')
      .map((f) => readFileSync(`services/inspection/detection/${f}`, 'utf8'))
      .join('\n');
    const used = new Set([...src.matchAll(/detectionError\(\s*'([A-Z_]+)'/g)].map((m) => m[1]!));
    expect([...used].sort()).toEqual(Object.keys(DETECTION_ERRORS).sort());
  });
});

describe('alert API and live stream', () => {
  const tokens: Record<string, Actor> = { insp: inspector, sup: supervisor, clerk };
  let ctx: ReturnType<typeof setup>;
  let app: Awaited<ReturnType<typeof buildApi>>;
  beforeEach(async () => {
    ctx = setup();
    app = await buildApi({
      auth: {
        authenticate: (t) => {
          const a = tokens[t];
          if (!a) throw new ServiceError('UNAUTHENTICATED', 401, 'unknown token');
          return a;
        },
      },
      routes: alertRoutes(ctx.alerts),
    });
  });
  afterEach(() => app.close());
  const as = (who: string) => ({ authorization: `Bearer ${who}` });

  it('lists, gets and moves alerts with the right permissions', async () => {
    const id = ctx.alerts.sync([finding('E-R2')]).opened[0]!.id;
    const list = await app.inject({ method: 'GET', url: '/api/alerts?state=open', headers: as('sup') });
    expect(list.statusCode).toBe(200);
    expect(list.json()).toHaveLength(1);
    expect((await app.inject({ method: 'GET', url: '/api/alerts', headers: as('clerk') })).statusCode).toBe(
      403,
    );
    const one = await app.inject({ method: 'GET', url: `/api/alerts/${id}`, headers: as('sup') });
    expect(one.json()).toMatchObject({ id, evidence: { figures: { deltaPKw: 1.5 } } });
    const refused = await app.inject({
      method: 'POST',
      url: `/api/alerts/${id}/assign`,
      headers: as('sup'),
      payload: { inspector: 'li.inspector' },
    });
    expect(refused.statusCode).toBe(403);
    const post = (step: string, payload: object) =>
      app.inject({ method: 'POST', url: `/api/alerts/${id}/${step}`, headers: as('insp'), payload });
    expect((await post('assign', { inspector: 'li.inspector' })).json()).toMatchObject({ state: 'assigned' });
    expect((await post('confirm', { notes: 'x' })).json()).toMatchObject({ code: 'INVALID_TRANSITION' });
    expect((await post('field-check', { notes: 'heater seen' })).statusCode).toBe(200);
    expect((await post('dismiss', { notes: 'owner has a permit' })).json()).toMatchObject({
      state: 'dismissed',
    });
  });

  it('streams a change over SSE to a client on a real port', async () => {
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as { port: number };
    const refused = await fetch(`http://127.0.0.1:${port}/api/alerts/stream`, { headers: as('clerk') });
    expect(refused.status).toBe(403);
    const res = await fetch(`http://127.0.0.1:${port}/api/alerts/stream`, { headers: as('sup') });
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    // The stream is open once its comment line arrives; then a change is made.
    while (!text.includes('\n\n')) text += decoder.decode((await reader.read()).value);
    ctx.alerts.sync([finding('E-R7')]);
    while (!text.includes('event: alert')) text += decoder.decode((await reader.read()).value);
    while (!/event: alert\ndata: .*\n\n/.test(text)) text += decoder.decode((await reader.read()).value);
    const data = /event: alert\ndata: (.*)\n\n/.exec(text)![1]!;
    const msg = AlertMessageSchema.parse(JSON.parse(data));
    expect(msg).toMatchObject({
      change: 'opened',
      alert: { meter: 'E-R7', type: 'illegal-load', state: 'open' },
    });
    await reader.cancel();
  });
});

describe('live detection service', () => {
  it('runs on its interval, syncs alerts and publishes each change on campus/v1/alerts/<type>', async () => {
    vi.useFakeTimers();
    const ctx = setup();
    const campus = scenarioCampus(campusScenario({ rooms: 2 }));
    const store = SqliteStore.open({ path: ':memory:' });
    const published: { topic: string; payload: string; qos: number; retain: boolean }[] = [];
    let found: Finding[] = [finding('E-R1')];
    const seen: number[] = [];
    const svc = startDetection({
      store,
      campus,
      alerts: ctx.alerts,
      detect: (input) => {
        seen.push(input.to - input.from);
        expect([...input.meters.keys()]).toContain('E-R1');
        return { findings: found, scores: [] };
      },
      publish: (topic, payload, o) => void published.push({ topic, payload, ...o }),
      intervalMs: 60_000,
      windowMs: 3_600_000,
      clock: ctx.clock,
    });
    try {
      await vi.advanceTimersByTimeAsync(60_000);
      expect(seen).toEqual([3_600_000]);
      expect(published).toHaveLength(1);
      expect(published[0]).toMatchObject({ topic: 'campus/v1/alerts/illegal-load', qos: 1, retain: false });
      expect(AlertMessageSchema.parse(JSON.parse(published[0]!.payload)).change).toBe('opened');
      await vi.advanceTimersByTimeAsync(60_000);
      expect(published).toHaveLength(1);
      found = [];
      await vi.advanceTimersByTimeAsync(60_000);
      expect(published.map((p) => (JSON.parse(p.payload) as { change: string }).change)).toEqual([
        'opened',
        'closed',
      ]);
      // Inspector steps are changes too.
      const changes: AlertChange[] = [];
      ctx.alerts.onChange((c) => changes.push(c));
      found = [finding('E-R2', 2, 'illegal-load')];
      const r = await svc.runOnce();
      ctx.alerts.assign(r.opened[0]!.id, { inspector: 'li.inspector', actor: inspector });
      expect(changes.map((c) => c.kind)).toEqual(['opened', 'assigned']);
      expect(published).toHaveLength(4);
    } finally {
      await svc.stop();
      await store.close();
      vi.useRealTimers();
    }
  });
});
