/** Whether a meter's run of zeros is a stop its parent's balance confirms (engine.ts). */
import type { NodeBalance } from './balance.ts';
import type { MeterAnomaly } from './meter-anomalies.ts';
import type { SlotStore } from './series.ts';

/**
 * A meter at zero with no relay information may be stopped (its use still flows through the
 * parent) or simply unsupplied or vacant (the parent sees nothing either). Where the parent's
 * balance is computable over the run and steady enough to see the meter's expected use, a stop
 * must show there as unexplained loss. Where it is not (a small building under a large feeder,
 * whose meter's own 1 % hourly noise over the run is larger than the building's whole use), the
 * parent can neither confirm nor refute it, and the run's improbability under the meter's own
 * zero habits decides alone.
 */
export function confirmStopped(store: SlotStore, anomalies: MeterAnomaly[], balances: NodeBalance[]): void {
  const byNode = new Map(balances.map((b) => [b.node, b]));
  for (const a of anomalies) {
    if (a.stopped.length === 0) continue;
    const b = byNode.get(store.topology.parent[a.meter]!);
    if (!b) continue;
    a.stopped = a.stopped.filter((run) => {
      const len = run.end - run.first;
      let exp = 0;
      for (let k = run.first; k < run.end; k++) {
        const j = k - a.expectedFrom;
        const e = j >= 0 && j < a.expected.length ? a.expected[j]! : Number.NaN;
        if (e === e) exp += e;
      }
      const during = residualMean(b.residual, run.first, run.end);
      if (during.n < len / 2) return true;
      // Against the residual just before the run (another theft under the same node may be there).
      const before = residualMean(b.residual, run.first - len, run.first);
      const ref = before.n > 0 ? Math.max(0, before.mean) : 0;
      if (exp < STOP_VISIBLE_SDS * residualStepSd(b.residual, run.first, len, store.slotsPerDay)) return true;
      return (during.mean - ref) * len > 0.3 * exp;
    });
  }
}

/** The parent must see a stop by this many of its own run-to-run spreads to be asked. */
const STOP_VISIBLE_SDS = 3;

function residualMean(residual: Float64Array, from: number, to: number): { mean: number; n: number } {
  let sum = 0;
  let n = 0;
  for (let k = Math.max(0, from); k < to; k++) {
    const r = residual[k]!;
    if (r === r) {
      sum += r;
      n++;
    }
  }
  return { mean: n > 0 ? sum / n : Number.NaN, n };
}

/**
 * How much the parent's unexplained energy over `len` slots moves from one such stretch to the
 * next, over the four weeks before `first` (root mean square of consecutive differences of
 * stretch totals): the noise against which the test above compares a stop with the stretch just
 * before it. Measured, not assumed: real meters' hourly errors are not independent.
 */
function residualStepSd(residual: Float64Array, first: number, len: number, slotsPerDay: number): number {
  const from = Math.max(0, first - 28 * slotsPerDay);
  let prev = Number.NaN;
  let ss = 0;
  let n = 0;
  for (let end = first; end - len >= from; end -= len) {
    const m = residualMean(residual, end - len, end);
    const total = m.n >= len / 2 ? m.mean * len : Number.NaN;
    if (total === total && prev === prev) {
      ss += (total - prev) ** 2;
      n++;
    }
    prev = total;
  }
  // Too few stretches to measure: the parent is taken as able to see it (the test above decides).
  return n >= 3 ? Math.sqrt(ss / n) : 0;
}
