import type { NodeBalance } from './balance.ts';
import type { SlotStore } from './series.ts';
import type { Finding } from './types.ts';

/**
 * Which meter at a node drifts. A meter under a node that starts reading d·ramp(t) low (a current
 * transformer ageing) leaves its missing energy in the node's loss hour by hour, in proportion to
 * its own load: loss(h) = c0 + c1·up + c2·up² + g·ramp(h)·x(h) + noise, with g = −d. The daily
 * unexplained share of the whole node (drift.ts) sees the same energy but averages it over the
 * node's throughput; regressing the hourly loss on each meter's own load shape weighs the hours
 * where that meter is a large part of the node, and names the meter.
 *
 * For every meter below the node (and the node meter itself: ramp·up, a node meter drifting), the
 * loss over the last `days` is fitted by weighted least squares (noise grows with the load:
 * weights 1/up²) on the technical-loss terms plus one more regressor: a ramp from a candidate
 * onset to the end, or a step at a candidate onset (a theft or a tap starts one day and stays).
 * A drift is a ramp that is significant (t against day-clustered errors, since real meters'
 * hourly errors are not independent) and explains clearly more than the best step of the same
 * meter; its size is plausible for a meter's error (a 30 % "drift" is a theft that grew).
 */

export interface ChildDriftConfig {
  /** Days of hourly loss fitted. */
  days: number;
  /** Shortest and longest ramp (days before the end). */
  minRampDays: number;
  maxRampDays: number;
  /** Least t of the ramp (day-clustered); many meters × onsets are tried. */
  minT: number;
  /**
   * How much better a step may fit than the ramp (explained sum of squares, robust σ² units). A
   * theft is a step of a large share of one meter's load (the step fits far better); a rise the
   * data cannot call a ramp or a step, of a size a meter's error can have, is the meter's.
   */
  maxStepLead: number;
  /** Drift at the end of the ramp: at least (a class-1 meter's own error) and at most. */
  minDrift: number;
  maxDrift: number;
}

export const DEFAULT_CHILD_DRIFT: ChildDriftConfig = {
  days: 150,
  minRampDays: 20,
  maxRampDays: 140,
  minT: 4,
  maxStepLead: 4,
  minDrift: 0.002,
  maxDrift: 0.08,
};

export interface ChildDrift {
  /** Store index of the drifting meter (a child, or the node meter itself). */
  meter: number;
  /** The meter is the node meter (its drift lowers the node's loss when it reads low). */
  atNode: boolean;
  /** Relative error at the end (negative: reading low), t, and the ramp's excess over a step. */
  drift: number;
  t: number;
  overStep: number;
  /** When the ramp begins (UTC ms: a cached result outlives the store's slot numbering); energy
   * the meter failed to register (or over-registered) since, and what it registered. */
  since: number;
  missing: number;
  registered: number;
  /** Per local day of the fit: the meter's relative error as the node sees it, and the fitted ramp. */
  seenShare: [ts: number, share: number][];
  /** Other meters whose drift would explain the loss nearly as well, and by how much. */
  alike: { meter: number; drift: number }[];
  fittedShare: [ts: number, share: number][];
}

type Vec3 = [number, number, number];

/** Inverse of a symmetric 3×3 matrix [a b c; b d e; c e f] (undefined if singular). */
function inverse3(m: number[]): number[] | undefined {
  const [a, b, c, d, e, f] = m as [number, number, number, number, number, number];
  const A = d * f - e * e;
  const B = c * e - b * f;
  const C = b * e - c * d;
  const det = a * A + b * B + c * C;
  if (!(Math.abs(det) > 1e-12 * Math.abs(a * d * f) + 1e-300)) return undefined;
  const D = a * f - c * c;
  const E = b * c - a * e;
  const F = a * d - b * b;
  return [A / det, B / det, C / det, D / det, E / det, F / det];
}

const quad = (inv: number[], u: Vec3, v: Vec3): number => {
  const [A, B, C, D, E, F] = inv as [number, number, number, number, number, number];
  return (
    u[0] * (A * v[0] + B * v[1] + C * v[2]) +
    u[1] * (B * v[0] + D * v[1] + E * v[2]) +
    u[2] * (C * v[0] + E * v[1] + F * v[2])
  );
};
const solve = (inv: number[], v: Vec3): Vec3 => {
  const [A, B, C, D, E, F] = inv as [number, number, number, number, number, number];
  return [A * v[0] + B * v[1] + C * v[2], B * v[0] + D * v[1] + E * v[2], C * v[0] + E * v[1] + F * v[2]];
};

interface Fit {
  /** Position (index into the valid hours) where the regressor starts. */
  at: number;
  g: number;
  /** Weighted sum of squares it explains beyond the loss terms. */
  explained: number;
}

/** Suffix-sum arrays kept between calls: a fresh 11 × n per node each day is garbage for the GC. */
let scratch: Float64Array[] = [];
function suffixScratch(len: number): Float64Array[] {
  if ((scratch[0]?.length ?? 0) < len) scratch = Array.from({ length: 11 }, () => new Float64Array(len));
  return scratch;
}

/** What candidateFits needs: the valid hours' data, the candidate's own load, the loss-term fit. */
interface CandidateData {
  S: Float64Array[];
  n: number;
  /** The candidate meter's slot values (undefined: the node meter, whose load is u). */
  own: Float32Array | undefined;
  slots: readonly number[];
  scale: number;
  u: Float64Array;
  w: Float64Array;
  y: Float64Array;
  hour: Float64Array;
  onsets: readonly number[];
  span: number;
  minRamp: number;
  maxRamp: number;
  inv: number[];
  by: Vec3;
}

/**
 * One candidate's best ramp and best step over the onsets. Its own function so that the node
 * meter's fit, run every hour for the nodes at their phase, makes it hot: a node whose every meter
 * is fitted (a feeder with a loss) comes once a day, and its 25 fits in a loop V8 had not
 * optimised yet took 30-60 ms where the optimised one takes 3 ms. The arithmetic is the loop's,
 * unchanged.
 */
function candidateFits(c: CandidateData): { ramp: Fit | undefined; step: Fit | undefined } {
  const { S, n, own, slots, scale, u, w, y, hour, onsets, span, minRamp, maxRamp, inv, by } = c;
  for (let i = n - 1; i >= 0; i--) {
    const x = own ? own[slots[i]!]! / scale : u[i]!;
    const wx = w[i]! * x;
    const h = hour[i]!;
    const q = u[i]!;
    const v0 = wx;
    const v1 = wx * q;
    const v2 = wx * q * q;
    const v3 = wx * y[i]!;
    const v4 = wx * x;
    S[0]![i] = S[0]![i + 1]! + v0;
    S[1]![i] = S[1]![i + 1]! + v1;
    S[2]![i] = S[2]![i + 1]! + v2;
    S[3]![i] = S[3]![i + 1]! + v3;
    S[4]![i] = S[4]![i + 1]! + v4;
    S[5]![i] = S[5]![i + 1]! + v0 * h;
    S[6]![i] = S[6]![i + 1]! + v1 * h;
    S[7]![i] = S[7]![i + 1]! + v2 * h;
    S[8]![i] = S[8]![i + 1]! + v3 * h;
    S[9]![i] = S[9]![i + 1]! + v4 * h;
    S[10]![i] = S[10]![i + 1]! + v4 * h * h;
  }
  // The first valid position at or after each onset.
  let pos = 0;
  let ramp: Fit | undefined;
  let step: Fit | undefined;
  for (const T of onsets) {
    while (pos < n && hour[pos]! < T) pos++;
    if (pos >= n) break;
    const len = span - T;
    // Step: z = x·[h ≥ T].
    {
      const bz: Vec3 = [S[0]![pos]!, S[1]![pos]!, S[2]![pos]!];
      const zz = S[4]![pos]! - quad(inv, bz, bz);
      const zy = S[3]![pos]! - quad(inv, bz, by);
      if (zz > 1e-12) {
        const fit = { at: pos, g: zy / zz, explained: (zy * zy) / zz };
        if (!step || fit.explained > step.explained) step = fit;
      }
    }
    // Ramp: z = x·(h − T)/len for h ≥ T (g is the error at the end).
    if (len >= minRamp && len <= maxRamp) {
      const bz: Vec3 = [
        (S[5]![pos]! - T * S[0]![pos]!) / len,
        (S[6]![pos]! - T * S[1]![pos]!) / len,
        (S[7]![pos]! - T * S[2]![pos]!) / len,
      ];
      const zzRaw = (S[10]![pos]! - 2 * T * S[9]![pos]! + T * T * S[4]![pos]!) / (len * len);
      const zyRaw = (S[8]![pos]! - T * S[3]![pos]!) / len;
      const zz = zzRaw - quad(inv, bz, bz);
      const zy = zyRaw - quad(inv, bz, by);
      if (zz > 1e-12) {
        const fit = { at: pos, g: zy / zz, explained: (zy * zy) / zz };
        if (!ramp || fit.explained > ramp.explained) ramp = fit;
      }
    }
  }
  return { ramp, step };
}

/**
 * The hourly fit's verdict: a drifting meter, or `stepWins` where the node's loss rises
 * significantly but one meter's step explains it clearly better than any ramp (a theft: the
 * node's daily share must not then be called a drift either, whatever its shape).
 */
export function childDriftVerdict(
  store: SlotStore,
  b: NodeBalance,
  cfg: ChildDriftConfig = DEFAULT_CHILD_DRIFT,
): { drift?: ChildDrift; stepWins: boolean } {
  const none = { stepWins: false };
  const spd = store.slotsPerDay;
  const L = store.length;
  const from = Math.max(0, L - cfg.days * spd);
  // The valid hours: node and every child read (the balance's loss is computable).
  const slots: number[] = [];
  for (let k = from; k < L; k++) if (b.loss[k]! === b.loss[k]! && b.up[k]! > 0) slots.push(k);
  const n = slots.length;
  if (n < 2 * cfg.minRampDays * spd) return none;
  // A typed array's numeric sort (the loads are positive: the same order as a comparator's),
  // without a comparator call per pair: its boxed numbers were ~1.7 MiB of every closing hour.
  const ups = new Float64Array(n);
  for (let i = 0; i < n; i++) ups[i] = b.up[slots[i]!]!;
  ups.sort();
  const scale = ups[n >> 1]!;
  if (!(scale > 0)) return none;
  // Loads in units of the median load; the weight 1/up² floored at a tenth of the median.
  const u = new Float64Array(n);
  const y = new Float64Array(n);
  const w = new Float64Array(n);
  const hour = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const k = slots[i]!;
    u[i] = b.up[k]! / scale;
    y[i] = b.loss[k]! / scale;
    w[i] = 1 / Math.max(u[i]!, 0.1) ** 2;
    hour[i] = k - from;
  }
  const base = (i: number): Vec3 => [1, u[i]!, u[i]! * u[i]!];
  const m = [0, 0, 0, 0, 0, 0];
  const by: Vec3 = [0, 0, 0];
  let yy = 0;
  for (let i = 0; i < n; i++) {
    const [p, q, r] = base(i);
    const wi = w[i]!;
    m[0]! += wi;
    m[1]! += wi * q;
    m[2]! += wi * r;
    m[3]! += wi * q * q;
    m[4]! += wi * q * r;
    m[5]! += wi * r * r;
    by[0] += wi * p * y[i]!;
    by[1] += wi * q * y[i]!;
    by[2] += wi * r * y[i]!;
    yy += wi * y[i]! ** 2;
  }
  const inv = inverse3(m);
  if (!inv) return none;
  const sse0 = yy - quad(inv, by, by);
  if (!(sse0 > 0)) return none;
  const span = L - from;
  const minRamp = cfg.minRampDays * spd;
  const maxRamp = Math.min(cfg.maxRampDays * spd, span - 14 * spd);
  // Candidate onsets (slots from the window's start): every local day, from 14 days in.
  const onsets: number[] = [];
  for (let h = 14 * spd; h <= span - 3 * spd; h += spd) onsets.push(h);

  const fits: { meter: number; atNode: boolean; ramp: Fit; step: Fit }[] = [];
  // The best step of any meter, whatever its size: a theft is a step of one meter's load (often
  // far beyond a meter's error), and the node's rising loss may follow it better than any ramp.
  let anyStep: Fit | undefined;
  // The node meter first: any meter's drift below it shows as a ramp of the node's loss roughly
  // in proportion to the node's load (the shared trend dominates every meter's regressor), so a
  // node whose own ramp is not even half as significant as a drift must be is not worth the rest.
  const candidates: { meter: number; atNode: boolean }[] = [
    { meter: b.node, atNode: true },
    ...b.children.map((c) => ({ meter: c, atNode: false })),
  ];
  // Suffix sums over valid hours from position i: Σ w x b, Σ w x b h, Σ w x², Σ w x² h, Σ w x² h²
  // (b: 1, u, u², y), reused for every candidate.
  const S = suffixScratch(n + 1);
  for (const a of S) a[n] = 0;
  for (const cand of candidates) {
    const own = cand.atNode ? undefined : store.values[cand.meter]!;
    const { ramp, step } = candidateFits({
      S,
      n,
      own,
      slots,
      scale,
      u,
      w,
      y,
      hour,
      onsets,
      span,
      minRamp,
      maxRamp,
      inv,
      by,
    });
    if (cand.atNode && (!ramp || (ramp.explained * (n - 3)) / sse0 < (cfg.minT / 2) ** 2)) return none;
    if (step && (!anyStep || step.explained > anyStep.explained)) anyStep = step;
    // A meter explains the node's rising loss as a drift only at a size a meter's error can have
    // (the same rise is 2 % of a large building or 150 % of a small one).
    if (!ramp || !step || Math.abs(ramp.g) > cfg.maxDrift) continue;
    fits.push({ meter: cand.meter, atNode: cand.atNode, ramp, step });
  }
  fits.sort((x, y) => y.ramp.explained - x.ramp.explained);
  const best = fits[0];
  if (!best) return none;

  // The best ramp's t against errors clustered by local day.
  const { ramp, step, atNode, meter } = best;
  const T = hour[ramp.at]!;
  const len = span - T;
  const load = (i: number) => (atNode ? u[i]! : store.values[meter]![slots[i]!]! / scale);
  const z = (i: number) => (i >= ramp.at ? (load(i) * (hour[i]! - T)) / len : 0);
  const bz: Vec3 = [0, 0, 0];
  for (let i = ramp.at; i < n; i++) {
    const [p, q, r] = base(i);
    const wz = w[i]! * z(i);
    bz[0] += wz * p;
    bz[1] += wz * q;
    bz[2] += wz * r;
  }
  const gamma = solve(inv, bz);
  const beta = solve(inv, [by[0] - ramp.g * bz[0], by[1] - ramp.g * bz[1], by[2] - ramp.g * bz[2]]);
  let zz = 0;
  let sse = 0;
  let clustered = 0;
  let dayKey = Number.NaN;
  let acc = 0;
  for (let i = 0; i < n; i++) {
    const [p, q, r] = base(i);
    const zi = z(i) - (gamma[0] * p + gamma[1] * q + gamma[2] * r);
    const e = y[i]! - (beta[0] * p + beta[1] * q + beta[2] * r) - ramp.g * z(i);
    zz += w[i]! * zi * zi;
    sse += w[i]! * e * e;
    const d = store.dayOf(slots[i]!);
    if (d !== dayKey) {
      clustered += acc * acc;
      acc = 0;
      dayKey = d;
    }
    acc += w[i]! * zi * e;
  }
  clustered += acc * acc;
  const naiveVar = sse / Math.max(1, n - 4) / zz;
  const robustVar = clustered / (zz * zz);
  const variance = Math.max(naiveVar, robustVar);
  const t = ramp.g / Math.sqrt(variance);
  // Excess of the ramp over the best step, in σ² units inflated as the clustered errors say: the
  // same meter's step, and any meter's (a theft by one meter, which the node's load or another
  // meter's follows closely enough to fit a ramp too, is that meter's step, not a drift).
  // (anyStep counts the best meter's own step too.)
  const overStep = (ramp.explained - (anyStep ?? step).explained) / (variance * zz);
  // Meters whose ramp explains nearly as much (within 2 robust σ): the data hardly tell them apart.
  const alike = fits
    .slice(1)
    .filter((f) => f.ramp.explained >= ramp.explained - 4 * variance * zz)
    .slice(0, 3)
    .map((f) => ({ meter: f.meter, drift: f.atNode ? f.ramp.g : -f.ramp.g }));
  // A child reading low by d·ramp raises the loss by −d·ramp·x (g = −d); the node meter reading
  // low by d·ramp lowers it by its own d·ramp·up (g = d).
  const drift = atNode ? ramp.g : -ramp.g;
  if (Math.abs(t) >= cfg.minT && overStep < -cfg.maxStepLead) return { stepWins: true };
  if (Math.abs(t) < cfg.minT || Math.abs(drift) < cfg.minDrift || Math.abs(drift) > cfg.maxDrift) return none;

  // Evidence: energy the meter failed to register, and the daily share as the node sees it.
  let missing = 0;
  let registered = 0;
  const perDay = new Map<number, { ts: number; res: number; x: number; fit: number }>();
  for (let i = 0; i < n; i++) {
    const k = slots[i]!;
    const [p, q, r] = base(i);
    const x = load(i) * scale;
    const res = (y[i]! - (beta[0] * p + beta[1] * q + beta[2] * r)) * scale;
    if (i >= ramp.at) {
      missing += ramp.g * z(i) * scale;
      registered += x;
    }
    const d = store.dayOf(k);
    const cur = perDay.get(d) ?? { ts: store.slotStart(k - store.slotOfDay(k)), res: 0, x: 0, fit: 0 };
    cur.res += res;
    cur.x += x;
    cur.fit += ramp.g * z(i) * scale;
    perDay.set(d, cur);
  }
  const sign = atNode ? 1 : -1;
  const seenShare: [number, number][] = [];
  const fittedShare: [number, number][] = [];
  for (const v of perDay.values()) {
    if (!(v.x > 0)) continue;
    seenShare.push([v.ts, Math.round(((sign * v.res) / v.x) * 1e5) / 1e5]);
    fittedShare.push([v.ts, Math.round(((sign * v.fit) / v.x) * 1e5) / 1e5]);
  }
  return {
    stepWins: false,
    drift: {
      meter,
      atNode,
      drift,
      t,
      overStep,
      since: store.slotStart(slots[ramp.at]!),
      missing: atNode ? -missing : missing,
      registered,
      seenShare,
      fittedShare,
      alike,
    },
  };
}

/** The metering team's alert for a drifting meter under (or at) a node, with its evidence. */
export function childDriftFinding(store: SlotStore, b: NodeBalance, d: ChildDrift, unit: string): Finding {
  const id = store.topology.ids[d.meter]!;
  const since = d.since;
  const to = store.slotStart(store.length);
  const day = (ts: number) => new Date(ts).toISOString().slice(0, 10);
  const pct = (x: number) => `${(100 * x).toFixed(2)} %`;
  const dir = d.drift < 0 ? 'reading low' : 'reading high';
  return {
    type: 'meter-drift',
    key: `meter-drift:${id}`,
    severity: Math.abs(d.drift) >= 0.02 ? 'medium' : 'low',
    meter: id,
    node: b.id,
    score: Math.min(1, Math.abs(d.drift) / 0.02),
    since,
    reason:
      `${id}: ${dir} by a growing error, ${pct(d.drift)} of its load by ${day(to - 1)}, from 0 on ${day(since)} ` +
      `(${b.id}'s hourly loss follows ${d.atNode ? 'its own load' : `${id}'s load`} times a ramp, t ${d.t.toFixed(1)}, ` +
      `clearly better than a step: a theft starts one day and stays): a meter drifting, for the metering team to ` +
      `check (${Math.abs(d.missing).toFixed(1)} ${unit} ${d.missing > 0 ? 'not registered' : 'registered in excess'} since); not a theft pattern` +
      (d.alike.length
        ? `; the data hardly tell it from ${d.alike.map((a) => `${store.topology.ids[a.meter]} ${pct(a.drift)}`).join(', ')}`
        : ''),
    evidence: {
      model: `${b.id}'s hourly loss = technical loss (c0 + c1·load + c2·load², fitted with the drift) + drift · ramp from ${day(since)} · ${id}'s load (weighted least squares; a step at the best day is the alternative)`,
      // What the meter should have registered since the ramp began (the node's word), and what it did.
      expected: Math.round((d.registered + d.missing) * 100) / 100,
      seen: Math.round(d.registered * 100) / 100,
      unit,
      from: since,
      to,
      figures: {
        model: 'hourly node loss on a ramp × the meter’s load, against a step',
        driftAtEnd: Math.round(d.drift * 1e5) / 1e5,
        tClusteredByDay: Math.round(d.t * 10) / 10,
        rampOverStep: Math.round(d.overStep * 10) / 10,
        energyNotRegistered: Math.round(d.missing * 100) / 100,
        atNodeMeter: d.atNode ? 'yes' : 'no',
        alike: d.alike
          .map((a) => `${store.topology.ids[a.meter]} ${Math.round(a.drift * 1e5) / 1e5}`)
          .join(', '),
      },
      series: [
        { meter: id, quantity: 'daily_relative_error_seen_by_node', points: d.seenShare },
        { meter: id, quantity: 'daily_relative_error_fitted_ramp', points: d.fittedShare },
        // The node's own daily unexplained share over the same days (what the alert page charts).
        {
          meter: b.id,
          quantity: 'daily_unexplained_share',
          points: b.days
            .filter((x) => x.residual === x.residual && x.up > 0 && x.from >= (d.seenShare[0]?.[0] ?? 0))
            .map((x): [number, number] => [x.from, Math.round((x.residual / x.up) * 1e5) / 1e5]),
        },
      ],
    },
  };
}
