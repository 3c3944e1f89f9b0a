import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../adapters/mqtt/embedded-broker.ts';
import { SqliteStore } from '../../adapters/sqlite/store.ts';
import { validateCampus } from '../../config/campus.ts';
import { createBackofficeServer, type RunningBackofficeServer } from '../../services/backoffice/server.ts';
import type { StoredReading } from '../../services/metering/storage.ts';
import { demoCampus } from '../../simulators/campus/demo-campus.ts';
import { testLogger } from '../helpers/logger.ts';
import { T0 } from '../outages/support.ts';

/**
 * The heating desk through the whole back office over HTTP: a stop applied, dispatched, locked and
 * signed by two maintenance staff is what detection takes as "registered stopped" — the unit whose
 * meter then shows space heating gets an unauthorized-heating alert, the same heating on a unit
 * locked but signed by one person only gets none. Refusals come back coded; the routes are in the
 * OpenAPI document.
 */

const PASSWORD = 'correct horse battery staple';
const H = 3_600_000;
const STAFF = [
  ['desk.wu', 'heating-desk'],
  ['maint.sun', 'maintenance'],
  ['maint.ma', 'maintenance'],
  ['insp.chen', 'inspector'],
  ['sup.li', 'supervisor'],
] as const;

let dir: string;
let broker: EmbeddedBroker;
let store: SqliteStore;
let bo: RunningBackofficeServer;
const time = { now: T0 };
const tokens: Record<string, string> = {};

const as = (user: string, method: 'GET' | 'POST', url: string, payload?: object) =>
  bo.app!.inject({
    method,
    url,
    ...(method === 'POST' ? { payload: payload ?? {} } : {}),
    headers: { authorization: `Bearer ${tokens[user]}` },
  });

async function logIn() {
  for (const [username] of STAFF) {
    const res = await bo.app!.inject({
      method: 'POST',
      url: '/api/session',
      payload: { username, password: PASSWORD },
    });
    expect(res.statusCode, res.body).toBe(201);
    tokens[username] = res.json().token;
  }
}

/** A day of space heating from T0 + 1 h: 0.5 m³/h, 60/45 °C, 2 kWh a quarter hour. */
function heatingDay(meter: string): StoredReading[] {
  const out: StoredReading[] = [];
  for (let i = 0; i < 96; i++)
    out.push({
      ...{
        meter,
        ts: T0 + H + i * 900_000,
        seq: i + 1,
        quality: 'good',
        site: 'east',
        gateway: 'gw-east',
        kind: 'heat',
      },
      values: { heat_kwh: 5_000 + 2 * i, flow_m3h: 0.5, supply_c: 60, return_c: 45 },
    });
  return out;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'heating-api-'));
  broker = await startEmbeddedBroker();
  store = SqliteStore.open({ path: ':memory:' });
  await store.writeReadings([...heatingDay('H-E-H03'), ...heatingDay('H-E-H04')]);
  const ports = Array.from({ length: 20 }, (_, i) => 20_000 + i);
  const campus = validateCampus(demoCampus({ ports, dataDir: dir, roomsPerFloorLine: 2 }), {
    file: join(dir, 'campus.yaml'),
    dir,
  });
  bo = await createBackofficeServer({
    ...{ campus, mqtt: { url: broker.url }, store, logger: testLogger(), clock: () => time.now },
    http: { host: '127.0.0.1', port: 0, secureCookie: false },
    bootstrapAdmin: { username: 'admin.zhou', password: PASSWORD },
    scryptCost: 1024,
    detection: { intervalMs: 24 * H, windowMs: 3 * 24 * H },
  });
  for (const [username, role] of STAFF)
    await bo.users.provisionUser({ username, displayName: username, roles: [role], password: PASSWORD });
  await logIn();
});

afterAll(async () => {
  await bo?.stop();
  await store?.close();
  await broker?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the heating desk over HTTP', () => {
  it('registers a signed stop for detection, refuses coded, documents its routes', async () => {
    const stop = async (unit: string) => {
      const res = await as('desk.wu', 'POST', '/api/heating/applications', {
        ...{ kind: 'stop', unit, applicant: `Household ${unit}`, reason: 'away' },
      });
      expect(res.statusCode, res.body).toBe(201);
      const id = res.json().id as number;
      expect(
        (
          await as('desk.wu', 'POST', `/api/heating/applications/${id}/dispatch`, {
            crew: ['maint.sun', 'maint.ma'],
          })
        ).statusCode,
      ).toBe(200);
      return id;
    };
    const signed = await stop('H-E-H03');
    const halfDone = await stop('H-E-H04');
    time.now = T0 + H;
    await logIn();
    for (const id of [signed, halfDone]) {
      const res = await as('maint.sun', 'POST', `/api/heating/applications/${id}/valve`, {
        at: T0 + H / 2,
        seal: `S-${id}`,
      });
      expect(res.statusCode, res.body).toBe(200);
    }
    // The desk clerk may not sign (no role), the locker may not sign twice: coded refusals.
    expect((await as('desk.wu', 'POST', `/api/heating/applications/${signed}/sign`)).json()).toMatchObject({
      code: 'FORBIDDEN',
    });
    const twice = await as('maint.sun', 'POST', `/api/heating/applications/${signed}/sign`);
    expect([twice.statusCode, twice.json().code]).toEqual([403, 'NOT_INDEPENDENT']);
    expect((await as('maint.ma', 'POST', `/api/heating/applications/${signed}/sign`)).json()).toMatchObject({
      state: 'stopped',
    });
    const bad = await as('maint.ma', 'POST', `/api/heating/applications/${signed}/valve`, { at: 'now' });
    expect([bad.statusCode, bad.json().code]).toEqual([400, 'INVALID_REQUEST']);
    const stopped = (await as('insp.chen', 'GET', '/api/heating/stopped')).json();
    expect(stopped).toEqual([
      expect.objectContaining({ meter: 'H-E-H03', from: T0 + H / 2, confirmedBy: ['maint.sun', 'maint.ma'] }),
    ]);
    const mine = (await as('maint.ma', 'GET', '/api/heating/applications?mine=true')).json() as {
      id: number;
    }[];
    expect(mine.map((a) => a.id).sort()).toEqual([signed, halfDone].sort());

    time.now = T0 + 26 * H;
    await bo.detection!.runOnce();
    const heating = bo.alerts.list().filter((a) => a.type === 'unauthorized-heating');
    expect(heating.map((a) => a.meter)).toEqual(['H-E-H03']);

    await logIn();
    const draw = await as('insp.chen', 'POST', '/api/heating/spot-checks', { size: 1, seed: 'api' });
    expect(draw.statusCode, draw.body).toBe(201);
    expect(draw.json()).toMatchObject({ drawn: ['H-E-H03'], seed: 'api' });
    expect(
      (await as('insp.chen', 'GET', `/api/heating/spot-checks/${draw.json().id}/verify`)).json(),
    ).toMatchObject({ matches: true });

    const doc = (await bo.app!.inject({ method: 'GET', url: '/openapi.json' })).json() as {
      paths: Record<string, unknown>;
    };
    for (const p of [
      '/api/heating/applications',
      '/api/heating/applications/{id}/sign',
      '/api/heating/spot-checks',
      '/api/heating/units',
      '/api/heating/seasons/{id}/bill',
    ])
      expect(Object.keys(doc.paths)).toContain(p);
  });

  it('electric heating: the desk proposes, a supervisor approves, refusals coded, listed for inspectors, documented', async () => {
    await logIn();
    const body = { meter: 'E-E-H01', applicant: 'Household E-H01', reason: 'electric-heating tariff' };
    const backDated = await as('desk.wu', 'POST', '/api/heating/electric', { ...body, from: time.now - H });
    expect([backDated.statusCode, backDated.json().code]).toEqual([422, 'INVALID_TIME']);
    const fitter = await as('maint.sun', 'POST', '/api/heating/electric', body);
    expect([fitter.statusCode, fitter.json().code]).toEqual([403, 'FORBIDDEN']);
    const heat = await as('desk.wu', 'POST', '/api/heating/electric', { ...body, meter: 'H-E-H01' });
    expect([heat.statusCode, heat.json().code]).toEqual([422, 'INVALID_APPLICATION']);
    const ok = await as('desk.wu', 'POST', '/api/heating/electric', body);
    expect(ok.statusCode, ok.body).toBe(201);
    expect(ok.json()).toMatchObject({
      number: 'EH-1',
      meter: 'E-E-H01',
      from: time.now,
      recordedBy: 'desk.wu',
      state: 'proposed',
    });
    const again = await as('desk.wu', 'POST', '/api/heating/electric', body);
    expect([again.statusCode, again.json().code]).toEqual([409, 'ELECTRIC_REGISTERED']);
    const deskApproves = await as('desk.wu', 'POST', '/api/heating/electric/1/approve', {});
    expect([deskApproves.statusCode, deskApproves.json().code]).toEqual([403, 'FORBIDDEN']);
    const approved = await as('sup.li', 'POST', '/api/heating/electric/1/approve', {
      reason: 'contract seen',
    });
    expect(approved.statusCode, approved.body).toBe(200);
    expect(approved.json()).toMatchObject({
      state: 'approved',
      decision: { by: 'sup.li' },
      inForceFrom: time.now,
    });
    expect((await as('insp.chen', 'GET', '/api/heating/electric')).json()).toEqual([
      expect.objectContaining({ number: 'EH-1', meter: 'E-E-H01', state: 'approved', ended: null }),
    ]);
    const end = await as('desk.wu', 'POST', '/api/heating/electric/1/end', {
      reason: 'district heating now',
    });
    expect(end.json()).toMatchObject({ ended: { by: 'desk.wu', reason: 'district heating now' } });
    const doc = (await bo.app!.inject({ method: 'GET', url: '/openapi.json' })).json() as {
      paths: Record<string, unknown>;
    };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/heating/electric',
        '/api/heating/electric/{id}/end',
        '/api/heating/electric/{id}/approve',
        '/api/heating/electric/{id}/refuse',
        '/api/heating/electric/{id}/withdraw',
      ]),
    );
  });
});
