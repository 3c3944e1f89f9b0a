/**
 * When did a building start drawing more electricity in proportion to the cold, if at all?
 *
 * A heater bought some weeks ago sits inside any fixed baseline; judging only the last two weeks'
 * spread of the weather misses it whenever those weeks were evenly cold. Here the building's own
 * response to the cold is learned over its history (months, not weeks) and the heater is a new
 * term from an unknown onset on: per local day d,
 *
 *   y(d) = a + b·h(d) + c·weekend(d) + g·h(d)·1(d ≥ t)
 *
 * where y is the day's energy in units of the building's mean day, less the median of its peers'
 * (term, vacations and a cold snap everybody answers move everybody), and h the day's mean heating
 * degree-hours (Σ max(0, base − T) over its hours / hours: a heater on a thermostat follows the
 * hourly cold, not the day's mean temperature). For each candidate onset t in the scan, g and its
 * t-statistic; the onset with the largest statistic is kept. b is the building's own earlier
 * response (pumps, fans, its own heating's electricity), so a building that always answered the
 * cold is not flagged for doing it again; g > 0 is a response it did not have before.
 */

export interface OnsetRow {
  day: number;
  /** Energy in units of the meter's mean day, less the peers' median of the same. */
  y: number;
  /** Mean heating degree-hours of the day (K). */
  h: number;
  weekend: boolean;
}

export interface HeatingOnset {
  /** First local day (epoch day) of the new response. */
  day: number;
  /** Extra use per K of degree-hours since then (in mean days), its t-statistic and share. */
  g: number;
  z: number;
  /** Mean extra use since the onset, as a share of the mean day. */
  share: number;
  days: number;
}

export interface OnsetScanConfig {
  /** Earliest candidate onset, days before the last day. */
  maxOnsetDays: number;
  /** Fewest days after an onset. */
  minAfterDays: number;
  /** Fewest days before it. */
  minBeforeDays: number;
}

/** Neighbouring days share weather and habits: half as many independent days. */
const DEPENDENCE = 2;

export function heatingOnset(rows: readonly OnsetRow[], cfg: OnsetScanConfig): HeatingOnset | undefined {
  const n = rows.length;
  if (n < cfg.minBeforeDays + cfg.minAfterDays) return undefined;
  const last = rows[n - 1]!.day;
  const hasWeekend = rows.some((r) => r.weekend) && rows.some((r) => !r.weekend);
  let best: HeatingOnset | undefined;
  for (let i = cfg.minBeforeDays; i <= n - cfg.minAfterDays; i++) {
    const t = rows[i]!.day;
    if (last - t > cfg.maxOnsetDays) continue;
    let after = 0;
    let coldAfter = 0;
    for (let j = i; j < n; j++) {
      after += rows[j]!.h;
      coldAfter++;
    }
    // No cold since the onset: nothing a heater would have drawn.
    if (after / coldAfter < 0.5) continue;
    const X = rows.map((r, j) => [1, r.h, ...(hasWeekend ? [r.weekend ? 1 : 0] : []), j >= i ? r.h : 0]);
    const fit = olsLast(
      X,
      rows.map((r) => r.y),
    );
    if (!fit) continue;
    const z = fit.coef / (fit.se * Math.sqrt(DEPENDENCE));
    if (!best || z > best.z)
      best = { day: t, g: fit.coef, z, share: (fit.coef * after) / coldAfter, days: coldAfter };
  }
  return best;
}

/** Least squares of y on X: the last coefficient and its standard error (undefined if singular). */
function olsLast(X: readonly number[][], y: readonly number[]): { coef: number; se: number } | undefined {
  const k = X[0]!.length;
  const n = X.length;
  if (n <= k + 2) return undefined;
  const A = Array.from({ length: k }, () => new Float64Array(k));
  const b = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    const x = X[i]!;
    for (let p = 0; p < k; p++) {
      b[p] = b[p]! + x[p]! * y[i]!;
      for (let q = 0; q < k; q++) A[p]![q] = A[p]![q]! + x[p]! * x[q]!;
    }
  }
  const inv = invert(A);
  if (!inv) return undefined;
  const w = inv.map((row) => row.reduce((s, v, q) => s + v * b[q]!, 0));
  let sse = 0;
  for (let i = 0; i < n; i++) sse += (y[i]! - X[i]!.reduce((s, v, q) => s + v * w[q]!, 0)) ** 2;
  const v = (inv[k - 1]![k - 1]! * sse) / (n - k);
  return v > 0 ? { coef: w[k - 1]!, se: Math.sqrt(v) } : undefined;
}

/** Gauss–Jordan inverse with partial pivoting; undefined if singular. */
function invert(A: Float64Array[]): Float64Array[] | undefined {
  const k = A.length;
  const m = A.map((r) => Float64Array.from(r));
  const inv = A.map((_, i) => {
    const r = new Float64Array(k);
    r[i] = 1;
    return r;
  });
  for (let c = 0; c < k; c++) {
    let p = c;
    for (let r = c + 1; r < k; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[p]![c]!)) p = r;
    const pv = m[p]![c]!;
    if (Math.abs(pv) < 1e-12) return undefined;
    [m[c], m[p]] = [m[p]!, m[c]!];
    [inv[c], inv[p]] = [inv[p]!, inv[c]!];
    for (let q = 0; q < k; q++) {
      m[c]![q] = m[c]![q]! / pv;
      inv[c]![q] = inv[c]![q]! / pv;
    }
    for (let r = 0; r < k; r++) {
      if (r === c) continue;
      const f = m[r]![c]!;
      if (f === 0) continue;
      for (let q = 0; q < k; q++) {
        m[r]![q] = m[r]![q]! - f * m[c]![q]!;
        inv[r]![q] = inv[r]![q]! - f * inv[c]![q]!;
      }
    }
  }
  return inv;
}
