// Fast scenario rendering: the demo campus (~370 meters) rendered straight into a counting
// writer. Run: npx tsx test/bench/scenario.bench.ts
//
// Figures: a simulated year at a 1 h step (loads sampled every hour or every 15 min; minute-exact
// with BENCH_EXACT=1), and a simulated month at a 15 min step (minute-exact physics, as the live
// meters integrate, and sampled every 15 min).
import type { ReadingWriter, StoredReading } from '../../services/metering/storage.ts';
import { demoScenario } from '../../simulators/scenario/demo.ts';
import { renderScenario } from '../../simulators/scenario/render.ts';

const DAY = 86_400_000;
const scenario = demoScenario({ start: '2026-01-01T00:00:00+08:00' });
const meters = scenario.nodes.filter((n) => n.meter).length;

function countingWriter(): ReadingWriter & { count: number } {
  const w = {
    count: 0,
    writeReadings: async (batch: readonly StoredReading[]) => {
      w.count += batch.length;
    },
  };
  return w;
}

async function run(label: string, days: number, stepMs: number, physicsStep: number): Promise<void> {
  const writer = countingWriter();
  const t0 = performance.now();
  const result = await renderScenario(scenario, {
    from: scenario.start,
    to: scenario.start + days * DAY,
    stepMs,
    writer,
    physicsStep,
    truth: 'totals',
  });
  const s = (performance.now() - t0) / 1000;
  const lossy = result.balances.filter((b) => b.utility === 'electricity');
  const loss = lossy.reduce((x, b) => x + b.totals.loss, 0);
  const supply = result.balances
    .filter(
      (b) => scenario.nodes.find((n) => n.id === b.node)?.kind === 'supply' && b.utility === 'electricity',
    )
    .reduce((x, b) => x + result.nodes[b.node]!.totals.registered, 0);
  console.log(
    `${label.padEnd(46)} ${s.toFixed(2).padStart(6)} s  ${String(writer.count).padStart(9)} readings  ` +
      `${Math.round(writer.count / s)
        .toLocaleString('en')
        .padStart(10)} readings/s  ` +
      `${(days / s).toFixed(1).padStart(7)} simulated days/s  (supply ${Math.round(supply)} kWh, loss ${((100 * loss) / supply).toFixed(2)} %)`,
  );
}

console.log(`demo scenario: ${meters} meters, ${scenario.nodes.length} nodes, node ${process.version}`);
await run('year, 1 h step, physics every 1 h', 365, 3_600_000, 3_600_000);
await run('year, 1 h step, physics every 15 min', 365, 3_600_000, 15 * 60_000);
// Minute-exact physics for a year evaluates every load profile 525,600 times (~35 s): opt in.
if (process.env.BENCH_EXACT) await run('year, 1 h step, minute-exact physics', 365, 3_600_000, 60_000);
await run('month (30 d), 15 min step, minute-exact physics', 30, 15 * 60_000, 60_000);
await run('month (30 d), 15 min step, physics every 15 min', 30, 15 * 60_000, 15 * 60_000);
