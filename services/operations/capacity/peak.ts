import type { SeriesPoint } from '../../metering/storage.ts';

/**
 * The measured peak demand of a feeder or transformer: the highest average rate between two
 * readings of its cumulative register at least MIN_SPAN_MS apart (15-minute demand, as utilities
 * bill it), over the points given, and each day's peak for the review's chart. A register that
 * runs backwards (an exchange, a reset) contributes nothing for that span rather than a negative
 * or huge figure.
 */

export const MIN_SPAN_MS = 15 * 60_000;
const HOUR = 3_600_000;

export interface Peak {
  /** Units per hour (kW from kWh, m³/h from m³). */
  rate: number;
  at: number;
  /** Each local day's highest rate, [day start UTC ms, rate], for the chart. */
  daily: [number, number][];
}

export function peakDemand(points: readonly SeriesPoint[], dayStart: (ts: number) => number): Peak | null {
  const pts = [...points].sort((a, b) => a.ts - b.ts);
  let best: { rate: number; at: number } | null = null;
  const daily = new Map<number, number>();
  let i = 0;
  for (let j = 1; j < pts.length; j++) {
    // The earliest point at least MIN_SPAN_MS before pts[j]: the span the demand is averaged over.
    while (i < j - 1 && pts[j]!.ts - pts[i + 1]!.ts >= MIN_SPAN_MS) i++;
    const a = pts[i]!;
    const b = pts[j]!;
    const span = b.ts - a.ts;
    if (span < MIN_SPAN_MS || b.value < a.value) continue;
    const rate = ((b.value - a.value) * HOUR) / span;
    if (!best || rate > best.rate) best = { rate, at: b.ts };
    const d = dayStart(b.ts);
    daily.set(d, Math.max(daily.get(d) ?? 0, rate));
  }
  return best ? { ...best, daily: [...daily.entries()].sort((x, y) => x[0] - y[0]) } : null;
}
