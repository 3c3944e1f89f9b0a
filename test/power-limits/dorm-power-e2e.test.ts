import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../adapters/mqtt/embedded-broker.ts';
import { validateCampus, type LoadedCampus } from '../../config/campus.ts';
import { startGateway, type RunningGateway } from '../../gateway/gateway.ts';
import { startBackoffice, type RunningBackoffice } from '../../services/backoffice/run.ts';
import { localTimeToUtc } from '../../services/metering/consumption/zone.ts';
import { runIngest, type RunningIngest } from '../../services/metering/ingest/run.ts';
import { startFarm, type Farm } from '../../simulators/farm.ts';
import { farmSpecFromCampus } from '../../simulators/from-campus.ts';
import { testLogger } from '../helpers/logger.ts';
import { waitForValue as waitFor } from '../helpers/wait-for.ts';

/**
 * Dorm power end to end, every part real and on loopback: simulated DDS238-2 meters (with relays)
 * behind an RS-485 converter, a gateway verifying signed commands, an embedded broker, ingest into
 * SQLite and the back office. The schedule and the limits are proposed and approved over HTTP by
 * two people; lights-out opens the relays on the meters, the morning closes them; a room over its
 * power limit is tripped, restored once automatically, and then left for people.
 */

const TZ = 'Asia/Shanghai';
const SITE = 'east';
const GW = 'gw-e1';
const PASSWORD = 'correct horse battery staple';
const NIGHT = localTimeToUtc(TZ, 2026, 9, 14, 23, 0); // a Monday
const MORNING = localTimeToUtc(TZ, 2026, 9, 15, 6, 30);

function rawCampus(dataDir: string, port: number) {
  return {
    campus: { name: 'Test campus (invented)', timezone: TZ },
    dataDir,
    schedules: [
      {
        id: 'dorm-night',
        rooms: { meters: ['E-R1', 'E-R2'] },
        off: '23:00',
        on: '06:30',
        effectiveFrom: '2026-09-01',
      },
    ],
    powerLimits: {
      // R2 runs a heater: any draw is over this room's limit.
      meters: { 'E-R2': { kw: 0.001, overFor: '1s', restoreAfter: '2s', maxAutoRestoresPerDay: 1 } },
      checkEvery: '1s',
    },
    sites: [
      {
        id: SITE,
        gateways: [
          {
            id: GW,
            buses: [
              {
                id: 'floor1',
                type: 'rtu-over-tcp',
                host: '127.0.0.1',
                port,
                timeout: 500,
                meters: ['E-R1', 'E-R2'].map((id, i) => ({
                  id,
                  kind: 'electricity',
                  profile: 'hiking-dds238-2',
                  unitId: i + 1,
                  pollInterval: 300,
                  account: `ROOM-${id}`,
                  simulation: { load: 'dorm-room', seed: 300 + i },
                })),
              },
            ],
          },
        ],
      },
    ],
  };
}

describe('dorm power, end to end', () => {
  const logger = testLogger();
  let dir: string;
  let broker: EmbeddedBroker;
  let farm: Farm;
  let campus: LoadedCampus;
  let ingest: RunningIngest;
  let bo: RunningBackoffice;
  let gateway: RunningGateway;
  const tokens: Record<string, string> = {};

  const api = async (method: string, path: string, who: string, body?: unknown) => {
    const res = await fetch(`${bo.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${tokens[who]}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> & { id?: number } };
  };
  const relay = (meter: string) => farm.meter(meter).relayClosed;

  beforeAll(async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: NIGHT - 60_000, shouldAdvanceTime: true });
    dir = mkdtempSync(join(tmpdir(), 'dorm-power-e2e-'));
    const where = { file: join(dir, 'campus.yaml'), dir };
    farm = await startFarm(
      farmSpecFromCampus(validateCampus(rawCampus(dir, 1), where), { portZero: true }).spec,
    );
    campus = validateCampus(rawCampus(dir, farm.concentrators[0]!.port), where);
    broker = await startEmbeddedBroker();
    ingest = await runIngest(campus, { url: broker.url }, { logger, shareGroup: null, protocolVersion: 4 });
    bo = await startBackoffice({
      campus,
      mqtt: { url: broker.url },
      store: ingest.store,
      logger,
      http: { host: '127.0.0.1', port: 0 },
      bootstrapAdmin: { username: 'admin.zhou', password: PASSWORD },
      scryptCost: 1024,
      detection: false,
    });
    gateway = await startGateway({ campus, gatewayId: GW, mqtt: { url: broker.url }, logger });
    for (const [username, role] of [
      ['clerk.wang', 'clerk'],
      ['sup.li', 'supervisor'],
      ['op.sun', 'operator'],
    ] as const) {
      await bo.users.provisionUser({ username, displayName: username, roles: [role], password: PASSWORD });
    }
    await login();
  });

  /** Everyone signs in (again: a night's jump of the clock ends the sessions). */
  async function login() {
    for (const username of ['clerk.wang', 'sup.li', 'op.sun'])
      tokens[username] = (await bo.users.login(username, PASSWORD, { ip: '127.0.0.1' })).token;
  }

  afterAll(async () => {
    await gateway?.stop();
    await bo?.stop();
    await ingest?.stop();
    await farm?.stop();
    await broker?.close();
    vi.useRealTimers();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('switches rooms by the approved schedule and trips a room over its limit, over HTTP and real gateways', async () => {
    // The clerk proposes the schedule; the clerk may not approve it; the supervisor does.
    const proposed = await api('POST', '/api/schedules/dorm-night/proposals', 'clerk.wang', {
      reason: 'dorm rules, autumn term',
    });
    expect(proposed.status).toBe(201);
    expect(
      (await api('POST', `/api/policy-proposals/${proposed.body.id}/approve`, 'clerk.wang', {})).status,
    ).toBe(403);
    const approved = await api('POST', `/api/policy-proposals/${proposed.body.id}/approve`, 'sup.li', {});
    expect(approved.status).toBe(200);
    expect(approved.body.state).toBe('approved');
    const [listed] = (await api('GET', '/api/schedules', 'op.sun')).body as unknown as {
      status: string;
      meters: string[];
    }[];
    expect(listed).toMatchObject({ status: 'approved', meters: ['E-R1', 'E-R2'] });

    // 23:00: lights-out opens both relays on the meters, each command signed, acked and audited.
    vi.setSystemTime(NIGHT + 1_000);
    await bo.dormPower.tick();
    await waitFor('both relays open', () => !relay('E-R1') && !relay('E-R2'));
    await waitFor('both requests done', () => bo.control.list({ state: 'done' }).length === 2);
    // 06:30: power on.
    vi.setSystemTime(MORNING + 1_000);
    await bo.dormPower.tick();
    await waitFor('both relays closed', () => relay('E-R1') && relay('E-R2'));
    await waitFor('four requests done', () => bo.control.list({ state: 'done' }).length === 4);

    // The limits: proposed and approved the same way. R2 draws power over its limit: tripped,
    // restored once after 2 s, tripped again and then left open for people.
    await login();
    const limits = await api('POST', '/api/power-limits/proposals', 'clerk.wang', { reason: 'room limits' });
    expect((await api('POST', `/api/policy-proposals/${limits.body.id}/approve`, 'sup.li', {})).status).toBe(
      200,
    );
    await waitFor('R2 tripped', () => !relay('E-R2'));
    await waitFor(
      'R2 restored once',
      () => bo.audit.query({ action: 'power-limit.auto-restore' }).length === 1,
    );
    await waitFor('R2 closed again', () => relay('E-R2'));
    await waitFor('R2 tripped again', () => bo.audit.query({ action: 'power-limit.trip' }).length === 2);
    await waitFor(
      'no more automatic restores',
      () => bo.audit.query({ action: 'power-limit.manual-restore-needed' }).length === 1,
    );
    await waitFor('R2 open', () => !relay('E-R2'));
    expect(relay('E-R1')).toBe(true);
    const shown = (await api('GET', '/api/power-limits', 'op.sun')).body as {
      status: string;
      trips: unknown[];
    };
    expect(shown.status).toBe('approved');
    expect(shown.trips).toHaveLength(2);
    expect(bo.control.holds('E-R2').map((h) => h.hold)).toEqual(['power-limit']);
    expect(bo.audit.verify()).toMatchObject({ ok: true });
  });
});
