import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subscribeReadings, type ReadingSubscription } from '../../adapters/mqtt/subscriber.ts';
import { startGateway, type RunningGateway } from '../../gateway/gateway.ts';
import { silentLogger } from '../../gateway/log.ts';
import { startField, type Field } from '../helpers/field.ts';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.ts';
import { waitFor } from '../helpers/readings.ts';
import { makeTestCerts, type TestCerts } from '../helpers/tls-certs.ts';

/**
 * Readings over TLS: a campus CA signs mosquitto's certificate, the gateway publishes to mqtts://
 * trusting that CA (mqtt.caFile in the campus file), a subscriber reads them; a client that does
 * not trust the CA is refused by its own certificate check.
 */
describe('gateway → mosquitto over TLS with the campus CA', () => {
  let certs: TestCerts;
  let field: Field;
  let broker: Mosquitto;
  let gw: RunningGateway;
  let sub: ReadingSubscription;
  let ca: Buffer;

  beforeAll(async () => {
    certs = makeTestCerts();
    ca = certs.ca;
    [field, broker] = await Promise.all([
      startField({ concentrators: [{ transport: 'modbus-tcp', meters: 3 }], pollInterval: 500 }),
      startMosquitto({ tls: { certfile: certs.certFile, keyfile: certs.keyFile } }),
    ]);
    sub = await subscribeReadings({ url: broker.tlsUrl!, ca, topic: 'campus/v1/+/+/+/reading' });
    gw = await startGateway({
      campus: field.campus,
      gatewayId: 'gw1',
      mqtt: { url: broker.tlsUrl!, ca },
      logger: silentLogger(),
    });
  });

  afterAll(async () => {
    await gw?.stop();
    await sub?.close();
    await broker?.dispose();
    await field?.stop();
  });

  it('delivers readings over mqtts:// to a subscriber trusting the same CA', async () => {
    await waitFor(
      () => field.meterIds.every((id) => sub.readings.some((r) => r.meter === id)),
      20_000,
      'a reading of every meter over TLS',
    );
    expect(sub.readings.every((r) => r.quality === 'good')).toBe(true);
    expect(gw.publisher.stats().connected).toBe(true);
  });

  it('a client without the campus CA does not connect', async () => {
    const client = mqtt.connect(broker.tlsUrl!, { reconnectPeriod: 0, connectTimeout: 5_000 });
    const outcome = await new Promise<string>((resolve) => {
      client.once('connect', () => resolve('connected'));
      client.once('error', (err) => resolve(err.message));
    });
    client.end(true);
    expect(outcome).not.toBe('connected');
    expect(outcome).toMatch(/certificate/i);
  });
});
