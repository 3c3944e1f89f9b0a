import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../../services/platform/http/app.ts';
import { Users } from '../../services/platform/auth/users.ts';
import type { ValidatedInterval } from '../../services/metering/vee/types.ts';
import { veeRoutes } from '../../services/metering/vee/routes.ts';
import { PASSWORD, TEST_SCRYPT_COST } from '../auth/setup.ts';
import { build, DORM_METER, parseTime, silentDormMeter, type Built } from './harness.ts';

/**
 * The supervisors' VEE routes over HTTP on real services: VEE over a SQLite reading store and an
 * in-memory back-office db, real users and sessions, the API's own permission check.
 */

const METER = DORM_METER;
const Q = 'energy_import_kwh' as const;
const T = (hhmm: string) => parseTime(`2026-03-10T${hhmm}+08:00`);

describe('VEE routes', () => {
  let b: Built;
  let app: FastifyInstance;
  const tokens: Record<'supervisor' | 'clerk', string> = { supervisor: '', clerk: '' };

  beforeAll(async () => {
    // Four weeks of a dorm meter read every 15 min, silent from 09:00 on 10 March; now is 12:00.
    b = await build(silentDormMeter());
    const users = new Users({
      db: b.db,
      audit: b.audit,
      clock: () => b.clock.now,
      scryptCost: TEST_SCRYPT_COST,
    });
    await users.bootstrapAdmin('admin', PASSWORD);
    const ip = { ip: '10.9.9.9' };
    for (const who of ['supervisor', 'clerk'] as const) {
      await users.provisionUser({
        username: `${who}.test`,
        displayName: `Test ${who}`,
        roles: [who],
        password: PASSWORD,
      });
      tokens[who] = (await users.login(`${who}.test`, PASSWORD, ip)).token;
    }
    app = await buildApi({ auth: users, routes: veeRoutes(b.vee) });
    // VEE validates an interval when it is first asked for.
    await b.vee.intervals({ meter: METER, quantity: Q, from: T('08:00'), to: T('12:00'), step: '15m' });
  });

  afterAll(async () => {
    await app?.close();
    await b?.close();
  });

  const call = (
    who: 'supervisor' | 'clerk' | null,
    method: InjectOptions['method'],
    url: string,
    payload?: object,
  ) =>
    app.inject({
      method,
      url,
      ...(payload ? { payload } : {}),
      headers: who ? { authorization: `Bearer ${tokens[who]}` } : {},
    });

  const historyUrl = (start: number) => `/api/vee/history?meter=${METER}&quantity=${Q}&start=${start}`;
  const edit = {
    meter: METER,
    quantity: Q,
    start: T('09:30'),
    value: 0.035,
    reason: 'MANUAL_READ',
    note: 'two readers read the register at 09:45',
  };

  it('a supervisor’s edit is a new version, attributed and audited; the history keeps both', async () => {
    const before = (await call('supervisor', 'GET', historyUrl(T('09:30')))).json<ValidatedInterval[]>();
    expect(before.map((v) => [v.version, v.source, v.method, v.value])).toEqual([
      [1, 'estimated', 'like-day', 0.04],
    ]);

    const res = await call('supervisor', 'POST', '/api/vee/edits', { ...edit, expectedVersion: 1 });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({
      current: true,
      interval: {
        meter: METER,
        start: T('09:30'),
        version: 2,
        value: 0.035,
        source: 'edited',
        method: 'MANUAL_READ',
        editedBy: 'supervisor.test',
      },
    });

    const history = await call('clerk', 'GET', historyUrl(T('09:30')));
    expect(history.statusCode).toBe(200);
    expect(history.json<ValidatedInterval[]>().map((v) => [v.version, v.source, v.editedBy])).toEqual([
      [1, 'estimated', undefined],
      [2, 'edited', 'supervisor.test'],
    ]);
    const entries = b.audit.query({ action: 'vee.edit' });
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      actor: 'supervisor.test',
      before: { version: 1, value: 0.04, source: 'estimated', method: 'like-day' },
      after: { version: 2, value: 0.035, source: 'edited', method: 'MANUAL_READ', current: true },
      reason: 'MANUAL_READ: two readers read the register at 09:45',
    });

    // The version the editor saw is no longer the latest.
    const stale = await call('supervisor', 'POST', '/api/vee/edits', { ...edit, expectedVersion: 1 });
    expect(stale.statusCode).toBe(409);
    expect(stale.json()).toMatchObject({ code: 'VEE_VERSION_CONFLICT' });
  });

  it('refuses a clerk (403) and an anonymous caller (401), leaving no trace', async () => {
    const start = T('10:00');
    const clerk = await call('clerk', 'POST', '/api/vee/edits', { ...edit, start });
    expect(clerk.statusCode).toBe(403);
    expect(clerk.json()).toMatchObject({ code: 'FORBIDDEN' });
    expect((await call(null, 'POST', '/api/vee/edits', { ...edit, start })).statusCode).toBe(401);
    expect((await call(null, 'GET', historyUrl(start))).statusCode).toBe(401);
    expect(b.vee.history(METER, Q, start)).toHaveLength(1);
    expect(b.audit.query({ subject: `vee-interval:${METER}/${Q}/${new Date(start).toISOString()}` })).toEqual(
      [],
    );
  });

  it('refuses an unknown reason, a missing note, a negative value and unknown fields (400)', async () => {
    const start = T('10:15');
    for (const body of [
      { ...edit, start, reason: 'BECAUSE' },
      { ...edit, start, note: '   ' },
      { ...edit, start, value: -1 },
      { ...edit, start, quantity: 'power_kw' },
      { ...edit, start, extra: true },
    ]) {
      const res = await call('supervisor', 'POST', '/api/vee/edits', body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.json()).toMatchObject({ code: 'INVALID_REQUEST' });
    }
    const bad = await call('supervisor', 'POST', '/api/vee/edits', { ...edit, start, reason: 'BECAUSE' });
    expect(bad.json<{ message: string }>().message).toMatch(/body\.reason/);
    expect(b.vee.history(METER, Q, start)).toHaveLength(1);
    expect(
      (await call('supervisor', 'GET', `/api/vee/history?meter=${METER}&quantity=${Q}`)).statusCode,
    ).toBe(400);
  });

  it('answers 404 for an interval not validated yet, and an empty history for it', async () => {
    const start = T('12:00') + 86_400_000;
    const res = await call('supervisor', 'POST', '/api/vee/edits', { ...edit, start });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ code: 'VEE_INTERVAL_NOT_FOUND' });
    expect((await call('supervisor', 'GET', historyUrl(start))).json()).toEqual([]);
  });

  it('a post-paid meter exchange over HTTP: a clerk records it, may not decide it, a supervisor approves it once', async () => {
    const recorded = await call('clerk', 'POST', '/api/vee/exchanges', {
      meter: METER,
      kind: 'exchange',
      at: T('10:00'),
      registerBefore: 1234.5,
      registerAfter: 0,
      newSerial: 'SN-NEW-1',
      note: 'meter burnt out; fitter read the old register',
    });
    expect(recorded.statusCode, recorded.body).toBe(201);
    const id = recorded.json().id as number;
    const byClerk = await call('clerk', 'POST', `/api/vee/exchanges/${id}/decision`, { approve: true });
    expect(byClerk.statusCode).toBe(403);
    expect(byClerk.json().code).toBe('FORBIDDEN');
    const approved = await call('supervisor', 'POST', `/api/vee/exchanges/${id}/decision`, { approve: true });
    expect(approved.statusCode, approved.body).toBe(200);
    expect(approved.json()).toMatchObject({ id, status: 'approved' });
    const again = await call('supervisor', 'POST', `/api/vee/exchanges/${id}/decision`, { approve: false });
    expect(again.json().code).toBe('VEE_EXCHANGE_DECIDED');
    const list = await call('supervisor', 'GET', '/api/vee/exchanges?status=approved');
    expect(list.json()).toEqual([expect.objectContaining({ id, meter: METER, status: 'approved' })]);
  });
});
