/**
 * `npm run bench:mqtt`: how fast one mqtt.js subscriber can drain a QoS 1 backlog from the real
 * mosquitto, doing nothing with the messages: the ceiling of any single ingest instance, whatever
 * store is behind it.
 */
import mqtt from 'mqtt';
import { startMosquitto } from '../helpers/mosquitto.ts';
import { goodReading, registry, testPublisher } from '../ingest/support.ts';
import { readingTopic } from '../../config/schemas/reading.ts';

const N = Number(process.env.BENCH_N ?? 100_000);
const reg = registry(500);
const mosquitto = await startMosquitto();
try {
  for (const protocolVersion of [4, 5] as const) {
    const clientId = `drain-v${protocolVersion}`;
    const opts: mqtt.IClientOptions = { clientId, clean: false, protocolVersion };
    if (protocolVersion === 5) opts.properties = { sessionExpiryInterval: 3600, receiveMaximum: 1000 };
    const first = await mqtt.connectAsync(mosquitto.url, opts);
    await first.subscribeAsync('campus/v1/+/+/+/reading', { qos: 1 });
    await first.endAsync();
    const pub = await testPublisher(mosquitto.url);
    const messages = [];
    for (let i = 0; i < N; i++) {
      const meter = `E-${(i % 500) + 1}`;
      const place = reg.get(meter)!;
      messages.push({
        topic: readingTopic(place.site, place.gateway, meter),
        payload: JSON.stringify(goodReading(meter, Math.floor(i / 500) + 1)),
      });
    }
    await pub.publishAll(messages, 1000);
    await pub.close();
    let got = 0;
    const started = performance.now();
    const done = new Promise<void>((resolve) => {
      const c = mqtt.connect(mosquitto.url, opts);
      c.on('message', () => {
        if (++got === N) {
          resolve();
          c.end();
        }
      });
    });
    await done;
    const rate = N / ((performance.now() - started) / 1000);
    console.log(
      `MQTT ${protocolVersion === 5 ? '5' : '3.1.1'}: one mqtt.js subscriber drained ${N.toLocaleString('en-US')} QoS 1 messages at ${Math.round(rate).toLocaleString('en-US')} messages/s`,
    );
  }
} finally {
  await mosquitto.dispose();
}
