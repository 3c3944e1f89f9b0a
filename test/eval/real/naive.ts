import type { DetectionInput, Sample } from '../../../services/inspection/detection/types.ts';
import { HOUR } from './data.ts';

/**
 * The naive baseline printed beside the engine: a z-score per hour of the week. Each meter's
 * hourly consumption (register differences) in the last 7 days against the mean and standard
 * deviation of the same hour of the week over all the days before; the score is the mean |z| (a
 * level drop and a changed shape both raise it). A feeder is scored the same way on its loss
 * (feeder meter − Σ buildings), signed: more loss scores higher. Suspects are ranked by their
 * meters' naive scores.
 */

const WEEK = 168;

function hourly(reg: readonly Sample[], from: number, hours: number): Float64Array {
  const out = new Float64Array(hours).fill(Number.NaN);
  for (let i = 1; i < reg.length; i++) {
    const a = reg[i - 1]!;
    const b = reg[i]!;
    if (b.ts - a.ts !== HOUR) continue;
    const h = Math.round((a.ts - from) / HOUR);
    if (h >= 0 && h < hours) out[h] = b.value - a.value;
  }
  return out;
}

function zScores(x: Float64Array, recent: number): Float64Array {
  const n = x.length;
  const s = new Float64Array(WEEK);
  const ss = new Float64Array(WEEK);
  const c = new Float64Array(WEEK);
  for (let h = 0; h < n - recent; h++) {
    const v = x[h]!;
    if (v !== v) continue;
    s[h % WEEK]! += v;
    ss[h % WEEK]! += v * v;
    c[h % WEEK]!++;
  }
  const z = new Float64Array(recent).fill(Number.NaN);
  for (let h = n - recent; h < n; h++) {
    const v = x[h]!;
    const k = h % WEEK;
    if (v !== v || c[k]! < 2) continue;
    const mu = s[k]! / c[k]!;
    const sd = Math.sqrt(Math.max(ss[k]! / c[k]! - mu * mu, 1e-12));
    z[h - (n - recent)] = (v - mu) / sd;
  }
  return z;
}

function meanOf(z: Float64Array, f: (v: number) => number): number {
  let s = 0;
  let n = 0;
  for (const v of z)
    if (v === v) {
      s += f(v);
      n++;
    }
  return n > 0 ? s / n : 0;
}

export function naiveScores(
  input: DetectionInput,
  feeders: readonly string[],
): {
  meter: Map<string, number>;
  node: Map<string, number>;
  ranked: Map<string, string[]>;
} {
  const hours = Math.round((input.to - input.from) / HOUR);
  const recent = 7 * 24;
  const series = new Map<string, Float64Array>();
  for (const m of input.meters.values()) series.set(m.meter, hourly(m.register, input.from, hours));
  const meter = new Map<string, number>();
  const node = new Map<string, number>();
  const ranked = new Map<string, string[]>();
  for (const m of input.meters.values()) {
    if (!m.parent) continue;
    meter.set(m.meter, meanOf(zScores(series.get(m.meter)!, recent), Math.abs));
  }
  for (const f of feeders) {
    const children = [...input.meters.values()].filter((m) => m.parent === f).map((m) => m.meter);
    const loss = series.get(f)!.slice();
    for (const c of children) {
      const x = series.get(c)!;
      for (let h = 0; h < hours; h++) loss[h]! -= x[h]!;
    }
    node.set(
      f,
      meanOf(zScores(loss, recent), (v) => v),
    );
    ranked.set(
      f,
      children.sort((a, b) => meter.get(b)! - meter.get(a)!),
    );
  }
  return { meter, node, ranked };
}
