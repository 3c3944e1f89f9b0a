import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createDetector, type EngineResult } from '../../services/inspection/detection/engine.ts';
import { START, STEP, benchCampus } from '../bench/detection-campus.ts';

// The live detector's shortcuts (the peers' medians kept member by member, the next slot's
// long-memory work done ahead in parts in the intervals that close no slot, the week's drop
// included, with the medians read ahead) promise not a
// single finding or score other than the plain recomputation's. The attack: the same instants
// into two detectors, one recomputing (createDetector's `recompute`), evaluated at every interval
// for three days past the store's retention (every hour's refits, the day's turns, the hours the
// store's first whole day moves), with a digest of every finding and score compared hour by hour.
// The campus has a tapped feeder (findings), feeders of 24 and 9 rooms (sibling peers) and one
// of 3 rooms (whose rooms take every meter of the kind as peers: a meter in two groups).

/** Every finding and score of a result, as the inspector would see them (order included). */
function digest(r: EngineResult): string {
  return createHash('sha256')
    .update(JSON.stringify({ findings: r.findings, scores: r.scores }))
    .digest('hex');
}

describe('live detector shortcuts against the plain recomputation', () => {
  it('gives the very findings and scores at every interval of three days', () => {
    // The store keeps 63 days and drops a week at once past 70: the compared days include a drop.
    const days = 72;
    const rooms = [24, 9, 3, 9, 9, 9, 9, 9];
    const campus = benchCampus(days, rooms.length, rooms);
    const opts = { step: STEP, timezone: 'Asia/Shanghai', start: START };
    const kept = createDetector(campus.specs, opts);
    const plain = createDetector(campus.specs, { ...opts, recompute: true });
    const primeTo = campus.instants - 3 * 96;
    // Meters whose own anomalies change from hour to hour (the live engine rewrites each meter's
    // anomaly in place, the reference makes new ones): one stops for 15 hours and then reports
    // what it missed, one runs backwards once by 5 kWh, one is silent from five days before the
    // compared ones for two of them (judged, then not: too little of its window left).
    const stops = campus.specs.findIndex((m) => m.id === 'F1-R2');
    const backwards = campus.specs.findIndex((m) => m.id === 'F3-R1');
    const silent = campus.specs.findIndex((m) => m.id === 'F0-R5');
    const registers = new Float64Array(campus.specs.length);
    let held = Number.NaN;
    const instant = (j: number) => {
      const d = campus.at(j);
      registers.set(d.registers);
      const i = j - primeTo;
      if (i === 40) held = registers[stops]!;
      if (i >= 40 && i < 100) registers[stops] = held;
      if (i >= 130) registers[backwards] = registers[backwards]! - 5;
      if (i >= -5 * 96 && i < 200) registers[silent] = Number.NaN;
      return { ts: d.ts, registers };
    };
    for (let j = 0; j < primeTo; j++) {
      if (j > 0) campus.advance(j);
      kept.push(instant(j));
      plain.push(instant(j));
    }
    let hours = 0;
    let baseBefore = Number.NaN;
    let compared = 0;
    let alerting = 0;
    let longStats = 0;
    let unlooked = 0;
    const ownRuns = new Set<string>();
    baseBefore = kept.store.base;
    for (let j = primeTo; j < campus.instants; j++) {
      campus.advance(j);
      // An outage of under two hours (no instant): slots close late and in twos, so what was
      // prepared for "the next slot" meets another store.
      if (j >= primeTo + 150 && j < primeTo + 157) continue;
      const version = kept.store.version;
      kept.push(instant(j));
      plain.push(instant(j));
      // Hours in which nobody looks but once or twice between two slots closing (the work done
      // ahead is in parts, one per evaluation: the closing hour takes a half or all the features
      // without the tests), across the week's drop (interval 100) and a day's turn.
      const i = j - primeTo;
      const quarter = j % 4;
      if ((i >= 80 && i < 128 && quarter >= 2) || (i >= 176 && i < 224 && quarter === 3)) {
        unlooked++;
        continue;
      }
      const a = kept.result();
      if (kept.store.version !== version) hours++;
      const b = plain.result();
      expect(digest(a), `interval ${j - primeTo}`).toBe(digest(b));
      compared++;
      alerting += a.scores.filter((s) => s.alert).length;
      longStats += a.findings.filter((f) => f.type === 'meter-drop').length;
      for (const f of a.findings)
        if (f.type === 'meter-stopped' || f.type === 'meter-backwards') ownRuns.add(f.type);
    }
    // The comparison covered results with something in them, over the store's whole retention.
    // 72 hours, the outage's closing late (two or three at once).
    expect(hours).toBeGreaterThanOrEqual(70);
    expect(hours).toBeLessThan(72);
    expect(compared).toBe(3 * 96 - 7 - unlooked);
    expect(unlooked).toBe(24 + 12);
    expect(kept.store.base).toBeGreaterThan(baseBefore);
    expect(alerting).toBeGreaterThan(0);
    expect(longStats + alerting).toBeGreaterThan(0);
    expect([...ownRuns].sort()).toEqual(['meter-backwards', 'meter-stopped']);
  });
});
