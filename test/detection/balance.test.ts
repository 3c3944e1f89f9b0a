import { beforeAll, describe, expect, it } from 'vitest';
import { detectInput, type EngineResult } from '../../services/inspection/detection/engine.ts';
import { parseScenario } from '../../simulators/scenario/schema.ts';
import { campusInput, renderInput, type Rendered } from './support.ts';

describe('energy balance and suspects on a seeded campus (14 days at 15 min)', () => {
  let r: Rendered;
  let res: EngineResult;
  beforeAll(async () => {
    const scenario = parseScenario(
      campusInput({
        feeders: 2,
        buildingsPerFeeder: 2,
        roomsPerBuilding: 8,
        waterUnits: 4,
        injections: [
          { type: 'tap', node: 'F1', kw: 2, from: '+10d', to: '+12d' },
          { type: 'bypass', node: 'B12-03', factor: 0.3, from: '+9d' },
          { type: 'meter-stopped', node: 'B21-05', from: '+11d', to: '+12d' },
          { type: 'meter-backwards', node: 'B22-02', from: '+12d', to: '+12d6h' },
          { type: 'bypass', node: 'WU2', factor: 0.2, from: '+9d' },
          { type: 'comm-fault', node: 'B11-02', from: '+8d', to: '+8d6h', render: 'missing' },
        ],
      }),
    );
    r = await renderInput(scenario, { days: 14, stepMs: 15 * 60_000 });
    res = detectInput(r.input);
  });

  const balanceFindings = (node: string) =>
    res.findings.filter(
      (f) => f.type === 'energy-balance' && f.node === node && !f.key.includes(':negative:'),
    );

  it('flags the tapped feeder and estimates the tapped energy', () => {
    const [f, ...more] = balanceFindings('E-F1');
    expect(more).toHaveLength(0);
    const truth = r.result.balances.find((b) => b.node === 'F1')!.totals.theft;
    expect(truth).toBeCloseTo(96, 6);
    expect(f!.unexplained!).toBeGreaterThan(0.95 * truth);
    expect(f!.unexplained!).toBeLessThan(1.05 * truth);
    expect(f!.reason).toMatch(/tap or unmetered load/);
    expect(f!.since).toBe(r.scenario.start + 10 * 86_400_000);
  });

  it('puts the bypassed, stopped and backwards meters first among their node’s suspects', () => {
    for (const [node, thief] of [
      ['E-B12', 'E-B12-03'],
      ['E-B21', 'E-B21-05'],
      ['E-B22', 'E-B22-02'],
      ['W-M', 'W-U2'],
    ] as const) {
      const found = balanceFindings(node);
      expect(found.length, node).toBeGreaterThan(0);
      expect(found[0]!.suspects![0]!.meter, node).toBe(thief);
      const score = res.scores.find((s) => s.id === thief)!;
      // A water bypass on an intermittent household flow is found and ranked first, but its
      // meter score stays below the alert level (see the report): electricity thieves alert.
      if (node !== 'W-M') expect(score.alert, thief).toBe(true);
      const siblings = res.scores.filter(
        (s) => s.kind === 'meter' && r.input.meters.get(s.id)?.parent === node && s.id !== thief,
      );
      expect(Math.max(...siblings.map((s) => s.score)), node).toBeLessThan(score.score);
    }
    expect(res.findings.some((f) => f.type === 'meter-stopped' && f.meter === 'E-B21-05')).toBe(true);
    expect(res.findings.some((f) => f.type === 'meter-backwards' && f.meter === 'E-B22-02')).toBe(true);
  });

  it('raises nothing on the clean nodes; a child’s communication gap is uncomputable, not theft', () => {
    for (const node of ['E-IN', 'E-T1', 'E-F2', 'E-B11']) {
      expect(balanceFindings(node), node).toHaveLength(0);
      expect(res.scores.find((s) => s.id === node)!.alert, node).toBe(false);
    }
    const b11 = res.balances.find((b) => b.id === 'E-B11')!;
    const gapStart = b11.up.length - 6 * 24 + 0; // 6 days before the end = day 8
    const gap = Array.from(b11.residual.subarray(gapStart, gapStart + 6));
    expect(gap.every((x) => Number.isNaN(x))).toBe(true);
    const flagged = res.scores.filter((s) => s.kind === 'meter' && s.alert).map((s) => s.id);
    expect(flagged.filter((m) => m !== 'W-U2').sort()).toEqual(['E-B12-03', 'E-B21-05', 'E-B22-02']);
  });
});

describe('a clean year at 1 h on a small tree', () => {
  it('raises no theft alert', async () => {
    const scenario = parseScenario(
      campusInput({
        feeders: 1,
        buildingsPerFeeder: 2,
        roomsPerBuilding: 4,
        waterUnits: 3,
        start: '2026-01-01T00:00:00+08:00',
      }),
    );
    const { input } = await renderInput(scenario, { days: 365, stepMs: 3_600_000, physicsStep: 3_600_000 });
    const res = detectInput(input);
    expect(res.findings.filter((f) => f.type !== 'meter-drop')).toEqual([]);
    expect(res.scores.filter((s) => s.kind === 'node' && s.alert)).toEqual([]);
    for (const b of res.balances) expect(b.state, b.id).toBe('normal');
  });
});
