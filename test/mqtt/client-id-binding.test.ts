import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import type { MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import {
  SERVICE_USERS,
  boundClientId,
  campusAcl,
  gatewayUsername,
  writeBrokerConfig,
} from '../../adapters/mqtt/acl.ts';
import { startCampusBroker, type CampusBroker } from '../../adapters/mqtt/campus-broker.ts';
import { startMosquitto } from '../helpers/mosquitto.ts';
import { waitFor } from '../helpers/readings.ts';

/**
 * Issue 22 item 4: a client id belongs to its account. The attack: an account (here a gateway's,
 * as taken from a stolen gateway) connects with ingest's client id and a clean session, which
 * on an unbound broker closes ingest's connection and wipes its queued readings. Each test queues
 * readings for ingest's persistent session, attacks, then reconnects ingest and counts.
 */

const campus = {
  sites: [{ id: 'east', gateways: [{ id: 'gw1' }, { id: 'gw2' }] }],
} as unknown as Parameters<typeof writeBrokerConfig>[0]['campus'];
const GW1 = gatewayUsername('east', 'gw1');
const READINGS = 'campus/v1/+/+/+/reading';
const INGEST_ID = SERVICE_USERS.ingest;

interface Login {
  url: string;
  secrets: Record<string, string>;
}

function connect(login: Login, username: string | undefined, opts: mqtt.IClientOptions = {}) {
  return mqtt.connectAsync(login.url, {
    username,
    password: username === undefined ? undefined : login.secrets[username],
    reconnectPeriod: 0,
    ...opts,
  });
}

/** Ingest's session with `n` readings queued while it is away; then the takeover attempt. */
async function takeoverScenario(
  login: Login,
  n: number,
): Promise<{ delivered: string[]; sessionPresent: boolean }> {
  const session = { clientId: INGEST_ID, clean: false };
  const ingest = await connect(login, SERVICE_USERS.ingest, session);
  await ingest.subscribeAsync(READINGS, { qos: 1 });
  await ingest.endAsync();

  const gw = await connect(login, GW1, { clientId: GW1 });
  for (let i = 1; i <= n; i++) await gw.publishAsync(`campus/v1/east/gw1/E-${i}/reading`, `${i}`, { qos: 1 });
  await gw.endAsync();

  // The attack: the gateway's own, valid credentials, ingest's client id, a clean session.
  const attacker = await connect(login, GW1, { clientId: INGEST_ID, clean: true });
  await attacker.endAsync();

  const delivered: string[] = [];
  const back = mqtt.connect(login.url, {
    username: SERVICE_USERS.ingest,
    password: login.secrets[SERVICE_USERS.ingest],
    reconnectPeriod: 0,
    ...session,
  });
  back.on('message', (topic) => delivered.push(topic));
  const connack = await new Promise<{ sessionPresent: boolean }>((resolve, reject) => {
    back.once('connect', resolve);
    back.once('error', reject);
  });
  await waitFor(() => delivered.length >= n, 5000, `${n} queued readings`).catch(() => undefined);
  await back.endAsync();
  return { delivered, sessionPresent: connack.sessionPresent };
}

describe('client ids bound to usernames', () => {
  it('places an id outside the account under it; the account keeps its own', () => {
    expect(boundClientId(GW1, GW1)).toBe(GW1);
    expect(boundClientId(GW1, `${GW1}/live-1`)).toBe(`${GW1}/live-1`);
    expect(boundClientId(GW1, 'svc/ingest')).toBe(`${GW1}/svc/ingest`);
    // A sibling whose name merely starts the same is not inside the account.
    expect(boundClientId('gw/east/gw1', 'gw/east/gw10')).toBe('gw/east/gw1/gw/east/gw10');
  });

  it('refuses an account list in which one account would own another’s ids', () => {
    const acl = campusAcl(campus);
    expect(acl.principals.map((p) => p.username)).toContain(GW1);
    const nested = { sites: [{ id: 'svc', gateways: [{ id: 'x' }] }] } as unknown as typeof campus;
    expect(() => campusAcl(nested)).not.toThrow(); // gw/svc/x lies under no account
  });
});

describe('mosquitto with the shipped file: a takeover of ingest’s client id fails', () => {
  it('keeps every reading queued for ingest', async () => {
    const files = writeBrokerConfig({ campus, dir: join(mkdtempSync(join(tmpdir(), 'bind-')), 'broker') });
    const broker = await startMosquitto({
      auth: { passwordFile: files.passwordFile, aclFile: files.aclFile },
    });
    try {
      const secrets = JSON.parse(readFileSync(files.secretsFile, 'utf8')) as Record<string, string>;
      const result = await takeoverScenario({ url: broker.url, secrets }, 5);
      expect(result.sessionPresent).toBe(true);
      expect(result.delivered.sort()).toEqual(
        [1, 2, 3, 4, 5].map((i) => `campus/v1/east/gw1/E-${i}/reading`),
      );
    } finally {
      await broker.stop();
    }
  });
});

describe('the embedded campus broker', () => {
  let broker: CampusBroker | undefined;
  let dataDir: string;
  afterEach(async () => {
    await broker?.close();
    broker = undefined;
  });
  async function start(): Promise<Login> {
    dataDir = mkdtempSync(join(tmpdir(), 'campus-broker-'));
    broker = await startCampusBroker({ config: campus as never, dataDir });
    return {
      url: broker.url,
      secrets: JSON.parse(readFileSync(broker.secretsFile, 'utf8')) as Record<string, string>,
    };
  }

  it('keeps every reading queued for ingest when another account takes its client id', async () => {
    const login = await start();
    const result = await takeoverScenario(login, 5);
    expect(result.sessionPresent).toBe(true);
    expect(result.delivered.sort()).toEqual([1, 2, 3, 4, 5].map((i) => `campus/v1/east/gw1/E-${i}/reading`));
  });

  it('listens on 127.0.0.1 with per-account passwords that only the owner can read', async () => {
    const login = await start();
    expect(login.url).toMatch(/^mqtt:\/\/127\.0\.0\.1:\d+$/);
    expect(statSync(broker!.secretsFile).mode & 0o777).toBe(0o600);
    expect(statSync(join(dataDir, 'broker')).mode & 0o777).toBe(0o700);
    expect(Object.keys(login.secrets).sort()).toEqual(
      [
        gatewayUsername('east', 'gw1'),
        gatewayUsername('east', 'gw2'),
        'svc/control',
        'svc/ingest',
        'svc/monitor',
      ].sort(),
    );
    expect(new Set(Object.values(login.secrets)).size).toBe(5);
    // A restart keeps them, so gateways need not be given new ones.
    await broker!.close();
    broker = await startCampusBroker({ config: campus as never, dataDir });
    expect(JSON.parse(readFileSync(broker.secretsFile, 'utf8'))).toEqual(login.secrets);
  });

  it('refuses anonymous clients and wrong passwords, and counts them', async () => {
    const login = await start();
    await expect(connect(login, undefined, { clientId: 'anon' })).rejects.toThrow(
      /Not authorized|Bad username/i,
    );
    await expect(
      mqtt.connectAsync(login.url, { username: GW1, password: 'guess', reconnectPeriod: 0 }),
    ).rejects.toThrow();
    expect(broker!.refused().connections).toBe(2);
  });

  it('refuses a publish outside the account’s grants, delivers none of it, and counts it', async () => {
    const login = await start();
    const monitor = await connect(login, SERVICE_USERS.monitor, { clientId: 'svc/monitor' });
    const seen: string[] = [];
    monitor.on('message', (topic) => seen.push(topic));
    await monitor.subscribeAsync('campus/v1/#', { qos: 1 });

    // gw1 forging gw2's reading, and ingest (which may publish nothing) forging one of gw1's.
    for (const [who, topic] of [
      [GW1, 'campus/v1/east/gw2/E-9/reading'],
      [SERVICE_USERS.ingest, 'campus/v1/east/gw1/E-1/reading'],
    ] as const) {
      const c: MqttClient = await connect(login, who);
      await Promise.race([
        c.publishAsync(topic, 'forged', { qos: 1 }).catch(() => undefined),
        new Promise((r) => setTimeout(r, 500)),
      ]);
      c.end(true);
    }
    // A subscription outside the grant is refused too.
    const gw = await connect(login, GW1, { clientId: GW1 });
    await expect(gw.subscribeAsync('campus/v1/east/gw2/+/cmd', { qos: 1 })).rejects.toThrow(
      /Subscribe error/,
    );
    // A genuine reading after the forged ones: once it is seen, the forged ones would have been.
    await gw.publishAsync('campus/v1/east/gw1/E-1/reading', 'genuine', { qos: 1 });
    await waitFor(() => seen.includes('campus/v1/east/gw1/E-1/reading'), 5000, 'the genuine reading');
    expect(seen).toEqual(['campus/v1/east/gw1/E-1/reading']);
    expect(broker!.refused()).toEqual({ connections: 0, publishes: 2, subscriptions: 1 });
    await gw.endAsync();
    await monitor.endAsync();
  });
});
