import { describe, expect, it } from 'vitest';
import { LagWindow, processFamilies } from '../../services/platform/metrics/process.ts';

/** Issue 26 item 7: every process exports how late its event loop ran. */

/** Blocks the event loop, as a heavy computation on the same thread would. */
function stall(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('event-loop lag', () => {
  it('a stall shows as the longest lag, not as the median, and a second scraper sees it too', async () => {
    const w = new LagWindow(60_000);
    try {
      await tick(200);
      stall(300);
      await tick(100);
      const first = w.quantiles();
      expect(first['1']).toBeGreaterThanOrEqual(0.25);
      // One sample among dozens: the median is the quiet loop's.
      expect(first['0.5']).toBeLessThan(first['1'] / 2);
      // Reading the figures empties nothing: another Prometheus scraping a moment later sees it.
      expect(w.quantiles()['1']).toBe(first['1']);
    } finally {
      w.close();
    }
  });

  it('forgets a stall after one to two windows', async () => {
    const w = new LagWindow(400);
    try {
      await tick(50);
      stall(300);
      await tick(50);
      expect(w.quantiles()['1']).toBeGreaterThanOrEqual(0.25);
      // Two resets later, both monitors started after the stall.
      await tick(1200);
      expect(w.quantiles()['1']).toBeLessThan(0.25);
    } finally {
      w.close();
    }
  });

  it('is exported with every process figure, as gauges per quantile in seconds', () => {
    const family = processFamilies('gateway').find((f) => f.name === 'campus_energy_event_loop_lag_seconds');
    expect(family?.type).toBe('gauge');
    expect(family?.help).toMatch(/event loop/);
    expect(family?.samples.map((s) => s.labels)).toEqual(
      ['0.5', '0.99', '0.999', '1'].map((quantile) => ({ component: 'gateway', quantile })),
    );
    for (const s of family!.samples) expect(s.value).toBeGreaterThanOrEqual(0);
  });
});
