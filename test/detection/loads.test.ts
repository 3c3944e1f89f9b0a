import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  IllegalLoadTripPolicy,
  illegalLoadDetector,
  resistiveSteps,
  IllegalLoadConfigSchema,
} from '../../services/inspection/detection/illegal-load.ts';
import { HOUR, MIN, campusScenario, renderInput, type Rendered } from './heating-loads-support.ts';

describe('illegal resistive loads in dorm rooms, on a rendered scenario at 1 min', () => {
  let r: Rendered;
  beforeAll(async () => {
    const scenario = campusScenario({
      rooms: 4,
      injections: [
        { type: 'heater', node: 'R2', kw: 1.5, from: '+18h', to: '+21h', note: 'heater' },
        { type: 'heater', node: 'R3', kw: 0.5, pf: 1, from: '+9h', to: '+12h', note: 'water dispenser' },
      ],
    });
    r = await renderInput(scenario, { days: 1, stepMs: MIN });
  });
  afterAll(() => r.store.close());

  it('finds the heater in the right room with ΔP ≈ its kW and incremental PF ≈ 1', () => {
    const { findings, scores } = illegalLoadDetector().run(r.input);
    expect(findings.map((f) => f.meter)).toEqual(['E-R2']);
    const f = findings[0]!;
    expect(f.type).toBe('illegal-load');
    expect(f.key).toBe('illegal-load:E-R2');
    expect(f.evidence.figures.deltaPKw).toBeGreaterThan(1.3);
    expect(f.evidence.figures.deltaPKw).toBeLessThan(1.7);
    expect(f.evidence.figures.incrementalPf).toBeGreaterThanOrEqual(0.98);
    expect(Number(f.evidence.figures.deltaSKva)).toBeCloseTo(Number(f.evidence.figures.deltaPKw), 1);
    expect(f.evidence.figures.window).toMatch(/^[5-7] of 7 samples$/);
    expect(f.since).toBe(r.scenario.start + 18 * HOUR);
    const power = f.evidence.series!.find((s) => s.quantity === 'power_kw')!;
    expect(power.points).toHaveLength(3 + 7);
    // Every room is scored, alert or not.
    expect(scores.map((s) => s.id).sort()).toEqual(['E-R1', 'E-R2', 'E-R3', 'E-R4']);
    expect(scores.find((s) => s.id === 'E-R2')).toMatchObject({ alert: true });
    expect(scores.filter((s) => s.alert)).toHaveLength(1);
  });

  it('does not alert an allow-listed resistive step (water dispenser), even with a low step band', () => {
    const d = illegalLoadDetector({ minStepKw: 0.3 });
    const { findings, scores } = d.run(r.input);
    expect(findings.map((f) => f.meter)).not.toContain('E-R3');
    expect(scores.find((s) => s.id === 'E-R3')!.reason).toMatch(/allow-listed.*water dispenser/);
    // Without the allow-list the same step would be an alert: the band is what saves it.
    const strict = illegalLoadDetector({ minStepKw: 0.3, allow: [] }).run(r.input);
    expect(strict.findings.map((f) => f.meter)).toContain('E-R3');
  });

  it('does not count appliance steps with a lagging power factor', () => {
    // Dorm appliance events in the simulator are 1.2 kW at PF ≈ 0.92: many steps, none resistive.
    const steps = resistiveSteps(r.input.meters.get('E-R1')!, IllegalLoadConfigSchema.parse({}));
    expect(steps).toEqual([]);
  });
});

describe('automatic trip policy', () => {
  const finding = (meter: string, stepAt: number) => ({
    type: 'illegal-load' as const,
    key: `illegal-load:${meter}`,
    severity: 'high' as const,
    meter,
    score: 1,
    since: stepAt,
    reason: 'resistive load of 1.50 kW',
    evidence: { from: stepAt, to: stepAt, figures: { lastStepAt: new Date(stepAt).toISOString() } },
  });

  it('asks nothing unless enabled', () => {
    expect(new IllegalLoadTripPolicy().step([finding('E-R2', 0)], 0)).toEqual([]);
  });

  it('asks to open, restores after the delay, at most the daily cap, then leaves it to a person', () => {
    const p = new IllegalLoadTripPolicy({
      autoTrip: true,
      restoreAfterMs: 5 * MIN,
      maxAutoRestoresPerDay: 2,
    });
    const t0 = Date.parse('2026-12-01T02:00:00Z');
    let t = t0;
    const asked: string[] = [];
    for (let k = 0; k < 3; k++) {
      const step = t0 + k * HOUR;
      t = step + MIN;
      for (const a of p.step([finding('E-R2', step)], t)) asked.push(a.action);
      // Same finding again: no second request while tripped.
      expect(p.step([finding('E-R2', step)], t + MIN)).toEqual([]);
      t += 6 * MIN;
      for (const a of p.step([finding('E-R2', step)], t)) asked.push(a.action);
    }
    expect(asked).toEqual(['open', 'close', 'open', 'close', 'open']);
    const open = p.step([], t + HOUR);
    expect(open).toEqual([]);
    // The request is what RelayControl.requestFromPolicy takes: meter, action and reason.
    const q = new IllegalLoadTripPolicy({ autoTrip: true });
    expect(q.step([finding('E-R9', t0)], t0)).toEqual([
      { meter: 'E-R9', action: 'open', reason: 'automatic trip: resistive load of 1.50 kW' },
    ]);
  });
});
