import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertStore } from '../../services/inspection/detection/alerts.ts';
import { inputFromStore } from '../../services/inspection/detection/input.ts';
import { createLiveDetection, prime } from '../../services/inspection/detection/live.ts';
import type { DetectionResult } from '../../services/inspection/detection/types.ts';
import type { ReadingStore, SeriesQuery } from '../../services/metering/storage.ts';
import { tempBackoffice } from '../audit/helpers.ts';
import { DAY, HOUR, campusScenario, renderInput, type Rendered } from './heating-loads-support.ts';

describe('live detection on the incremental engine', () => {
  let r: Rendered;
  beforeAll(async () => {
    // Six dorm rooms; R3's meter registers 30 % of what it takes from day 13 on.
    const scenario = campusScenario({
      rooms: 6,
      start: '2026-10-01T00:00:00+08:00',
      injections: [{ type: 'bypass', node: 'R3', factor: 0.3, from: '+13d' }],
    });
    r = await renderInput(scenario, { days: 16, stepMs: HOUR });
  });
  afterAll(() => r.store.close());

  it('primes once from the store, then takes only the new readings, and raises the bypass', async () => {
    // The real store, with the ranges it is asked for written down.
    const reads: { from: number; to: number }[] = [];
    const store: ReadingStore = Object.assign(Object.create(r.store) as ReadingStore, {
      series: (q: SeriesQuery) => {
        reads.push({ from: q.from, to: q.to });
        return r.store.series(q);
      },
    });
    const t = tempBackoffice();
    const alerts = new AlertStore(t.db, t.audit, t.clock);
    let now = r.scenario.start + 13 * DAY;
    const results: DetectionResult[] = [];
    const published: string[] = [];
    const live = createLiveDetection({
      store,
      campus: r.campus,
      alerts,
      detectors: [],
      publish: (topic) => void published.push(topic),
      intervalMs: 3_600_000_000,
      windowMs: 6 * HOUR,
      clock: () => now,
      onRun: (res) => void results.push(res),
    });
    try {
      await live.runOnce();
      const primeReads = reads.filter((x) => now - x.from > DAY);
      expect(primeReads.length).toBeGreaterThan(0);
      expect(primeReads.every((x) => x.from === now - 63 * DAY && x.to === now)).toBe(true);
      reads.length = 0;
      for (let h = 0; h < 72; h++) {
        now += HOUR;
        await live.runOnce();
      }
      // After priming, every run reads its 6-hour window only, never the history again.
      expect(reads.length).toBeGreaterThanOrEqual(72);
      expect(reads.every((x) => x.to - x.from === 6 * HOUR)).toBe(true);
      expect(results).toHaveLength(73);
      const last = results.at(-1)!;
      const r3 = last.scores.find((s) => s.kind === 'meter' && s.id === 'E-R3')!;
      expect(r3.alert).toBe(true);
      expect(last.scores.filter((s) => s.kind === 'meter' && s.alert).map((s) => s.id)).toEqual(['E-R3']);
      const node = last.scores.find((s) => s.kind === 'node' && s.id === 'E-D1')!;
      expect(node.suspects?.[0]?.meter).toBe('E-R3');
      expect(published.length).toBeGreaterThan(0);
      // The same verdict as a detector primed afresh with all of it at once.
      const input = await inputFromStore(r.store, r.campus, { from: now - 63 * DAY, to: now });
      const fresh = prime(r.campus, input).detector.result();
      const alerting = (x: DetectionResult) =>
        x.scores
          .filter((s) => s.alert)
          .map((s) => `${s.kind}:${s.id}`)
          .sort();
      expect(alerting(last)).toEqual(alerting(fresh));
      const freshR3 = fresh.scores.find((s) => s.kind === 'meter' && s.id === 'E-R3')!;
      expect(Math.abs(r3.score - freshR3.score)).toBeLessThan(0.15 * freshR3.score);
    } finally {
      await live.stop();
    }
  });
});
