import type { MeterKind } from '../../metering/storage.ts';
import { clamp, median, robustQuadratic, type SlotStore } from './series.ts';
import type { Finding } from './types.ts';

/**
 * Energy (or water) balance of every metering-tree node: the node meter's consumption against the
 * sum of its metered children, per slot (an hour) and per local day.
 *
 *   loss(k) = up(k) − Σ down(k),  band(k) = c0 + c1·up(k) + c2·up(k)²  (technical loss)
 *   residual(k) = loss(k) − band(k)  (unexplained: theft, taps, unmetered use, data errors)
 *
 * The band is learned per node from its own history by robust (least-trimmed-squares) quadratic
 * regression of loss on load, or configured. A slot where any of the meters has no value is
 * uncomputable, never a fake loss. An alert needs persistence: k of the last n computable slots
 * above the band (hourly), or k of n days (daily, for thefts too small to see in one hour).
 */

export type NodeState = 'normal' | 'high-loss' | 'negative-loss' | 'uncomputable';

export interface BandConfig {
  /** loss = c0 + c1·load + c2·load², per slot (kWh or m³ per hour). */
  c: [number, number, number];
  sigma: number;
}

export interface BalanceConfig {
  /** Threshold in band σ per slot. */
  z: number;
  /** Per-slot σ floor: register resolution, CT and timing errors (kWh or m³ per hour). */
  floorAbs: Record<MeterKind, number>;
  /** Per-slot σ floor relative to the node's throughput. */
  floorRel: number;
  /** Hourly persistence: k of the last n computable slots above the band. */
  slotK: number;
  slotN: number;
  /** Daily persistence: k of the last n computable days above the daily band. */
  dayK: number;
  dayN: number;
  /** Daily threshold in daily σ (σ_slot·√slots). */
  dayZ: number;
  /** Share of points the robust band fit keeps (theft in less than 1 − keep of history is ignored). */
  keep: number;
  /** Fewer computable slots than this: the band is not learned (floors only, loss assumed 0). */
  minFitSlots: number;
  /** A learned technical loss above this share of the throughput is itself suspicious. */
  maxTechnicalShare: number;
  /** Configured bands per node (node meter id), instead of learned ones. */
  bands: Record<string, BandConfig>;
  /** A slot episode shorter than a day needs at least this share of the throughput. */
  minSlotShare: number;
  /** Daily σ floor, share of the day's throughput (class-1 meters' systematic error). */
  dayFloorRel: number;
}

export const DEFAULT_BALANCE: BalanceConfig = {
  z: 4,
  floorAbs: { electricity: 0.02, water: 0.005, heat: 0.05 },
  floorRel: 0.003,
  slotK: 4,
  slotN: 6,
  dayK: 2,
  dayN: 3,
  dayZ: 5,
  keep: 0.6,
  minFitSlots: 48,
  maxTechnicalShare: 0.1,
  bands: {},
  minSlotShare: 0.02,
  dayFloorRel: 0.002,
};

export interface Episode {
  from: number;
  to: number;
  /** Slots [first, end) of the store. */
  first: number;
  end: number;
  /** Σ residual over the computable slots of the episode. */
  unexplained: number;
  /** Share of the node's throughput in the episode. */
  share: number;
  slots: number;
  uncomputable: number;
  ongoing: boolean;
  resolution: 'slot' | 'day';
}

export interface DayBalance {
  day: number;
  from: number;
  up: number;
  down: number;
  loss: number;
  residual: number;
  state: NodeState;
}

export interface NodeBalance {
  node: number;
  id: string;
  kind: MeterKind;
  children: readonly number[];
  band: BandConfig & { learned: boolean; configured: boolean; n: number };
  /** Per slot of the store (NaN: uncomputable). */
  up: Float64Array;
  loss: Float64Array;
  residual: Float64Array;
  /** Per-slot threshold (z·σ_eff). */
  threshold: Float64Array;
  sigmaEff: Float64Array;
  episodes: Episode[];
  negative: Episode[];
  days: DayBalance[];
  state: NodeState;
  stateReason: string;
  /** Share of computable slots in the evaluation window. */
  computable: number;
  /** Statistics over the evaluation window [w0, end). */
  window: { meanZ: number; rmsRatio: number; unexplained: number; share: number; n: number };
  /** 0..1: how clearly the node has unexplained loss in the evaluation window. */
  evidence: number;
}

/**
 * The per-slot series of a node over the store's slots [0, length): its balance against the
 * children and the band applied to it. Outside the computed range: NaN.
 */
export interface BalanceSeries {
  up: Float64Array;
  loss: Float64Array;
  residual: Float64Array;
  threshold: Float64Array;
  sigmaEff: Float64Array;
  band: NodeBalance['band'];
  /** Learned loss at the median load of the fit, as a share of that load (0 unless learned). */
  bandShare: number;
}

/** Node meter minus the sum of the children, slots [from, to), into up and loss (NaN: uncomputable). */
function fillLoss(
  store: SlotStore,
  node: number,
  from: number,
  to: number,
  up: Float64Array,
  loss: Float64Array,
): void {
  const children = store.topology.children[node]!;
  const own = store.values[node]!;
  for (let k = from; k < to; k++) {
    let s = own[k]!;
    for (let j = 0; j < children.length && s === s; j++) s -= store.values[children[j]!]![k]!;
    if (s === s) {
      up[k] = own[k]!;
      loss[k] = s;
    } else {
      up[k] = Number.NaN;
      loss[k] = Number.NaN;
    }
  }
}

/** The band: configured, or learned from the computable slots of [fitFrom, to). */
function fitBand(
  id: string,
  cfg: BalanceConfig,
  up: Float64Array,
  loss: Float64Array,
  fitFrom: number,
  to: number,
): { band: NodeBalance['band']; bandShare: number } {
  const configured = cfg.bands[id];
  if (configured) return { band: { ...configured, learned: false, configured: true, n: 0 }, bandShare: 0 };
  const xs: number[] = [];
  const ys: number[] = [];
  const span = to - fitFrom;
  // Every slot up to ~3000 points: enough for three coefficients and a spread, and fast.
  const stride = Math.max(1, Math.floor(span / 3000));
  for (let k = fitFrom; k < to; k += stride) {
    if (loss[k]! === loss[k]!) {
      xs.push(up[k]!);
      ys.push(loss[k]!);
    }
  }
  if (xs.length < cfg.minFitSlots)
    return {
      band: { c: [0, 0, 0], sigma: 0, learned: false, configured: false, n: xs.length },
      bandShare: 0,
    };
  const fit = robustQuadratic(Float64Array.from(xs), Float64Array.from(ys), cfg.keep);
  return {
    band: { c: fit.c, sigma: fit.sigma, learned: true, configured: false, n: fit.n },
    bandShare: bandShare(fit.c, up, fitFrom, to),
  };
}

/** Residual, σ_eff and threshold of slots [from, to) under a band. */
function applyBand(
  band: NodeBalance['band'],
  kind: MeterKind,
  cfg: BalanceConfig,
  from: number,
  to: number,
  s: Pick<BalanceSeries, 'up' | 'loss' | 'residual' | 'threshold' | 'sigmaEff'>,
): void {
  const { up, loss, residual, threshold, sigmaEff } = s;
  const [c0, c1, c2] = band.c;
  const floor = cfg.floorAbs[kind];
  for (let k = from; k < to; k++) {
    const u = up[k]!;
    if (u !== u) {
      residual[k] = Number.NaN;
      threshold[k] = Number.NaN;
      sigmaEff[k] = Number.NaN;
      continue;
    }
    residual[k] = loss[k]! - (c0 + c1 * u + c2 * u * u);
    const sd = Math.max(band.sigma, floor + cfg.floorRel * Math.abs(u));
    sigmaEff[k] = sd;
    threshold[k] = cfg.z * sd;
  }
}

/** The series of a node computed afresh: slots [from, length), band fitted on [fitFrom, length). */
export function balanceSeries(
  store: SlotStore,
  node: number,
  cfg: BalanceConfig,
  from: number,
  fitFrom: number,
) {
  const L = store.length;
  const a0 = Math.min(from, fitFrom);
  const nan = () => new Float64Array(L).fill(Number.NaN);
  const s = { up: nan(), loss: nan(), residual: nan(), threshold: nan(), sigmaEff: nan() };
  fillLoss(store, node, a0, L, s.up, s.loss);
  const { band, bandShare } = fitBand(store.topology.ids[node]!, cfg, s.up, s.loss, fitFrom, L);
  applyBand(band, store.topology.kind[node]!, cfg, a0, L, s);
  return { ...s, band, bandShare } satisfies BalanceSeries;
}

/**
 * A node's series kept between evaluations of a growing store (incremental mode): only the new
 * slots are computed, and the band is refitted only when `due` says so (or before any fit). A
 * refit or a drop of old slots writes new arrays, so series handed out earlier stay as they were.
 * The band is fitted over all retained slots.
 */
export class BalanceTracker {
  private base = Number.NaN;
  private filled = 0;
  private s: Pick<BalanceSeries, 'up' | 'loss' | 'residual' | 'threshold' | 'sigmaEff'> = {
    up: new Float64Array(0),
    loss: new Float64Array(0),
    residual: new Float64Array(0),
    threshold: new Float64Array(0),
    sigmaEff: new Float64Array(0),
  };
  private fit: { band: NodeBalance['band']; bandShare: number } | undefined;
  /** Absolute slot (store.base + k) of the newest slot, and the slots, at the last fit. */
  fittedAt = Number.NaN;
  fittedSpan = 0;

  constructor(
    readonly node: number,
    private readonly cfg: BalanceConfig,
  ) {}

  /** The series up to store.length; `due(this)`: refit the band now. */
  update(store: SlotStore, due: (t: BalanceTracker) => boolean): BalanceSeries {
    const L = store.length;
    const drop = store.base - this.base;
    if (!(drop >= 0 && drop <= this.filled && L >= this.filled - drop)) {
      this.filled = 0;
      this.fit = undefined;
    } else this.filled -= drop;
    const offset = this.filled > 0 ? drop : 0;
    const cap = Math.max(L, store.values[this.node]!.length);
    let s = this.s;
    if (offset > 0 && s.up.length >= L) {
      // The store dropped its oldest slots (a week at once) and shifted its own arrays in place:
      // the series shift with it, in place too (new arrays of every node at once were 14 MB for
      // the collector in the hour of the drop). A result's series are valid until the store moves.
      for (const a of [s.up, s.loss, s.residual, s.threshold, s.sigmaEff])
        a.copyWithin(0, offset, offset + this.filled);
    } else if (offset > 0 || s.up.length < L) {
      const grow = (a: Float64Array) => {
        const x = new Float64Array(cap);
        x.set(a.subarray(offset, offset + this.filled));
        return x;
      };
      s = {
        up: grow(s.up),
        loss: grow(s.loss),
        residual: grow(s.residual),
        threshold: grow(s.threshold),
        sigmaEff: grow(s.sigmaEff),
      };
    }
    this.base = store.base;
    const kind = store.topology.kind[this.node]!;
    fillLoss(store, this.node, this.filled, L, s.up, s.loss);
    if (this.fit === undefined || due(this)) {
      this.fit = fitBand(store.topology.ids[this.node]!, this.cfg, s.up, s.loss, 0, L);
      this.fittedAt = store.base + L - 1;
      this.fittedSpan = L;
      const n = s.up.length;
      s = {
        ...s,
        residual: new Float64Array(n),
        threshold: new Float64Array(n),
        sigmaEff: new Float64Array(n),
      };
      applyBand(this.fit.band, kind, this.cfg, 0, L, s);
    } else applyBand(this.fit.band, kind, this.cfg, this.filled, L, s);
    this.s = s;
    this.filled = L;
    return {
      up: s.up.subarray(0, L),
      loss: s.loss.subarray(0, L),
      residual: s.residual.subarray(0, L),
      threshold: s.threshold.subarray(0, L),
      sigmaEff: s.sigmaEff.subarray(0, L),
      band: this.fit.band,
      bandShare: this.fit.bandShare,
    };
  }
}

/**
 * Balance of one node over the store's slots [from, store.length); the band is fitted on
 * [fitFrom, length), unless the node's series (band included) is given.
 */
export function nodeBalance(
  store: SlotStore,
  node: number,
  cfg: BalanceConfig,
  opts: { from: number; fitFrom: number; windowFrom: number },
  series: BalanceSeries = balanceSeries(store, node, cfg, Math.min(opts.from, opts.windowFrom), opts.fitFrom),
): NodeBalance {
  const top = store.topology;
  const id = top.ids[node]!;
  const kind = top.kind[node]!;
  const children = top.children[node]!;
  const L = store.length;
  const { up, loss, residual, threshold, sigmaEff, band } = series;

  const slotEpisodes = (sign: 1 | -1) =>
    episodesOf(store, opts.from, L, residual, threshold, sign, cfg.slotK, cfg.slotN, up);
  const days = dailyBalances(store, opts.from, L, up, loss, residual, sigmaEff, cfg);
  const dayEpisodes = (sign: 1 | -1) => dayEpisodesOf(store, days, sign, cfg, residual, up);
  // Real feeders: a few hours at 1–2 % of throughput is the meters' own class, not a theft; an
  // hours-long episode must be larger than minSlotShare (or last a day, where the daily test
  // judges it).
  const episodes = merge(
    slotEpisodes(1).filter((e) => e.share >= cfg.minSlotShare || e.slots >= store.slotsPerDay),
    dayEpisodes(1),
  );
  const negative = merge(slotEpisodes(-1), dayEpisodes(-1));

  // The evaluation window: how unusual is the residual there?
  let n = 0;
  let sum = 0;
  let sumSq = 0;
  let sigSq = 0;
  let through = 0;
  let total = 0;
  for (let k = opts.windowFrom; k < L; k++) {
    total++;
    const r = residual[k]!;
    if (r !== r) continue;
    n++;
    sum += r;
    sumSq += r * r;
    sigSq += sigmaEff[k]! ** 2;
    through += up[k]!;
  }
  const sig = n > 0 ? Math.sqrt(sigSq / n) : Number.NaN;
  const meanZ = n > 0 ? sum / (sig * Math.sqrt(n)) : 0;
  const rmsRatio = n > 0 ? Math.sqrt(sumSq / n) / sig : 0;
  const computable = total > 0 ? n / total : 0;
  // Evidence: a sustained positive mean (taps, scaling) or a residual far noisier than the band
  // (shape attacks that keep the daily total: peak-shifting, flattening).
  // Only an episode reaching into the window is evidence now: one long over is history (with a
  // year's scan every clean feeder had some, and tied with the thieves' at 0.5).
  const current = episodes.some((e) => e.end > opts.windowFrom);
  const evidence = n < 6 ? 0 : clamp(Math.max((meanZ - 4) / 8, (rmsRatio - 2) / 4, current ? 0.5 : 0), 0, 1);

  // The node's state at the end of the data.
  const shareOfBand = band.learned ? series.bandShare : 0;
  let state: NodeState = 'normal';
  let stateReason = 'within the technical-loss band';
  const lastDay = Math.max(opts.from, L - store.slotsPerDay);
  let lastComputable = 0;
  for (let k = lastDay; k < L; k++) if (residual[k]! === residual[k]!) lastComputable++;
  const lastEp = episodes.at(-1);
  const lastNeg = negative.at(-1);
  if (L - lastDay > 0 && lastComputable < 0.5 * (L - lastDay)) {
    state = 'uncomputable';
    stateReason = `only ${lastComputable} of the last ${L - lastDay} slots computable (a meter has no data)`;
  } else if (lastEp?.ongoing) {
    state = 'high-loss';
    stateReason = `unexplained loss above the band since ${new Date(lastEp.from).toISOString()}`;
  } else if (lastNeg?.ongoing) {
    state = 'negative-loss';
    stateReason = 'children register more than the node: data or topology error';
  } else if (shareOfBand > cfg.maxTechnicalShare) {
    state = 'high-loss';
    stateReason = `learned loss ${(100 * shareOfBand).toFixed(1)} % of throughput is not plausible as technical loss`;
  }
  return {
    node,
    id,
    kind,
    children,
    band,
    up,
    loss,
    residual,
    threshold,
    sigmaEff,
    episodes,
    negative,
    days,
    state,
    stateReason,
    computable,
    window: { meanZ, rmsRatio, unexplained: sum, share: through > 0 ? sum / through : 0, n },
    evidence: Math.max(evidence, shareOfBand > cfg.maxTechnicalShare ? 0.6 : 0),
  };
}

function bandShare(c: [number, number, number], up: Float64Array, from: number, to: number): number {
  const loads: number[] = [];
  for (let k = from; k < to; k++) if (up[k]! === up[k]!) loads.push(up[k]!);
  const u = median(loads);
  return u > 0 ? (c[0] + c[1] * u + c[2] * u * u) / u : 0;
}

/** Runs where k of the last n computable slots exceed the threshold (sign: above or below). */
function episodesOf(
  store: SlotStore,
  from: number,
  to: number,
  residual: Float64Array,
  threshold: Float64Array,
  sign: 1 | -1,
  K: number,
  N: number,
  up: Float64Array,
): Episode[] {
  const out: Episode[] = [];
  // The last N computable slots (circular: oldest at `head`) and how many of them are high.
  const ring = new Float64Array(N);
  const ringHigh = new Uint8Array(N);
  let head = 0;
  let size = 0;
  let count = 0;
  let active = false;
  let first = -1;
  let lastHigh = -1;
  for (let k = from; k < to; k++) {
    const r = residual[k]!;
    if (r !== r) continue;
    const high = sign * r > threshold[k]! ? 1 : 0;
    let at: number;
    if (size < N) at = (head + size++) % N;
    else {
      count -= ringHigh[head]!;
      at = head;
      head = (head + 1) % N;
    }
    ring[at] = k;
    ringHigh[at] = high;
    count += high;
    if (high) lastHigh = k;
    if (!active && count >= K) {
      active = true;
      for (let i = 0; i < size; i++) {
        const j = (head + i) % N;
        if (ringHigh[j]) {
          first = ring[j]!;
          break;
        }
      }
    } else if (active && count <= 1) {
      active = false;
      out.push(summarise(store, first, lastHigh + 1, residual, up, false, 'slot'));
    }
  }
  if (active) out.push(summarise(store, first, to, residual, up, true, 'slot'));
  return out;
}

function summarise(
  store: SlotStore,
  first: number,
  end: number,
  residual: Float64Array,
  up: Float64Array,
  ongoing: boolean,
  resolution: 'slot' | 'day',
): Episode {
  let unexplained = 0;
  let through = 0;
  let slots = 0;
  let uncomputable = 0;
  for (let k = first; k < end; k++) {
    const r = residual[k]!;
    if (r !== r) {
      uncomputable++;
      continue;
    }
    slots++;
    unexplained += r;
    through += up[k]!;
  }
  // Uncomputable slots inside the episode are estimated at the episode's mean.
  if (slots > 0) unexplained += (unexplained / slots) * uncomputable;
  return {
    from: store.slotStart(first),
    to: store.slotStart(end),
    first,
    end,
    unexplained,
    share: through > 0 ? unexplained / (through + (through / Math.max(1, slots)) * uncomputable) : 0,
    slots,
    uncomputable,
    ongoing,
    resolution,
  };
}

function dailyBalances(
  store: SlotStore,
  from: number,
  L: number,
  up: Float64Array,
  loss: Float64Array,
  residual: Float64Array,
  sigmaEff: Float64Array,
  cfg: BalanceConfig,
): (DayBalance & { first: number; sigma: number })[] {
  const out: (DayBalance & { first: number; sigma: number })[] = [];
  const spd = store.slotsPerDay;
  // Whole local days only.
  let k = from + ((spd - store.slotOfDay(from)) % spd);
  for (; k + spd <= L; k += spd) {
    let u = 0;
    let l = 0;
    let r = 0;
    let s2 = 0;
    let ok = true;
    for (let j = k; j < k + spd; j++) {
      if (residual[j]! !== residual[j]!) {
        ok = false;
        break;
      }
      u += up[j]!;
      l += loss[j]!;
      r += residual[j]!;
      s2 += sigmaEff[j]! ** 2;
    }
    // Hourly errors of real meters are not independent over a day (timing, CT ratio): a floor.
    const sigma = Math.max(Math.sqrt(s2), cfg.dayFloorRel * u);
    const state: NodeState = !ok
      ? 'uncomputable'
      : r > cfg.dayZ * sigma
        ? 'high-loss'
        : r < -cfg.dayZ * sigma
          ? 'negative-loss'
          : 'normal';
    out.push({
      day: store.dayOf(k),
      from: store.slotStart(k),
      first: k,
      up: ok ? u : Number.NaN,
      down: ok ? u - l : Number.NaN,
      loss: ok ? l : Number.NaN,
      residual: ok ? r : Number.NaN,
      sigma,
      state,
    });
  }
  return out;
}

function dayEpisodesOf(
  store: SlotStore,
  days: (DayBalance & { first: number })[],
  sign: 1 | -1,
  cfg: BalanceConfig,
  residual: Float64Array,
  up: Float64Array,
): Episode[] {
  const out: Episode[] = [];
  const want: NodeState = sign > 0 ? 'high-loss' : 'negative-loss';
  const ring: boolean[] = [];
  const ringFirst: number[] = [];
  let active = false;
  let first = -1;
  let lastHigh = -1;
  const spd = store.slotsPerDay;
  for (const d of days) {
    if (d.state === 'uncomputable') continue;
    const high = d.state === want;
    ring.push(high);
    ringFirst.push(d.first);
    if (ring.length > cfg.dayN) {
      ring.shift();
      ringFirst.shift();
    }
    if (high) lastHigh = d.first;
    const count = ring.filter(Boolean).length;
    if (!active && count >= cfg.dayK) {
      active = true;
      first = ringFirst[ring.indexOf(true)]!;
    } else if (active && count === 0) {
      active = false;
      out.push(summarise(store, first, lastHigh + spd, residual, up, false, 'day'));
    }
  }
  if (active) out.push(summarise(store, first, lastHigh + spd, residual, up, true, 'day'));
  return out;
}

/** Slot episodes, plus day episodes that no slot episode overlaps. */
function merge(slot: Episode[], day: Episode[]): Episode[] {
  const out = [...slot];
  for (const d of day) if (!slot.some((s) => s.first < d.end && d.first < s.end)) out.push(d);
  return out.sort((a, b) => a.first - b.first);
}

/** Findings of one node: every episode of unexplained loss, and persistent negative loss. */
export function balanceFindings(b: NodeBalance, unit: string): Finding[] {
  const out: Finding[] = [];
  for (const e of b.episodes) {
    const severity = e.share > 0.1 || e.unexplained > 50 ? 'high' : e.share > 0.03 ? 'medium' : 'low';
    out.push({
      type: 'energy-balance',
      key: `energy-balance:${b.id}:${e.from}`,
      severity,
      node: b.id,
      score: b.evidence + Math.min(1, Math.abs(e.share) * 5),
      since: e.from,
      reason:
        `unexplained ${e.resolution === 'day' ? 'daily ' : ''}loss at ${b.id}: ${e.unexplained.toFixed(2)} ${unit} ` +
        `(${(100 * e.share).toFixed(1)} % of throughput) above the technical-loss band` +
        (e.ongoing ? ', ongoing' : ''),
      evidence: {
        from: e.from,
        to: e.to,
        figures: {
          unexplained: round(e.unexplained),
          share: round(e.share),
          slots: e.slots,
          uncomputableSlots: e.uncomputable,
          bandC0: round(b.band.c[0]),
          bandC1: round(b.band.c[1]),
          bandC2: round(b.band.c[2]),
          bandSigma: round(b.band.sigma),
          bandLearned: b.band.learned ? 'learned' : b.band.configured ? 'configured' : 'floors only',
          resolution: e.resolution,
        },
      },
      unexplained: e.unexplained,
    });
  }
  const neg = b.negative.filter((e) => e.ongoing || e.slots >= 12);
  for (const e of neg) {
    out.push({
      type: 'energy-balance',
      key: `energy-balance:${b.id}:negative:${e.from}`,
      severity: 'low',
      node: b.id,
      score: 0.2,
      since: e.from,
      reason: `negative loss at ${b.id}: children register ${(-e.unexplained).toFixed(2)} ${unit} more than the node (data or topology error)`,
      evidence: { from: e.from, to: e.to, figures: { unexplained: round(e.unexplained), slots: e.slots } },
      unexplained: e.unexplained,
    });
  }
  return out;
}

const round = (x: number): number => Math.round(x * 1e4) / 1e4;
