import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredReading } from '../../services/metering/storage.ts';
import { local } from '../billing/support.ts';
import { startDeskServer, type DeskServer } from '../web/desk-harness.ts';

/**
 * Annual plans through the whole back office over HTTP, followed with the real VEE over raw
 * readings in SQLite: Dorm E1's water meter W-E1 read every 15 minutes through November 2026 at
 * 1 m³ a day; the clock stands at 1 December 08:00 local. November's use is 30 m³ exactly (the
 * register's delta over the month), the other months none: 10 % of a 300 m³ plan. (Slow: VEE validates a whole year of a meter.)
 */

const NOW = local(2026, 12, 1, 8);
let desk: DeskServer;
const as: DeskServer['as'] = (...args) => desk.as(...args);

beforeAll(async () => {
  const readings: StoredReading[] = [];
  const from = local(2026, 11, 1);
  const to = local(2026, 12, 1);
  for (let ts = from, seq = 0; ts <= to; ts += 15 * 60_000, seq++)
    readings.push({
      ...{ meter: 'W-E1', ts, seq, quality: 'good', site: 'east', gateway: 'gw-east', kind: 'water' },
      values: { volume_m3: 5000 + (ts - from) / 86_400_000 },
    });
  desk = await startDeskServer({
    name: 'plans-api',
    now: NOW,
    staff: [
      ['op.zhao', 'operator'],
      ['sup.li', 'supervisor'],
      ['lead.qian', ['operator', 'supervisor']],
    ],
    readings,
  });
});

afterAll(async () => {
  await desk?.close();
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
    const actions = desk.bo.audit.query({ action: 'plan.' }).map((e) => e.action);
    expect(actions).toEqual(['plan.propose', 'plan.propose', 'plan.approve']);
  });
});
