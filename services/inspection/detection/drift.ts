import type { NodeBalance } from './balance.ts';
import type { Finding } from './types.ts';

/**
 * A meter that drifts (a current transformer ageing, a register slowly losing pulses) makes a
 * node's unexplained share grow steadily, day after day; a theft or a tap starts one day and
 * stays. Over the node's last `days` computable days, the daily unexplained share y(d) is fitted
 * three ways: flat, a step at the best day, and a ramp from the best day (flat before, a straight
 * line after). A ramp that fits clearly better than both, moving the share by at least `minMove`,
 * is a drift: raised as `meter-drift` for the metering team, not as energy loss for inspectors.
 */

export interface DriftConfig {
  days: number;
  /** Change of the unexplained share over the ramp (absolute, e.g. 0.004 = 0.4 % of throughput). */
  minMove: number;
  /**
   * At most this change: a meter's error, even one meter carrying the whole node, stays within a
   * few per cent (child-drift.ts's maxDrift). A share that grows by more is energy going missing
   * (a theft whose draw varies from day to day fits a ramp as well as a step), for inspectors.
   */
  maxMove: number;
  /** The ramp's residual sum of squares at most this share of the step's. */
  maxRampVsStep: number;
  /** F statistic of the ramp against flat. */
  minF: number;
  /** Shortest ramp (days). */
  minRampDays: number;
}

export const DEFAULT_DRIFT: DriftConfig = {
  days: 120,
  minMove: 0.0015,
  maxMove: 0.08,
  maxRampVsStep: 0.97,
  minF: 20,
  minRampDays: 20,
};

export interface Drift {
  /** First day of the ramp (UTC ms of the local day start) and the change per day. */
  since: number;
  perDay: number;
  move: number;
  f: number;
  rampVsStep: number;
  points: [ts: number, share: number][];
}

export function driftOf(b: NodeBalance, cfg: DriftConfig = DEFAULT_DRIFT): Drift | undefined {
  const rows = b.days.filter((d) => d.residual === d.residual && d.up > 0).slice(-cfg.days);
  const n = rows.length;
  if (n < 2 * cfg.minRampDays) return undefined;
  const y = rows.map((d) => d.residual / d.up);
  const mean = y.reduce((s, v) => s + v, 0) / n;
  const sse0 = y.reduce((s, v) => s + (v - mean) ** 2, 0);
  // Step: best split by prefix sums.
  const c = [0];
  const c2 = [0];
  for (const v of y) {
    c.push(c.at(-1)! + v);
    c2.push(c2.at(-1)! + v * v);
  }
  let sseStep = sse0;
  for (let t = 5; t <= n - 5; t++) {
    const l = c2[t]! - c[t]! ** 2 / t;
    const r = c2[n]! - c2[t]! - (c[n]! - c[t]!) ** 2 / (n - t);
    sseStep = Math.min(sseStep, l + r);
  }
  // Ramp from t: y = a + s·max(0, d − t).
  let best: { sse: number; t: number; s: number } | undefined;
  for (let t = 0; t <= n - cfg.minRampDays; t++) {
    let sf = 0;
    let sff = 0;
    let sfy = 0;
    for (let d = t; d < n; d++) {
      const f = d - t;
      sf += f;
      sff += f * f;
      sfy += f * y[d]!;
    }
    const sy = c[n]!;
    const det = n * sff - sf * sf;
    if (det <= 0) continue;
    const s = (n * sfy - sf * sy) / det;
    const a = (sy - s * sf) / n;
    let sse = 0;
    for (let d = 0; d < n; d++) sse += (y[d]! - a - s * Math.max(0, d - t)) ** 2;
    if (!best || sse < best.sse) best = { sse, t, s };
  }
  if (!best) return undefined;
  const move = best.s * (n - 1 - best.t);
  const f = (sse0 - best.sse) / 1 / Math.max(best.sse / (n - 3), 1e-15);
  const rampVsStep = best.sse / Math.max(sseStep, 1e-15);
  if (
    Math.abs(move) < cfg.minMove ||
    Math.abs(move) > cfg.maxMove ||
    rampVsStep > cfg.maxRampVsStep ||
    f < cfg.minF
  )
    return undefined;
  return {
    since: rows[best.t]!.from,
    perDay: best.s,
    move,
    f,
    rampVsStep,
    points: rows.map((d, i) => [d.from, Math.round(y[i]! * 1e5) / 1e5]),
  };
}

export function driftFinding(b: NodeBalance, d: Drift, suspects: Finding['suspects']): Finding {
  const dir = d.move > 0 ? 'reading low' : 'reading high';
  return {
    type: 'meter-drift',
    key: `meter-drift:${b.id}`,
    severity: Math.abs(d.move) >= 0.02 ? 'medium' : 'low',
    node: b.id,
    score: Math.min(1, Math.abs(d.move) / 0.02),
    since: d.since,
    reason:
      `${b.id}: unexplained share moving steadily by ${(100 * d.perDay * 30).toFixed(2)} % of throughput a month since ` +
      `${new Date(d.since).toISOString().slice(0, 10)} (${(100 * d.move).toFixed(2)} % in all): a meter under or at ${b.id} ` +
      `drifting (${d.move > 0 ? 'a downstream meter' : 'the node meter'} ${dir}?), for the metering team to check; not a theft pattern`,
    evidence: {
      model:
        "the node's daily unexplained share (its meter − Σ meters below − technical-loss band, over its throughput): ramp vs step vs flat",
      expected: Math.round((d.points.at(-1)![1] - d.move) * 1e5) / 1e5,
      seen: d.points.at(-1)![1],
      unit: 'share of throughput',
      from: d.since,
      to: d.points.at(-1)![0] + 86_400_000,
      figures: {
        model: 'daily unexplained share: ramp vs step vs flat',
        perMonthShare: Math.round(d.perDay * 30 * 1e5) / 1e5,
        totalMoveShare: Math.round(d.move * 1e5) / 1e5,
        rampVsStepSse: Math.round(d.rampVsStep * 1e3) / 1e3,
        fAgainstFlat: Math.round(d.f * 10) / 10,
      },
      series: [{ meter: b.id, quantity: 'daily_unexplained_share', points: d.points }],
    },
    ...(suspects ? { suspects } : {}),
  };
}
