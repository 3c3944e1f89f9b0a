/**
 * `npm run bench:profile`: a V8 CPU profile of the gateway polling 440 simulated meters flat out
 * into mosquitto for 8 s, written to /tmp/gw.cpuprofile (open it in Chrome DevTools), and a
 * summary of where its CPU went, per reading: by module, by function (self time) and by function
 * with what it calls (inclusive). The heap is tuned as `campus-energy gateway` tunes it
 * (`PROFILE_HEAP=default` for V8's defaults), because the collector's share depends on it. This is
 * how the hot spots named in the README's benchmark section were found.
 */
import { writeFileSync, mkdtempSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateCampus } from '../../config/campus.ts';
import { startGateway } from '../../gateway/gateway.ts';
import { tuneGatewayHeap } from '../../gateway/heap.ts';
import { silentLogger } from '../../gateway/log.ts';
import { startMosquitto } from '../helpers/mosquitto.ts';
import { JsonChild } from './child.ts';
import { gatewayCounters } from './gateway-stats.ts';
import { flatOutCampus, mixedLayout } from './layout.ts';
import { summarizeProfile, type CpuProfile } from './profile-summary.ts';

const PROFILE_MS = 8_000;
if (process.env.PROFILE_HEAP !== 'default') tuneGatewayHeap();

const layout = mixedLayout(8, 55);
const farm = JsonChild.spawn('farm-child.ts', [JSON.stringify(layout)]);
const info = await farm.next<{ concentrators: { port: number }[] }>(60_000);
const mosq = await startMosquitto();
const tmp = mkdtempSync(join(tmpdir(), 'prof-'));
const campus = validateCampus(
  flatOutCampus(layout, { gatewayId: 'gw', ports: info.concentrators.map((c) => c.port), dataDir: tmp }),
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
// PROFILE=off: the same run without the profiler, for its CPU a reading alone (A/B of a change).
const profiling = process.env.PROFILE !== 'off';
const s = new Session();
if (profiling) {
  s.connect();
  await s.post('Profiler.enable');
  await s.post('Profiler.start');
}
const c0 = gatewayCounters(gw);
const cpu0 = process.cpuUsage();
await new Promise((r) => setTimeout(r, PROFILE_MS));
const cpu = process.cpuUsage(cpu0);
const c1 = gatewayCounters(gw);
const readings = c1.appended - c0.appended;
console.log(
  `${readings} readings in ${PROFILE_MS / 1000} s (${Math.round((c1.acked - c0.acked) / (PROFILE_MS / 1000))} acked/s), ` +
    `process CPU ${((cpu.user + cpu.system) / readings).toFixed(1)} µs a reading${profiling ? ' (profiler included)' : ''}; ` +
    `load ${loadavg()[0]!.toFixed(1)}`,
);
if (profiling) {
  const { profile } = await s.post('Profiler.stop');
  writeFileSync('/tmp/gw.cpuprofile', JSON.stringify(profile));
  console.log(summarizeProfile(profile as CpuProfile, readings));
}
await gw.stop();
await mosq.dispose();
await farm.stop();
process.exit(0);
