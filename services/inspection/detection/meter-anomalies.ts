import { FLAG, clamp, median, type SlotStore, type Topology } from './series.ts';
import type { Finding } from './types.ts';

/**
 * Per-meter anomalies without labels, from the meter's own slots:
 *
 * - level: consumption in the evaluation window against its own weekday/weekend × hour-of-day
 *   baseline, divided by the same ratio of its peers (siblings under the same node, so that a
 *   vacation or a cold week that moves everybody moves nobody);
 * - shape: how well the window follows the baseline profile (hourly correlation) against how well
 *   the baseline itself did, peer-adjusted: flattening (Jokar h4, h5), random scaling (h3) and a
 *   reversed day (h6) break it while the total may stay;
 * - zeros: more zero slots than the baseline (on/off theft, h2);
 * - stopped: a run of zero slots whose probability under the meter's own zero frequency per hour
 *   of day is negligible, with no error reading (that is a communication gap) and the relay closed
 *   (an open prepaid relay is a cut-off, not a stopped meter), and its parent still consuming;
 * - backwards: the register decreasing without a rollover.
 *
 * Tamper and power-down events: our meter profiles expose no event log (DL/T 645 and DLMS meters
 * keep one), so there is nothing to read; a profile that adds one would plug in here.
 */

export interface AnomalyConfig {
  /** Own score (≈1 notable) at which a meter-drop finding is raised. */
  dropAlert: number;
  /** Minimum run of zero slots, and its probability under the meter's own habits, for "stopped". */
  stoppedMinSlots: number;
  stoppedMaxLogProb: number;
  /** Zero-frequency floor per hour of day (a meter seldom at zero still may be now and then). */
  zeroFloor: number;
  /** A register decrease smaller than this (kWh/m³) is noise, not running backwards. */
  backwardsMin: number;
}

export const DEFAULT_ANOMALIES: AnomalyConfig = {
  dropAlert: 3,
  stoppedMinSlots: 6,
  stoppedMaxLogProb: Math.log(1e-6),
  zeroFloor: 0.02,
  backwardsMin: 0.01,
};

export interface Run {
  first: number;
  end: number;
  from: number;
  to: number;
  amount: number;
}

export interface MeterAnomaly {
  meter: number;
  id: string;
  /** Evaluation-window consumption over its baseline (own), and over the peers' same ratio. */
  ratio: number;
  peerRatio: number;
  /** Hourly correlation with the baseline profile: window, and the baseline's own. */
  corrWindow: number;
  corrBaseline: number;
  zeroShare: number;
  zeroShareBaseline: number;
  /** Combined own score: ≈1 notable, ≥3 strong. */
  score: number;
  features: { drop: number; shape: number; zeros: number };
  /** Expected consumption per slot from slot `expectedFrom` to the end (baseline profile). */
  expected: Float32Array;
  expectedFrom: number;
  stopped: Run[];
  backwards: Run[];
  relayOpenSlots: number;
  gapSlots: number;
  /** Enough data to judge level and shape. */
  judged: boolean;
}

export interface AnomalyWindows {
  baselineFrom: number;
  windowFrom: number;
  /** Stopped/backwards are looked for from here. */
  scanFrom: number;
}

const EPS = 1e-9;

/** Day type (1: weekend) and slot of day of the store's slots [from, length); 0 before `from`. */
export interface Calendar {
  from: number;
  weekendOf: Uint8Array;
  sodOf: Uint16Array;
}

export function calendar(store: SlotStore, from: number): Calendar {
  const L = store.length;
  const weekendOf = new Uint8Array(L);
  const sodOf = new Uint16Array(L);
  for (let k = from; k < L; k++) {
    const wd = store.weekdayOf(k);
    weekendOf[k] = wd === 0 || wd === 6 ? 1 : 0;
    sodOf[k] = store.slotOfDay(k);
  }
  return { from, weekendOf, sodOf };
}

/** A meter's baseline: its profile over the baseline window and how well it followed it there. */
export interface MeterBaseline {
  /** The baseline window [from, to), as absolute slots (store.base + k). */
  from: number;
  to: number;
  /** Expected consumption per (day type · slotsPerDay + slot of day), fallbacks applied. */
  table: Float64Array;
  /** Valid slots, and zero ones, in the window. */
  n: number;
  zeros: number;
  /** Correlation with the profile in the window (in-sample); Σ expected over its valid slots. */
  corr: number;
  se: number;
}

/** The baseline of meter m over the store's slots [from, to) (cal must cover them). */
export function meterBaseline(
  store: SlotStore,
  m: number,
  from: number,
  to: number,
  cal: Calendar,
): MeterBaseline {
  const spd = store.slotsPerDay;
  const v = store.values[m]!;
  const f = store.flags[m]!;
  const { weekendOf, sodOf } = cal;
  const prof = new Float64Array(2 * spd);
  const cnt = new Float64Array(2 * spd);
  let bZero = 0;
  let bN = 0;
  for (let k = from; k < to; k++) {
    const x = v[k]!;
    if (x !== x || (f[k]! & (FLAG.relayOpen | FLAG.decrease)) !== 0) continue;
    const j = weekendOf[k]! * spd + sodOf[k]!;
    prof[j] = prof[j]! + x;
    cnt[j] = cnt[j]! + 1;
    bN++;
    if (x <= EPS) bZero++;
  }
  // Profile per (day type, slot): fall back to the other day type, then to the meter's mean.
  let total = 0;
  let totalN = 0;
  for (let j = 0; j < 2 * spd; j++) {
    total += prof[j]!;
    totalN += cnt[j]!;
  }
  const mean = totalN > 0 ? total / totalN : Number.NaN;
  const table = new Float64Array(2 * spd);
  for (let w = 0; w < 2; w++) {
    for (let sod = 0; sod < spd; sod++) {
      const j = w * spd + sod;
      const o = (1 - w) * spd + sod;
      table[j] = cnt[j]! > 0 ? prof[j]! / cnt[j]! : cnt[o]! > 0 ? prof[o]! / cnt[o]! : mean;
    }
  }
  const base = corrOver(v, f, from, to, table, cal, spd);
  return {
    from: store.base + from,
    to: store.base + to,
    table,
    n: bN,
    zeros: bZero,
    corr: base.corr,
    se: base.se,
  };
}

/** Correlation of a meter's slots [from, to) with its profile (relay-open slots left out). */
function corrOver(
  v: Float32Array,
  f: Uint8Array,
  from: number,
  to: number,
  table: Float64Array,
  cal: Calendar,
  spd: number,
): { corr: number; sx: number; se: number; n: number } {
  const { weekendOf, sodOf } = cal;
  let n = 0;
  let sx = 0;
  let se = 0;
  let sxx = 0;
  let see = 0;
  let sxe = 0;
  for (let k = from; k < to; k++) {
    const x = v[k]!;
    if (x !== x || (f[k]! & FLAG.relayOpen) !== 0) continue;
    const e = table[weekendOf[k]! * spd + sodOf[k]!]!;
    n++;
    sx += x;
    se += e;
    sxx += x * x;
    see += e * e;
    sxe += x * e;
  }
  return { corr: correlationOf(n, sx, se, sxx, see, sxe), sx, se, n };
}

function correlationOf(n: number, sx: number, se: number, sxx: number, see: number, sxe: number): number {
  if (n < 6) return Number.NaN;
  const cxx = sxx - (sx * sx) / n;
  const cee = see - (se * se) / n;
  const cxe = sxe - (sx * se) / n;
  return cxx > EPS && cee > EPS ? cxe / Math.sqrt(cxx * cee) : 0;
}

/** What the per-meter pass over the evaluation window finds (the input of a meter's anomaly). */
export interface MeterWindow {
  /** Σ over the valid slots (value known, relay closed) of [windowFrom, length): x, e, x², e², x·e. */
  n: number;
  sx: number;
  se: number;
  sxx: number;
  see: number;
  sxe: number;
  /** Valid zero slots, relay-open slots and gaps in the window. */
  zeros: number;
  relayOpen: number;
  gaps: number;
  /** From scanFrom on: a run of at least stoppedMinSlots zero slots; a register decrease. */
  longZeroRun: boolean;
  decrease: boolean;
  /** Expected consumption per slot from expectedFrom = min(scanFrom, windowFrom) to the end. */
  expected: Float32Array;
}

/** Profile table index (day type · slotsPerDay + slot of day) of an absolute slot. */
function keyOf(abs: number, spd: number): number {
  const wd = (Math.floor(abs / spd) + 4) % 7;
  return (wd === 0 || wd === 6 ? spd : 0) + (abs % spd);
}

/** The window pass of meter m computed afresh. */
export function meterWindow(
  store: SlotStore,
  m: number,
  table: Float64Array,
  w: AnomalyWindows,
  cal: Calendar,
  cfg: AnomalyConfig,
): MeterWindow {
  const spd = store.slotsPerDay;
  const L = store.length;
  const v = store.values[m]!;
  const f = store.flags[m]!;
  const { weekendOf, sodOf } = cal;
  const expFrom = Math.min(w.scanFrom, w.windowFrom);
  const expected = new Float32Array(Math.max(0, L - expFrom));
  for (let k = expFrom; k < L; k++) expected[k - expFrom] = table[weekendOf[k]! * spd + sodOf[k]!]!;
  const out: MeterWindow = { ...emptyWindow(), expected };
  for (let k = w.windowFrom; k < L; k++) {
    const x = v[k]!;
    if ((f[k]! & FLAG.relayOpen) !== 0) out.relayOpen++;
    else if (x !== x) out.gaps++;
    else {
      const e = table[weekendOf[k]! * spd + sodOf[k]!]!;
      out.n++;
      out.sx += x;
      out.se += e;
      out.sxx += x * x;
      out.see += e * e;
      out.sxe += x * e;
      if (x <= EPS) out.zeros++;
    }
  }
  Object.assign(out, scanRuns(v, f, w.scanFrom, L, cfg.stoppedMinSlots));
  return out;
}

/** Over slots [from, to): a run of at least `min` zero slots? a register decrease? */
function scanRuns(
  v: Float32Array,
  f: Uint8Array,
  from: number,
  to: number,
  min: number,
): { longZeroRun: boolean; decrease: boolean } {
  let longest = 0;
  let decrease = false;
  for (let k = from, run = 0; k < to; k++) {
    const fl = f[k]!;
    run = zeroSlot(v[k]!, fl) ? run + 1 : 0;
    if (run > longest) longest = run;
    if ((fl & FLAG.decrease) !== 0) decrease = true;
  }
  return { longZeroRun: longest >= min, decrease };
}

const NO_TABLE = new Float64Array(0);

/** Incremental state of one meter (absolute slots: store.base + k). */
class MeterState {
  baseline: MeterBaseline | null = null;
  /** The window sums, over [from, to), under `table`. */
  readonly sums: MeterWindow = emptyWindow();
  from = -1;
  to = -1;
  table: Float64Array = NO_TABLE;
  /** Slots before `scanned` are scanned for zero runs and decreases. */
  scanned = -1;
  /** Start of the zero run going on at `scanned` (-1: none); earlier runs long enough, as pairs. */
  runStart = -1;
  runs: number[] = [];
  lastDecrease = -1;
  /** Expected values per slot from `expOrigin` on, under `expTable`. */
  exp = new Float32Array(0);
  expOrigin = -1;
  expTable: Float64Array = NO_TABLE;
  readonly out: { baseline: MeterBaseline; window: MeterWindow };

  constructor(baseline: MeterBaseline) {
    this.out = { baseline, window: this.sums };
  }

  /** The window sums over [wfA, LA) afresh, under `table`. */
  resum(store: SlotStore, m: number, table: Float64Array, wfA: number, LA: number): void {
    const s = this.sums;
    const base = store.base;
    const spd = store.slotsPerDay;
    const v = store.values[m]!;
    const f = store.flags[m]!;
    s.n = s.sx = s.se = s.sxx = s.see = s.sxe = s.zeros = s.relayOpen = s.gaps = 0;
    for (let a = wfA; a < LA; a++) addSlot(s, v[a - base]!, f[a - base]!, table[keyOf(a, spd)]!, 1);
    this.table = table;
  }

  /** Expected values under `table` from expFromA, some days ahead. */
  refill(table: Float64Array, expFromA: number, LA: number, spd: number): void {
    const exp = new Float32Array(LA - expFromA + 2 * spd);
    for (let i = 0; i < exp.length; i++) exp[i] = table[keyOf(expFromA + i, spd)]!;
    this.exp = exp;
    this.expOrigin = expFromA;
    this.expTable = table;
  }

  /** Restarts the zero-run and decrease scan at wfA. */
  rescan(wfA: number): void {
    this.scanned = wfA;
    this.runStart = -1;
    this.runs = [];
    this.lastDecrease = -1;
  }

  /** Drops the runs that, cut at the window start, are no longer long enough. */
  prune(wfA: number, min: number): void {
    const kept: number[] = [];
    const runs = this.runs;
    for (let i = 0; i < runs.length; i += 2)
      if (runs[i + 1]! - Math.max(runs[i]!, wfA) >= min) kept.push(runs[i]!, runs[i + 1]!);
    this.runs = kept;
  }
}

const NO_BASELINE: MeterBaseline = {
  from: 0,
  to: 0,
  table: NO_TABLE,
  n: 0,
  zeros: 0,
  corr: Number.NaN,
  se: 0,
};

/**
 * Meter baselines and window passes kept between evaluations of a growing store (incremental
 * mode). The baseline of a meter is refitted when `due` says so; the window sums slide (the slots
 * leaving the window are taken out, the new ones added) and are summed afresh at every refit;
 * zero runs and decreases are scanned once per slot; expected values are a function of the
 * profile and the calendar, written once per refit.
 */
export class AnomalyTracker {
  private readonly states: MeterState[];

  constructor(
    topology: Topology,
    private readonly cfg: AnomalyConfig,
    /** Refit meter m's baseline, fitted over `cur`, for the window [from, to) (absolute slots)? */
    private readonly due: (m: number, cur: MeterBaseline, from: number, to: number) => boolean,
  ) {
    this.states = topology.ids.map(() => new MeterState(NO_BASELINE));
  }

  /** Meter m's baseline and window pass (the object is reused: read it before the next call). */
  meter(
    store: SlotStore,
    m: number,
    w: AnomalyWindows,
    cal: Calendar,
  ): { baseline: MeterBaseline; window: MeterWindow } {
    const st = this.states[m]!;
    const base = store.base;
    const L = store.length;
    const spd = store.slotsPerDay;
    const wfA = base + w.windowFrom;
    const LA = base + L;
    let baseline = st.baseline;
    if (baseline === null || baseline.to > wfA || this.due(m, baseline, base + w.baselineFrom, wfA)) {
      baseline = meterBaseline(store, m, w.baselineFrom, w.windowFrom, cal);
      st.baseline = baseline;
    }
    const table = baseline.table;
    const v = store.values[m]!;
    const f = store.flags[m]!;

    // Window sums: slide, or sum afresh.
    const s = st.sums;
    if (st.table === table && st.from <= wfA && wfA <= st.to && st.to <= LA && st.from >= base) {
      for (let a = st.from; a < wfA; a++) addSlot(s, v[a - base]!, f[a - base]!, table[keyOf(a, spd)]!, -1);
      for (let a = st.to; a < LA; a++) addSlot(s, v[a - base]!, f[a - base]!, table[keyOf(a, spd)]!, 1);
    } else st.resum(store, m, table, wfA, LA);
    st.from = wfA;
    st.to = LA;

    // Zero runs and decreases from the window start on (the scan restarts there after a jump).
    const min = this.cfg.stoppedMinSlots;
    if (st.scanned < wfA || st.scanned > LA) st.rescan(wfA);
    for (let a = st.scanned; a < LA; a++) {
      const fl = f[a - base]!;
      if (zeroSlot(v[a - base]!, fl)) {
        if (st.runStart < 0) st.runStart = a;
      } else if (st.runStart >= 0) {
        if (a - st.runStart >= min) st.runs.push(st.runStart, a);
        st.runStart = -1;
      }
      if ((fl & FLAG.decrease) !== 0) st.lastDecrease = a;
    }
    st.scanned = LA;
    if (st.runs.length > 0) st.prune(wfA, min);
    if (w.scanFrom === w.windowFrom) {
      s.longZeroRun = (st.runStart >= 0 && LA - Math.max(st.runStart, wfA) >= min) || st.runs.length > 0;
      s.decrease = st.lastDecrease >= wfA;
    } else {
      // Another scan range (scanAll): scanned afresh.
      const r = scanRuns(v, f, w.scanFrom, L, min);
      s.longZeroRun = r.longZeroRun;
      s.decrease = r.decrease;
    }

    // Expected values: a function of the profile and the calendar, filled ahead a day or two.
    const expFromA = base + Math.min(w.scanFrom, w.windowFrom);
    if (st.expTable !== table || st.expOrigin > expFromA || st.expOrigin + st.exp.length < LA)
      st.refill(table, expFromA, LA, spd);
    s.expected = st.exp.subarray(expFromA - st.expOrigin, LA - st.expOrigin);
    st.out.baseline = baseline;
    return st.out;
  }
}

function emptyWindow(): MeterWindow {
  return {
    n: 0,
    sx: 0,
    se: 0,
    sxx: 0,
    see: 0,
    sxe: 0,
    zeros: 0,
    relayOpen: 0,
    gaps: 0,
    longZeroRun: false,
    decrease: false,
    expected: new Float32Array(0),
  };
}

/** Adds (sign 1) or takes out (−1) one slot of the window sums. */
function addSlot(s: MeterWindow, x: number, fl: number, e: number, sign: 1 | -1): void {
  if ((fl & FLAG.relayOpen) !== 0) s.relayOpen += sign;
  else if (x !== x) s.gaps += sign;
  else {
    s.n += sign;
    s.sx += sign * x;
    s.se += sign * e;
    s.sxx += sign * x * x;
    s.see += sign * e * e;
    s.sxe += sign * x * e;
    if (x <= EPS) s.zeros += sign;
  }
}

/**
 * Anomalies of every meter in the store. `perMeter` gives a meter's baseline and window pass
 * (incremental mode keeps them between evaluations); by default both are computed afresh, the
 * baseline over [baselineFrom, windowFrom).
 */
export function meterAnomalies(
  store: SlotStore,
  w: AnomalyWindows,
  cfg: AnomalyConfig,
  perMeter?: (m: number, cal: Calendar) => { baseline: MeterBaseline; window: MeterWindow },
  /**
   * The live engine's objects of the last evaluation, rewritten in place (every field): 5,000
   * new objects an hour lived until the next hour, long enough to be promoted, and were most of
   * what made the major collections come. The result of the last evaluation is then this one.
   */
  reuse?: MeterAnomaly[],
): MeterAnomaly[] {
  const top = store.topology;
  const spd = store.slotsPerDay;
  const L = store.length;
  const expFrom = Math.min(w.scanFrom, w.windowFrom);
  const habitsFrom = Math.min(w.baselineFrom, w.scanFrom);
  const out: MeterAnomaly[] = reuse ?? [];
  const cal = calendar(store, habitsFrom);
  for (let m = 0; m < top.ids.length; m++) {
    let base: MeterBaseline;
    let win: MeterWindow;
    if (perMeter) ({ baseline: base, window: win } = perMeter(m, cal));
    else {
      base = meterBaseline(store, m, w.baselineFrom, w.windowFrom, cal);
      win = meterWindow(store, m, base.table, w, cal, cfg);
    }
    const bN = base.n;
    const judged = bN >= spd && win.n >= Math.min(spd, (L - w.windowFrom) / 2) && base.se > EPS;
    // Stopped and backwards runs: looked for only where a long zero run or a decrease is at all.
    const stopped =
      top.kind[m] === 'heat' || !win.longZeroRun
        ? []
        : stoppedRuns(store, m, w.scanFrom, habitsFrom, cal.sodOf, cfg);
    const ratio = judged && win.se > EPS ? win.sx / win.se : Number.NaN;
    const corrWindow = correlationOf(win.n, win.sx, win.se, win.sxx, win.see, win.sxe);
    const zeroShare = win.n > 0 ? win.zeros / win.n : 0;
    const zeroShareBaseline = bN > 0 ? base.zeros / bN : 0;
    const backwards = win.decrease ? backwardsRuns(store, m, w.scanFrom, cfg) : [];
    const a = out[m];
    if (a === undefined || a.meter !== m)
      out[m] = {
        meter: m,
        id: top.ids[m]!,
        ratio,
        peerRatio: Number.NaN,
        corrWindow,
        corrBaseline: base.corr,
        zeroShare,
        zeroShareBaseline,
        score: 0,
        features: { drop: 0, shape: 0, zeros: 0 },
        expected: win.expected,
        expectedFrom: expFrom,
        stopped,
        backwards,
        relayOpenSlots: win.relayOpen,
        gapSlots: win.gaps,
        judged,
      };
    else {
      // Every field, as the literal above.
      a.id = top.ids[m]!;
      a.ratio = ratio;
      a.peerRatio = Number.NaN;
      a.corrWindow = corrWindow;
      a.corrBaseline = base.corr;
      a.zeroShare = zeroShare;
      a.zeroShareBaseline = zeroShareBaseline;
      a.score = 0;
      a.features.drop = 0;
      a.features.shape = 0;
      a.features.zeros = 0;
      a.expected = win.expected;
      a.expectedFrom = expFrom;
      a.stopped = stopped;
      a.backwards = backwards;
      a.relayOpenSlots = win.relayOpen;
      a.gapSlots = win.gaps;
      a.judged = judged;
    }
  }
  out.length = top.ids.length;

  // Peer adjustment: siblings of the same kind (or all meters of the kind without a parent).
  const { groups, byKind } = peerGroups(top);
  // Reference values per peer list (small groups share their kind's list).
  const refs = new Map<readonly number[], { refRatio: number; refShape: number; refZero: number }>();
  const refsOf = (peers: readonly number[]) => {
    let r = refs.get(peers);
    if (r) return r;
    const ratios: number[] = [];
    const drops: number[] = [];
    const zs: number[] = [];
    for (const i of peers) {
      const a = out[i]!;
      if (!a.judged) continue;
      if (a.ratio === a.ratio) ratios.push(a.ratio);
      if (a.corrWindow === a.corrWindow && a.corrBaseline === a.corrBaseline)
        drops.push(a.corrBaseline - a.corrWindow);
      zs.push(a.zeroShare - a.zeroShareBaseline);
    }
    r = {
      refRatio: ratios.length >= 3 ? median(ratios) : 1,
      refShape: drops.length >= 3 ? median(drops) : 0,
      refZero: zs.length >= 3 ? median(zs) : 0,
    };
    refs.set(peers, r);
    return r;
  };
  for (const [key, members] of groups) {
    const peers = members.length >= 4 ? members : (byKind.get(key.split(':')[0]!) ?? members);
    const { refRatio, refShape, refZero } = refsOf(peers);
    const list = members.map((i) => out[i]!);
    for (const a of list) {
      if (!a.judged) continue;
      a.peerRatio = a.ratio / (refRatio > EPS ? refRatio : 1);
      const drop = -Math.log(clamp(a.peerRatio, 0.01, 100));
      const shapeDrop =
        a.corrWindow === a.corrWindow && a.corrBaseline === a.corrBaseline
          ? a.corrBaseline - a.corrWindow - refShape
          : 0;
      const zero = a.zeroShare - a.zeroShareBaseline - refZero;
      a.features.drop = drop / 0.25;
      a.features.shape = shapeDrop / 0.2;
      a.features.zeros = zero / 0.08;
      a.score = Math.max(0, a.features.drop, a.features.shape, a.features.zeros);
    }
  }
  return out;
}

const peerGroupsOf = new WeakMap<
  Topology,
  { groups: Map<string, number[]>; byKind: Map<string, number[]> }
>();

/** Meters by (kind, parent), and by kind, in meter order (kept per topology). */
function peerGroups(top: Topology): { groups: Map<string, number[]>; byKind: Map<string, number[]> } {
  let g = peerGroupsOf.get(top);
  if (g) return g;
  const groups = new Map<string, number[]>();
  const byKind = new Map<string, number[]>();
  for (let m = 0; m < top.ids.length; m++) {
    const key = `${top.kind[m]}:${top.parent[m]}`;
    const list = groups.get(key) ?? [];
    list.push(m);
    groups.set(key, list);
    const kind = byKind.get(top.kind[m]!) ?? [];
    kind.push(m);
    byKind.set(top.kind[m]!, kind);
  }
  g = { groups, byKind };
  peerGroupsOf.set(top, g);
  return g;
}

/** A slot that counts towards a stop: a zero reading, relay closed, no error, no decrease. */
const zeroSlot = (x: number, flags: number): boolean =>
  x === x && Math.abs(x) <= EPS && (flags & (FLAG.relayOpen | FLAG.error | FLAG.decrease)) === 0;

/**
 * Runs of zero slots from `from` on that are improbable under the meter's zero habits per slot of
 * day (from all its valid slots since `habitsFrom`). Called only where a long enough run is.
 */
function stoppedRuns(
  store: SlotStore,
  m: number,
  from: number,
  habitsFrom: number,
  sodOf: Uint16Array,
  cfg: AnomalyConfig,
): Run[] {
  const v = store.values[m]!;
  const f = store.flags[m]!;
  const L = store.length;
  // Zero habits per hour of day from all the meter's valid slots (a stop itself is a small part).
  const spd = store.slotsPerDay;
  const zeros = new Float64Array(spd);
  const zcnt = new Float64Array(spd);
  for (let k = habitsFrom; k < L; k++) {
    const x = v[k]!;
    if (x !== x || (f[k]! & FLAG.relayOpen) !== 0) continue;
    const j = sodOf[k]!;
    zcnt[j] = zcnt[j]! + 1;
    if (x <= EPS) zeros[j] = zeros[j]! + 1;
  }
  const parent = store.topology.parent[m]!;
  const pv = parent >= 0 ? store.values[parent]! : undefined;
  const logP = new Float64Array(zeros.length);
  for (let j = 0; j < zeros.length; j++)
    logP[j] = Math.log(Math.max(cfg.zeroFloor, zcnt[j]! > 0 ? zeros[j]! / zcnt[j]! : 1));
  const out: Run[] = [];
  let first = -1;
  let lp = 0;
  let parentUse = 0;
  const close = (end: number) => {
    if (first >= 0 && end - first >= cfg.stoppedMinSlots && lp <= cfg.stoppedMaxLogProb) {
      // Upstream consuming through the run: the supply was there, the meter did not count.
      if (pv === undefined || parentUse > EPS)
        out.push({ first, end, from: store.slotStart(first), to: store.slotStart(end), amount: 0 });
    }
    first = -1;
    lp = 0;
    parentUse = 0;
  };
  for (let k = from; k < L; k++) {
    if (!zeroSlot(v[k]!, f[k]!)) {
      close(k);
      continue;
    }
    if (first < 0) first = k;
    lp += logP[store.slotOfDay(k)]!;
    const p = pv?.[k];
    if (p !== undefined && p === p) parentUse += p;
  }
  close(L);
  return out;
}

function backwardsRuns(store: SlotStore, m: number, from: number, cfg: AnomalyConfig): Run[] {
  const v = store.values[m]!;
  const f = store.flags[m]!;
  const out: Run[] = [];
  let cur: Run | undefined;
  for (let k = from; k < store.length; k++) {
    const back = (f[k]! & FLAG.decrease) !== 0;
    if (back) {
      const x = v[k]!;
      const amount = x === x && x < 0 ? -x : 0;
      // Runs separated by a slot or two are one episode.
      if (cur && k - cur.end <= 2) {
        cur.end = k + 1;
        cur.amount += amount;
      } else {
        if (cur) out.push(cur);
        cur = { first: k, end: k + 1, from: 0, to: 0, amount };
      }
    }
  }
  if (cur) out.push(cur);
  return out
    .filter((r) => r.amount >= cfg.backwardsMin || r.end - r.first >= 2)
    .map((r) => ({ ...r, from: store.slotStart(r.first), to: store.slotStart(r.end) }));
}

/** Findings of one meter: backwards, stopped, and a marked drop or shape change. */
export function anomalyFindings(
  a: MeterAnomaly,
  store: SlotStore,
  w: AnomalyWindows,
  cfg: AnomalyConfig,
  unit: string,
): Finding[] {
  const out: Finding[] = [];
  for (const r of a.backwards) {
    out.push({
      type: 'meter-backwards',
      key: `meter-backwards:${a.id}:${r.from}`,
      severity: 'high',
      meter: a.id,
      score: 3 + Math.min(2, r.amount),
      since: r.from,
      reason: `register of ${a.id} decreased by ${r.amount.toFixed(2)} ${unit} without a rollover (running backwards)`,
      evidence: { from: r.from, to: r.to, figures: { decrease: round(r.amount), slots: r.end - r.first } },
    });
  }
  for (const r of a.stopped) {
    out.push({
      type: 'meter-stopped',
      key: `meter-stopped:${a.id}:${r.from}`,
      severity: 'high',
      meter: a.id,
      score: 2.5 + Math.min(2, (r.end - r.first) / store.slotsPerDay),
      since: r.from,
      reason:
        `${a.id} registered nothing for ${r.end - r.first} slots with its relay closed, no error readings ` +
        'and its upstream meter consuming: stopped or bypassed meter',
      evidence: { from: r.from, to: r.to, figures: { slots: r.end - r.first } },
    });
  }
  if (a.judged && a.score >= cfg.dropAlert && a.stopped.length === 0 && a.backwards.length === 0) {
    const f = a.features;
    const what =
      f.drop >= f.shape && f.drop >= f.zeros
        ? `consumption ${(100 * (1 - a.peerRatio)).toFixed(0)} % below its own baseline (peer-adjusted)`
        : f.shape >= f.zeros
          ? `daily shape no longer follows its baseline (correlation ${a.corrBaseline.toFixed(2)} → ${a.corrWindow.toFixed(2)})`
          : `zero consumption in ${(100 * a.zeroShare).toFixed(0)} % of slots (baseline ${(100 * a.zeroShareBaseline).toFixed(0)} %)`;
    const from = store.slotStart(w.windowFrom);
    out.push({
      type: 'meter-drop',
      key: `meter-drop:${a.id}`,
      severity: a.score >= 2 * cfg.dropAlert ? 'medium' : 'low',
      meter: a.id,
      score: a.score / 3,
      since: from,
      reason: `${a.id}: ${what}`,
      evidence: {
        from,
        to: store.slotStart(store.length),
        figures: {
          ratio: round(a.ratio),
          peerRatio: round(a.peerRatio),
          corrBaseline: round(a.corrBaseline),
          corrWindow: round(a.corrWindow),
          zeroShare: round(a.zeroShare),
          drop: round(f.drop),
          shape: round(f.shape),
          zeros: round(f.zeros),
        },
      },
    });
  }
  return out;
}

const round = (x: number): number => Math.round(x * 1e4) / 1e4;
