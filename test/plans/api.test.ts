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
import { local } from '../billing/support.ts';

/**
 * Annual plans through the whole back office over HTTP, followed with the real VEE over raw
 * readings in SQLite: Dorm E1's water meter W-E1 read every 15 minutes through November 2026 at
 * 1 m³ a day; the clock stands at 1 December 08:00 local. November's use is 30 m³ exactly (the
 * register's delta over the month), the other months none: 10 % of a 300 m³ plan. (Slow: VEE validates a whole year of a meter.)
 */

const PASSWORD = 'correct horse battery staple';
const NOW = local(2026, 12, 1, 8);
let dir: string;
let broker: EmbeddedBroker;
let store: SqliteStore;
let bo: RunningBackofficeServer;
const tokens: Record<string, string> = {};
const as = (user: string, method: 'GET' | 'POST', url: string, payload?: object) =>
  bo.app!.inject({
    method,
    url,
    ...(method === 'POST' ? { payload: payload ?? {} } : {}),
    headers: { authorization: `Bearer ${tokens[user]}` },
  });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'plans-api-'));
  broker = await startEmbeddedBroker();
  store = SqliteStore.open({ path: ':memory:' });
  const readings: StoredReading[] = [];
  const from = local(2026, 11, 1);
  const to = local(2026, 12, 1);
  for (let ts = from, seq = 0; ts <= to; ts += 15 * 60_000, seq++)
    readings.push({
      ...{ meter: 'W-E1', ts, seq, quality: 'good', site: 'east', gateway: 'gw-east', kind: 'water' },
      values: { volume_m3: 5000 + (ts - from) / 86_400_000 },
    });
  await store.writeReadings(readings);
  const ports = Array.from({ length: 20 }, (_, i) => 20_000 + i);
  const campus = validateCampus(demoCampus({ ports, dataDir: dir, roomsPerFloorLine: 2 }), {
    file: join(dir, 'campus.yaml'),
    dir,
  });
  bo = await createBackofficeServer({
    ...{ campus, mqtt: { url: broker.url }, store, logger: testLogger(), clock: () => NOW },
    http: { host: '127.0.0.1', port: 0, secureCookie: false },
    bootstrapAdmin: { username: 'admin.zhou', password: PASSWORD },
    scryptCost: 1024,
    detection: false,
  });
  for (const [username, roles] of [
    ['op.zhao', ['operator']],
    ['sup.li', ['supervisor']],
    ['lead.qian', ['operator', 'supervisor']],
  ] as const) {
    await bo.users.provisionUser({ username, displayName: username, roles: [...roles], password: PASSWORD });
    const res = await bo.app!.inject({
      method: 'POST',
      url: '/api/session',
      payload: { username, password: PASSWORD },
    });
    tokens[username] = res.json().token;
  }
});

afterAll(async () => {
  await bo?.stop();
  await store?.close();
  await broker?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('annual plans over HTTP', () => {
  it('proposes, refuses self-approval, approves, follows use with VEE and reports', async () => {
    const body = {
      unit: 'dorm-e1',
      name: 'Dorm E1',
      utility: 'water',
      year: 2026,
      meters: ['W-E1'],
      quantity: 300,
    };
    const own = await as('lead.qian', 'POST', '/api/plans', body);
    expect(own.statusCode, own.body).toBe(201);
    const self = await as('lead.qian', 'POST', `/api/plans/${own.json().id}/approve`);
    expect([self.statusCode, self.json().code]).toEqual([403, 'SELF_APPROVAL']);
    const bad = await as('op.zhao', 'POST', '/api/plans', { ...body, quantity: '300' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toContain('body.quantity');
    const made = await as('op.zhao', 'POST', '/api/plans', body);
    expect((await as('sup.li', 'POST', `/api/plans/${made.json().id}/approve`)).json().state).toBe(
      'approved',
    );

    const status = await as('op.zhao', 'GET', `/api/plans/${made.json().id}/status`);
    expect(status.statusCode, status.body).toBe(200);
    const s = status.json() as {
      months: { month: string; useMilli: number }[];
      useMilli: number;
      shareBp: number;
    };
    // January to December so far (the clock is in December's first morning).
    expect(s.months.map((m) => m.month)).toHaveLength(12);
    expect(s.months.find((m) => m.month === '2026-11')?.useMilli).toBe(30_000);
    expect(s.months.filter((m) => m.month !== '2026-11').every((m) => m.useMilli === 0)).toBe(true);
    expect([s.useMilli, s.shareBp]).toEqual([30_000, 1000]);

    const report = await as('sup.li', 'GET', '/api/plans/report?unit=dorm-e1&year=2026');
    expect(report.json()).toMatchObject({ useMilli: 30_000, overMilli: -270_000, complete: false });
    const html = await as('sup.li', 'GET', '/api/plans/report?unit=dorm-e1&year=2026&format=html&lang=en');
    expect(html.headers['content-type']).toContain('text/html');
    expect(html.body).toContain('Left in the plan</th><td>270.000 m³');
    expect(html.body).toContain('The year is not over');
    const actions = bo.audit.query({ action: 'plan.' }).map((e) => e.action);
    expect(actions).toEqual(['plan.propose', 'plan.propose', 'plan.approve']);
  });
});
