/**
 * A gateway alone in its process, so that its RSS is only the gateway's. Usage:
 *   node --import tsx test/bench/gateway-child.ts <campus.json> <gateway id> <mqtt url> <outbox file>
 * (the bench runs it compiled, with plain node). It sets up its process as `campus-energy gateway`
 * does, V8's heap settings included (a fifth argument `default-heap`: V8's defaults).
 *
 * Prints { pid, started: true, startupMs } once startGateway has resolved; then answers stdin:
 *   stats → { t, rss, heapUsed, cpuUs, ...GatewayCounters }
 *   gc-stats → the same after a full GC (needs node --expose-gc)
 *   stop  → stops the gateway (draining the outbox briefly) and exits
 */
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { validateCampus } from '../../config/campus.ts';
import { startGateway } from '../../gateway/gateway.ts';
import { silentLogger } from '../../gateway/log.ts';
import { collectStartupGarbage, tuneGatewayHeap } from '../../gateway/heap.ts';
import { gatewayCounters } from './gateway-stats.ts';

const [campusFile, gatewayId, mqttUrl, outboxPath, heapMode] = process.argv.slice(2);
if (!campusFile || !gatewayId || !mqttUrl || !outboxPath) {
  console.error('usage: gateway-child.ts <campus.json> <gateway id> <mqtt url> <outbox file>');
  process.exit(2);
}
const say = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);

// As `campus-energy gateway` does (bin/gateway-cli.ts); `default-heap` leaves V8's defaults, so that
// the bench can price the tuning.
if (heapMode !== 'default-heap') tuneGatewayHeap();
const t0 = performance.now();
const campus = validateCampus(JSON.parse(readFileSync(campusFile, 'utf8')), {
  file: campusFile,
  dir: dirname(campusFile),
});
const gw = await startGateway({
  campus,
  gatewayId,
  mqtt: { url: mqttUrl },
  logger: silentLogger(),
  outboxPath,
});
collectStartupGarbage();
say({ pid: process.pid, started: true, startupMs: Math.round(performance.now() - t0) });

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await gw.stop();
  process.exit(0);
};
const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const cmd = line.trim();
  if (cmd === 'stats' || cmd === 'gc-stats') {
    // gc-stats (with --expose-gc): live heap after a full collection, to tell growth from garbage.
    if (cmd === 'gc-stats') (globalThis as { gc?: () => void }).gc?.();
    const cpu = process.cpuUsage();
    const mem = process.memoryUsage();
    say({
      t: performance.now(),
      rss: mem.rss,
      heapUsed: mem.heapUsed,
      cpuUs: cpu.user + cpu.system,
      ...gatewayCounters(gw),
    });
  } else if (cmd === 'stop') void stop();
});
rl.on('close', () => void stop());
