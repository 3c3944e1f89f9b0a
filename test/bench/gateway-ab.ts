/**
 * A/B of the compiled gateway at full speed: two revisions of the gateway, each compiled as the
 * gateway bench compiles it (stage 3: plain node, V8's heap as `campus-energy gateway` sets it),
 * run one after the other against the same farm and mosquitto, `rounds` times, and their CPU a
 * reading printed run by run. Usage:
 *
 *   npx tsx test/bench/gateway-ab.ts <rev A> <rev B> [rounds=4] [seconds=8]
 *
 * A revision is anything `git archive` takes (HEAD~1, a commit, a branch) or WORK for the working
 * tree as it is. Why not in process: under tsx (`PROFILE=off npm run bench:profile`) a change to
 * the outbox measured 75 → 53 µs a reading where the compiled gateway showed no difference (the
 * loader's heap and code are not an installed gateway's); and why alternate: on a shared machine
 * one run of the same build moves by ±10 µs a reading.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startMosquitto } from '../helpers/mosquitto.ts';
import { JsonChild } from './child.ts';
import type { GatewayCounters } from './gateway-stats.ts';
import { flatOutCampus, mixedLayout } from './layout.ts';

const [revA, revB, roundsArg, secondsArg] = process.argv.slice(2);
if (!revA || !revB) {
  console.error('usage: npx tsx test/bench/gateway-ab.ts <rev A> <rev B> [rounds=4] [seconds=8]');
  process.exit(2);
}
const ROUNDS = Number(roundsArg ?? 4);
const SECONDS = Number(secondsArg ?? 8);
const WARMUP_MS = 3_000;
const REPO = resolve(import.meta.dirname, '..', '..');
/** What the gateway child is compiled from (test/bench/tsconfig.child.json), package.json for its module type. */
const SOURCES = [
  'gateway',
  'adapters',
  'config',
  'services',
  'test/bench',
  'package.json',
  'tsconfig.build.json',
  'tsconfig.json',
];

/** Compiles the gateway child of `rev` into node_modules (so that it resolves the installed packages). */
function build(rev: string, name: string): string {
  const src = mkdtempSync(join(tmpdir(), `gateway-ab-${name}-`));
  if (rev === 'WORK') for (const p of SOURCES) cpSync(join(REPO, p), join(src, p), { recursive: true });
  else {
    const tar = execFileSync('git', ['archive', rev, ...SOURCES], { cwd: REPO, maxBuffer: 1 << 30 });
    execFileSync('tar', ['x', '-C', src], { input: tar });
  }
  symlinkSync(join(REPO, 'node_modules'), join(src, 'node_modules'));
  const out = join(REPO, 'node_modules', '.cache', 'campus-energy-ab', name);
  rmSync(out, { recursive: true, force: true });
  execFileSync(
    process.execPath,
    [
      join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'),
      '-p',
      'test/bench/tsconfig.child.json',
      '--outDir',
      out,
    ],
    { cwd: src, stdio: 'inherit' },
  );
  cpSync(join(REPO, 'config', 'profiles'), join(out, 'config', 'profiles'), { recursive: true });
  rmSync(src, { recursive: true, force: true });
  return join(out, 'test', 'bench', 'gateway-child.js');
}

const builds = [
  { name: 'A', rev: revA, js: build(revA, 'A') },
  { name: 'B', rev: revB, js: build(revB, 'B') },
];
const layout = mixedLayout(8, 55);
const farm = JsonChild.spawn('farm-child.ts', [JSON.stringify(layout)]);
const info = await farm.next<{ concentrators: { port: number }[] }>(60_000);
const mosquitto = await startMosquitto();
const tmp = mkdtempSync(join(tmpdir(), 'gateway-ab-'));
const campusFile = join(tmp, 'campus.json');
writeFileSync(
  campusFile,
  JSON.stringify(
    flatOutCampus(layout, { gatewayId: 'gw-ab', ports: info.concentrators.map((c) => c.port), dataDir: tmp }),
  ),
);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const perRun: Record<string, number[]> = { A: [], B: [] };
console.log(`A = ${revA}, B = ${revB}: 440 meters flat out into mosquitto, ${ROUNDS} rounds of ${SECONDS} s`);
let run = 0;
for (let round = 1; round <= ROUNDS; round++) {
  for (const b of builds) {
    const child = JsonChild.spawnCompiled(b.js, [
      campusFile,
      'gw-ab',
      mosquitto.url,
      join(tmp, `o${run++}.sqlite`),
    ]);
    await child.next(60_000);
    type Stats = GatewayCounters & { t: number; cpuUs: number; rss: number };
    await sleep(WARMUP_MS);
    const s0 = await child.ask<Stats>('stats');
    await sleep(SECONDS * 1000);
    const s1 = await child.ask<Stats>('stats');
    await child.stop();
    const readings = s1.appended - s0.appended;
    const us = (s1.cpuUs - s0.cpuUs) / readings;
    perRun[b.name]!.push(us);
    console.log(
      `round ${round} ${b.name}: ${Math.round(readings / ((s1.t - s0.t) / 1000))} readings/s, ` +
        `${us.toFixed(1)} µs CPU a reading, RSS ${(s1.rss / 2 ** 20).toFixed(0)} MB; load ${loadavg()[0]!.toFixed(1)}`,
    );
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
const list = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(', ');
console.log(`A (${revA}): ${list(perRun.A!)} µs a reading, median ${median(perRun.A!).toFixed(1)}`);
console.log(`B (${revB}): ${list(perRun.B!)} µs a reading, median ${median(perRun.B!).toFixed(1)}`);
await mosquitto.dispose();
await farm.stop();
rmSync(tmp, { recursive: true, force: true });
process.exit(0);
