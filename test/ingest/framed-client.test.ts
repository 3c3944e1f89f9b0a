import { readFileSync } from 'node:fs';
import mqtt from 'mqtt';
import type { IClientOptions, MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../adapters/mqtt/embedded-broker.ts';
import { connectFramed } from '../../adapters/mqtt/framed-client.ts';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.ts';
import { waitFor } from '../helpers/readings.ts';
import { makeTestCerts } from '../helpers/tls-certs.ts';
import { testPublisher } from './support.ts';

/**
 * The framed client against real brokers: mosquitto over MQTT 5 and the embedded Aedes broker
 * over MQTT 3.1.1. Every QoS 1 PUBLISH reaches the hot path (mqtt.js sees none of them), QoS 0
 * ones still reach mqtt.js, mqtt.js keeps subscribing and pinging, and a PUBLISH not acknowledged
 * is delivered again on the next connection of the session.
 */

interface Got {
  topic: string;
  payload: string;
  messageId: number;
}

let mosquitto: Mosquitto | undefined;
let aedes: EmbeddedBroker | undefined;
const clients: MqttClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.endAsync(true);
  await mosquitto?.dispose();
  await aedes?.close();
  mosquitto = undefined;
  aedes = undefined;
});

function framed(url: string, options: IClientOptions, got: Got[]): MqttClient {
  const client = connectFramed(url, { reconnectPeriod: 100, ...options }, (topic, payload, messageId) =>
    got.push({ topic, payload: payload.toString('utf8'), messageId }),
  );
  client.on('error', () => undefined);
  clients.push(client);
  return client;
}

const puback = (id: number) => Buffer.from([0x40, 2, id >> 8, id & 0xff]);

describe('the framed MQTT client', () => {
  for (const version of [5, 4] as const) {
    it(`hands every QoS 1 PUBLISH to the hot path and the rest to mqtt.js (MQTT ${version === 5 ? '5 on mosquitto' : '3.1.1 on Aedes'})`, async () => {
      let url: string;
      if (version === 5) {
        mosquitto = await startMosquitto();
        url = mosquitto.url;
      } else {
        aedes = await startEmbeddedBroker();
        url = aedes.url;
      }
      const got: Got[] = [];
      const options: IClientOptions = {
        clientId: `framed-${version}`,
        clean: false,
        protocolVersion: version,
        keepalive: 1,
      };
      if (version === 5) options.properties = { sessionExpiryInterval: 600 };
      const client = framed(url, options, got);
      const seenByMqttJs: string[] = [];
      client.on('packetreceive', (p) => seenByMqttJs.push(`${p.cmd}${p.cmd === 'publish' ? p.qos : ''}`));
      const qos0: string[] = [];
      client.on('message', (_topic, payload) => qos0.push(payload.toString()));
      await new Promise<void>((resolve) => client.once('connect', () => resolve()));
      await client.subscribeAsync('t/#', { qos: 1 });

      const pub = await testPublisher(url);
      await pub.publishAll(
        Array.from({ length: 300 }, (_, i) => ({ topic: `t/${i % 7}`, payload: `m${i}` })),
      );
      await pub.client.publishAsync('t/zero', 'q0', { qos: 0 });
      await waitFor(() => got.length === 300 && qos0.length === 1, 10_000, 'every message');
      expect(got.map((g) => g.payload)).toEqual(Array.from({ length: 300 }, (_, i) => `m${i}`));
      expect(got.every((g, i) => g.topic === `t/${i % 7}` && g.messageId > 0)).toBe(true);
      expect(qos0).toEqual(['q0']);
      expect(seenByMqttJs.filter((c) => c.startsWith('publish'))).toEqual(['publish0']);

      // Keepalive is mqtt.js's: with a 1 s keepalive and nothing sent, it pings and stays up.
      await waitFor(() => seenByMqttJs.includes('pingresp'), 5000, 'a PINGRESP');
      expect(client.connected).toBe(true);

      // The first 100 acknowledged, the rest not: the broker sends those again on the next connection.
      client.stream.write(Buffer.concat(got.slice(0, 100).map((g) => puback(g.messageId))));
      await new Promise((resolve) => setTimeout(resolve, 200));
      got.length = 0;
      client.stream.destroy();
      await waitFor(() => got.length === 200, 10_000, 'the unacknowledged 200 again');
      expect(got.map((g) => g.payload).sort()).toEqual(
        Array.from({ length: 200 }, (_, i) => `m${i + 100}`).sort(),
      );
      client.stream.write(Buffer.concat(got.map((g) => puback(g.messageId))));
      await pub.close();
    });
  }

  it('reads PUBLISHes over TLS (mqtts://) as over TCP, and reports a broker it cannot trust', async () => {
    const certs = makeTestCerts();
    aedes = await startEmbeddedBroker({
      tls: { cert: readFileSync(certs.certFile), key: readFileSync(certs.keyFile) },
    });
    const got: Got[] = [];
    const client = framed(aedes.url, { clientId: 'framed-tls', protocolVersion: 4, ca: certs.ca }, got);
    await new Promise<void>((resolve) => client.once('connect', () => resolve()));
    await client.subscribeAsync('t/#', { qos: 1 });
    const pub = await mqtt.connectAsync(aedes.url, { ca: certs.ca, clientId: 'tls-pub' });
    for (let i = 0; i < 20; i++) await pub.publishAsync(`t/${i}`, `m${i}`, { qos: 1 });
    await waitFor(() => got.length === 20, 10_000, '20 messages over TLS');
    expect(got.map((g) => g.payload)).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
    await pub.endAsync();

    // No CA given: the system CAs do not know the campus CA, and the client says so.
    const errors: string[] = [];
    const untrusting = framed(aedes.url, { clientId: 'framed-untrusting', reconnectPeriod: 0 }, []);
    untrusting.on('error', (err) => errors.push(err.message));
    await waitFor(() => errors.length > 0, 10_000, 'a TLS error');
    expect(errors[0]).toMatch(/certificate/i);
    expect(untrusting.connected).toBe(false);
  });
});
