import { FLAG, clamp, median, type SlotStore } from './series.ts';
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

/** Anomalies of every meter in the store. */
export function meterAnomalies(store: SlotStore, w: AnomalyWindows, cfg: AnomalyConfig): MeterAnomaly[] {
  const top = store.topology;
  const spd = store.slotsPerDay;
  const L = store.length;
  const expFrom = Math.min(w.scanFrom, w.windowFrom);
  const out: MeterAnomaly[] = [];
  const weekendOf = new Uint8Array(L);
  const sodOf = new Uint16Array(L);
  for (let k = Math.min(w.baselineFrom, w.scanFrom); k < L; k++) {
    const wd = store.weekdayOf(k);
    weekendOf[k] = wd === 0 || wd === 6 ? 1 : 0;
    sodOf[k] = store.slotOfDay(k);
  }
  const prof = new Float64Array(2 * spd);
  const cnt = new Float64Array(2 * spd);
  const zeros = new Float64Array(spd);
  const zcnt = new Float64Array(spd);
  for (let m = 0; m < top.ids.length; m++) {
    const v = store.values[m]!;
    const f = store.flags[m]!;
    prof.fill(0);
    cnt.fill(0);
    zeros.fill(0);
    zcnt.fill(0);
    let bZero = 0;
    let bN = 0;
    for (let k = w.baselineFrom; k < w.windowFrom; k++) {
      const x = v[k]!;
      if (x !== x || (f[k]! & (FLAG.relayOpen | FLAG.decrease)) !== 0) continue;
      const j = weekendOf[k]! * spd + sodOf[k]!;
      prof[j] = prof[j]! + x;
      cnt[j] = cnt[j]! + 1;
      bN++;
      if (x <= EPS) bZero++;
    }
    // Zero habits per hour of day from all the meter's valid slots (a stop itself is a small part).
    for (let k = Math.min(w.baselineFrom, w.scanFrom); k < L; k++) {
      const x = v[k]!;
      if (x !== x || (f[k]! & FLAG.relayOpen) !== 0) continue;
      const j = sodOf[k]!;
      zcnt[j] = zcnt[j]! + 1;
      if (x <= EPS) zeros[j] = zeros[j]! + 1;
    }
    // Profile per (day type, slot): fall back to the other day type, then to the meter's mean.
    let total = 0;
    let totalN = 0;
    for (let j = 0; j < 2 * spd; j++) {
      total += prof[j]!;
      totalN += cnt[j]!;
    }
    const mean = totalN > 0 ? total / totalN : Number.NaN;
    const expectedAt = (k: number): number => {
      const j = weekendOf[k]! * spd + sodOf[k]!;
      if (cnt[j]! > 0) return prof[j]! / cnt[j]!;
      const o = (1 - weekendOf[k]!) * spd + sodOf[k]!;
      return cnt[o]! > 0 ? prof[o]! / cnt[o]! : mean;
    };

    // Correlation with the profile in the baseline (in-sample) and in the window.
    const corrOver = (from: number, to: number) => {
      let n = 0;
      let sx = 0;
      let se = 0;
      let sxx = 0;
      let see = 0;
      let sxe = 0;
      for (let k = from; k < to; k++) {
        const x = v[k]!;
        if (x !== x || (f[k]! & FLAG.relayOpen) !== 0) continue;
        const e = expectedAt(k);
        n++;
        sx += x;
        se += e;
        sxx += x * x;
        see += e * e;
        sxe += x * e;
      }
      if (n < 6) return { corr: Number.NaN, sx, se, n };
      const cxx = sxx - (sx * sx) / n;
      const cee = see - (se * se) / n;
      const cxe = sxe - (sx * se) / n;
      return { corr: cxx > EPS && cee > EPS ? cxe / Math.sqrt(cxx * cee) : 0, sx, se, n };
    };
    const base = corrOver(w.baselineFrom, w.windowFrom);
    const win = corrOver(w.windowFrom, L);
    const expected = new Float32Array(Math.max(0, L - expFrom));
    for (let k = expFrom; k < L; k++) expected[k - expFrom] = expectedAt(k);
    let wZero = 0;
    let relayOpenSlots = 0;
    let gapSlots = 0;
    for (let k = w.windowFrom; k < L; k++) {
      const x = v[k]!;
      if ((f[k]! & FLAG.relayOpen) !== 0) relayOpenSlots++;
      else if (x !== x) gapSlots++;
      else if (x <= EPS) wZero++;
    }
    const judged = bN >= spd && win.n >= Math.min(spd, (L - w.windowFrom) / 2) && base.se > EPS;
    const zeroShare = win.n > 0 ? wZero / win.n : 0;
    const zeroShareBaseline = bN > 0 ? bZero / bN : 0;
    const stopped =
      store.topology.kind[m] === 'heat' ? [] : stoppedRuns(store, m, w.scanFrom, zeros, zcnt, cfg);
    out.push({
      meter: m,
      id: top.ids[m]!,
      ratio: judged && win.se > EPS ? win.sx / win.se : Number.NaN,
      peerRatio: Number.NaN,
      corrWindow: win.corr,
      corrBaseline: base.corr,
      zeroShare,
      zeroShareBaseline,
      score: 0,
      features: { drop: 0, shape: 0, zeros: 0 },
      expected,
      expectedFrom: expFrom,
      stopped,
      backwards: backwardsRuns(store, m, w.scanFrom, cfg),
      relayOpenSlots,
      gapSlots,
      judged,
    });
  }

  // Peer adjustment: siblings of the same kind (or all meters of the kind without a parent).
  const groups = new Map<string, MeterAnomaly[]>();
  for (const a of out) {
    const p = top.parent[a.meter]!;
    const key = `${top.kind[a.meter]}:${p}`;
    const list = groups.get(key) ?? [];
    list.push(a);
    groups.set(key, list);
  }
  const byKind = new Map<string, MeterAnomaly[]>();
  for (const a of out) {
    const list = byKind.get(top.kind[a.meter]!) ?? [];
    list.push(a);
    byKind.set(top.kind[a.meter]!, list);
  }
  for (const [key, list] of groups) {
    const peers = list.length >= 4 ? list : (byKind.get(key.split(':')[0]!) ?? list);
    const ratios = peers.filter((a) => a.judged && a.ratio === a.ratio).map((a) => a.ratio);
    const refRatio = ratios.length >= 3 ? median(ratios) : 1;
    const drops = peers
      .filter((a) => a.judged && a.corrWindow === a.corrWindow && a.corrBaseline === a.corrBaseline)
      .map((a) => a.corrBaseline - a.corrWindow);
    const refShape = drops.length >= 3 ? median(drops) : 0;
    const zs = peers.filter((a) => a.judged).map((a) => a.zeroShare - a.zeroShareBaseline);
    const refZero = zs.length >= 3 ? median(zs) : 0;
    for (const a of list) {
      if (!a.judged) continue;
      a.peerRatio = a.ratio / (refRatio > EPS ? refRatio : 1);
      const drop = -Math.log(clamp(a.peerRatio, 0.01, 100));
      const shapeDrop =
        a.corrWindow === a.corrWindow && a.corrBaseline === a.corrBaseline
          ? a.corrBaseline - a.corrWindow - refShape
          : 0;
      const zero = a.zeroShare - a.zeroShareBaseline - refZero;
      a.features = { drop: drop / 0.25, shape: shapeDrop / 0.2, zeros: zero / 0.08 };
      a.score = Math.max(0, a.features.drop, a.features.shape, a.features.zeros);
    }
  }
  return out;
}

function stoppedRuns(
  store: SlotStore,
  m: number,
  from: number,
  zeros: Float64Array,
  zcnt: Float64Array,
  cfg: AnomalyConfig,
): Run[] {
  const v = store.values[m]!;
  const f = store.flags[m]!;
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
  for (let k = from; k < store.length; k++) {
    const x = v[k]!;
    const zero =
      x === x && Math.abs(x) <= EPS && (f[k]! & (FLAG.relayOpen | FLAG.error | FLAG.decrease)) === 0;
    if (!zero) {
      close(k);
      continue;
    }
    if (first < 0) first = k;
    lp += logP[store.slotOfDay(k)]!;
    const p = pv?.[k];
    if (p !== undefined && p === p) parentUse += p;
  }
  close(store.length);
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
