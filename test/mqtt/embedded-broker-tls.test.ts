import { writeFileSync } from 'node:fs';
import { connect as connectTcp } from 'node:net';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCampus } from '../../config/campus.ts';
import {
  embeddedBrokerLogin,
  startCampusBroker,
  type CampusBroker,
} from '../../adapters/mqtt/campus-broker.ts';
import { SERVICE_USERS } from '../../adapters/mqtt/acl.ts';
import { startField, type Field } from '../helpers/field.ts';
import { makeTestCerts, type TestCerts } from '../helpers/tls-certs.ts';

/**
 * Issue 17 item 2: the embedded broker serves TLS when the campus file gives it a certificate —
 * TLS only, with the same accounts and ACL; the campus's own parts trust the configured CA; a
 * client that does not, a plain-TCP client and an anonymous one get nowhere, and the anonymous
 * one is counted.
 */

async function attempt(url: string, opts: mqtt.IClientOptions): Promise<string> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 4_000, ...opts });
  const outcome = await new Promise<string>((resolve) => {
    client.once('connect', () => resolve('connected'));
    client.once('error', (err) => resolve(err.message));
    client.once('close', () => resolve('closed'));
  });
  client.end(true);
  return outcome;
}

describe('the embedded broker with a certificate', () => {
  let field: Field;
  let certs: TestCerts;
  let broker: CampusBroker;
  let config: string;

  beforeAll(async () => {
    certs = makeTestCerts();
    field = await startField({
      concentrators: [{ transport: 'modbus-tcp', meters: 1 }],
      pollInterval: 1_000,
    });
    config = join(field.dir, 'campus.yaml');
    writeFileSync(
      config,
      stringify({
        ...field.raw,
        embeddedBroker: { tls: { certFile: certs.certFile, keyFile: certs.keyFile, caFile: certs.caFile } },
      }),
    );
    broker = await startCampusBroker(loadCampus(config), { port: 0 });
  });
  afterAll(async () => {
    await broker?.close();
    await field?.stop();
  });

  it('speaks mqtts:// and lets a part that trusts the campus CA log in with its account', async () => {
    expect(broker.url).toMatch(/^mqtts:\/\/127\.0\.0\.1:\d+$/);
    const login = embeddedBrokerLogin(loadCampus(config), broker.url, SERVICE_USERS.monitor);
    expect(login.ca?.toString()).toBe(certs.ca.toString());
    const client = await mqtt.connectAsync(login.url, {
      username: login.username,
      password: login.password,
      ca: login.ca,
      reconnectPeriod: 0,
    });
    const granted = await client.subscribeAsync('campus/v1/#', { qos: 1 });
    expect(granted[0]?.qos).toBe(1);
    await client.endAsync();
  });

  it('refuses a client that does not trust the CA, a plain-TCP client and an anonymous one (counted)', async () => {
    const monitor = embeddedBrokerLogin(loadCampus(config), broker.url, SERVICE_USERS.monitor);
    expect(await attempt(broker.url, { username: monitor.username, password: monitor.password })).toMatch(
      /certificate/i,
    );
    // MQTT in the clear to the TLS port: no CONNACK ever comes back.
    const plain = await new Promise<string>((resolve) => {
      const socket = connectTcp(broker.port, '127.0.0.1', () => {
        // CONNECT, protocol MQTT 3.1.1, clean session, keep-alive 60, client id "x".
        socket.write(Buffer.from([0x10, 13, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 2, 0, 60, 0, 1, 0x78]));
      });
      socket.once('data', (d) => resolve(d[0] === 0x20 ? 'connack' : 'other'));
      socket.once('close', () => resolve('closed'));
      socket.once('error', () => resolve('closed'));
      setTimeout(() => {
        socket.destroy();
        resolve('no answer');
      }, 3_000);
    });
    expect(plain).not.toBe('connack');
    const before = broker.refused().connections;
    const anonymous = await attempt(broker.url, { ca: certs.ca });
    expect(anonymous).not.toBe('connected');
    expect(broker.refused().connections).toBe(before + 1);
  });
});
