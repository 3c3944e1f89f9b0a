import { describe, expect, it } from 'vitest';
import type { NodeBalance } from '../../services/inspection/detection/balance.ts';
import { driftOf } from '../../services/inspection/detection/drift.ts';
import { detectInput } from '../../services/inspection/detection/engine.ts';
import { syntheticFeeder } from './synthetic-feeder.ts';

// A building under-registers 10 % from 50 days before the end while its real use grows to 3.5
// times (a new laboratory): the feeder's unexplained loss grows day after day, as a drifting
// feeder meter's would, but it follows that building's load stepped at one day.
const DAYS = 200;
const onset = (DAYS - 50) * 24;
const grow = (x: number, h: number) => (h < onset ? x : x * (1 + (2.5 * (h - onset)) / (50 * 24)));
const under = (x: number, h: number) => (h < onset ? x : 0.9 * x);

describe('a theft whose loss grows is not explained away as a drifting meter', () => {
  it('raises the feeder’s loss with the thief first, not a meter drift (three draws)', () => {
    for (const seed of [1, 2, 3]) {
      const { input } = syntheticFeeder({
        seed,
        days: DAYS,
        buildings: 8,
        feederNoise: 0.002,
        use: { B3: grow },
        edit: { B3: under },
      });
      const res = detectInput(input);
      expect(
        res.findings.filter((f) => f.type === 'meter-drift').map((f) => f.reason),
        `seed ${seed}`,
      ).toEqual([]);
      expect(
        res.findings.some((f) => f.type === 'energy-balance' && f.node === 'F'),
        `seed ${seed}`,
      ).toBe(true);
      expect(res.suspects.get('F')?.[0]?.meter, `seed ${seed}`).toBe('B3');
    }
  });
});

describe('the node’s daily unexplained share as a drift', () => {
  // 120 days of a share that is flat, then grows linearly over the last 60 days by `move`.
  const node = (move: number) =>
    ({
      days: Array.from({ length: 120 }, (_, d) => ({
        from: d * 86_400_000,
        up: 1000,
        residual: 1000 * (0.001 * Math.sin(d * 1.7) + (d >= 60 ? (move * (d - 60)) / 59 : 0)),
      })),
    }) as unknown as NodeBalance;

  it('calls a share growing by a meter’s error (3 %) a drift', () => {
    expect(driftOf(node(0.03))?.move).toBeCloseTo(0.03, 2);
  });

  it('does not call a share growing by 15 % of the throughput a drift: no meter errs that much', () => {
    expect(driftOf(node(0.15))).toBeUndefined();
  });
});
