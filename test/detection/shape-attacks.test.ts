import { describe, expect, it } from 'vitest';
import { detectInput } from '../../services/inspection/detection/engine.ts';
import { longMemory } from '../../services/inspection/detection/long-memory.ts';
import { syntheticFeeder } from './synthetic-feeder.ts';

/**
 * Jokar h5 and h6 keep the day's energy and change only its shape: h5 reports the day's mean at
 * every hour, h6 the day's readings in reverse order. The long-memory test names what happened to
 * the day (flattened, reversed) and the evidence gives the meter's own figure before and since.
 */
const DAYS = 200;
const ONSET_DAY = 130;
const base = { seed: 11, days: DAYS, buildings: 8 };
const truth = syntheticFeeder(base).truth.get('B3')!;

/** What B3 registers at hour h when each day from the onset on is transformed. */
function dayEdit(transform: (day: Float64Array) => Float64Array) {
  return (x: number, h: number) => {
    const d = Math.floor(h / 24);
    if (d < ONSET_DAY) return x;
    return transform(truth.slice(d * 24, d * 24 + 24))[h % 24]!;
  };
}
const flatten = (day: Float64Array) => new Float64Array(24).fill(day.reduce((a, b) => a + b, 0) / 24);
const reverse = (day: Float64Array) => day.slice().reverse();

describe('long memory: a day flattened or reversed (energy unchanged) is named as such', () => {
  const cases = [
    ['flattened', flatten],
    ['reversed', reverse],
  ] as const;
  for (const [kind, transform] of cases)
    it(`${kind}: raised on the meter's shape alone, with its own figure before and since`, () => {
      const f = syntheticFeeder({ ...base, edit: { B3: dayEdit(transform) } });
      const res = detectInput(f.input);
      const lm = longMemory(res.store);
      const b3 = lm[res.store.topology.index.get('B3')!]!;
      expect(b3.shapeKind).toBe(kind);
      // Its onset is the attack's (within a day), found over a theft older than the 28-day window.
      const onset = res.store.slotStart(b3.shape!.onsetSlot);
      expect(Math.abs(onset - (f.input.from + ONSET_DAY * 86_400_000))).toBeLessThanOrEqual(86_400_000);
      const finding = res.findings.find((x) => x.type === 'meter-drop' && x.meter === 'B3')!;
      expect(finding).toBeDefined();
      const fig = finding.evidence.figures;
      expect(fig.shapeChange).toBe(kind);
      if (kind === 'flattened') {
        // Before: the office day's hours spread far around its mean; since: only the register's
        // 0.01 kWh rounding is left.
        expect(Number(fig.hourlySpreadBefore)).toBeGreaterThan(0.3);
        expect(Number(fig.hourlySpreadSince)).toBeLessThan(0.05 * Number(fig.hourlySpreadBefore));
        expect(finding.reason).toMatch(/lost its hourly shape/);
      } else {
        // +1: the day runs as its profile, −1 the other way (an office day of 8 to 18 h is nearly
        // symmetric: reversed, it runs from 6 to 16 h, and the sign still turns).
        expect(Number(fig.directionBefore)).toBeGreaterThan(0.1);
        expect(Number(fig.directionSince)).toBeLessThan(-0.1);
        expect(finding.reason).toMatch(/runs backwards/);
      }
      // The energy is unchanged: what was expected and seen agree within the weather's noise.
      expect(Math.abs(finding.evidence.seen! / finding.evidence.expected! - 1)).toBeLessThan(0.1);
      const score = (id: string) => res.scores.find((s) => s.kind === 'meter' && s.id === id)!;
      expect(score('B3').alert).toBe(true);
      for (const id of ['B1', 'B2', 'B4', 'B5', 'B6', 'B7', 'B8']) {
        expect(score(id).alert, id).toBe(false);
        expect(lm[res.store.topology.index.get(id)!]!.stat, id).toBeLessThan(
          lm[res.store.topology.index.get('B3')!]!.stat / 3,
        );
      }
    });

  it('an honest feeder: no meter named flattened or reversed', () => {
    const res = detectInput(syntheticFeeder(base).input);
    for (const x of longMemory(res.store)) expect(x.stat).toBeLessThan(8);
    expect(res.findings.filter((x) => x.type === 'meter-drop')).toEqual([]);
  });
});
