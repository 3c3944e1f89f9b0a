// The detection benches' campus: 5,000 meters in a 200-feeder tree (200 feeder meters, 24 room
// meters under each), 15-minute registers of a day-shaped load with noise, a tap of 1.5 kW on F7 in
// the last three days of the year. One module so the timing bench, its profile and its exactness
// check push the very same instants (the generator is seeded, one per campus).
import { createDetector } from '../../services/inspection/detection/engine.ts';
import type { IntervalData, MeterSpec } from '../../services/inspection/detection/series.ts';

export const FEEDERS = 200;
export const ROOMS = 24;
export const STEP = 15 * 60_000;
export const START = Date.parse('2026-01-01T00:00:00+08:00');

export interface BenchCampus {
  specs: MeterSpec[];
  /** Instants of the year (days × 96); the tap starts 3 days before its end. */
  instants: number;
  /** Moves every register to instant j (call in order, j ≥ 1). */
  advance: (j: number) => void;
  /** Instant j's registers (the same buffer, moved by advance). */
  at: (j: number) => IntervalData;
}

/** rooms: per feeder, or the same for all (a feeder of fewer than four rooms: the kind's peers). */
export function benchCampus(
  days: number,
  feeders = FEEDERS,
  rooms: number | readonly number[] = ROOMS,
): BenchCampus {
  const specs: MeterSpec[] = [];
  const feederAt = new Int32Array(feeders);
  for (let f = 0; f < feeders; f++) {
    feederAt[f] = specs.length;
    specs.push({ id: `F${f}`, kind: 'electricity' });
    const count = typeof rooms === 'number' ? rooms : rooms[f]!;
    for (let r = 0; r < count; r++) specs.push({ id: `F${f}-R${r}`, kind: 'electricity', parent: `F${f}` });
  }
  const n = specs.length;
  const feederOf = Int32Array.from(specs, (s) => (s.parent ? Number(s.parent.slice(1)) : -1));
  const scale = Float64Array.from(specs, (_, i) => 0.5 + ((i * 2654435761) % 1000) / 1000);
  const regs = new Float64Array(n).fill(1000);
  const feederLoad = new Float64Array(feeders);
  let rng = 12345;
  const rand = () => {
    rng ^= rng << 13;
    rng ^= rng >>> 17;
    rng ^= rng << 5;
    return (rng >>> 0) / 4294967296;
  };
  const instants = days * 96;
  const tapFrom = instants - 3 * 96;
  const advance = (j: number) => {
    const hour = ((j % 96) / 4 + 8) % 24;
    const shape = 0.25 + 0.2 * Math.sin(((hour - 14) * Math.PI) / 12) ** 2 + (hour > 18 ? 0.3 : 0);
    feederLoad.fill(0);
    for (let i = 0; i < n; i++) {
      const f = feederOf[i]!;
      if (f < 0) continue;
      const kwh = scale[i]! * shape * (0.8 + 0.4 * rand()) * 0.25;
      regs[i] = regs[i]! + kwh;
      feederLoad[f] = feederLoad[f]! + kwh;
    }
    for (let f = 0; f < feeders; f++) {
      const p = feederLoad[f]! * 4;
      const tap = f === 7 && j >= tapFrom ? 1.5 : 0;
      const loss = 0.01 + 0.0004 * (p + tap) * (p + tap);
      regs[feederAt[f]!] = regs[feederAt[f]!]! + (p + tap + loss) * 0.25;
    }
  };
  return { specs, instants, advance, at: (j) => ({ ts: START + j * STEP, registers: regs }) };
}

/** A live detector fed the campus's whole year, instant by instant, and evaluated once (primed). */
export function primedDetector(campus: BenchCampus): ReturnType<typeof createDetector> {
  const detector = createDetector(campus.specs, { step: STEP, timezone: 'Asia/Shanghai', start: START });
  for (let j = 0; j < campus.instants; j++) {
    if (j > 0) campus.advance(j);
    detector.push(campus.at(j));
  }
  detector.result();
  return detector;
}
