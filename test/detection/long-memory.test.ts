import { describe, expect, it } from 'vitest';
import { nodeSuspects } from '../../bin/detect-cli.ts';
import { detect, detectInput } from '../../services/inspection/detection/engine.ts';
import { DAY, HOUR, START, syntheticFeeder } from './synthetic-feeder.ts';

const DAYS = 200;
const ONSET_DAY = 140; // 60 days before the end: far older than the 28-day baseline

describe('long memory: a theft older than the baseline is still found', () => {
  const onsetHour = ONSET_DAY * 24;
  const f = syntheticFeeder({
    seed: 7,
    days: DAYS,
    buildings: 8,
    edit: {
      // Registers 60 % of what it takes from day 140 on.
      B3: (x, h) => (h >= onsetHour ? 0.6 * x : x),
      // An earlier, ended incident on another meter: stopped for two days at day 60.
      B5: (x, h) => (h >= 60 * 24 && h < 62 * 24 ? 0 : x),
    },
  });
  const res = detectInput(f.input);

  it('raises the thief with since, expected and seen energy, and leaves the honest meters alone', () => {
    const drop = res.findings.find((x) => x.type === 'meter-drop' && x.meter === 'B3');
    expect(drop).toBeDefined();
    expect(Math.abs(drop!.since - (START + ONSET_DAY * DAY))).toBeLessThanOrEqual(DAY);
    const fig = drop!.evidence.figures;
    // Expected from the ratio to its peers before the onset: seen is about 60 % of it.
    const ratio = Number(fig.seenSince) / Number(fig.expectedSince);
    expect(ratio).toBeGreaterThan(0.5);
    expect(ratio).toBeLessThan(0.7);
    // What was taken, by the truth: 40 % of its use since the onset.
    let taken = 0;
    const x = f.truth.get('B3')!;
    for (let h = Math.floor(drop!.since - START) / HOUR; h < DAYS * 24; h++) taken += 0.4 * x[h]!;
    expect(drop!.unexplained!).toBeGreaterThan(0.7 * taken);
    expect(drop!.unexplained!).toBeLessThan(1.3 * taken);
    expect(drop!.reason).toMatch(/below its usual ratio to its peer buildings since/);
    const score = (id: string) => res.scores.find((s) => s.kind === 'meter' && s.id === id)!;
    expect(score('B3').alert).toBe(true);
    for (const id of ['B1', 'B2', 'B4', 'B6', 'B7', 'B8'])
      expect(score(id).score).toBeLessThan(score('B3').score / 2);
  });

  it("the report's suspects are the current episode's (the thief), not an older incident's", () => {
    const result = detect(f.input);
    // The older incident is in the findings, with its own suspect first.
    const old = result.findings.find(
      (x) => x.type === 'energy-balance' && x.node === 'F' && x.since < START + 70 * DAY,
    );
    expect(old?.suspects?.[0]?.meter).toBe('B5');
    expect(nodeSuspects(result, 'F')[0]!.meter).toBe('B3');
  });

  it('every finding carries checkable evidence: model, expected vs seen energy, daily chart series', () => {
    expect(res.findings.length).toBeGreaterThan(0);
    for (const x of res.findings) {
      const ev = x.evidence;
      expect(ev.model, x.key).toBeTruthy();
      expect(ev.unit, x.key).toBe('kWh');
      expect(Number.isFinite(ev.expected) && Number.isFinite(ev.seen), x.key).toBe(true);
      const seen = ev.series?.find((s) => s.quantity === 'daily_seen');
      expect(seen?.points.length, x.key).toBeGreaterThan(0);
      expect(
        ev.series!.some((s) => s.quantity.startsWith('daily_expected')),
        x.key,
      ).toBe(true);
    }
    // The thief's: less seen than expected, by the energy the finding reports.
    const drop = res.findings.find((x) => x.type === 'meter-drop' && x.meter === 'B3')!;
    expect(drop.evidence.expected! - drop.evidence.seen!).toBeCloseTo(drop.unexplained!, -1);
    // The feeder's current loss: its meter saw more than the meters below plus the band.
    const loss = res.findings.find((x) => x.type === 'energy-balance' && x.since > START + 100 * DAY)!;
    expect(loss.evidence.seen!).toBeGreaterThan(loss.evidence.expected!);
    expect(loss.evidence.seen! - loss.evidence.expected!).toBeCloseTo(loss.unexplained!, -1);
  });

  it('a clean feeder: no lasting-change finding and no node alert', () => {
    const clean = detectInput(syntheticFeeder({ seed: 7, days: DAYS, buildings: 8 }).input);
    expect(clean.findings.filter((x) => x.type === 'meter-drop' || x.type === 'energy-balance')).toEqual([]);
    expect(clean.scores.filter((s) => s.alert)).toEqual([]);
  });
});

describe('meter drift is its own alert, a step is a theft', () => {
  const ramp = (from: number, to: number, by: number) => (x: number, h: number) =>
    h < from ? x : x * (1 - (by * Math.min(h - from, to - from)) / (to - from));
  const sizes = [4, 1, 1, 1, 1, 1, 1, 1];

  it('a big building meter drifting −5 % over 60 days: meter-drift on its feeder, no theft', () => {
    const f = syntheticFeeder({
      seed: 3,
      days: 200,
      buildings: 8,
      sizes,
      edit: { B1: ramp(140 * 24, 200 * 24, 0.05) },
    });
    const res = detectInput(f.input);
    const drift = res.findings.filter((x) => x.type === 'meter-drift');
    expect(drift.map((x) => x.node)).toEqual(['F']);
    // The feeder's hourly loss follows B1's load times a ramp: the drift names its meter.
    expect(drift[0]!.meter).toBe('B1');
    expect(drift[0]!.evidence.series?.[0]?.quantity).toBe('daily_relative_error_seen_by_node');
    expect(
      res.findings.filter((x) => x.type === 'energy-balance' && x.evidence.to >= f.input.to - DAY),
    ).toEqual([]);
  });

  it('a −1 % drift (0.4 % of the feeder): still meter-drift, and neither its node nor its meter raised as theft', () => {
    const f = syntheticFeeder({
      seed: 3,
      days: 200,
      buildings: 8,
      sizes,
      edit: { B1: ramp(140 * 24, 200 * 24, 0.01) },
    });
    const res = detectInput(f.input);
    const drift = res.findings.filter((x) => x.type === 'meter-drift');
    expect(drift.map((x) => x.node)).toEqual(['F']);
    expect(res.findings.filter((x) => x.type === 'energy-balance' && x.since >= drift[0]!.since)).toEqual([]);
    expect(res.scores.find((s) => s.id === 'B1')!.alert).toBe(false);
  });

  it('the same building registering 95 % from one day on: a loss, not a drift', () => {
    const f = syntheticFeeder({
      seed: 3,
      days: 200,
      buildings: 8,
      sizes,
      edit: { B1: (x, h) => (h >= 170 * 24 ? 0.95 * x : x) },
    });
    const res = detectInput(f.input);
    expect(res.findings.filter((x) => x.type === 'meter-drift')).toEqual([]);
    expect(res.findings.some((x) => x.type === 'energy-balance' && x.node === 'F')).toBe(true);
  });
});
