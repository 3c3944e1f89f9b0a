import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertStore } from '../../services/inspection/detection/alerts.ts';
import { heatingDetector } from '../../services/inspection/detection/heating.ts';
import { inputFromStore } from '../../services/inspection/detection/input.ts';
import { createLiveDetection, prime } from '../../services/inspection/detection/live.ts';
import type { DetectionResult } from '../../services/inspection/detection/types.ts';
import type { ReadingStore, SeriesQuery } from '../../services/metering/storage.ts';
import { tempBackoffice } from '../audit/helpers.ts';
import {
  DAY,
  HOUR,
  MIN,
  campusScenario,
  renderInput,
  scenarioWeather,
  type Rendered,
} from './heating-loads-support.ts';

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

describe('live detection judges electric heating once a day over months of history', () => {
  let r: Rendered;
  const days = 42;
  beforeAll(async () => {
    // Late autumn; room R2 runs an electric heater for the last two weeks, longer the colder.
    const start = Date.parse('2026-10-20T00:00:00+08:00');
    const weather = scenarioWeather(campusScenario({}), start, start + days * DAY);
    const injections = [];
    for (let d = days - 14; d < days; d++) {
      const temps = weather.slice(d * 24, d * 24 + 24).map((w) => w.outdoorC);
      const hours = Math.min(10, 0.8 * Math.max(0, 15.5 - temps.reduce((s, x) => s + x, 0) / temps.length));
      if (hours <= 0) continue;
      const from = start + d * DAY + 12 * HOUR;
      injections.push({
        type: 'heater' as const,
        node: 'R2',
        kw: 1,
        from,
        to: from + Math.round(hours * 60) * MIN,
      });
    }
    const scenario = campusScenario({ rooms: 6, start: '2026-10-20T00:00:00+08:00', injections });
    r = await renderInput(scenario, { days, stepMs: HOUR, weather: true, physicsStep: 15 * MIN });
  });
  afterAll(() => r.store.close());

  it('raises the heater from the daily run, reads the long history once a local day, and not the window', async () => {
    const reads: { from: number; to: number }[] = [];
    const store: ReadingStore = Object.assign(Object.create(r.store) as ReadingStore, {
      series: (q: SeriesQuery) => {
        reads.push({ from: q.from, to: q.to });
        return r.store.series(q);
      },
    });
    const t = tempBackoffice();
    const alerts = new AlertStore(t.db, t.audit, t.clock);
    // Late on the last day, so the heater's last cold days are whole in the store.
    let now = r.scenario.start + (days - 1) * DAY + 20 * HOUR;
    const results: DetectionResult[] = [];
    const live = createLiveDetection({
      store,
      campus: r.campus,
      alerts,
      // The window's detectors: no electric heating there (six hours cannot show a response to
      // the cold); it comes from the daily run.
      detectors: [heatingDetector({ degreeDay: { enabled: false } })],
      dailyDetectors: [heatingDetector({ stopped: { enabled: false } })],
      weather: (from, to) => r.input.weather!.filter((w) => w.ts >= from && w.ts < to),
      publish: () => undefined,
      intervalMs: 3_600_000_000,
      windowMs: 6 * HOUR,
      clock: () => now,
      onRun: (res) => void results.push(res),
    });
    try {
      await live.runOnce();
      for (let h = 0; h < 3; h++) {
        now += HOUR;
        await live.runOnce();
      }
      const long = (x: { from: number; to: number }) => x.to - x.from === 200 * DAY;
      // Once for the day (one read per quantity), not per run.
      const perDay = reads.filter(long).length;
      expect(perDay).toBeGreaterThan(0);
      for (const res of results) {
        const electric = res.findings.filter((f) => f.key.startsWith('electric-heating:'));
        expect(electric.map((f) => f.meter)).toEqual(['E-R2']);
        const room = res.scores.find((s) => s.kind === 'meter' && s.id === 'E-R2')!;
        expect(room.alert).toBe(true);
      }
      // The next local day: read again.
      now += DAY;
      await live.runOnce();
      expect(reads.filter(long).length).toBe(2 * perDay);
      const alerted = alerts.list({}).map((a) => `${a.type}:${a.meter ?? a.node}`);
      expect(alerted).toContain('illegal-load:E-R2');
    } finally {
      await live.stop();
    }
  });
});
