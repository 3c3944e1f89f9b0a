// Loads the gateway as `campus-energy gateway` does (gateway/gateway.ts and what it imports), then
// turns on every mqtt and mqtt-packet debug namespace through `debug` itself and makes mqtt-packet
// write and parse a QoS 1 publish and its PUBACK: a debugger left real would print them now.
import { createRequire } from 'node:module';
await import('../../gateway/gateway.ts');
const require = createRequire(import.meta.url);
const fromPacket = createRequire(require.resolve('mqtt-packet'));
const fromMqtt = createRequire(require.resolve('mqtt'));
const debug = fromPacket('debug') as { enable(ns: string): void };
debug.enable('mqtt-packet:*,mqttjs*');
const mqttPacket = fromPacket('mqtt-packet') as {
  generate(p: object): Buffer;
  parser(o?: object): { on(e: string, f: (p: unknown) => void): void; parse(b: Buffer): void };
};
const publish = mqttPacket.generate({ cmd: 'publish', topic: 't', payload: 'x', qos: 1, messageId: 7 });
const parser = mqttPacket.parser();
let parsed = 0;
parser.on('packet', () => parsed++);
parser.parse(publish);
parser.parse(mqttPacket.generate({ cmd: 'puback', messageId: 7 }));
console.log(
  JSON.stringify({
    parsed,
    samePath: fromPacket.resolve('debug') === fromMqtt.resolve('debug'),
    quiet:
      (fromPacket('debug') as { [k: symbol]: unknown })[Symbol.for('campus-energy.quiet-debug')] === true,
  }),
);
