import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SERVICE_USERS,
  aedesAuthorizer,
  filterWithin,
  gatewayUsername,
  parsePasswordFile,
  topicMatches,
  verifyPassword,
  writeBrokerConfig,
  type BrokerConfigFiles,
} from '../../adapters/mqtt/acl.ts';
import { startEmbeddedBroker } from '../../adapters/mqtt/embedded-broker.ts';
import { startMosquitto } from '../helpers/mosquitto.ts';

const campus = {
  sites: [
    { id: 'east', gateways: [{ id: 'gw1' }, { id: 'gw2' }] },
    { id: 'west', gateways: [{ id: 'gw3' }] },
  ],
} as unknown as Parameters<typeof writeBrokerConfig>[0]['campus'];

const GW1 = gatewayUsername('east', 'gw1');

function brokerFiles(): BrokerConfigFiles {
  return writeBrokerConfig({ campus, dir: join(mkdtempSync(join(tmpdir(), 'acl-')), 'broker') });
}

describe('ACL rules', () => {
  it('matches topics and subscriptions the MQTT way', () => {
    expect(topicMatches('campus/v1/+/+/+/cmd', 'campus/v1/east/gw1/E-1/cmd')).toBe(true);
    expect(topicMatches('campus/v1/+/+/+/cmd', 'campus/v1/east/gw1/E-1/cmd/ack')).toBe(false);
    expect(topicMatches('campus/v1/#', 'campus/v1/east/gw1/status')).toBe(true);
    expect(topicMatches('#', '$SYS/broker/uptime')).toBe(false);
    expect(filterWithin('campus/v1/east/gw1/+/cmd', 'campus/v1/east/gw1/+/cmd')).toBe(true);
    expect(filterWithin('campus/v1/east/gw1/E-1/cmd', 'campus/v1/east/gw1/+/cmd')).toBe(true);
    expect(filterWithin('campus/v1/east/+/+/cmd', 'campus/v1/east/gw1/+/cmd')).toBe(false);
    expect(filterWithin('campus/v1/east/gw1/#', 'campus/v1/east/gw1/+/cmd')).toBe(false);
    expect(filterWithin('campus/v1/east/gw1/E-1/reading', 'campus/v1/#')).toBe(true);
  });

  it('writes a mosquitto-compatible password file and keeps secrets owner-only', () => {
    const files = brokerFiles();
    expect(statSync(files.secretsFile).mode & 0o777).toBe(0o600);
    expect(statSync(files.passwordFile).mode & 0o777).toBe(0o600);
    const secrets = JSON.parse(readFileSync(files.secretsFile, 'utf8')) as Record<string, string>;
    const hashes = parsePasswordFile(readFileSync(files.passwordFile, 'utf8'));
    expect([...hashes.keys()].sort()).toEqual(Object.keys(secrets).sort());
    expect(Object.keys(secrets)).toContain('gw/west/gw3');
    expect(verifyPassword(secrets[GW1]!, hashes.get(GW1)!)).toBe(true);
    expect(verifyPassword('wrong', hashes.get(GW1)!)).toBe(false);
    // Re-running keeps passwords; a hash written by mosquitto_passwd verifies too.
    const again = writeBrokerConfig({ campus, dir: join(files.secretsFile, '..') });
    expect(JSON.parse(readFileSync(again.secretsFile, 'utf8'))).toEqual(secrets);
    const pw = join(mkdtempSync(join(tmpdir(), 'pw-')), 'passwd');
    execFileSync('mosquitto_passwd', ['-b', '-c', pw, 'alice', 's3cret']);
    expect(verifyPassword('s3cret', parsePasswordFile(readFileSync(pw, 'utf8')).get('alice')!)).toBe(true);
    const acl = readFileSync(files.aclFile, 'utf8');
    expect(acl).toContain(`user ${GW1}\ntopic read campus/v1/east/gw1/+/cmd\n`);
    expect(acl).not.toMatch(/password|secret/i);
  });
});

interface Creds {
  url: string;
  secrets: Record<string, string>;
}

async function connectAs(c: Creds, username: string, password = c.secrets[username]): Promise<MqttClient> {
  return mqtt.connectAsync(c.url, {
    clientId: `${username.replace(/\//g, '-')}-${Math.random().toString(16).slice(2, 8)}`,
    username,
    password,
    reconnectPeriod: 0,
  });
}

/** The same scenario against either broker. */
function aclScenario(
  start: () => Promise<{ creds: Creds; stop: () => Promise<void> }>,
  opts: { sharedSubscriptions: boolean },
) {
  let creds: Creds;
  let stop: () => Promise<void>;
  let monitor: MqttClient;
  const seen: string[] = [];

  beforeAll(async () => {
    ({ creds, stop } = await start());
    monitor = await connectAs(creds, SERVICE_USERS.monitor);
    monitor.on('message', (topic) => seen.push(topic));
    await monitor.subscribeAsync('campus/v1/#', { qos: 1 });
  });
  afterAll(async () => {
    await monitor?.endAsync(true);
    await stop?.();
  });

  /** Publishes as `username` (a fresh connection: Aedes closes it on a refused publish); never throws. */
  async function tryPublish(username: string, topic: string): Promise<void> {
    const c = await connectAs(creds, username);
    await Promise.race([
      c.publishAsync(topic, 'x', { qos: 1 }).catch(() => undefined),
      new Promise((r) => setTimeout(r, 500)),
    ]);
    await c.endAsync(true);
  }

  /** Everything published before a marker from the same path has been delivered once the marker is. */
  async function marker(): Promise<void> {
    const topic = `campus/v1/east/gw1/marker-${seen.length}/reading`;
    await tryPublish(GW1, topic);
    const until = Date.now() + 5000;
    while (!seen.includes(topic)) {
      if (Date.now() > until) throw new Error('marker never arrived');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it('refuses a wrong password and anonymous clients', async () => {
    await expect(connectAs(creds, GW1, 'wrong')).rejects.toThrow();
    await expect(mqtt.connectAsync(creds.url, { reconnectPeriod: 0 })).rejects.toThrow();
  });

  it('lets a gateway publish only its own topics and never a command', async () => {
    await tryPublish(GW1, 'campus/v1/east/gw2/E-9/reading');
    await tryPublish(GW1, 'campus/v1/west/gw3/status');
    await tryPublish(GW1, 'campus/v1/east/gw1/E-1/cmd');
    await tryPublish(GW1, 'campus/v1/east/gw2/E-9/cmd');
    await tryPublish(GW1, 'campus/v1/east/gw2/E-9/cmd/ack');
    await tryPublish(GW1, 'campus/v1/east/gw1/E-1/cmd/ack');
    await tryPublish(GW1, 'campus/v1/east/gw1/status');
    await marker();
    expect(seen).toContain('campus/v1/east/gw1/E-1/cmd/ack');
    expect(seen).toContain('campus/v1/east/gw1/status');
    expect(seen.filter((t) => t.includes('/gw2/') || t.includes('/gw3/') || t.endsWith('/cmd'))).toEqual([]);
  });

  /**
   * Subscribes as `username`; the broker may refuse (SUBACK 0x80: Aedes) or grant and then never
   * deliver what the ACL does not allow (mosquitto 2 checks read access per message). The spies of
   * one account share its connection: mosquitto binds the client id to the account
   * (`use_username_as_clientid`), so a second connection would replace the first. Each spy keeps
   * the distinct topics its own filter matches.
   */
  const accounts = new Map<
    string,
    Promise<{ client: MqttClient; spies: { filter: string; got: string[] }[] }>
  >();
  async function spy(
    username: string,
    filter: string,
  ): Promise<{ got: string[]; close: () => Promise<void> }> {
    let account = accounts.get(username);
    if (!account) {
      account = connectAs(creds, username).then((client) => {
        const entry = { client, spies: [] as { filter: string; got: string[] }[] };
        client.on('message', (topic) => {
          for (const s of entry.spies) {
            if (topicMatches(s.filter.replace(/^\$share\/[^/]+\//, ''), topic) && !s.got.includes(topic))
              s.got.push(topic);
          }
        });
        return entry;
      });
      accounts.set(username, account);
    }
    const { client, spies } = await account;
    const got: string[] = [];
    spies.push({ filter, got });
    await client.subscribeAsync(filter, { qos: 1 }).catch(() => undefined);
    return {
      got,
      close: async () => {
        if (accounts.get(username) !== account) return;
        accounts.delete(username);
        await client.endAsync(true);
      },
    };
  }

  async function until(what: string, fn: () => boolean): Promise<void> {
    const deadline = Date.now() + 5000;
    while (!fn()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it('lets a gateway receive its own commands only, and only the control service send them', async () => {
    const own = await spy(GW1, 'campus/v1/east/gw1/+/cmd');
    const other = await spy(GW1, 'campus/v1/east/gw2/+/cmd');
    const all = await spy(GW1, 'campus/v1/#');
    const control = await connectAs(creds, SERVICE_USERS.control);
    await control.publishAsync('campus/v1/east/gw2/E-9/cmd', '{}', { qos: 1 });
    await control.publishAsync('campus/v1/east/gw1/E-1/cmd', '{}', { qos: 1 });
    await until(
      'the monitor sees both commands',
      () => seen.includes('campus/v1/east/gw2/E-9/cmd') && seen.includes('campus/v1/east/gw1/E-1/cmd'),
    );
    await until('gw1 gets its command', () => own.got.length === 1);
    // The sentinel from the same publisher follows the gw2 command on every path.
    await control.publishAsync('campus/v1/east/gw1/E-2/cmd', '{}', { qos: 1 });
    await until('gw1 gets the second command', () => own.got.length === 2);
    expect(own.got).toEqual(['campus/v1/east/gw1/E-1/cmd', 'campus/v1/east/gw1/E-2/cmd']);
    expect(other.got).toEqual([]);
    expect(all.got.filter((t) => t.includes('/gw2/'))).toEqual([]);
    await Promise.all([own.close(), other.close(), all.close(), control.endAsync(true)]);
  });

  it('lets ingest read readings, including through a shared subscription, and publish nothing', async () => {
    // Before ingest's spies connect: on mosquitto a second connection of the account replaces theirs.
    await tryPublish(SERVICE_USERS.ingest, 'campus/v1/east/gw1/E-77/reading');
    const plain = await spy(SERVICE_USERS.ingest, 'campus/v1/+/+/+/reading');
    // Aedes has no shared subscriptions; mosquitto checks them against the $share/ grant.
    const shared = opts.sharedSubscriptions
      ? await spy(SERVICE_USERS.ingest, '$share/ingest/campus/v1/+/+/+/reading')
      : plain;
    const cmds = await spy(SERVICE_USERS.ingest, 'campus/v1/+/+/+/cmd');

    const control = await connectAs(creds, SERVICE_USERS.control);
    await control.publishAsync('campus/v1/east/gw1/E-3/cmd', '{}', { qos: 1 });
    await control.endAsync(true);
    await marker();
    await until('ingest gets the marker', () => plain.got.length > 0 && shared.got.length > 0);
    expect(seen).not.toContain('campus/v1/east/gw1/E-77/reading');
    expect(plain.got.every((t) => t.endsWith('/reading') && !t.includes('E-77'))).toBe(true);
    expect(cmds.got).toEqual([]);
    await Promise.all([plain.close(), opts.sharedSubscriptions ? shared.close() : null, cmds.close()]);
  });
}

describe('mosquitto with the generated acl_file and password_file', () => {
  aclScenario(
    async () => {
      const files = brokerFiles();
      const broker = await startMosquitto({
        auth: { passwordFile: files.passwordFile, aclFile: files.aclFile },
      });
      const secrets = JSON.parse(readFileSync(files.secretsFile, 'utf8')) as Record<string, string>;
      return { creds: { url: broker.url, secrets }, stop: () => broker.stop() };
    },
    { sharedSubscriptions: true },
  );
});

describe('the embedded Aedes broker with the same ACL', () => {
  aclScenario(
    async () => {
      const files = brokerFiles();
      const hashes = parsePasswordFile(readFileSync(files.passwordFile, 'utf8'));
      const broker = await startEmbeddedBroker({ auth: aedesAuthorizer(files.acl, hashes) });
      const secrets = JSON.parse(readFileSync(files.secretsFile, 'utf8')) as Record<string, string>;
      return { creds: { url: broker.url, secrets }, stop: () => broker.close() };
    },
    { sharedSubscriptions: false },
  );
});
