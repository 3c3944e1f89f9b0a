/**
 * The gateway's path after the poll alone (PollBatcher → Outbox → publisher → mosquitto, QoS 1),
 * fed with synthetic poll results at a fixed rate: its CPU a reading without the Modbus side, to
 * A/B a change to that path on a shared machine. `npx tsx test/bench/outbox-path-probe.ts [rate] [s]`
 */
import { mkdtempSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPublisher } from '../../adapters/mqtt/publisher.ts';
import { tuneGatewayHeap } from '../../gateway/heap.ts';
import { silentLogger } from '../../gateway/log.ts';
import { Outbox } from '../../gateway/outbox/outbox.ts';
import { PollBatcher } from '../../gateway/poll-batcher.ts';
import type { PollResult } from '../../gateway/types.ts';
import { startMosquitto } from '../helpers/mosquitto.ts';

// As a gateway tunes its heap; PROFILE_HEAP=default for V8's defaults (node flags pass through).
if (process.env.PROFILE_HEAP !== 'default') tuneGatewayHeap();
const rate = Number(process.argv[2] ?? 5000);
const seconds = Number(process.argv[3] ?? 8);
const METERS = 440;
const mosq = await startMosquitto();
const dir = mkdtempSync(join(tmpdir(), 'outbox-probe-'));
const outbox = Outbox.open({ path: join(dir, 'o.sqlite'), maxBytes: 512 * 1024 * 1024 });
const publisher = startPublisher({
  url: mosq.url,
  clientId: 'probe',
  outbox,
  statusTopic: 'campus/v1/s/gw/status',
  willPayload: '{"gateway":"gw","state":"offline","ts":0}',
  maxInFlight: 1000,
  replayRatePerSec: 1_000_000,
  logger: silentLogger(),
});
const topics = new Map<string, string>();
const batcher = new PollBatcher({
  outbox,
  topicOf: (m) => topics.get(m) ?? (topics.set(m, `campus/v1/s/gw/${m}/reading`), topics.get(m)!),
  logger: silentLogger(),
});
const meters = Array.from({ length: METERS }, (_, i) => ({ id: `M-${i + 1}` }));
let next = 0;
let e = 1000;
/** An SDM630-like poll: ten values, fresh objects as the poller makes them. */
function poll(): PollResult {
  e += 0.01;
  return {
    values: {
      energy_import_kwh: e,
      energy_export_kwh: 0,
      power_kw: 1.234,
      voltage_l1_v: 230.1,
      voltage_l2_v: 229.8,
      voltage_l3_v: 231.0,
      current_l1_a: 5.1,
      current_l2_a: 4.9,
      current_l3_a: 5.3,
      power_factor: 0.97,
    },
    ts: Date.now(),
  } as PollResult;
}
let t0 = performance.now();
let sent = 0;
const timer = setInterval(() => {
  const due = Math.floor(((performance.now() - t0) * rate) / 1000) - sent;
  for (let i = 0; i < due; i++) batcher.add(meters[next++ % METERS]!, poll());
  sent += Math.max(0, due);
}, 1);
await new Promise((r) => setTimeout(r, 2000));
const a0 = publisher.stats().acked;
const c0 = process.cpuUsage();
const w0 = performance.now();
await new Promise((r) => setTimeout(r, seconds * 1000));
const c = process.cpuUsage(c0);
const acked = publisher.stats().acked - a0;
const secs = (performance.now() - w0) / 1000;
console.log(
  `${Math.round(acked / secs)} acked/s (asked ${rate}/s): ${((c.user + c.system) / acked).toFixed(1)} µs CPU a reading ` +
    `(user ${(c.user / acked).toFixed(1)}, system ${(c.system / acked).toFixed(1)}); backlog ${outbox.stats().messages}; load ${loadavg()[0]!.toFixed(1)}`,
);
clearInterval(timer);
t0 = 0;
batcher.close();
await publisher.stop();
outbox.close();
await mosq.dispose();
process.exit(0);
