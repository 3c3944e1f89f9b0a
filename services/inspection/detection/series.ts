import { zoneOffset } from '../../metering/consumption/zone.ts';
import type { MeterKind } from '../../metering/storage.ts';

/**
 * Helpers shared by the detectors: the metering tree as index arrays, the slot store (every
 * meter's consumption per slot — an hour, or the sampling step when that is longer — built
 * incrementally from register samples), local calendar arithmetic and small robust statistics.
 *
 * Consumption is kept as Float32Array per meter: NaN marks a slot that cannot be known (a missing
 * sample, an error reading, a register gap), never a zero.
 */

export const MINUTE = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;

export interface MeterSpec {
  id: string;
  kind: MeterKind;
  parent?: string;
}

/** The metering tree: meters by index, each meter's parent and metered children. */
export interface Topology {
  readonly ids: readonly string[];
  readonly index: ReadonlyMap<string, number>;
  readonly kind: readonly MeterKind[];
  /** -1 when the meter has no metered parent. */
  readonly parent: Int32Array;
  readonly children: readonly (readonly number[])[];
  /** Meters with metered children: the balance nodes. */
  readonly nodes: readonly number[];
}

export function buildTopology(specs: readonly MeterSpec[]): Topology {
  const ids = specs.map((s) => s.id);
  const index = new Map(ids.map((id, i) => [id, i]));
  const parent = new Int32Array(specs.length).fill(-1);
  const children: number[][] = specs.map(() => []);
  specs.forEach((s, i) => {
    const p = s.parent === undefined ? undefined : index.get(s.parent);
    // A parent of another utility is a topology error; the balance would be meaningless.
    if (p === undefined || p === i || specs[p]!.kind !== s.kind) return;
    parent[i] = p;
    children[p]!.push(i);
  });
  const nodes = children.flatMap((c, i) => (c.length > 0 ? [i] : []));
  return { ids, index, kind: specs.map((s) => s.kind), parent, children, nodes };
}

/** Slot flags: why a slot is unknown or special. */
export const FLAG = {
  /** A sample was missing in or around the slot. */
  gap: 1,
  /** The meter answered with an error. */
  error: 2,
  /** The register decreased without a plausible rollover. */
  decrease: 4,
  /** The prepaid relay (or breaker) was open. */
  relayOpen: 8,
  /** The register wrapped. */
  rollover: 16,
} as const;

/** Register values of every meter (by topology index) at one instant; NaN = no sample. */
export interface IntervalData {
  ts: number;
  registers: ArrayLike<number>;
  /** 1 where the meter gave an error reading at `ts`. */
  errors?: ArrayLike<number>;
  /** 1 where the meter reported its relay or breaker open at `ts`. */
  relayOpen?: ArrayLike<number>;
}

export interface SlotStoreOptions {
  /** Sampling step of the registers (ms). */
  step: number;
  /** UTC offset of local time (ms) for days, hours and weekdays. */
  offsetMs: number;
  /** Slots kept; older ones are dropped (compacted in chunks). */
  retentionSlots: number;
  /** Expected number of slots, to size the arrays at once (optional). */
  capacity?: number;
}

/**
 * Consumption per slot for every meter, filled one register instant at a time. A slot is an hour
 * when the step divides an hour, otherwise the step itself. Slot k starts at
 * `(base + k) · slotMs − offsetMs` (UTC), i.e. slots are aligned to local time.
 */
export class SlotStore {
  readonly topology: Topology;
  readonly step: number;
  readonly slotMs: number;
  readonly offsetMs: number;
  readonly perSlot: number;
  readonly slotsPerDay: number;
  readonly retentionSlots: number;
  /** Absolute slot number (since the epoch, local) of slot 0 of the arrays. */
  base = Number.NaN;
  /** Completed slots in the arrays. */
  length = 0;
  /** Bumped whenever completed slots change (a slot closed, old slots dropped): caches key on it. */
  version = 0;
  values: Float32Array[];
  flags: Uint8Array[];

  private capacity: number;
  /** Slot (array index) that the interval in progress belongs to. */
  private current = Number.NaN;
  private readonly prevReg: Float64Array;
  private prevTs = Number.NaN;
  private readonly sum: Float64Array;
  private readonly count: Uint16Array;
  private readonly acc: Uint8Array;

  constructor(topology: Topology, opts: SlotStoreOptions) {
    this.topology = topology;
    this.step = opts.step;
    this.offsetMs = opts.offsetMs;
    this.slotMs = HOUR % opts.step === 0 ? HOUR : opts.step;
    this.perSlot = Math.max(1, Math.round(this.slotMs / opts.step));
    this.slotsPerDay = Math.max(1, Math.round(DAY / this.slotMs));
    this.retentionSlots = Math.max(opts.retentionSlots, 2 * this.slotsPerDay);
    const n = topology.ids.length;
    this.capacity = Math.min(
      opts.capacity ?? 30 * this.slotsPerDay,
      this.retentionSlots + 7 * this.slotsPerDay,
    );
    this.values = topology.ids.map(() => new Float32Array(this.capacity));
    this.flags = topology.ids.map(() => new Uint8Array(this.capacity));
    this.prevReg = new Float64Array(n).fill(Number.NaN);
    this.sum = new Float64Array(n);
    this.count = new Uint16Array(n);
    this.acc = new Uint8Array(n);
  }

  /** UTC start of slot k. */
  slotStart(k: number): number {
    return (this.base + k) * this.slotMs - this.offsetMs;
  }
  /** Local day number (days since 1970-01-01 local) of slot k. */
  dayOf(k: number): number {
    return Math.floor((this.base + k) / this.slotsPerDay);
  }
  /** Slot of day (0..slotsPerDay-1) of slot k. */
  slotOfDay(k: number): number {
    return (this.base + k) % this.slotsPerDay;
  }
  /** 0 = Sunday. */
  weekdayOf(k: number): number {
    return (this.dayOf(k) + 4) % 7;
  }
  /** Slot index of a UTC time (may be out of range). */
  slotAt(ts: number): number {
    return Math.floor((ts + this.offsetMs) / this.slotMs) - this.base;
  }

  /** Adds the registers at one instant; instants must come in time order. */
  push(d: IntervalData): void {
    const { ts } = d;
    if (Number.isNaN(this.base)) this.base = Math.floor((ts + this.offsetMs) / this.slotMs);
    if (ts <= this.prevTs) return;
    const contiguous = ts - this.prevTs === this.step;
    const started = !Number.isNaN(this.prevTs);
    if (started) {
      // The interval (prevTs, ts] belongs to the slot holding its start.
      const slot = this.slotAt(this.prevTs);
      if (Number.isNaN(this.current)) this.current = slot;
      else if (slot !== this.current) this.advance(slot);
    }
    const n = this.prevReg.length;
    const regs = d.registers;
    const errs = d.errors;
    const relay = d.relayOpen;
    const { prevReg, sum, count, acc } = this;
    for (let m = 0; m < n; m++) {
      const r = regs[m]!;
      const p = prevReg[m]!;
      let f = 0;
      if (errs !== undefined && errs[m] === 1) f |= FLAG.error;
      if (relay !== undefined && relay[m] === 1) f |= FLAG.relayOpen;
      if (r === r && p === p && contiguous) {
        let delta = r - p;
        if (delta < 0) {
          if (delta > -1e-6 * Math.abs(p)) delta = 0;
          else if (isRollover(p, r)) {
            delta += rolloverOf(p);
            f |= FLAG.rollover;
          } else f |= FLAG.decrease;
        }
        sum[m] = sum[m]! + delta;
        count[m] = count[m]! + 1;
      } else if (started) f |= FLAG.gap;
      acc[m] = acc[m]! | f;
      prevReg[m] = r;
    }
    this.prevTs = ts;
  }

  /** Closes the current slot and any skipped ones; `slot` becomes current. */
  private advance(slot: number): void {
    const shift = this.ensure(slot);
    const k = this.current - shift;
    const to = slot - shift;
    if (k >= 0) this.write(k);
    this.sum.fill(0);
    this.count.fill(0);
    this.acc.fill(0);
    // Slots without any instant are gaps.
    for (let s = Math.max(0, k + 1); s < to; s++) {
      for (let m = 0; m < this.values.length; m++) {
        this.values[m]![s] = Number.NaN;
        this.flags[m]![s] = FLAG.gap;
      }
    }
    this.length = to;
    this.current = to;
    this.version++;
  }

  private write(k: number): void {
    const full = this.perSlot;
    const { sum, count, acc, values, flags } = this;
    for (let m = 0; m < values.length; m++) {
      const ok = count[m] === full && (acc[m]! & (FLAG.gap | FLAG.error)) === 0;
      values[m]![k] = ok ? sum[m]! : Number.NaN;
      flags[m]![k] = acc[m]! | (ok ? 0 : FLAG.gap);
    }
  }

  /**
   * Slots dropped from the front when slot index `slot` becomes current: none until the store
   * holds a week past its retention, then down to the retention at once (caches that work ahead
   * for the next slot ask where the store will be).
   */
  dropFor(slot: number): number {
    const limit = this.retentionSlots + 7 * this.slotsPerDay;
    return slot > limit ? Math.max(0, Math.min(this.length, slot - this.retentionSlots)) : 0;
  }

  /** Makes room for slots [0, slot): drops the oldest past retention, grows the arrays. Returns the drop. */
  private ensure(slot: number): number {
    const drop = this.dropFor(slot);
    const limit = this.retentionSlots + 7 * this.slotsPerDay;
    if (drop > 0) {
      for (let m = 0; m < this.values.length; m++) {
        this.values[m]!.copyWithin(0, drop, this.length);
        this.flags[m]!.copyWithin(0, drop, this.length);
      }
      this.length -= drop;
      this.base += drop;
    }
    const needed = slot - drop;
    if (needed <= this.capacity) return drop;
    const cap = Math.max(needed, Math.min(2 * this.capacity, limit));
    this.values = this.values.map((v) => {
      const x = new Float32Array(cap);
      x.set(v.subarray(0, this.length));
      return x;
    });
    this.flags = this.flags.map((v) => {
      const x = new Uint8Array(cap);
      x.set(v.subarray(0, this.length));
      return x;
    });
    this.capacity = cap;
    return drop;
  }

  /** Closes the slot in progress once all its instants have arrived (the last instant ends it). */
  flush(): void {
    if (Number.isNaN(this.current) || Number.isNaN(this.prevTs)) return;
    const next = this.slotAt(this.prevTs);
    if (next !== this.current) this.advance(next);
  }
}

/** A decrease is a rollover when the register was near a power of ten and restarted near zero. */
function isRollover(prev: number, next: number): boolean {
  const r = rolloverOf(prev);
  return prev >= 0.9 * r && next >= 0 && next < 0.1 * r;
}
function rolloverOf(prev: number): number {
  return 10 ** Math.ceil(Math.log10(Math.max(prev, 1) + 1e-9));
}

/**
 * UTC offset (ms) of an IANA zone at `ts`: days and weekdays use it (no DST change inside a run).
 * An unknown zone counts as UTC (the campus file's zone is checked when it is loaded).
 */
export function utcOffsetMs(timezone: string, ts: number): number {
  try {
    return zoneOffset(ts, timezone);
  } catch {
    return 0;
  }
}

// ---------------------------------------------------------------------------------------------
// Statistics

export function median(xs: ArrayLike<number>): number {
  const all = new Float64Array(xs.length);
  let n = 0;
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i]!;
    if (x === x) all[n++] = x;
  }
  if (n === 0) return Number.NaN;
  const h = n >> 1;
  if (n <= 32) {
    const a = all.subarray(0, n).sort();
    return n % 2 ? a[h]! : (a[h - 1]! + a[h]!) / 2;
  }
  // By selection: a[h] is the h-th smallest and a[0, h) holds the smaller ones.
  const upper = select(all, n, h);
  if (n % 2) return upper;
  let lower = -Infinity;
  for (let i = 0; i < h; i++) if (all[i]! > lower) lower = all[i]!;
  return (lower + upper) / 2;
}

/** Median absolute deviation scaled to σ for normal data. */
export function madSigma(xs: ArrayLike<number>, center = median(xs)): number {
  const d = Float64Array.from(xs, (x) => Math.abs(x - center));
  return 1.4826 * median(d);
}

/** Pearson correlation over pairs where both are finite; NaN when undefined. */
export function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let n = 0;
  let sa = 0;
  let sb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === x && y === y) {
      n++;
      sa += x;
      sb += y;
    }
  }
  if (n < 3) return Number.NaN;
  const ma = sa / n;
  const mb = sb / n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === x && y === y) {
      sab += (x - ma) * (y - mb);
      saa += (x - ma) ** 2;
      sbb += (y - mb) ** 2;
    }
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : Number.NaN;
}

/** y ≈ c0 + c1·x + c2·x² fitted by least squares on the selected points. */
function quadraticFit(x: Float64Array, y: Float64Array, use: ArrayLike<number>, m: number): number[] {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let s4 = 0;
  let t0 = 0;
  let t1 = 0;
  let t2 = 0;
  for (let j = 0; j < m; j++) {
    const i = use[j]!;
    const a = x[i]!;
    const a2 = a * a;
    const b = y[i]!;
    s0 += 1;
    s1 += a;
    s2 += a2;
    s3 += a2 * a;
    s4 += a2 * a2;
    t0 += b;
    t1 += a * b;
    t2 += a2 * b;
  }
  const sol = solve3(
    [
      [s0, s1, s2],
      [s1, s2, s3],
      [s2, s3, s4],
    ],
    [t0, t1, t2],
  );
  if (sol) return sol;
  // Degenerate load (constant): a level only.
  return [t0 / Math.max(1, s0), 0, 0];
}

function solve3(a: number[][], b: number[]): number[] | undefined {
  const m = a.map((row, i) => [...row, b[i]!]);
  for (let c = 0; c < 3; c++) {
    let p = c;
    for (let r = c + 1; r < 3; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[p]![c]!)) p = r;
    if (Math.abs(m[p]![c]!) < 1e-12 * Math.max(1, Math.abs(m[0]![0]!))) return undefined;
    [m[c], m[p]] = [m[p]!, m[c]!];
    for (let r = 0; r < 3; r++) {
      if (r === c) continue;
      const f = m[r]![c]! / m[c]![c]!;
      for (let k = c; k < 4; k++) m[r]![k] = m[r]![k]! - f * m[c]![k]!;
    }
  }
  return [m[0]![3]! / m[0]![0]!, m[1]![3]! / m[1]![1]!, m[2]![3]! / m[2]![2]!];
}

export interface QuadraticBand {
  /** loss ≈ c0 + c1·load + c2·load² (load in the node's units per slot). */
  c: [number, number, number];
  /** Residual spread (σ) of the inliers. */
  sigma: number;
  /** Points the fit used. */
  n: number;
}

/**
 * Robust quadratic regression of y on x: least trimmed squares by concentration steps (keep the
 * `keep` share of points with the smallest residuals, refit, repeat), so that theft present in
 * less than 1 − keep of the history does not move the band. σ from the MAD of the kept residuals.
 */
export function robustQuadratic(x: Float64Array, y: Float64Array, keep = 0.6, steps = 6): QuadraticBand {
  const n = x.length;
  // Scale x to ~1 for conditioning.
  let scale = 0;
  for (let i = 0; i < n; i++) scale = Math.max(scale, Math.abs(x[i]!));
  scale = scale > 0 ? scale : 1;
  const xs = new Float64Array(n);
  for (let i = 0; i < n; i++) xs[i] = x[i]! / scale;
  let use: Uint32Array = new Uint32Array(n);
  for (let i = 0; i < n; i++) use[i] = i;
  let m = n;
  let c = quadraticFit(xs, y, use, m);
  const r = new Float64Array(n);
  const work = new Float64Array(n);
  const h = Math.min(n, Math.max(3, Math.ceil(keep * n)));
  for (let s = 0; s < steps; s++) {
    for (let i = 0; i < n; i++) r[i] = Math.abs(y[i]! - c[0]! - c[1]! * xs[i]! - c[2]! * xs[i]! * xs[i]!);
    // The h points with the smallest residuals (ties: the earlier point), in index order.
    use = smallest(r, h, work, use);
    m = h;
    c = quadraticFit(xs, y, use, m);
  }
  const kept = new Float64Array(m);
  for (let j = 0; j < m; j++) {
    const i = use[j]!;
    kept[j] = y[i]! - c[0]! - c[1]! * xs[i]! - c[2]! * xs[i]! * xs[i]!;
  }
  // The kept residuals are the central `keep` share: their spread understates σ; rescale by the
  // normal quantile of the trimmed share.
  const sigma = madSigma(kept, 0) * (keep < 1 ? 0.6745 / normalQuantile(0.5 + keep / 2) : 1);
  return { c: [c[0]!, c[1]! / scale, c[2]! / (scale * scale)], sigma, n };
}

/**
 * Indices of the h smallest values of r (ties broken by index), in index order, written to
 * `out`: the h-th smallest value by selection (O(n)), then one pass. `work` is scratch (≥ n).
 */
function smallest(r: Float64Array, h: number, work: Float64Array, out: Uint32Array): Uint32Array {
  const n = r.length;
  if (h >= n) {
    for (let i = 0; i < n; i++) out[i] = i;
    return out;
  }
  work.set(r);
  const t = select(work, n, h - 1);
  // Every value below t, then values equal to t in index order until h are taken.
  let below = 0;
  for (let i = 0; i < n; i++) if (r[i]! < t) below++;
  let ties = h - below;
  let j = 0;
  for (let i = 0; i < n; i++) {
    const v = r[i]!;
    if (v < t || (v === t && ties-- > 0)) out[j++] = i;
  }
  return out;
}

/** The k-th smallest (0-based) of a[0, n) by quickselect (reorders a; values are not NaN). */
function select(a: Float64Array, n: number, k: number): number {
  let lo = 0;
  let hi = n - 1;
  while (hi > lo) {
    // Median of three as pivot.
    const mid = (lo + hi) >> 1;
    let p0 = a[lo]!;
    let p1 = a[mid]!;
    let p2 = a[hi]!;
    if (p0 > p1) [p0, p1] = [p1, p0];
    if (p1 > p2) [p1, p2] = [p2, p1];
    if (p0 > p1) [p0, p1] = [p1, p0];
    const pivot = p1;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i] = a[j]!;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k]!;
  }
  return a[k]!;
}

/** Inverse standard normal CDF (Acklam's rational approximation, good to 1e-9). */
function normalQuantile(p: number): number {
  const a = [
    -39.6968302866538, 220.946098424521, -275.928510446969, 138.357751867269, -30.6647980661472,
    2.50662827745924,
  ];
  const b = [-54.4760987982241, 161.585836858041, -155.698979859887, 66.8013118877197, -13.2806815528857];
  const c = [
    -0.00778489400243029, -0.322396458041136, -2.40075827716184, -2.54973253934373, 4.37466414146497,
    2.93816398269878,
  ];
  const d = [0.00778469570904146, 0.32246712907004, 2.445134137143, 3.75440866190742];
  const q = p < 0.5 ? p : 1 - p;
  let x: number;
  if (q < 0.02425) {
    const t = Math.sqrt(-2 * Math.log(q));
    x =
      (((((c[0]! * t + c[1]!) * t + c[2]!) * t + c[3]!) * t + c[4]!) * t + c[5]!) /
      ((((d[0]! * t + d[1]!) * t + d[2]!) * t + d[3]!) * t + 1);
  } else {
    const t = q - 0.5;
    const s = t * t;
    x =
      ((((((a[0]! * s + a[1]!) * s + a[2]!) * s + a[3]!) * s + a[4]!) * s + a[5]!) * t) /
      (((((b[0]! * s + b[1]!) * s + b[2]!) * s + b[3]!) * s + b[4]!) * s + 1);
    return p < 0.5 ? x : -x;
  }
  return p < 0.5 ? x : -x;
}

/**
 * The most likely single change point of a series (mean shift): the split maximising the
 * between-segment variance. Returns the index of the first point after the change and the
 * relative size of the shift, or undefined for a flat or too short series.
 */
export function changePoint(
  xs: ArrayLike<number>,
  minSegment = 2,
): { at: number; shift: number } | undefined {
  const v: number[] = [];
  const idx: number[] = [];
  for (let i = 0; i < xs.length; i++) {
    if (xs[i]! === xs[i]!) {
      v.push(xs[i]!);
      idx.push(i);
    }
  }
  const n = v.length;
  if (n < 2 * minSegment) return undefined;
  let total = 0;
  for (const x of v) total += x;
  let left = 0;
  let best = -1;
  let at = -1;
  for (let k = minSegment; k <= n - minSegment; k++) {
    left += v[k - 1]!;
    if (k < minSegment) continue;
    const ml = left / k;
    const mr = (total - left) / (n - k);
    const score = ((k * (n - k)) / n) * (ml - mr) ** 2;
    if (score > best) {
      best = score;
      at = k;
    }
  }
  if (at < 0) return undefined;
  let l = 0;
  for (let k = 0; k < at; k++) l += v[k]!;
  const ml = l / at;
  const mr = (total - l) / (n - at);
  return { at: idx[at]!, shift: ml > 0 ? (mr - ml) / ml : 0 };
}

export const clamp = (x: number, lo: number, hi: number): number => (x < lo ? lo : x > hi ? hi : x);
