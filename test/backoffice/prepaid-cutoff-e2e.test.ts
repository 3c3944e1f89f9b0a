import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../adapters/mqtt/embedded-broker.ts';
import { validateCampus, type LoadedCampus } from '../../config/campus.ts';
import { startGateway, type RunningGateway } from '../../gateway/gateway.ts';
import type { Actor } from '../../services/platform/auth/roles.ts';
import { AUDIT_HEAD_TOPIC, AuditHeadPayloadSchema } from '../../services/platform/audit/head-publisher.ts';
import { POLICY_AUDIT } from '../../services/backoffice/policy-loop.ts';
import { startBackoffice, type RunningBackoffice } from '../../services/backoffice/run.ts';
import { localTimeToUtc } from '../../services/metering/consumption/zone.ts';
import { POLICY_ACTOR, type RelayRequest } from '../../services/operations/control/relay-control.ts';
import { runIngest, type RunningIngest } from '../../services/metering/ingest/run.ts';
import type { StoredReading } from '../../services/metering/storage.ts';
import { startFarm, type Farm } from '../../simulators/farm.ts';
import { farmSpecFromCampus } from '../../simulators/from-campus.ts';
import { testLogger } from '../helpers/logger.ts';
import { waitForValue as waitFor } from '../helpers/wait-for.ts';

/**
 * Prepaid cut-off and restore end to end, every part real and on loopback: simulated DDS238-2
 * prepaid meters behind an RS-485 converter (RTU over TCP), a gateway with the control public
 * key, an embedded MQTT broker, ingest into SQLite, and the back office (policy loop, relay
 * control, audit log and its published head).
 *
 * Consumption is debited per ended local day, so the whole process runs on a shifted wall clock
 * (only Date is faked; it advances in real time) that the test moves forward: over midnight once
 * to have the day's first readings, over a whole day so that the day ends and is debited, and to
 * the next morning, because a cut-off due at midnight is held until friendly hours end.
 */

const TZ = 'Asia/Shanghai';
const SITE = 'east';
const GW = 'gw-e1';
const ROOM = { cut: 'E1-101', paid: 'E1-102' } as const;
const meterOf = (room: string) => `E-${room}`;
const DAY = localTimeToUtc(TZ, 2025, 11, 25); // a Tuesday
const NEXT_DAY = localTimeToUtc(TZ, 2025, 11, 26);
const PASSWORD = 'correct horse battery staple';

function rawCampus(dataDir: string, port: number) {
  return {
    campus: { name: 'Test campus (invented)', timezone: TZ },
    dataDir,
    sites: [
      {
        id: SITE,
        gateways: [
          {
            id: GW,
            buses: [
              {
                id: 'e1-floor1',
                type: 'rtu-over-tcp',
                host: '127.0.0.1',
                port,
                timeout: 500,
                meters: ['E1-101', 'E1-102', 'E1-103'].map((room, i) => ({
                  id: meterOf(room),
                  kind: 'electricity',
                  profile: 'hiking-dds238-2',
                  unitId: i + 1,
                  pollInterval: 500,
                  account: room,
                  simulation: { load: 'dorm-room', seed: 100 + i },
                })),
              },
            ],
          },
        ],
      },
    ],
  };
}

describe('prepaid cut-off and restore, end to end', () => {
  const logger = testLogger();
  let dir: string;
  let broker: EmbeddedBroker;
  let farm: Farm;
  let campus: LoadedCampus;
  let ingest: RunningIngest;
  let bo: RunningBackoffice;
  let gateway: RunningGateway;
  let clerk: Actor;
  let supervisor: Actor;

  const latest = async (room: string): Promise<StoredReading | undefined> =>
    (await ingest.store.latest([meterOf(room)]))[0];
  /** Waits until every room's meter has a stored good reading taken after `t`. */
  const readingsAfter = (t: number, rooms: string[] = Object.values(ROOM)) =>
    waitFor(`readings after ${new Date(t).toISOString()}`, async () => {
      const all = await Promise.all(rooms.map(latest));
      return all.every((r) => r && r.quality === 'good' && r.ts > t) && all;
    });
  const policyRequest = (room: string, action: 'open' | 'close') =>
    waitFor(`a policy ${action} request for ${room}`, () =>
      bo.control
        .list({ meter: meterOf(room), state: 'pending' })
        .find((r) => r.source === 'policy' && r.action === action),
    );
  const done = (req: RelayRequest) =>
    waitFor(`request ${req.id} done`, () => {
      const r = bo.control.get(req.id);
      return r.state === 'done' && r;
    });

  const api = (method: string, path: string, token?: string, body?: unknown) =>
    fetch(`${bo.url}${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });

  beforeAll(async () => {
    // The whole campus runs on this clock; it advances in real time from here.
    vi.useFakeTimers({ toFake: ['Date'], now: DAY - 60_000, shouldAdvanceTime: true });
    dir = mkdtempSync(join(tmpdir(), 'prepaid-e2e-'));
    const where = { file: join(dir, 'campus.yaml'), dir };
    // The farm serves the buses of the campus file; its port is known once it listens.
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
      policyIntervalMs: 200,
      bootstrapAdmin: { username: 'admin.zhou', password: PASSWORD },
      scryptCost: 1024,
    });
    // Started after the back office made the key pair: the gateway takes commands only with it.
    gateway = await startGateway({ campus, gatewayId: GW, mqtt: { url: broker.url }, logger });

    const ip = { ip: '127.0.0.1' };
    for (const [username, role] of [
      ['clerk.wang', 'clerk'],
      ['sup.li', 'supervisor'],
    ] as const) {
      await bo.users.provisionUser({
        username,
        displayName: username,
        roles: [role],
        password: PASSWORD,
      });
    }
    clerk = (await bo.users.login('clerk.wang', PASSWORD, ip)).actor;
    supervisor = (await bo.users.login('sup.li', PASSWORD, ip)).actor;
  });

  afterAll(async () => {
    await gateway?.stop();
    await bo?.stop();
    await ingest?.stop();
    await farm?.stop();
    await broker?.close();
    vi.useRealTimers();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('debits a day, holds the cut-off at night, cuts off after approval, restores after a top-up', async () => {
    // Readings on both sides of the day's first midnight.
    await readingsAfter(DAY - 60_000);
    vi.setSystemTime(DAY - 1_500);
    await readingsAfter(DAY);

    // The business office, just after midnight: two rooms opened and verified, one topped up a little.
    for (const room of Object.values(ROOM)) {
      bo.prepaid.openAccount(clerk, {
        id: room,
        customerType: 'student-room',
        holder: `Room ${room}`,
        meters: [meterOf(room)],
      });
      bo.prepaid.verifyTariffType(supervisor, room);
    }
    bo.prepaid.topUp(clerk, { account: ROOM.cut, amountFen: 100, method: 'cash', reference: 'R-0001' });
    bo.prepaid.topUp(clerk, { account: ROOM.paid, amountFen: 50_000, method: 'cash', reference: 'R-0002' });
    // 100 fen is below the second alarm level of a student room: one alarm, not one per pass.
    await waitFor('the low-balance alarm', () => bo.audit.query({ action: POLICY_AUDIT.alarm }).length > 0);

    // A day later, just before the next midnight; then the day ends and is debited.
    vi.setSystemTime(NEXT_DAY - 1_500);
    await readingsAfter(NEXT_DAY);
    const debit = await waitFor('the day debited', () =>
      bo.prepaid.ledger(ROOM.cut).find((e) => e.type === 'debit'),
    );
    expect(debit).toMatchObject({ meter: meterOf(ROOM.cut), intervalStart: DAY, intervalEnd: NEXT_DAY });
    expect(bo.prepaid.balance(ROOM.cut)).toBeLessThanOrEqual(0);
    await waitFor('the paid room debited', () =>
      bo.prepaid.ledger(ROOM.paid).some((e) => e.type === 'debit'),
    );

    // Midnight is a friendly hour: the cut-off is held, not requested.
    const held = await waitFor('the cut-off held', () => bo.audit.query({ action: POLICY_AUDIT.held })[0]);
    expect(held).toMatchObject({
      actor: POLICY_ACTOR,
      subject: `account:${ROOM.cut}`,
      after: { hold: 'night' },
    });
    await bo.policy.runOnce();
    expect(bo.control.list()).toEqual([]);

    // 09:00: the policy raises the cut-off; a supervisor approves it; the gateway opens the relay.
    vi.setSystemTime(NEXT_DAY + 9 * 3_600_000);
    const cut = await policyRequest(ROOM.cut, 'open');
    expect(cut.requestedBy).toBe(POLICY_ACTOR);
    // The supervisor approves over the HTTP API, logged in with their own password.
    const login = await api('POST', '/api/session', undefined, { username: 'sup.li', password: PASSWORD });
    expect(login.status).toBe(201);
    const { token } = (await login.json()) as { token: string };
    const approved = await api('POST', `/api/relay-requests/${cut.id}/approve`, token, {});
    expect(approved.status).toBe(200);
    expect(await done(cut)).toMatchObject({ observed: 'open', decidedBy: 'sup.li' });
    expect(farm.meter(meterOf(ROOM.cut)).relayClosed).toBe(false);
    const off = await waitFor('a reading with the relay open', async () => {
      const r = await latest(ROOM.cut);
      return r?.quality === 'good' && r.values.relay_closed === 0 && r;
    });
    expect(off.values.power_kw).toBe(0);
    // The paid room was never touched.
    expect(bo.control.list({ meter: meterOf(ROOM.paid) })).toEqual([]);
    expect(farm.meter(meterOf(ROOM.paid)).relayClosed).toBe(true);

    // The clerk sells electricity; the policy raises the restore; a supervisor approves it.
    bo.prepaid.topUp(clerk, { account: ROOM.cut, amountFen: 2_000, method: 'cash', reference: 'R-0003' });
    const restore = await policyRequest(ROOM.cut, 'close');
    await bo.control.approve(supervisor, restore.id);
    expect(await done(restore)).toMatchObject({ observed: 'closed' });
    expect(farm.meter(meterOf(ROOM.cut)).relayClosed).toBe(true);
    const on = await waitFor('a reading with the relay closed', async () => {
      const r = await latest(ROOM.cut);
      return r?.quality === 'good' && r.values.relay_closed === 1 && r.ts > off.ts && r;
    });
    expect(on.values.power_kw).toBeGreaterThan(0);

    // The audit log is whole and tells the story in order.
    await bo.policy.runOnce();
    expect(bo.audit.verify()).toMatchObject({ ok: true });
    const story = bo.audit
      .query({ limit: 10_000 })
      .filter(
        (e) =>
          e.subject === `account:${ROOM.cut}` ||
          e.subject === `relay-request:${cut.id}` ||
          e.subject === `relay-request:${restore.id}`,
      )
      .map((e) => `${e.action} ${e.actor}`);
    expect(story).toEqual([
      'account.open clerk.wang',
      'account.verify-tariff sup.li',
      'ledger.topup clerk.wang',
      `${POLICY_AUDIT.alarm} ${POLICY_ACTOR}`,
      `ledger.debit ${POLICY_ACTOR}`,
      `${POLICY_AUDIT.held} ${POLICY_ACTOR}`,
      `relay.request ${POLICY_ACTOR}`,
      'relay.approve sup.li',
      'relay.command system:control',
      'relay.sent system:control',
      `relay.ack gateway:${SITE}/${GW}`,
      'ledger.topup clerk.wang',
      `relay.request ${POLICY_ACTOR}`,
      'relay.approve sup.li',
      'relay.command system:control',
      'relay.sent system:control',
      `relay.ack gateway:${SITE}/${GW}`,
      // Supplied again with a balance below the first level: the alarm steps down once.
      `${POLICY_AUDIT.alarm} ${POLICY_ACTOR}`,
    ]);
    const alarms = bo.audit.query({ subject: `account:${ROOM.cut}`, action: POLICY_AUDIT.alarm });
    expect(alarms.map((e) => (e.after as { level: number }).level)).toEqual([2, 1]);
    // The paid room: no alarm, no hold, no relay request.
    expect(bo.audit.query({ subject: `account:${ROOM.paid}`, action: 'prepaid.' })).toEqual([]);

    // The chain head is published, retained, where the inspection department records it.
    const watcher = await mqtt.connectAsync(broker.url, { clientId: 'inspection' });
    try {
      let published: { seq: number; hash: string } | undefined;
      watcher.on('message', (_t, payload) => {
        published = AuditHeadPayloadSchema.parse(JSON.parse(payload.toString()));
      });
      await watcher.subscribeAsync(AUDIT_HEAD_TOPIC, { qos: 1 });
      const head = await waitFor('the current head published', () => {
        const now = bo.audit.head();
        return published && now !== null && published.seq === now.seq ? now : undefined;
      });
      expect(published?.hash).toBe(head.hash);
      expect(bo.audit.verify(published)).toMatchObject({ ok: true });
    } finally {
      await watcher.endAsync();
    }
  });
});
