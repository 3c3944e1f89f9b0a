/**
 * `npm run bench:profile`: a V8 CPU profile of the gateway polling 440 simulated meters flat out
 * into mosquitto for 8 s, written to /tmp/gw.cpuprofile (open it in Chrome DevTools). This is how
 * the hot spots named in the README's benchmark section were found.
 */
import { writeFileSync, mkdtempSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateCampus } from '../../config/campus.ts';
import { startGateway } from '../../gateway/gateway.ts';
import { silentLogger } from '../../gateway/log.ts';
import { startMosquitto } from '../helpers/mosquitto.ts';
import { JsonChild } from './child.ts';
import { mixedLayout, campusOf } from './layout.ts';

const layout = mixedLayout(8, 55);
const farm = JsonChild.spawn('farm-child.ts', [JSON.stringify(layout)]);
const info = await farm.next<{ concentrators: { port: number }[] }>(60_000);
const mosq = await startMosquitto();
const tmp = mkdtempSync(join(tmpdir(), 'prof-'));
const campus = validateCampus(
  campusOf(layout, {
    gatewayId: 'gw',
    ports: info.concentrators.map((c) => c.port),
    pollInterval: 1,
    dataDir: tmp,
    timeout: 1000,
    outbox: { replayRatePerSec: 1_000_000, maxInFlight: 1000 },
  }),
  { file: '(p)', dir: tmp },
);
const gw = await startGateway({
  campus,
  gatewayId: 'gw',
  mqtt: { url: mosq.url },
  logger: silentLogger(),
  outboxPath: join(tmp, 'o.sqlite'),
});
await new Promise((r) => setTimeout(r, 3000));
const s = new Session();
s.connect();
await s.post('Profiler.enable');
await s.post('Profiler.start');
const a0 = gw.publisher.stats().acked;
await new Promise((r) => setTimeout(r, 8000));
const { profile } = await s.post('Profiler.stop');
console.log('acked/s', (gw.publisher.stats().acked - a0) / 8);
writeFileSync('/tmp/gw.cpuprofile', JSON.stringify(profile));
await gw.stop();
await mosq.dispose();
await farm.stop();
process.exit(0);
