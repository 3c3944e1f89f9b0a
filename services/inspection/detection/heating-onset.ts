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
  const k = hasWeekend ? 4 : 3;
  if (n <= k + 2) return undefined;
  // Every candidate onset is the same regression but for its last column, h·1(d ≥ t): from the
  // sums over all days and suffix sums from t on, each fit is a k×k solve, not a pass over the
  // days (a campus of thousands of meters scans every one of them, over several past ends too).
  const suffix = new Float64Array(4 * (n + 1)); // per i: Σ_{j≥i} h, h², h·w, h·y
  for (let j = n - 1; j >= 0; j--) {
    const r = rows[j]!;
    const w = r.weekend ? 1 : 0;
    suffix[4 * j] = suffix[4 * (j + 1)]! + r.h;
    suffix[4 * j + 1] = suffix[4 * (j + 1) + 1]! + r.h * r.h;
    suffix[4 * j + 2] = suffix[4 * (j + 1) + 2]! + r.h * w;
    suffix[4 * j + 3] = suffix[4 * (j + 1) + 3]! + r.h * r.y;
  }
  let sw = 0;
  let sy = 0;
  let swy = 0;
  let syy = 0;
  for (const r of rows) {
    const w = r.weekend ? 1 : 0;
    sw += w;
    sy += r.y;
    swy += w * r.y;
    syy += r.y * r.y;
  }
  const sh = suffix[0]!;
  const shh = suffix[1]!;
  const shw = suffix[2]!;
  const shy = suffix[3]!;
  const A = Array.from({ length: k }, () => new Float64Array(k));
  const b = new Float64Array(k);
  let best: HeatingOnset | undefined;
  for (let i = cfg.minBeforeDays; i <= n - cfg.minAfterDays; i++) {
    const t = rows[i]!.day;
    if (last - t > cfg.maxOnsetDays) continue;
    const after = suffix[4 * i]!;
    const coldAfter = n - i;
    // No cold since the onset: nothing a heater would have drawn.
    if (after / coldAfter < 0.5) continue;
    const g = [suffix[4 * i]!, suffix[4 * i + 1]!, suffix[4 * i + 2]!, suffix[4 * i + 3]!];
    // Columns: 1, h, (weekend), h·1(d ≥ t).
    const cols = hasWeekend
      ? [
          [n, sh, sw, g[0]!],
          [sh, shh, shw, g[1]!],
          [sw, shw, sw, g[2]!],
          [g[0]!, g[1]!, g[2]!, g[1]!],
        ]
      : [
          [n, sh, g[0]!],
          [sh, shh, g[1]!],
          [g[0]!, g[1]!, g[1]!],
        ];
    for (let p = 0; p < k; p++) for (let q = 0; q < k; q++) A[p]![q] = cols[p]![q]!;
    const xy = hasWeekend ? [sy, shy, swy, g[3]!] : [sy, shy, g[3]!];
    for (let p = 0; p < k; p++) b[p] = xy[p]!;
    const fit = solveLast(A, b, syy, n);
    if (!fit) continue;
    const z = fit.coef / (fit.se * Math.sqrt(DEPENDENCE));
    if (!best || z > best.z)
      best = { day: t, g: fit.coef, z, share: (fit.coef * after) / coldAfter, days: coldAfter };
  }
  return best;
}

/**
 * From the normal equations (XᵀX, Xᵀy, yᵀy, n): the last coefficient and its standard error
 * (undefined if singular). SSE = yᵀy − βᵀXᵀy at the least-squares solution.
 */
function solveLast(
  A: Float64Array[],
  b: Float64Array,
  yy: number,
  n: number,
): { coef: number; se: number } | undefined {
  const k = A.length;
  const inv = invert(A);
  if (!inv) return undefined;
  let sse = yy;
  const w = new Float64Array(k);
  for (let p = 0; p < k; p++) {
    let s = 0;
    for (let q = 0; q < k; q++) s += inv[p]![q]! * b[q]!;
    w[p] = s;
    sse -= s * b[p]!;
  }
  const v = (inv[k - 1]![k - 1]! * Math.max(0, sse)) / (n - k);
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

/** Fewest days of a stretch of lower use before an onset that the restated fit considers. */
const MIN_DROP_DAYS = 14;

export interface RestoredLevel {
  /** First day of the stretch of lower use that ends at the onset. */
  from: number;
  /** Its level against the days around it (in mean days, < 0) and that level's t-statistic. */
  drop: number;
  dropZ: number;
  /** The onset's response to the cold once the stretch has a level of its own, and its statistic. */
  g: number;
  z: number;
}

/**
 * The onset's new response to the cold once a stretch of lower use ending at the onset is allowed
 * for. Use that comes back after weeks of registering less (a meter mended, a theft given up, a
 * tenant back) steps up at the onset as a heater switched on does, and in steady cold the model's
 * g·h(d)·1(d ≥ t) takes that step: per local day,
 *
 *   y(d) = a + b·h(d) + c·weekend(d) + s·1(t0 ≤ d < t) + g·h(d)·1(d ≥ t)
 *
 * with t0 scanned (the stretch at least two weeks, the fit at least `minBeforeDays` before it);
 * the t0 whose s is most surely negative is kept. A heater leaves s ≈ 0 and g as it was; use
 * restored to its level before t0 leaves g ≈ 0. Undefined when no stretch can be fitted.
 */
export function restoredLevel(
  rows: readonly OnsetRow[],
  onsetDay: number,
  cfg: Pick<OnsetScanConfig, 'minBeforeDays'>,
): RestoredLevel | undefined {
  const n = rows.length;
  const iOn = rows.findIndex((r) => r.day >= onsetDay);
  if (iOn < 0) return undefined;
  const hasWeekend = rows.some((r) => r.weekend) && rows.some((r) => !r.weekend);
  const k = hasWeekend ? 5 : 4;
  let best: RestoredLevel | undefined;
  for (let i0 = cfg.minBeforeDays; i0 < iOn; i0++) {
    if (rows[iOn]!.day - rows[i0]!.day < MIN_DROP_DAYS) break;
    // Normal equations of the columns 1, h, (weekend), 1(t0 ≤ d < t), h·1(d ≥ t).
    const A = Array.from({ length: k }, () => new Float64Array(k));
    const b = new Float64Array(k);
    let yy = 0;
    const x = new Float64Array(k);
    for (let j = 0; j < n; j++) {
      const r = rows[j]!;
      let p = 0;
      x[p++] = 1;
      x[p++] = r.h;
      if (hasWeekend) x[p++] = r.weekend ? 1 : 0;
      x[p++] = j >= i0 && j < iOn ? 1 : 0;
      x[p] = j >= iOn ? r.h : 0;
      for (let u = 0; u < k; u++) {
        b[u] = b[u]! + x[u]! * r.y;
        for (let v = 0; v < k; v++) A[u]![v] = A[u]![v]! + x[u]! * x[v]!;
      }
      yy += r.y * r.y;
    }
    const inv = invert(A);
    if (!inv) continue;
    let sse = yy;
    const w = new Float64Array(k);
    for (let u = 0; u < k; u++) {
      let s = 0;
      for (let v = 0; v < k; v++) s += inv[u]![v]! * b[v]!;
      w[u] = s;
      sse -= s * b[u]!;
    }
    const s2 = Math.max(0, sse) / (n - k);
    const se = (u: number) => Math.sqrt(inv[u]![u]! * s2 * DEPENDENCE);
    const sIdx = k - 2;
    const dropZ = se(sIdx) > 0 ? w[sIdx]! / se(sIdx) : 0;
    if (!best || dropZ < best.dropZ)
      best = {
        from: rows[i0]!.day,
        drop: w[sIdx]!,
        dropZ,
        g: w[k - 1]!,
        z: se(k - 1) > 0 ? w[k - 1]! / se(k - 1) : 0,
      };
  }
  return best;
}
