import { describe, expect, it } from 'vitest';
import { processFamilies } from '../../services/platform/metrics/process.ts';

/** Issue 26 item 7 (the gauge only): every process exports how late its event loop ran. */
function lag(quantile: string): number {
  const family = processFamilies('gateway').find((f) => f.name === 'campus_energy_event_loop_lag_seconds');
  const sample = family?.samples.find((s) => s.labels?.quantile === quantile);
  if (!sample) throw new Error(`no lag sample for quantile ${quantile}`);
  return sample.value;
}

describe('event-loop lag gauge', () => {
  it('reports a stall of the event loop since the previous scrape, and forgets it after', async () => {
    lag('1'); // starts the monitor
    await new Promise((r) => setTimeout(r, 100));
    const quiet = lag('1');
    // Block the loop for 300 ms, as a heavy computation in the same process would.
    const until = performance.now() + 300;
    while (performance.now() < until);
    await new Promise((r) => setTimeout(r, 50));
    const stalled = lag('1');
    expect(stalled).toBeGreaterThanOrEqual(0.25);
    expect(stalled).toBeGreaterThan(quiet);
    await new Promise((r) => setTimeout(r, 100));
    expect(lag('1')).toBeLessThan(0.25);
  });
});
