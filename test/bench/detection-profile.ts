// Where the live detector's worst intervals go: the bench's campus (detection-campus.ts), a year
// pushed, then each new interval's result() under the V8 sampling profiler (one profile per
// interval), and for the slowest ones the functions holding their CPU: inclusive time of the
// engine's parts (a sample counts once per function on its stack) and self time.
// Run: npx tsx test/bench/detection-profile.ts   (BENCH_DAYS, BENCH_WARMUP, BENCH_INTERVALS, PROFILE_TOP)
import { Session } from 'node:inspector/promises';
import { loadavg } from 'node:os';
import { benchCampus, primedDetector } from './detection-campus.ts';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const DAYS = Number(process.env.BENCH_DAYS ?? 365);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 24);
const INTERVALS = Number(process.env.BENCH_INTERVALS ?? 96);
const TOP = Number(process.env.PROFILE_TOP ?? 6);
const campus = benchCampus(DAYS);
const detector = primedDetector(campus);

const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval: 100 });

/** Per function (name file:line): ms inclusive and ms self, from one profile. */
function attribute(p: Profile): { incl: Map<string, number>; self: Map<string, number> } {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const name = (n: ProfileNode) => {
    const f = n.callFrame;
    const file = f.url.split('/').slice(-1)[0] || '(native)';
    return `${f.functionName || '(anonymous)'} ${file}:${f.lineNumber + 1}`;
  };
  const incl = new Map<string, number>();
  const self = new Map<string, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const ms = (p.timeDeltas[i + 1] ?? p.timeDeltas[i] ?? 0) / 1000;
    let id: number | undefined = p.samples[i]!;
    const leaf = name(byId.get(id)!);
    self.set(leaf, (self.get(leaf) ?? 0) + ms);
    const seen = new Set<string>();
    while (id !== undefined) {
      const k = name(byId.get(id)!);
      if (!seen.has(k)) {
        seen.add(k);
        incl.set(k, (incl.get(k) ?? 0) + ms);
      }
      id = parent.get(id);
    }
  }
  return { incl, self };
}

const runs: {
  j: number;
  closing: boolean;
  cpuMs: number;
  incl: Map<string, number>;
  self: Map<string, number>;
}[] = [];
for (let j = campus.instants; j < campus.instants + WARMUP + INTERVALS; j++) {
  campus.advance(j);
  const slots = detector.store.version;
  detector.push(campus.at(j));
  await session.post('Profiler.start');
  const c0 = process.cpuUsage();
  detector.result();
  const c = process.cpuUsage(c0);
  const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: Profile };
  if (j < campus.instants + WARMUP) continue;
  runs.push({
    j: j - campus.instants - WARMUP,
    closing: detector.store.version !== slots,
    cpuMs: (c.user + c.system) / 1000,
    ...attribute(profile),
  });
}
session.disconnect();

const fmt = (m: Map<string, number>, k: number, skip: RegExp, total: number) =>
  [...m]
    .filter(([n]) => !skip.test(n))
    .sort((a, b) => b[1] - a[1])
    .slice(0, k)
    .map(([n, ms]) => `${((100 * ms) / (total || 1)).toFixed(0).padStart(3)} %  ${n}`)
    .join('\n      ');
// The frames every sample has (the script, the profiler's callback) say nothing.
const ROOT = '(root) (native):0';
const frame =
  /^(\(root\)|\(program\)|\(anonymous\) detection-profile|result engine\.ts|\(anonymous\) engine\.ts:188)/;
const closing = runs.filter((r) => r.closing);
const sorted = [...runs].sort((a, b) => b.cpuMs - a.cpuMs);
console.log(
  `detection profile: ${campus.specs.length} meters, ${DAYS} days, ${runs.length} intervals (${closing.length} closing an hour), load ${loadavg()
    .map((x) => x.toFixed(1))
    .join(
      ', ',
    )}; CPU under the profiler. Shares of the interval's samples (the samples' times are wall time: on a shared machine only their shares mean something)`,
);
for (const r of sorted.slice(0, TOP)) {
  const hour = Math.floor(r.j / 4);
  console.log(
    `  interval ${r.j} (hour ${hour} of the day's intervals, ${r.closing ? 'closing an hour' : 'ordinary'}): ${r.cpuMs.toFixed(1)} ms CPU\n` +
      `    inclusive\n      ${fmt(r.incl, 14, frame, r.incl.get(ROOT)!)}\n    self\n      ${fmt(r.self, 6, /^\(root\)/, r.incl.get(ROOT)!)}`,
  );
}
// The steady share: the mean over the closing hours that are not among the slowest.
const steady = closing.filter((r) => !sorted.slice(0, TOP).includes(r));
const meanMap = new Map<string, number>();
for (const r of steady)
  for (const [k, v] of r.incl) meanMap.set(k, (meanMap.get(k) ?? 0) + v / steady.length);
console.log(
  `  the other ${steady.length} closing hours, mean ${(steady.reduce((s, r) => s + r.cpuMs, 0) / steady.length).toFixed(1)} ms CPU, inclusive\n      ${fmt(meanMap, 18, frame, meanMap.get(ROOT)!)}`,
);
