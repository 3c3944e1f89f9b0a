/**
 * npm run bench:gateway — how fast the gateway polls, against ceilings measured in the same run.
 *
 *  1. the farm's own capacity (pipelined raw client), to show the farm is never what is measured;
 *  2. the ceiling: a bare modbus-serial loop issuing the planned reads back to back;
 *  3. the gateway (startGateway, pollInterval 1 ms, real broker), readings/s and ratio to 2
 *     (3a: its BusPollers alone, without outbox and MQTT, to split the cost);
 *  4. requests per poll for every profile: planReads against one read per value;
 *  5. memory of a gateway child polling ~10,000 meters.
 *
 * Prints figures and whether each target is met; exits 0 whatever the figures, 1 only on an error.
 * The farm (and in 5 the gateway) run in child processes so that CPU and RSS are not mixed.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { planOnePerValue, planReads, registersRead } from '../../adapters/modbus/planner.ts';
import { startEmbeddedBroker } from '../../adapters/mqtt/embedded-broker.ts';
import { validateCampus } from '../../config/campus.ts';
import { loadProfiles } from '../../config/profiles.ts';
import { startGateway, type RunningGateway } from '../../gateway/gateway.ts';
import { silentLogger } from '../../gateway/log.ts';
import { MOSQUITTO_BIN, startMosquitto } from '../helpers/mosquitto.ts';
import { bareLoop } from './bare-loop.ts';
import { childPidsNamed, cpuOf, JsonChild, rssOf } from './child.ts';
import { gatewayCounters, type GatewayCounters } from './gateway-stats.ts';
import { busesOf, campusOf, mixedLayout } from './layout.ts';
import { pollersOnly } from './pollers-only.ts';
import { rawPipelinedLoad } from './raw-client.ts';

// ---------------------------------------------------------------------------------------------
// Parameters (seconds can be shortened with BENCH_SCALE=0.5 for a quick look)

const SCALE = Number(process.env.BENCH_SCALE ?? 1) || 1;
const FARM_MS = Math.round(3_000 * SCALE);
const BARE_MS = Math.round(10_000 * SCALE);
const GW_WARMUP_MS = 2_000;
const GW_MS = Math.round(10_000 * SCALE);
const POLLERS_MS = Math.round(5_000 * SCALE);
const SCALE_RUN_MS = Math.round(35_000 * SCALE);
/** Throughput field: 8 concentrators (4 Modbus TCP, 4 RTU-over-TCP) × 55 meters, mixed profiles. */
const THROUGHPUT_LAYOUT = mixedLayout(8, 55);
/** Memory field: 41 concentrators × 245 meters = 10,045 meters, polled every 10 s. */
const MEMORY_LAYOUT = mixedLayout(41, 245);
const MEMORY_POLL_MS = 10_000;
/** Publishing must not be the cap in 3: the defaults are 2000 msg/s and 100 in flight. */
const BENCH_OUTBOX = { replayRatePerSec: 1_000_000, maxInFlight: 1_000 };

const TARGET_RATIO = 0.7;
const TARGET_SDM630_REQUESTS = 2;
const TARGET_RSS_MB = 150;

// ---------------------------------------------------------------------------------------------

interface FarmInfo {
  pid: number;
  concentrators: { id: string; transport: string; port: number }[];
}
interface FarmStats {
  requests: number;
  cpuUs: number;
  rss: number;
  t: number;
}
type GatewayChildStats = GatewayCounters & { t: number; rss: number; heapUsed: number; cpuUs: number };

const MB = 1024 * 1024;
const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const mb = (bytes: number) => `${fmt(bytes / MB, 1)} MB`;
const pct = (x: number) => `${fmt(x * 100, 0)} %`;
const yes = (ok: boolean) => (ok ? 'yes' : 'NO');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (s = '') => console.log(s);

function table(head: string[], rows: (string | number)[][]): string {
  const cells = [head, ...rows.map((r) => r.map(String))];
  const widths = head.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [
    line(head),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...cells.slice(1).map(line),
  ].join('\n');
}

const cleanups: (() => Promise<void>)[] = [];

async function spawnFarm(layout: unknown): Promise<{ farm: JsonChild; info: FarmInfo }> {
  const farm = JsonChild.spawn('farm-child.ts', [JSON.stringify(layout)]);
  cleanups.push(() => farm.stop());
  const info = await farm.next<FarmInfo>(120_000);
  return { farm, info };
}

async function main(): Promise<void> {
  const benchStart = performance.now();
  const summary: { metric: string; value: string; target: string; met: string }[] = [];
  const tmp = mkdtempSync(join(tmpdir(), 'campus-bench-'));
  cleanups.push(async () => rmSync(tmp, { recursive: true, force: true }));

  log('# campus-energy gateway bench');
  log(
    `node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${new Date().toISOString()}`,
  );
  log();

  // -------------------------------------------------------------------------------------------
  // 4. Requests per poll (pure computation, first because it needs nothing running)
  log('## 4. Requests per poll, per profile (planReads vs one read per value)');
  const profiles = loadProfiles();
  const planRows: (string | number)[][] = [];
  let sdm630Requests = NaN;
  for (const [id, profile] of profiles) {
    const merged = planReads(profile);
    const naive = planOnePerValue(profile);
    if (id === 'eastron-sdm630') sdm630Requests = merged.length;
    planRows.push([
      id,
      profile.points.length,
      naive.length,
      merged.length,
      registersRead(naive),
      registersRead(merged),
      `${fmt(naive.length / merged.length, 1)}×`,
    ]);
  }
  log(
    table(
      [
        'profile',
        'points',
        'req (1/value)',
        'req (planReads)',
        'regs (1/value)',
        'regs (planReads)',
        'fewer req',
      ],
      planRows,
    ),
  );
  const sdmOk = sdm630Requests <= TARGET_SDM630_REQUESTS;
  log(`target eastron-sdm630 ≤ ${TARGET_SDM630_REQUESTS} requests/poll: ${sdm630Requests} → ${yes(sdmOk)}`);
  log();
  summary.push({
    metric: 'eastron-sdm630 requests per poll (planReads)',
    value: String(sdm630Requests),
    target: `≤ ${TARGET_SDM630_REQUESTS}`,
    met: yes(sdmOk),
  });

  // -------------------------------------------------------------------------------------------
  // Broker
  let brokerName: string;
  let brokerUrl: string;
  let brokerPid: number | undefined;
  if (existsSync(MOSQUITTO_BIN)) {
    const m = await startMosquitto();
    cleanups.push(() => m.dispose());
    brokerName = `mosquitto (${MOSQUITTO_BIN}, test/helpers/mosquitto.ts)`;
    brokerUrl = m.url;
    brokerPid = childPidsNamed('mosquitto')[0];
  } else {
    const b = await startEmbeddedBroker();
    cleanups.push(() => b.close());
    brokerName = 'embedded Aedes (in the bench process: its CPU counts as the gateway’s)';
    brokerUrl = b.url;
  }
  log(`broker: ${brokerName} at ${brokerUrl}`);
  log();

  // -------------------------------------------------------------------------------------------
  // Throughput field
  const layout = THROUGHPUT_LAYOUT;
  const buses = busesOf(layout);
  const meterCount = buses.reduce((n, b) => n + b.meters.length, 0);
  const { farm, info } = await spawnFarm(layout);
  const ports = info.concentrators.map((c) => c.port);
  const farmStats = () => farm.ask<FarmStats>('stats');
  const plannedRequests = buses.reduce(
    (n, b) => n + b.meters.reduce((k, m) => k + planReads(m.profile).length, 0),
    0,
  );
  log(
    `throughput field: ${buses.length} concentrators (${layout.filter((c) => c.transport === 'modbus-tcp').length} Modbus TCP, ` +
      `${layout.filter((c) => c.transport === 'rtu-over-tcp').length} RTU-over-TCP) × ${layout[0]!.meters} meters = ${meterCount} meters, ` +
      `mixed profiles, ${fmt(plannedRequests / meterCount, 2)} planned requests per poll on average; farm in child pid ${info.pid}`,
  );
  log();

  // 1. Farm capacity -------------------------------------------------------------------------
  log(
    `## 1. Farm capacity: pipelined raw client, 64 requests in flight per concentrator, ${FARM_MS / 1000} s`,
  );
  const f0 = await farmStats();
  const raw = await rawPipelinedLoad(buses, ports, FARM_MS, 64);
  const f1 = await farmStats();
  const farmSecs = (f1.t - f0.t) / 1000;
  const farmReqPerSec = (f1.requests - f0.requests) / farmSecs;
  const farmCpu = (f1.cpuUs - f0.cpuUs) / 1e6 / farmSecs;
  log(
    `farm served ${fmt(farmReqPerSec)} requests/s (client counted ${fmt(raw.responses / raw.seconds)} responses/s, ` +
      `${raw.exceptions} exceptions); farm CPU ${pct(farmCpu)} of one core`,
  );
  log();

  // 2. Bare modbus-serial ceiling ------------------------------------------------------------
  log(`## 2. Ceiling: bare modbus-serial loop, one client per concentrator, ${BARE_MS / 1000} s`);
  const b0 = await farmStats();
  const cpuB0 = process.cpuUsage();
  const bare = await bareLoop(buses, ports, BARE_MS);
  const cpuB = process.cpuUsage(cpuB0);
  const b1 = await farmStats();
  const bareSecs = bare.seconds;
  const bareReadings = bare.readings / bareSecs;
  const bareRequests = bare.requests / bareSecs;
  const bareFarmSecs = (b1.t - b0.t) / 1000;
  const bareFarmCpu = (b1.cpuUs - b0.cpuUs) / 1e6 / bareFarmSecs;
  log(
    `bare loop: ${fmt(bareReadings)} readings/s, ${fmt(bareRequests)} requests/s (farm counted ` +
      `${fmt((b1.requests - b0.requests) / bareFarmSecs)}/s), ${bare.errors} errors; ` +
      `client CPU ${pct((cpuB.user + cpuB.system) / 1e6 / bareFarmSecs)}, farm CPU ${pct(bareFarmCpu)}`,
  );
  log();

  const gwDir = join(tmp, 'gw-throughput');
  const campus = validateCampus(
    campusOf(layout, {
      gatewayId: 'gw-bench',
      ports,
      pollInterval: 1,
      dataDir: gwDir,
      timeout: 1000,
      outbox: BENCH_OUTBOX,
    }),
    { file: '(bench campus)', dir: tmp },
  );
  // 3a. The polling half alone ---------------------------------------------------------------
  log(`## 3a. Gateway pollers only (BusPoller + transport + decode, no outbox/MQTT), ${POLLERS_MS / 1000} s`);
  const pol = await pollersOnly(campus, 'gw-bench', 1_000, POLLERS_MS);
  const polReadings = pol.readings / pol.seconds;
  log(
    `pollers only: ${fmt(polReadings)} readings/s (${fmt(polReadings / bareReadings, 2)} of bare), ${pol.errors} errors, ` +
      `CPU ${pct(pol.cpu)} of one core`,
  );
  log();

  // 3. The gateway ---------------------------------------------------------------------------
  log(
    `## 3. Gateway: startGateway, pollInterval 1 ms (always due), ${GW_MS / 1000} s after ${GW_WARMUP_MS / 1000} s warm-up`,
  );
  log(
    `outbox raised for the bench so publishing is not the cap: replayRatePerSec ${fmt(BENCH_OUTBOX.replayRatePerSec)} ` +
      `(default 2,000), maxInFlight ${fmt(BENCH_OUTBOX.maxInFlight)} (default 100); broker: ${brokerName.split(' (')[0]}`,
  );
  let gw: RunningGateway | undefined = await startGateway({
    campus,
    gatewayId: 'gw-bench',
    mqtt: { url: brokerUrl },
    logger: silentLogger(),
    outboxPath: join(gwDir, 'outbox.sqlite'),
  });
  cleanups.push(async () => {
    await gw?.stop();
  });
  const warmDeadline = performance.now() + 15_000;
  while (performance.now() < warmDeadline) {
    const running = gw.buses.every((b) => b.targets.some((t) => t.health.polls > t.health.errors));
    if (running && gw.publisher.stats().connected) break;
    await sleep(50);
  }
  await sleep(GW_WARMUP_MS);
  const g0 = gatewayCounters(gw);
  const fg0 = await farmStats();
  const cpuG0 = process.cpuUsage();
  const mosq0 = brokerPid ? cpuOf(brokerPid) : null;
  const tg0 = performance.now();
  let maxRss = process.memoryUsage().rss;
  while (performance.now() - tg0 < GW_MS) {
    await sleep(Math.min(1000, GW_MS - (performance.now() - tg0)));
    maxRss = Math.max(maxRss, process.memoryUsage().rss);
  }
  const g1 = gatewayCounters(gw);
  const gwSecs = (performance.now() - tg0) / 1000;
  const cpuG = process.cpuUsage(cpuG0);
  const fg1 = await farmStats();
  const mosq1 = brokerPid ? cpuOf(brokerPid) : null;
  const gwReadings = (g1.appended - g0.appended) / gwSecs;
  const gwAcked = (g1.acked - g0.acked) / gwSecs;
  const gwGood = (g1.goodPolls - g0.goodPolls) / gwSecs;
  const gwErrors = g1.errorPolls - g0.errorPolls;
  const gwFarmSecs = (fg1.t - fg0.t) / 1000;
  const gwRequests = (fg1.requests - fg0.requests) / gwFarmSecs;
  const gwCpu = (cpuG.user + cpuG.system) / 1e6 / gwSecs;
  const gwFarmCpu = (fg1.cpuUs - fg0.cpuUs) / 1e6 / gwFarmSecs;
  const mosqCpu = mosq0 !== null && mosq1 !== null ? (mosq1 - mosq0) / 1e6 / gwSecs : null;
  const ratio = gwReadings / bareReadings;
  const ackRatio = gwAcked / bareReadings;
  log(
    `gateway: ${fmt(gwReadings)} readings/s appended to the outbox (${fmt(gwGood)} good polls/s, ${gwErrors} error readings), ` +
      `${fmt(gwAcked)} readings/s acked by the broker, backlog at end ${fmt(g1.backlog)} rows`,
  );
  log(
    `         ${fmt(gwRequests)} Modbus requests/s (farm counter), gateway CPU ${pct(gwCpu)} of one core, ` +
      `max RSS ${mb(maxRss)} (bench process: gateway + harness), farm CPU ${pct(gwFarmCpu)}` +
      (mosqCpu !== null ? `, mosquitto CPU ${pct(mosqCpu)}` : ''),
  );
  const ratioOk = ratio >= TARGET_RATIO;
  log(
    `ratio gateway/bare (readings/s appended): ${fmt(ratio, 2)} (acked: ${fmt(ackRatio, 2)}) → target ≥ ${TARGET_RATIO}: ${yes(ratioOk)}`,
  );
  const farmAbove = farmReqPerSec > Math.max(gwRequests, bareRequests);
  log(
    `farm capacity ${fmt(farmReqPerSec)} req/s vs gateway ${fmt(gwRequests)} req/s (${fmt(farmReqPerSec / gwRequests, 1)}×) ` +
      `and bare loop ${fmt(bareRequests)} req/s (${fmt(farmReqPerSec / bareRequests, 1)}×) → farm is not the limit: ${yes(farmAbove)}`,
  );
  log();
  const stopping = gw;
  gw = undefined;
  await stopping.stop();
  await farm.stop();

  summary.push(
    {
      metric: `Farm capacity (pipelined raw client, ${buses.length} concentrators)`,
      value: `${fmt(farmReqPerSec)} req/s (farm CPU ${pct(farmCpu)})`,
      target: '> gateway and bare req/s',
      met: yes(farmAbove),
    },
    {
      metric: `Ceiling: bare modbus-serial loop (${meterCount} meters)`,
      value: `${fmt(bareReadings)} readings/s, ${fmt(bareRequests)} req/s`,
      target: '—',
      met: '—',
    },
    {
      metric: 'Pollers only (no outbox/MQTT) readings/s',
      value: `${fmt(polReadings)} (${fmt(polReadings / bareReadings, 2)} of bare)`,
      target: '—',
      met: '—',
    },
    {
      metric: 'Gateway readings/s (outbox / broker-acked)',
      value: `${fmt(gwReadings)} / ${fmt(gwAcked)}`,
      target: '—',
      met: '—',
    },
    {
      metric: 'Gateway Modbus requests/s',
      value: fmt(gwRequests),
      target: '—',
      met: '—',
    },
    {
      metric: 'Gateway CPU / RSS at full speed',
      value: `${pct(gwCpu)} of a core / ${mb(maxRss)}`,
      target: '—',
      met: '—',
    },
    {
      metric: 'Ratio gateway / bare (readings/s)',
      value: fmt(ratio, 2),
      target: `≥ ${TARGET_RATIO}`,
      met: yes(ratioOk),
    },
  );

  // -------------------------------------------------------------------------------------------
  // 5. Memory at scale
  const big = busesOf(MEMORY_LAYOUT);
  const bigMeters = big.reduce((n, b) => n + b.meters.length, 0);
  log(
    `## 5. Memory at scale: gateway child polling ${fmt(bigMeters)} meters (${big.length} concentrators × ${MEMORY_LAYOUT[0]!.meters}), ` +
      `pollInterval ${MEMORY_POLL_MS / 1000} s, default outbox settings, ${SCALE_RUN_MS / 1000} s`,
  );
  // The child runs compiled, as a production gateway does (`npm run build`, then node).
  // Inside node_modules so that the compiled files resolve the installed packages.
  const buildDir = join('node_modules', '.cache', 'campus-energy-bench');
  rmSync(buildDir, { recursive: true, force: true });
  execFileSync(
    process.execPath,
    [
      join('node_modules', 'typescript', 'bin', 'tsc'),
      '-p',
      join('test', 'bench', 'tsconfig.child.json'),
      '--outDir',
      buildDir,
    ],
    {
      stdio: 'inherit',
    },
  );
  cpSync(join('config', 'profiles'), join(buildDir, 'config', 'profiles'), { recursive: true });
  const childJs = join(buildDir, 'test', 'bench', 'gateway-child.js');
  log(`gateway child compiled to JavaScript (${childJs}), run with plain node`);
  // Baseline: the same child script polling a single meter, so the per-meter share is visible.
  const baseLayout = mixedLayout(1, 1);
  const { farm: baseFarm, info: baseInfo } = await spawnFarm(baseLayout);
  const baseFile = join(tmp, 'campus-1.json');
  writeFileSync(
    baseFile,
    JSON.stringify(
      campusOf(baseLayout, {
        gatewayId: 'gw-base',
        ports: baseInfo.concentrators.map((c) => c.port),
        pollInterval: 1000,
        dataDir: join(tmp, 'gw-base'),
      }),
    ),
  );
  const baseChild = JsonChild.spawnCompiled(childJs, [
    baseFile,
    'gw-base',
    brokerUrl,
    join(tmp, 'gw-base', 'o.sqlite'),
  ]);
  cleanups.push(() => baseChild.stop());
  const baseStarted = await baseChild.next<{ pid: number }>(60_000);
  let baseRss = 0;
  for (let i = 0; i < 3; i++) {
    await sleep(1000);
    baseRss = Math.max(baseRss, rssOf(baseStarted.pid) ?? 0);
  }
  await baseChild.stop();
  await baseFarm.stop();
  log(`baseline: the same gateway child polling 1 meter: max RSS ${mb(baseRss)} (node + modules, compiled)`);
  const farmStart = performance.now();
  const { farm: bigFarm, info: bigInfo } = await spawnFarm(MEMORY_LAYOUT);
  log(`farm child pid ${bigInfo.pid} listening after ${fmt((performance.now() - farmStart) / 1000, 1)} s`);
  const bigDir = join(tmp, 'gw-scale');
  const campusFile = join(tmp, 'campus-10k.json');
  writeFileSync(
    campusFile,
    JSON.stringify(
      campusOf(MEMORY_LAYOUT, {
        gatewayId: 'gw-scale',
        ports: bigInfo.concentrators.map((c) => c.port),
        pollInterval: MEMORY_POLL_MS,
        dataDir: bigDir,
        timeout: 1000,
      }),
    ),
  );
  const gwChild = JsonChild.spawnCompiled(childJs, [
    campusFile,
    'gw-scale',
    brokerUrl,
    join(bigDir, 'outbox.sqlite'),
  ]);
  cleanups.push(() => gwChild.stop());
  const spawnedAt = performance.now();
  const started = await gwChild.next<{ pid: number; startupMs: number }>(120_000);
  log(
    `gateway child pid ${started.pid} started in ${fmt((performance.now() - spawnedAt) / 1000, 1)} s ` +
      `(startGateway ${fmt(started.startupMs / 1000, 1)} s incl. campus validation)`,
  );
  const samples: { s: number; rss: number; stats: GatewayChildStats }[] = [];
  let maxBigRss = 0;
  const runStart = performance.now();
  let first: GatewayChildStats | undefined;
  for (let i = 1; performance.now() - runStart < SCALE_RUN_MS; i++) {
    await sleep(Math.max(0, runStart + i * 1000 - performance.now()));
    const rss = rssOf(started.pid) ?? 0;
    maxBigRss = Math.max(maxBigRss, rss);
    const stats = await gwChild.ask<GatewayChildStats>('stats');
    first ??= stats;
    samples.push({ s: i, rss, stats });
    if (i % 5 === 0) {
      log(
        `  t=${String(i).padStart(2)} s  RSS ${mb(rss).padStart(9)}  heap ${mb(stats.heapUsed).padStart(8)}  ` +
          `appended ${fmt(stats.appended).padStart(6)}  acked ${fmt(stats.acked).padStart(6)}  ` +
          `meters polled ${fmt(stats.metersPolled)}/${fmt(stats.meters)}`,
      );
    }
  }
  const last = samples.at(-1)!;
  // Steady state: after the first full poll interval (first polls are spread over it).
  const steadyFrom = samples.find((s) => s.s >= Math.ceil(MEMORY_POLL_MS / 1000) + 2) ?? samples[0]!;
  const steadySecs = (last.stats.t - steadyFrom.stats.t) / 1000;
  const bigReadings = (last.stats.appended - steadyFrom.stats.appended) / steadySecs;
  const bigAcked = (last.stats.acked - steadyFrom.stats.acked) / steadySecs;
  const bigCpu = (last.stats.cpuUs - first!.cpuUs) / 1e6 / ((last.stats.t - first!.t) / 1000);
  const expected = bigMeters / (MEMORY_POLL_MS / 1000);
  const rssOk = maxBigRss <= TARGET_RSS_MB * MB;
  const allPolled = last.stats.metersPolled === last.stats.meters;
  log(
    `max RSS ${mb(maxBigRss)} (from /proc/${started.pid}/status VmRSS, sampled every 1 s; ` +
      `compiled gateway, no TypeScript loader) → target ≤ ${TARGET_RSS_MB} MB: ${yes(rssOk)}`,
  );
  log(
    `RSS above the 1-meter baseline: ${mb(maxBigRss - baseRss)} for ${fmt(bigMeters)} meters ` +
      `(${fmt((maxBigRss - baseRss) / bigMeters / 1024, 1)} KB per meter)`,
  );
  log(
    `readings/s (steady state, t=${steadyFrom.s}..${last.s} s): ${fmt(bigReadings)} appended, ${fmt(bigAcked)} acked ` +
      `(expected ${fmt(expected)}); error readings ${last.stats.errorPolls}; backlog at end ${fmt(last.stats.backlog)}; ` +
      `gateway CPU ${pct(bigCpu)} of one core`,
  );
  log(
    `meters with a good poll: ${fmt(last.stats.metersPolled)} / ${fmt(last.stats.meters)} → all polled: ${yes(allPolled)}`,
  );
  log();
  await gwChild.stop();
  await bigFarm.stop();
  summary.push(
    {
      metric: `${fmt(bigMeters)} meters @ ${MEMORY_POLL_MS / 1000} s: max RSS of the gateway process`,
      value: `${mb(maxBigRss)} (1-meter baseline ${mb(baseRss)})`,
      target: `≤ ${TARGET_RSS_MB} MB`,
      met: yes(rssOk),
    },
    {
      metric: `${fmt(bigMeters)} meters: readings/s (appended / acked)`,
      value: `${fmt(bigReadings)} / ${fmt(bigAcked)}`,
      target: `≈ ${fmt(expected)}`,
      met: yes(bigReadings >= expected * 0.95),
    },
    {
      metric: `${fmt(bigMeters)} meters: meters polled`,
      value: `${fmt(last.stats.metersPolled)} / ${fmt(last.stats.meters)}`,
      target: 'all',
      met: yes(allPolled),
    },
  );

  // -------------------------------------------------------------------------------------------
  log('## Summary (paste into the README)');
  log();
  log(
    `Gateway bench (\`npm run bench:gateway\`), ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}, node ${process.version}, ` +
      `broker ${brokerName.split(' (')[0]}; farm and 10k-meter gateway in child processes; ` +
      `throughput field ${meterCount} meters on ${buses.length} concentrators (half Modbus TCP, half RTU-over-TCP), ` +
      `outbox raised to ${fmt(BENCH_OUTBOX.replayRatePerSec)} msg/s and ${fmt(BENCH_OUTBOX.maxInFlight)} in flight for the throughput run.`,
  );
  log();
  log(
    table(
      ['Metric', 'Value', 'Target', 'Met'],
      summary.map((r) => [r.metric, r.value, r.target, r.met]),
    ),
  );
  log();
  log(`bench took ${fmt((performance.now() - benchStart) / 1000, 0)} s`);
}

let exitCode = 0;
try {
  await main();
} catch (err) {
  console.error('bench failed:', err);
  exitCode = 1;
} finally {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
}
process.exit(exitCode);
