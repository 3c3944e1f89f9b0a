/**
 * The bench's meter farm in a process of its own, so that its CPU and memory are not counted as
 * the gateway's. Usage: node --import tsx test/bench/farm-child.ts '<layout JSON>'
 *
 * Prints one JSON line once listening: { pid, concentrators: [{ id, transport, port }] }.
 * Then answers stdin commands with one JSON line each:
 *   stats → { requests, cpuUs, rss, t }   (requests served by all concentrators so far)
 *   stop  → closes the farm and exits
 */
import { createInterface } from 'node:readline';
import { startFarm } from '../../simulators/farm.ts';
import { farmSpecOf, type BenchLayout } from './layout.ts';

const layout = JSON.parse(process.argv[2] ?? '[]') as BenchLayout;
const farm = await startFarm(farmSpecOf(layout));
const say = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);

say({
  pid: process.pid,
  concentrators: farm.concentrators.map((c) => ({ id: c.id, transport: c.transport, port: c.port })),
});

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const cmd = line.trim();
  if (cmd === 'stats') {
    const cpu = process.cpuUsage();
    say({
      requests: farm.stats().requests,
      cpuUs: cpu.user + cpu.system,
      rss: process.memoryUsage().rss,
      t: performance.now(),
    });
  } else if (cmd === 'stop') {
    rl.close();
    void farm.stop().then(() => process.exit(0));
  }
});
rl.on('close', () => {
  // The parent went away without saying stop.
  void farm.stop().then(() => process.exit(0));
});
