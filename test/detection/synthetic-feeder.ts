import type { DetectionInput, MeterData } from '../../services/inspection/detection/types.ts';
import { mulberry32 } from '../../simulators/meters/random.ts';

/**
 * A feeder of buildings with hourly loads shaped like real ones (a working-day bump, weekends
 * lower, a shared seasonal swing and day-to-day weather, each building its own size, shape and
 * noise), written as cumulative registers under a feeder meter that measures the true sum plus a
 * 2 % technical loss. `edit` changes what one building's meter registers per hour (a theft, a
 * drift) without changing the truth; `use` changes the truth (a real change of use).
 */

export const HOUR = 3_600_000;
export const DAY = 86_400_000;
export const START = Date.UTC(2025, 0, 6);

export interface SyntheticFeeder {
  input: DetectionInput;
  /** Hourly true loads per building id. */
  truth: Map<string, Float64Array>;
}

export function syntheticFeeder(o: {
  seed: number;
  days: number;
  buildings: number;
  /** Relative size per building (default all 1). */
  sizes?: number[];
  edit?: Record<string, (x: number, hour: number) => number>;
  /** Changes what a building really uses per hour (its meter and the feeder both see it). */
  use?: Record<string, (x: number, hour: number) => number>;
  /** The feeder meter's own relative hourly error (sd; default none). */
  feederNoise?: number;
}): SyntheticFeeder {
  const rand = mulberry32(o.seed);
  const H = o.days * 24;
  const dayLevel = Array.from({ length: o.days }, () => 1 + 0.05 * (rand() - 0.5));
  const truth = new Map<string, Float64Array>();
  const meters = new Map<string, MeterData>();
  const sum = new Float64Array(H);
  for (let b = 0; b < o.buildings; b++) {
    const id = `B${b + 1}`;
    const size = (o.sizes?.[b] ?? 1) * (20 + 20 * rand());
    const open = 7 + Math.floor(3 * rand());
    const close = 17 + Math.floor(4 * rand());
    const bump = 0.8 + 1.5 * rand();
    const weekend = 0.4 + 0.4 * rand();
    const x = new Float64Array(H);
    for (let h = 0; h < H; h++) {
      const day = Math.floor(h / 24);
      const hod = h % 24;
      const wd = (day + 1) % 7; // START is a Monday
      const working = wd !== 6 && wd !== 0 ? 1 : weekend;
      const season = 1 + 0.15 * Math.cos((2 * Math.PI * day) / 365);
      const shape = 1 + (hod >= open && hod < close ? bump * working : 0);
      x[h] = size * shape * season * dayLevel[day]! * (1 + 0.04 * (rand() - 0.5) * 2);
      const use = o.use?.[id];
      if (use) x[h] = use(x[h]!, h);
      sum[h] = sum[h]! + x[h]!;
    }
    truth.set(id, x);
    const edit = o.edit?.[id];
    let reg = 1000;
    const register = [{ ts: START, value: reg }];
    for (let h = 0; h < H; h++) {
      reg += edit ? edit(x[h]!, h) : x[h]!;
      register.push({ ts: START + (h + 1) * HOUR, value: Math.round(reg * 100) / 100 });
    }
    meters.set(id, {
      meter: id,
      kind: 'electricity',
      parent: 'F',
      account: `acct-${id}`,
      register,
      series: {},
    });
  }
  let reg = 5000;
  const register = [{ ts: START, value: reg }];
  const noise = o.feederNoise ?? 0;
  for (let h = 0; h < H; h++) {
    // A Box–Muller normal per hour only where asked, so feeders without noise keep their draws.
    const e = noise > 0 ? noise * Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand()) : 0;
    reg += sum[h]! * 1.02 * (1 + e);
    register.push({ ts: START + (h + 1) * HOUR, value: Math.round(reg * 100) / 100 });
  }
  meters.set('F', { meter: 'F', kind: 'electricity', register, series: {} });
  return { input: { timezone: 'UTC', from: START, to: START + H * HOUR, meters }, truth };
}
