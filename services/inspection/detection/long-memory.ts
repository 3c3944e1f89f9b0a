import { FLAG, clamp, median, type SlotStore } from './series.ts';
import { IncrementalPeerMedians } from './peer-medians-incremental.ts';
import type { Days, MeterDaily } from './long-memory-types.ts';

export type { Days, MeterDaily };

/**
 * Long-memory step test of every meter: has the meter, against its peer buildings, dropped (level)
 * or changed its daily shape at some day in the last `maxOnsetDays`, and stayed so since?
 *
 * A theft is a lasting change that starts one day and that the peers do not share; the evaluation
 * window's 28-day baseline absorbs any theft older than a month. Here, per local day d:
 *
 *   level(d) = log X(d) − typical(day type) − median over the peer group of the same
 *   shape(d)  = 1 − corr(day d's slots, the meter's profile of that day type before the scan),
 *               minus the peers' median of the same
 *
 *   year(d)   = level(d) minus the same weekdays a year before (a building's own seasons), minus
 *               the peers' median of the same; the level test takes whichever of the two is surer
 *
 * (X: the meter's daily energy; peers: its siblings under the same parent meter, or every meter of
 * the kind when there are fewer than four siblings; so a vacation, a cold spell or the seasons move
 * everybody and nobody). For every candidate onset t the mean after t is compared with the
 * `referenceDays` before t, in units of the reference's own spread; the meter's statistic is the
 * largest over t, and that t is the onset reported. Only days with every slot known count.
 */

export interface LongMemoryConfig {
  /** Candidate onsets from this many days back… */
  maxOnsetDays: number;
  /** …to this many days back (a shorter run is the evaluation window's business). */
  minOnsetDays: number;
  /** Days before each candidate onset that make its reference. */
  referenceDays: number;
  /** Fewer reference days than this: no statistic. */
  minReferenceDays: number;
  /** Neighbouring days are not independent (weather, weeks): effective days = days / this. */
  dependence: number;
}

export const DEFAULT_LONG_MEMORY: LongMemoryConfig = {
  maxOnsetDays: 150,
  minOnsetDays: 3,
  referenceDays: 56,
  minReferenceDays: 21,
  dependence: 2,
};

export interface StepTest {
  /** Standardised step of the statistic (≥ 0; larger: more suspicious). */
  stat: number;
  /** First day (store slot of its start) of the changed period. */
  onsetSlot: number;
  /** Mean of the series after the onset minus the reference mean (level: log ratio; shape: 1 − corr). */
  shift: number;
  /** Days after the onset and in the reference. */
  after: number;
  reference: number;
}

/**
 * Which daily shape statistic moved: the correlation with its own profile, where in the day the
 * energy goes (centroid), how much the hours differ at all (Jokar h5: flattened to the day's mean)
 * or which way the day runs (Jokar h6: reversed in time).
 */
export type ShapeKind = 'profile' | 'centroid' | 'flattened' | 'reversed';

/** The meter's own value of the shape statistic (not peer-adjusted), before the onset and since. */
export interface ShapeSeen {
  /** flattened: the day's hourly spread / its mean; reversed: corr(profile) − corr(reversed). */
  before: number;
  since: number;
}

export interface LongMemory {
  meter: number;
  level: StepTest | undefined;
  shape: StepTest | undefined;
  shapeKind?: ShapeKind;
  shapeSeen?: ShapeSeen;
  /** The larger of the two statistics (0 without enough days). */
  stat: number;
  /** Energy expected since the level onset (from the reference ratio to peers) and seen. */
  expectedSince: number;
  seenSince: number;
}

const EPS = 1e-9;

/** A drop test's result only if its shift reaches `atMost` (a negative size), else undefined. */
function sizeable<T extends { shift: number }>(t: T | undefined, atMost: number): T | undefined {
  return t && t.shift <= atMost ? t : undefined;
}

/** Mean of the known values of ys over [from, to) (NaN if none). */
function meanOf(ys: Float64Array, from: number, to: number): number {
  let s = 0;
  let n = 0;
  for (let d = from; d < to; d++) {
    const y = ys[d]!;
    if (y === y) {
      s += y;
      n++;
    }
  }
  return n > 0 ? s / n : Number.NaN;
}

/**
 * The store's slots as they will stand: from its slot `shift` on (the slots before it dropped),
 * `length` slots (the slot in progress closed). The work done ahead asks for the store after the
 * next slot closes; everything else for the store as it is.
 */
interface Span {
  shift: number;
  length: number;
}

/** Whole local days of the store (or of a span of it): [first slot, day count), from the span's first slot. */
function wholeDays(store: SlotStore, span: Span): { k0: number; days: number } {
  const spd = store.slotsPerDay;
  const k0 = (spd - store.slotOfDay(span.shift)) % spd;
  return { k0, days: Math.max(0, Math.floor((span.length - k0) / spd)) };
}

/** Peer groups: siblings of the same kind when at least four, else all meters of the kind. */
function peerGroups(store: SlotStore): number[][] {
  const top = store.topology;
  const sib = new Map<string, number[]>();
  const kind = new Map<string, number[]>();
  for (let m = 0; m < top.ids.length; m++) {
    const k = `${top.kind[m]}:${top.parent[m]}`;
    (sib.get(k) ?? sib.set(k, []).get(k)!).push(m);
    (kind.get(top.kind[m]!) ?? kind.set(top.kind[m]!, []).get(top.kind[m]!)!).push(m);
  }
  const out: number[][] = top.ids.map(() => []);
  for (const [k, members] of sib) {
    const peers = members.length >= 4 ? members : kind.get(k.split(':')[0]!)!;
    for (const m of members) out[m] = peers;
  }
  return out;
}

/**
 * The prefix sums of stepTest, reused: the live engine runs seven tests for each of ~200 meters
 * an hour, and three new arrays a test (buffers outside the heap, which hasten the collections)
 * only lived for the test. Every entry read is written first.
 */
let prefix = { c: new Float64Array(0), c2: new Float64Array(0), n: new Float64Array(0) };
function prefixScratch(size: number): { c: Float64Array; c2: Float64Array; n: Float64Array } {
  if (prefix.c.length < size) {
    const cap = Math.max(size, 2 * prefix.c.length);
    prefix = { c: new Float64Array(cap), c2: new Float64Array(cap), n: new Float64Array(cap) };
  }
  return prefix;
}

/**
 * Largest standardised step in ys over candidate onsets [tFrom, tTo] (sign −1: a drop counts,
 * +1: a rise), each against the `ref` days before it. Winsorised so one odd day cannot decide.
 */
export function stepTest(
  ys: Float64Array,
  tFrom: number,
  tTo: number,
  sign: 1 | -1,
  cfg: LongMemoryConfig,
  clip: number,
): (Omit<StepTest, 'onsetSlot'> & { t: number }) | undefined {
  const D = ys.length;
  const { c, c2, n } = prefixScratch(D + 1);
  c[0] = 0;
  c2[0] = 0;
  n[0] = 0;
  for (let d = 0; d < D; d++) {
    const y = ys[d]!;
    const ok = y === y;
    const v = ok ? clamp(y, -clip, clip) : 0;
    c[d + 1] = c[d]! + v;
    c2[d + 1] = c2[d]! + v * v;
    n[d + 1] = n[d]! + (ok ? 1 : 0);
  }
  // The best so far in locals, its object made once at the end (one per better onset was most
  // of what the hour's tests allocated).
  let bestStat = 0;
  let bestT = -1;
  let bestShift = 0;
  let bestAfter = 0;
  let bestReference = 0;
  for (let t = Math.max(1, tFrom); t <= Math.min(D - 1, tTo); t++) {
    const r0 = Math.max(0, t - cfg.referenceDays);
    const nr = n[t]! - n[r0]!;
    const na = n[D]! - n[t]!;
    if (nr < cfg.minReferenceDays || na < 1) continue;
    const mr = (c[t]! - c[r0]!) / nr;
    const vr = Math.max((c2[t]! - c2[r0]!) / nr - mr * mr, EPS);
    const ma = (c[D]! - c[t]!) / na;
    const k = cfg.dependence;
    const se = Math.sqrt(vr * (k / Math.max(1, na) + k / nr) + (0.02 * clip) ** 2);
    const stat = (sign * (ma - mr)) / se;
    if (bestT < 0 || stat > bestStat) {
      bestStat = stat;
      bestT = t;
      bestShift = ma - mr;
      bestAfter = na;
      bestReference = nr;
    }
  }
  return bestT < 0
    ? undefined
    : { stat: bestStat, t: bestT, shift: bestShift, after: bestAfter, reference: bestReference };
}

/**
 * The same days, their first slot `by` slots later in the arrays: made like daysOf's (a copy by
 * spread had another hidden class, and meterDaily, fed it in the hour before a drop, fell back
 * to unoptimised code: 94 KB of boxed numbers per meter instead of 5).
 */
function shifted(days: Days, by: number): Days {
  return {
    k0: days.k0 + by,
    D: days.D,
    firstDay: days.firstDay,
    weekend: days.weekend,
    tFrom: days.tFrom,
    tTo: days.tTo,
    refStart: days.refStart,
    refEnd: days.refEnd,
  };
}

function daysOf(
  store: SlotStore,
  cfg: LongMemoryConfig,
  span: Span = { shift: 0, length: store.length },
): Days {
  const spd = store.slotsPerDay;
  const { k0, days: D } = wholeDays(store, span);
  const weekend = new Uint8Array(D);
  for (let d = 0; d < D; d++) {
    const wd = store.weekdayOf(span.shift + k0 + d * spd);
    weekend[d] = wd === 0 || wd === 6 ? 1 : 0;
  }
  const tFrom = D - cfg.maxOnsetDays;
  // The shape reference: the days before any candidate onset (or the first half, if too few).
  const refEnd = tFrom >= cfg.minReferenceDays ? tFrom : Math.floor(D / 2);
  return {
    k0,
    D,
    firstDay: store.dayOf(span.shift + k0),
    weekend,
    tFrom,
    tTo: D - cfg.minOnsetDays,
    refStart: Math.max(0, refEnd - 2 * cfg.referenceDays),
    refEnd,
  };
}

function meterDaily(store: SlotStore, m: number, days: Days): MeterDaily {
  const { k0, D, weekend, refStart, refEnd } = days;
  const spd = store.slotsPerDay;
  const v = store.values[m]!;
  const f = store.flags[m]!;
  const X = new Float64Array(D).fill(Number.NaN);
  // Profile per day type over the reference days (sums per slot of day).
  const prof = new Float64Array(2 * spd);
  for (let d = 0; d < D; d++) {
    let s = 0;
    let ok = true;
    const k1 = k0 + d * spd;
    for (let k = k1; k < k1 + spd; k++) {
      const x = v[k]!;
      if (x !== x || (f[k]! & (FLAG.relayOpen | FLAG.decrease)) !== 0) {
        ok = false;
        break;
      }
      s += x;
    }
    if (!ok) continue;
    X[d] = s;
    if (d >= refStart && d < refEnd)
      for (let j = 0; j < spd; j++) prof[weekend[d]! * spd + j] = prof[weekend[d]! * spd + j]! + v[k1 + j]!;
  }
  // log level, centred per day type on the meter's own median.
  const L = new Float64Array(D).fill(Number.NaN);
  for (const w of [0, 1]) {
    const logs: number[] = [];
    for (let d = 0; d < D; d++) if (weekend[d] === w && X[d]! > EPS) logs.push(Math.log(X[d]!));
    const mid = logs.length > 0 ? median(logs) : 0;
    for (let d = 0; d < D; d++) if (weekend[d] === w && X[d]! > EPS) L[d] = Math.log(X[d]!) - mid;
  }
  // 1 − correlation of each day with the profile of its type; and where in the day the energy
  // goes (its centroid, in days): a reversed or shifted day moves it even where the profile's
  // correlation hardly changes.
  const S = new Float64Array(D).fill(Number.NaN);
  const C = new Float64Array(D).fill(Number.NaN);
  const V = new Float64Array(D).fill(Number.NaN);
  const R = new Float64Array(D).fill(Number.NaN);
  for (let d = 0; d < D; d++) {
    if (X[d]! !== X[d]!) continue;
    const p = weekend[d]! * spd;
    const k1 = k0 + d * spd;
    let sx = 0;
    let sp = 0;
    let sxx = 0;
    let spp = 0;
    let sxp = 0;
    let sxr = 0;
    let sh = 0;
    for (let j = 0; j < spd; j++) {
      const x = v[k1 + j]!;
      const q = prof[p + j]!;
      sx += x;
      sp += q;
      sxx += x * x;
      spp += q * q;
      sxp += x * q;
      sxr += x * prof[p + spd - 1 - j]!;
      sh += j * x;
    }
    if (X[d]! > EPS) C[d] = sh / X[d]! / spd;
    const cxx = sxx - (sx * sx) / spd;
    const cpp = spp - (sp * sp) / spd;
    const cxp = sxp - (sx * sp) / spd;
    const cxr = sxr - (sx * sp) / spd;
    // Jokar h5 reports the day's mean at every hour: the day keeps its energy and loses its shape,
    // so its hourly spread against its mean collapses to the meter's noise (floored: log 0).
    if (sx > EPS) V[d] = Math.log(Math.max(Math.sqrt(Math.max(cxx, 0) / spd) / (sx / spd), 1e-4));
    if (cpp <= EPS) continue;
    const flat = cxx <= EPS * Math.max(1, sx * sx);
    // A flat day (no variance) follows no profile: correlation 0.
    S[d] = 1 - (flat ? 0 : cxp / Math.sqrt(cxx * cpp));
    // Jokar h6 reverses the day: its correlation with the profile and with the profile run
    // backwards swap, so this difference changes sign (for an asymmetric day, whatever its level).
    R[d] = flat ? 0 : (cxp - cxr) / Math.sqrt(cxx * cpp);
  }
  // The spread, like the level, centred on the meter's own median: a building of flat days (a
  // data centre) sits far below its peers, and only its own change is the question.
  const vs: number[] = [];
  for (let d = 0; d < D; d++) if (V[d] === V[d]) vs.push(V[d]!);
  const vMid = vs.length > 0 ? median(vs) : 0;
  for (let d = 0; d < D; d++) V[d] = V[d]! - vMid;
  return { firstDay: days.firstDay, X, L, S, C, V, vMid, R, Y: yearOnYear(L) };
}

/**
 * Each day's log level minus the mean of the same weekday 51, 52 and 53 weeks before (at least two
 * of them known). A building's seasons are its own (a laboratory's summer is not a lecture hall's,
 * a building with electric heaters rises every autumn), so the peers' median cannot remove them;
 * last year's same weeks can. A theft is then a drop against last year that the peers do not share.
 */
function yearOnYear(L: Float64Array): Float64Array {
  const Y = new Float64Array(L.length).fill(Number.NaN);
  for (let d = 371; d < L.length; d++) {
    const y = L[d]!;
    if (y !== y) continue;
    let s = 0;
    let n = 0;
    for (const back of [357, 364, 371]) {
      const x = L[d - back]!;
      if (x === x) {
        s += x;
        n++;
      }
    }
    if (n >= 2) Y[d] = y - s / n;
  }
  return Y;
}

const groupsOf = new WeakMap<SlotStore['topology'], number[][]>();

/** The peer groups of a topology, kept (the same arrays each call: they key the medians). */
function cachedPeerGroups(store: SlotStore): number[][] {
  let g = groupsOf.get(store.topology);
  if (!g) groupsOf.set(store.topology, (g = peerGroups(store)));
  return g;
}

/**
 * Per day of `days`, the median of a feature over the members that have that (absolute) day.
 * Typed arrays and an in-place insertion sort of the day's few values: every group's medians are
 * refreshed in the same hour of the day (when the day turns), 200 groups × 6 features × the
 * retained days, and a comparator sort of a fresh number[] per day took most of that hour's time.
 * The values are those of a full sort (the same middle elements, the same mean of two).
 */
export function groupMedian(
  members: readonly (MeterDaily | undefined)[],
  days: Days,
  key: keyof Med,
): Float64Array {
  const med = new Float64Array(days.D);
  const cols: Float64Array[] = [];
  const offs: number[] = [];
  for (const p of members) {
    if (!p) continue;
    cols.push(p[key]);
    offs.push(days.firstDay - p.firstDay);
  }
  const tmp = new Float64Array(cols.length);
  for (let d = 0; d < days.D; d++) {
    let n = 0;
    for (let j = 0; j < cols.length; j++) {
      const col = cols[j]!;
      const i = d + offs[j]!;
      const y = i >= 0 && i < col.length ? col[i]! : Number.NaN;
      if (y === y) tmp[n++] = y;
    }
    // Fewer than three peers with the day (gaps; or, in incremental mode, peers not yet
    // refreshed since it completed): the day cannot be judged against them and is left out.
    med[d] = n >= 3 ? medianOfFirst(tmp, n) : Number.NaN;
  }
  return med;
}

/** Median of xs[0, n) (no NaN), reordering them: insertion sort for a peer group, else selection. */
function medianOfFirst(xs: Float64Array, n: number): number {
  if (n > 32) return median(xs.subarray(0, n));
  for (let i = 1; i < n; i++) {
    const x = xs[i]!;
    let j = i - 1;
    while (j >= 0 && xs[j]! > x) {
      xs[j + 1] = xs[j]!;
      j--;
    }
    xs[j + 1] = x;
  }
  const h = n >> 1;
  return n % 2 ? xs[h]! : (xs[h - 1]! + xs[h]!) / 2;
}

/** testsOf's feature-minus-median buffers (two), as long as the days asked for. */
const diffs = [new Float64Array(0), new Float64Array(0)];
function diffScratch(i: number, length: number): Float64Array {
  if (diffs[i]!.length < length) diffs[i] = new Float64Array(Math.max(length, 2 * diffs[i]!.length));
  return diffs[i]!.subarray(0, length);
}

/** The peer group's median of each daily feature. */
type Med = Record<'L' | 'S' | 'C' | 'V' | 'R' | 'Y', Float64Array>;

function testsOf(
  m: number,
  own: MeterDaily,
  med: Med,
  days: Days,
  spd: number,
  cfg: LongMemoryConfig,
): LongMemory {
  const { tFrom, tTo, k0, D } = days;
  // A plain loop (a map with a closure per feature and meter showed in the live engine's profile),
  // into one of two buffers kept between calls (each difference is read by the tests right after,
  // the centroid's by two of them: it has the second).
  const minus = (s: Float64Array, md: Float64Array, buffer = 0) => {
    const out = diffScratch(buffer, s.length);
    for (let d = 0; d < s.length; d++) out[d] = s[d]! - md[d]!;
    return out;
  };
  const l0 = stepTest(minus(own.L, med.L), tFrom, tTo, -1, cfg, 2);
  const ly = stepTest(minus(own.Y, med.Y), tFrom, tTo, -1, cfg, 2);
  // Level: against the peers, or against the peers and last year's same weeks, whichever is surer.
  const l = ly && (!l0 || ly.stat > l0.stat) ? ly : l0;
  const ce = minus(own.C, med.C, 1);
  const s0 = stepTest(minus(own.S, med.S), tFrom, tTo, 1, cfg, 1);
  const cUp = stepTest(ce, tFrom, tTo, 1, cfg, 0.5);
  const cDown = stepTest(ce, tFrom, tTo, -1, cfg, 0.5);
  // These two from a week back only: a day's spread and direction wander more from day to day
  // than its correlation, so over the last few days the max over onsets is mostly noise (and the
  // live engine, whose peers' medians are up to a day old, would disagree with a fresh run); the
  // window's own shape test judges the last week.
  const tLate = Math.max(tFrom, tTo - 4);
  // Each counts only at a size the attack has: a flattened day keeps at most half its hours'
  // spread (the rest is the meter's noise), a reversed one turns its direction by a visible step;
  // below that the max over onsets of a wandering statistic is only noise.
  const flat = sizeable(stepTest(minus(own.V, med.V), tFrom, tLate, -1, cfg, 3), Math.log(0.5));
  const mirror = sizeable(stepTest(minus(own.R, med.R), tFrom, tLate, -1, cfg, 1), -0.1);
  // Shape: the profile's correlation, the day's centroid, its spread or its direction, whichever
  // moved most.
  const kinds = [
    { t: s0, kind: 'profile' },
    { t: cUp, kind: 'centroid' },
    { t: cDown, kind: 'centroid' },
    { t: flat, kind: 'flattened' },
    { t: mirror, kind: 'reversed' },
  ] as const;
  const top = kinds.reduce<(typeof kinds)[number] | undefined>(
    (a, b) => (b.t && (!a || b.t.stat > a.t!.stat) ? b : a),
    undefined,
  );
  const s = top?.t;
  // What the inspector can check for the two statistics that say what happened to the day.
  const seen = (ys: Float64Array, t: number): ShapeSeen => ({
    before: meanOf(ys, Math.max(0, t - cfg.referenceDays), t),
    since: meanOf(ys, t, D),
  });
  // A flattened or reversed day also moves the profile's correlation (often more, on a day shaped
  // like a block): it is named by what happened to it when that statistic moved nearly as much
  // and says so plainly (the hours' spread halved; the day's direction changed sign).
  const near = (t: typeof s) => t !== undefined && s !== undefined && t.stat >= 0.5 * s.stat;
  const flatSeen = near(flat) ? seen(own.V, flat!.t) : undefined;
  const mirrorSeen = near(mirror) ? seen(own.R, mirror!.t) : undefined;
  let shapeKind: ShapeKind | undefined = top?.kind;
  let shapeSeen: ShapeSeen | undefined;
  if (flatSeen && flatSeen.since < flatSeen.before + Math.log(0.5)) {
    shapeKind = 'flattened';
    shapeSeen = { before: Math.exp(flatSeen.before + own.vMid), since: Math.exp(flatSeen.since + own.vMid) };
  } else if (mirrorSeen && mirrorSeen.since < 0 && mirrorSeen.before > 0) {
    shapeKind = 'reversed';
    shapeSeen = mirrorSeen;
  }
  const asStep = (x: typeof l): StepTest | undefined =>
    x && {
      stat: Math.max(0, x.stat),
      onsetSlot: k0 + x.t * spd,
      shift: x.shift,
      after: x.after,
      reference: x.reference,
    };
  let expectedSince = 0;
  let seenSince = 0;
  if (l) {
    const keep = Math.exp(l.shift);
    for (let d = l.t; d < D; d++) {
      const x = own.X[d]!;
      if (x !== x) continue;
      seenSince += x;
      expectedSince += x / Math.max(keep, EPS);
    }
  }
  const level = asStep(l);
  const shapeT = asStep(s);
  return {
    meter: m,
    level,
    shape: shapeT,
    ...(s && shapeKind ? { shapeKind } : {}),
    ...(shapeSeen ? { shapeSeen } : {}),
    stat: Math.max(level?.stat ?? 0, shapeT?.stat ?? 0),
    expectedSince,
    seenSince,
  };
}

interface AheadItem {
  daily: MeterDaily;
  /** The medians the tests were taken with (undefined: the group's change before the slot closes). */
  med: Med | undefined;
  tests: LongMemory | undefined;
}

interface Ahead {
  /** The newest slot (absolute) once the next slot closes, and the store's first slot then. */
  newest: number;
  base: number;
  cfg: LongMemoryConfig;
  /** The whole days once the next slot closed, and the same days in the arrays as they are now. */
  days: Days;
  here: Days;
  today: number;
  /** The meters due when the next slot closes; the first `done` have their features in items. */
  meters: number[];
  done: number;
  items: Map<number, AheadItem>;
  /** The medians read ahead per group (the kept medians holding every item's features). */
  medians: Map<readonly number[], Med>;
  /** Every item's tests taken (the last step). */
  tested: boolean;
}

/**
 * Prepared ahead per evaluation: the due meters' daily features in this many parts, then their
 * tests (the features of a week's drop and their place in the kept medians were ~100 ms in one
 * idle interval under load; the live service evaluates several times per slot).
 */
const AHEAD_PARTS = 2;

/**
 * What the incremental engine keeps: each meter's daily features and result, recomputed once a
 * local day at the meter's phase (meter m when the newest slot is slot m mod slotsPerDay of its
 * day), so no single evaluation recomputes them all. Onsets are kept as absolute slots.
 */
export class LongMemoryCache {
  private daily: (MeterDaily | undefined)[] = [];
  private results: (LongMemory | undefined)[] = [];
  private at: number[] = [];
  private readonly medians = new Map<
    readonly number[],
    { day: number; firstDay: number; D: number; med: Med }
  >();
  /**
   * The peers' medians kept member by member (peer-medians-incremental.ts), so the hour that
   * wants every group's medians reads them instead of sorting every member's days; undefined:
   * recomputed from the members when wanted (`recomputeMedians`, the exactness tests' reference).
   */
  private readonly peers: Map<readonly number[], IncrementalPeerMedians> | undefined;
  /** The results with onsets in store slots as last returned, and the store's first slot then. */
  private relative: LongMemory[] = [];
  private relativeBase = Number.NaN;
  /** What the kept medians hold per meter (see hold). */
  private readonly held: (MeterDaily | undefined)[] = [];
  /** The groups each meter is a member of (its siblings', and the kind's when a small group uses it). */
  private memberOf: (readonly number[])[][] | undefined;

  constructor(opts: { recomputeMedians?: boolean } = {}) {
    this.peers = opts.recomputeMedians ? undefined : new Map();
  }

  private setDaily(m: number, cur: MeterDaily, groups: readonly (readonly number[])[]): void {
    this.daily[m] = cur;
    this.hold(m, cur, groups);
  }

  /**
   * What the kept medians hold for meter m: its daily features, or those prepared for the next
   * slot (taken into the medians ahead too: they are read only when a slot closes, after every
   * due meter's features are set, and prepared features not taken are put back before that).
   */
  private hold(m: number, cur: MeterDaily | undefined, groups: readonly (readonly number[])[]): void {
    if (!this.peers) return;
    const old = this.held[m];
    if (old === cur) return;
    this.held[m] = cur;
    if (!this.memberOf) {
      const memberOf: (readonly number[])[][] = groups.map(() => []);
      for (const g of new Set(groups)) for (const p of g) memberOf[p]!.push(g);
      this.memberOf = memberOf;
    }
    for (const g of this.memberOf[m]!) {
      let inc = this.peers.get(g);
      if (!inc) this.peers.set(g, (inc = new IncrementalPeerMedians(g.length)));
      inc.replace(old, cur);
    }
  }

  /** Prepared features not taken: the medians hold the meters' own again. */
  private putBack(items: Map<number, AheadItem> | undefined, groups: readonly (readonly number[])[]): void {
    if (items) for (const m of items.keys()) this.hold(m, this.daily[m], groups);
  }

  /**
   * Work done ahead for the slot that closes next (`prepare`, while no slot closes): the daily
   * features of the meters due then, and their tests where the group's medians are already that
   * day's. Taken by `update` only when nothing they rest on moved (see there).
   */
  private ahead: Ahead | undefined;

  /**
   * Idle work, for an evaluation in which no slot closed: the meters due when the next slot
   * closes rest on whole days that are already complete (unless that slot completes a day), so
   * their daily features and tests are what they will be then, and the closing hour only takes
   * them (a quarter or more of its CPU moved to an interval that had nothing to do). Not in the
   * recomputing reference.
   *
   * When the next slot also makes the store drop its oldest week, the features are those of the
   * store after the drop (the same slots, read where they are now): the week's drop was the
   * costliest hour of the week, with nothing done ahead and every due meter's features put into
   * the kept medians three times. Where a group's medians are not yet those days' (the first
   * hour of a day, the drop), they are read ahead too, once every prepared meter is held: the
   * closing hour takes them only if the meters it refreshes are exactly the prepared ones (then
   * the kept medians hold what they held here).
   *
   * Each call does one part (AHEAD_PARTS of the features, then the tests); the closing hour
   * takes what is done and computes the rest.
   */
  prepare(store: SlotStore, cfg: LongMemoryConfig): void {
    if (!this.peers || this.results.length === 0) return;
    const spd = store.slotsPerDay;
    const next = store.base + store.length;
    const drop = store.dropFor(store.length + 1);
    const groups = cachedPeerGroups(store);
    let a = this.ahead;
    if (!a || a.newest !== next || a.base !== store.base + drop || a.cfg !== cfg) {
      this.putBack(a?.items, groups);
      this.ahead = a = undefined;
      // The whole days once the next slot closed (k0 from the first slot kept then), and the
      // same days in the arrays as they are now.
      const days = daysOf(store, cfg, { shift: drop, length: store.length + 1 - drop });
      const here = drop > 0 ? shifted(days, drop) : days;
      // The next slot completes a local day: the days (and the medians) move with it.
      if ((store.length + 1 - drop - days.k0) % spd === 0) return;
      const today = Math.floor(next / spd);
      const meters: number[] = [];
      for (let m = next % spd; m < store.topology.ids.length; m += spd)
        if (this.results[m] && this.at[m] !== today) meters.push(m);
      this.ahead = a = {
        newest: next,
        base: store.base + drop,
        cfg,
        days,
        here,
        today,
        meters,
        done: 0,
        items: new Map(),
        medians: new Map(),
        tested: false,
      };
    }
    if (a.tested) return;
    if (a.done < a.meters.length) {
      const to = Math.min(a.meters.length, a.done + Math.ceil(a.meters.length / AHEAD_PARTS));
      for (; a.done < to; a.done++) {
        const m = a.meters[a.done]!;
        const daily = meterDaily(store, m, a.here);
        a.items.set(m, { daily, med: undefined, tests: undefined });
        this.hold(m, daily, groups);
      }
      return;
    }
    const { days, today } = a;
    for (const [m, item] of a.items) {
      const group = groups[m]!;
      const gm = this.medians.get(group);
      let med =
        gm && gm.day === today && gm.firstDay === days.firstDay && gm.D === days.D
          ? gm.med
          : a.medians.get(group);
      if (!med) a.medians.set(group, (med = this.peers.get(group)!.medians(days)));
      item.med = med;
      item.tests = testsOf(m, item.daily, med, days, spd, cfg);
    }
    a.tested = true;
  }

  update(store: SlotStore, cfg: LongMemoryConfig): LongMemory[] {
    const M = store.topology.ids.length;
    const spd = store.slotsPerDay;
    const newest = store.base + store.length - 1;
    const today = Math.floor(newest / spd);
    const phase = newest % spd;
    const groups = cachedPeerGroups(store);
    let days: Days | undefined;
    // What prepare did for this slot, if the store is where it expected: the same newest slot,
    // the same first slot (no drop), the same whole days, the same configuration.
    const pre = this.ahead;
    this.ahead = undefined;
    const sameStore =
      pre !== undefined && pre.newest === newest && pre.base === store.base && pre.cfg === cfg;
    const due: number[] = [];
    for (let m = 0; m < M; m++) {
      const r = this.results[m];
      // Due at its phase once a day, or never computed; a missed phase (no evaluation then) is
      // caught up the next day at the latest.
      if (!r || (m % spd === phase && this.at[m] !== today) || today - this.at[m]! > 1) due.push(m);
    }
    if (due.length > 0) {
      days = daysOf(store, cfg);
      const ahead =
        sameStore && pre.days.k0 === days.k0 && pre.days.D === days.D && pre.days.firstDay === days.firstDay
          ? pre.items
          : undefined;
      for (const m of due) this.setDaily(m, ahead?.get(m)?.daily ?? meterDaily(store, m, days), groups);
      // Before any median is read: what was prepared and not taken (a meter not due, a store
      // not where prepare expected) out of the kept medians.
      this.putBack(pre?.items, groups);
      // The medians read ahead hold what the kept ones hold now only if exactly the prepared
      // meters were refreshed (no other due, none prepared left out).
      const aheadMedians =
        ahead && ahead.size === due.length && due.every((m) => ahead.has(m)) ? pre!.medians : undefined;
      for (const m of due) {
        // The peers' medians: once a day per group (members refreshed later that day count the
        // next day; a day fewer than three peers cover is left out, not judged unadjusted).
        const group = groups[m]!;
        let gm = this.medians.get(group);
        if (!gm || gm.day !== today || gm.firstDay !== days.firstDay || gm.D !== days.D) {
          const kept = this.peers?.get(group);
          const med =
            aheadMedians?.get(group) ??
            (kept
              ? kept.medians(days)
              : groupMedians(
                  group.map((p) => this.daily[p]),
                  days,
                ));
          gm = { day: today, firstDay: days.firstDay, D: days.D, med };
          this.medians.set(group, gm);
        }
        const med = gm.med;
        // Ahead only if taken with the very medians (and daily features) used now.
        const a = ahead?.get(m);
        const r =
          a?.tests && a.med === med && a.daily === this.daily[m]
            ? a.tests
            : testsOf(m, this.daily[m]!, med, days, spd, cfg);
        const abs = (t: StepTest | undefined) => t && { ...t, onsetSlot: t.onsetSlot + store.base };
        this.results[m] = { ...r, level: abs(r.level), shape: abs(r.shape) };
        this.at[m] = today;
      }
    }
    if (due.length === 0) this.putBack(pre?.items, groups);
    // In store slots: remade for the meters refreshed now, for all only when the store's first
    // slot moved (a week's drop), not 5,000 new objects every hour for the collector.
    const rel = (t: StepTest | undefined) => t && { ...t, onsetSlot: t.onsetSlot - store.base };
    const relOf = (r: LongMemory): LongMemory => ({ ...r, level: rel(r.level), shape: rel(r.shape) });
    // (The recomputing reference makes them all, every time.)
    if (!this.peers) return this.results.map((r) => relOf(r!));
    if (store.base !== this.relativeBase || this.relative.length !== M) {
      this.relative = this.results.map((r) => relOf(r!));
      this.relativeBase = store.base;
    } else for (const m of due) this.relative[m] = relOf(this.results[m]!);
    return this.relative.slice();
  }
}

/** Each feature's per-day median over a peer group's members, recomputed (no kept structure). */
function groupMedians(members: readonly (MeterDaily | undefined)[], days: Days): Med {
  return {
    L: groupMedian(members, days, 'L'),
    S: groupMedian(members, days, 'S'),
    C: groupMedian(members, days, 'C'),
    V: groupMedian(members, days, 'V'),
    R: groupMedian(members, days, 'R'),
    Y: groupMedian(members, days, 'Y'),
  };
}

export function longMemory(store: SlotStore, cfg: LongMemoryConfig = DEFAULT_LONG_MEMORY): LongMemory[] {
  const M = store.topology.ids.length;
  const spd = store.slotsPerDay;
  const days = daysOf(store, cfg);
  const daily = Array.from({ length: M }, (_, m) => meterDaily(store, m, days));
  // Peer adjustment, per day: minus the median of the peer group (medians kept per group).
  const groups = peerGroups(store);
  const medians = new Map<number[], Med>();
  return daily.map((own, m) => {
    const g = groups[m]!;
    let med = medians.get(g);
    if (!med) {
      const members = g.map((p) => daily[p]);
      med = groupMedians(members, days);
      medians.set(g, med);
    }
    return testsOf(m, own, med, days, spd, cfg);
  });
}
