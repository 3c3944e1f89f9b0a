import { z } from 'zod';
import type { MeterKind } from '../storage.ts';
import { DEFAULT_BALANCE, balanceFindings, nodeBalance, type NodeBalance } from './balance.ts';
import { DEFAULT_ANOMALIES, anomalyFindings, meterAnomalies, type MeterAnomaly } from './meter-anomalies.ts';
import {
  DAY,
  SlotStore,
  buildTopology,
  clamp,
  utcOffsetMs,
  type IntervalData,
  type MeterSpec,
  type Topology,
} from './series.ts';
import { rankSuspects, type SuspectDetail } from './suspects.ts';
import type { DetectionInput, DetectionResult, Detector, Finding, MeterData, Score } from './types.ts';

/**
 * The detection engine: energy balance of every metering-tree node, suspects for each loss, and
 * per-meter anomalies, plus any extra detectors (illegal loads, heating) passed in. One engine for
 * the live service (incremental: `createDetector(...).push(instant)`, then `result()` whenever a
 * view is wanted) and the offline CLI and tests (`detect(input)`, which feeds the same detector).
 *
 * Work per pushed instant is O(meters) (a few typed-array operations per meter); `result()` is
 * bounded by the retained window (retentionDays), not by how long the detector has been running.
 */

const Kinds = z.object({
  electricity: z.number().nonnegative(),
  water: z.number().nonnegative(),
  heat: z.number().nonnegative(),
});

const Band = z.object({
  c: z.tuple([z.number(), z.number(), z.number()]).describe('loss = c0 + c1·load + c2·load² per slot'),
  sigma: z.number().nonnegative(),
});

export const DetectionConfigSchema = z.object({
  recentDays: z.number().positive().default(7).describe('Evaluation window: meters are judged on these days'),
  baselineDays: z.number().positive().default(28).describe('History before the window used as baseline'),
  retentionDays: z
    .number()
    .positive()
    .default(63)
    .describe('Incremental mode: slots kept (band fit, baseline, window); detect() keeps its whole input'),
  meterAlert: z.number().positive().default(0.5).describe('Meter score at which a meter counts as alerting'),
  nodeAlert: z.number().positive().default(0.5).describe('Node evidence at which a node counts as alerting'),
  balance: z
    .object({
      z: z.number().positive().default(DEFAULT_BALANCE.z).describe('Slot threshold in band σ'),
      floorAbs: Kinds.default(DEFAULT_BALANCE.floorAbs).describe('σ floor per slot (kWh, m³)'),
      floorRel: z
        .number()
        .nonnegative()
        .default(DEFAULT_BALANCE.floorRel)
        .describe('σ floor, share of throughput'),
      slotK: z.number().int().positive().default(DEFAULT_BALANCE.slotK),
      slotN: z.number().int().positive().default(DEFAULT_BALANCE.slotN),
      dayK: z.number().int().positive().default(DEFAULT_BALANCE.dayK),
      dayN: z.number().int().positive().default(DEFAULT_BALANCE.dayN),
      dayZ: z.number().positive().default(DEFAULT_BALANCE.dayZ),
      keep: z
        .number()
        .min(0.5)
        .max(1)
        .default(DEFAULT_BALANCE.keep)
        .describe('Robust fit: share of points kept'),
      minFitSlots: z.number().int().positive().default(DEFAULT_BALANCE.minFitSlots),
      maxTechnicalShare: z.number().positive().default(DEFAULT_BALANCE.maxTechnicalShare),
      bands: z.record(z.string(), Band).default({}).describe('Configured bands per node meter id'),
    })
    .default(DEFAULT_BALANCE),
  anomalies: z
    .object({
      dropAlert: z.number().positive().default(DEFAULT_ANOMALIES.dropAlert),
      stoppedMinSlots: z.number().int().positive().default(DEFAULT_ANOMALIES.stoppedMinSlots),
      stoppedMaxLogProb: z.number().negative().default(DEFAULT_ANOMALIES.stoppedMaxLogProb),
      zeroFloor: z.number().positive().max(1).default(DEFAULT_ANOMALIES.zeroFloor),
      backwardsMin: z.number().nonnegative().default(DEFAULT_ANOMALIES.backwardsMin),
    })
    .default(DEFAULT_ANOMALIES),
});
export type DetectionConfig = z.input<typeof DetectionConfigSchema>;
export type ResolvedDetectionConfig = z.output<typeof DetectionConfigSchema>;

const UNIT: Record<MeterKind, string> = { electricity: 'kWh', water: 'm³', heat: 'kWh' };

export interface EngineResult extends DetectionResult {
  balances: NodeBalance[];
  anomalies: MeterAnomaly[];
  /** Suspects per node over the evaluation window. */
  suspects: Map<string, SuspectDetail[]>;
  /** Slots of the evaluation window [windowFrom, length) and of the store. */
  windowFrom: number;
  store: SlotStore;
}

export interface IncrementalDetector {
  readonly topology: Topology;
  readonly store: SlotStore;
  /** Adds the registers of every meter at one instant (time order). */
  push(data: IntervalData): void;
  /** Evaluates the retained data: findings and scores. `scanAll`: report episodes over all retained slots. */
  result(opts?: { scanAll?: boolean }): EngineResult;
}

export function createDetector(
  meters: readonly MeterSpec[],
  opts: { step: number; timezone?: string; offsetMs?: number; start?: number; capacitySlots?: number },
  config: DetectionConfig = {},
): IncrementalDetector {
  const cfg = DetectionConfigSchema.parse(config);
  const topology = buildTopology(meters);
  const offsetMs = opts.offsetMs ?? utcOffsetMs(opts.timezone ?? 'UTC', opts.start ?? Date.now());
  const slotMs = 3_600_000 % opts.step === 0 ? 3_600_000 : opts.step;
  const store = new SlotStore(topology, {
    step: opts.step,
    offsetMs,
    retentionSlots: opts.capacitySlots ?? Math.ceil((cfg.retentionDays * DAY) / slotMs),
    capacity: opts.capacitySlots,
  });
  return {
    topology,
    store,
    push: (d) => store.push(d),
    result: (o = {}) => {
      store.flush();
      return evaluate(store, cfg, o.scanAll ?? false);
    },
  };
}

function evaluate(store: SlotStore, cfg: ResolvedDetectionConfig, scanAll: boolean): EngineResult {
  const top = store.topology;
  const L = store.length;
  const spd = store.slotsPerDay;
  const recent = Math.min(Math.round(cfg.recentDays * spd), Math.floor(L / 2));
  const windowFrom = L - recent;
  const baselineFrom = Math.max(0, windowFrom - Math.round(cfg.baselineDays * spd));
  const scanFrom = scanAll ? 0 : windowFrom;
  const windows = { baselineFrom, windowFrom, scanFrom };
  const anomalies = meterAnomalies(store, windows, cfg.anomalies);
  const balances = top.nodes.map((n) =>
    nodeBalance(store, n, cfg.balance, { from: scanFrom, fitFrom: 0, windowFrom }),
  );
  confirmStopped(store, anomalies, balances);
  const findings: Finding[] = [];
  const suspects = new Map<string, SuspectDetail[]>();
  const attribution = new Float64Array(top.ids.length);
  const attributionReason: string[] = top.ids.map(() => '');
  const firstSuspect = new Set<number>();

  for (const b of balances) {
    const unit = UNIT[b.kind];
    const ranked = rankSuspects(store, b, anomalies, {
      from: windowFrom,
      end: L,
      onset: onsetIn(b, windowFrom),
    });
    suspects.set(b.id, ranked);
    const best = ranked[0]?.score ?? 0;
    // The first suspect of a node with unexplained loss alerts when it stands out from the rest.
    if (b.evidence >= cfg.nodeAlert && best > 0.2 && best >= 1.3 * (ranked[1]?.score ?? 0))
      firstSuspect.add(ranked[0]!.index);
    for (const s of ranked) {
      // Credit shrinks with the distance to the first suspect: one thief per loss is the rule.
      const a = clamp(b.evidence, 0, 1) * s.score * (best > 0 ? (s.score / best) ** 2 : 0);
      if (a > attribution[s.index]!) {
        attribution[s.index] = a;
        attributionReason[s.index] = `top suspect of ${b.id}'s unexplained loss: ${s.reasons.join('; ')}`;
      }
    }
    for (const f of balanceFindings(b, unit)) {
      const e = b.episodes.find((x) => f.since === x.from && f.key.indexOf(':negative:') < 0);
      if (e) {
        const list = rankSuspects(store, b, anomalies, { from: e.first, end: e.end, onset: e.first });
        f.suspects = list.slice(0, 5).map(({ meter, score, reasons }) => ({ meter, score, reasons }));
        const top1 = list[0];
        if (!top1 || (top1.gain < 0.2 && top1.share < 0.3))
          f.reason +=
            '; no downstream meter explains it: look for a tap or unmetered load between the meters';
        else f.reason += `; first suspect ${top1.meter}`;
      }
      findings.push(f);
    }
  }

  const scores: Score[] = [];
  for (const a of anomalies) {
    const unit = UNIT[top.kind[a.meter]!];
    const own = anomalyFindings(a, store, windows, cfg.anomalies, unit);
    findings.push(...own);
    const parent = top.parent[a.meter]!;
    const parentBalance = parent >= 0 ? balances.find((b) => b.node === parent) : undefined;
    const balanced = parentBalance !== undefined && parentBalance.computable >= 0.5;
    // Where a balance covers the meter, it decides (a legitimate drop leaves the node balanced);
    // elsewhere the meter's own anomaly score is all there is.
    const ownPart = clamp(a.score / 3, 0, 1) * (balanced ? 0.1 : 0.6);
    let score = attribution[a.meter]! + ownPart;
    let reason = attribution[a.meter]! > 0.05 ? attributionReason[a.meter]! : '';
    const inWindow = own.filter(
      (f) => f.type !== 'meter-drop' && f.evidence.to > store.slotStart(windowFrom),
    );
    if (inWindow.length > 0) {
      score = Math.max(score, 1 + Math.max(...inWindow.map((f) => f.score)) / 5);
      reason = inWindow.map((f) => f.reason).join('; ');
    }
    if (!reason) reason = own[0]?.reason ?? (a.judged ? 'normal' : 'not enough data to judge');
    scores.push({
      id: a.id,
      kind: 'meter',
      score,
      alert: score >= cfg.meterAlert || firstSuspect.has(a.meter) || own.some((f) => f.severity !== 'low'),
      reason,
    });
  }
  for (const b of balances) {
    const active = b.episodes.some((e) => e.end > windowFrom);
    scores.push({
      id: b.id,
      kind: 'node',
      score: b.evidence + (active ? 0.5 : 0),
      alert: active || b.evidence >= cfg.nodeAlert,
      reason: `${b.state}: ${b.stateReason}`,
    });
  }
  return { findings, scores, balances, anomalies, suspects, windowFrom, store };
}

/**
 * A meter at zero with no relay information may be stopped (its use still flows through the
 * parent) or simply unsupplied or vacant (the parent sees nothing either). Where the parent's
 * balance is computable over the run, a stop must show there as unexplained loss.
 */
function confirmStopped(store: SlotStore, anomalies: MeterAnomaly[], balances: NodeBalance[]): void {
  const byNode = new Map(balances.map((b) => [b.node, b]));
  for (const a of anomalies) {
    if (a.stopped.length === 0) continue;
    const b = byNode.get(store.topology.parent[a.meter]!);
    if (!b) continue;
    a.stopped = a.stopped.filter((run) => {
      const len = run.end - run.first;
      const meanRes = (from: number, to: number) => {
        let sum = 0;
        let n = 0;
        for (let k = Math.max(0, from); k < to; k++) {
          const r = b.residual[k]!;
          if (r === r) {
            sum += r;
            n++;
          }
        }
        return { mean: n > 0 ? sum / n : Number.NaN, n };
      };
      let exp = 0;
      for (let k = run.first; k < run.end; k++) {
        const j = k - a.expectedFrom;
        const e = j >= 0 && j < a.expected.length ? a.expected[j]! : Number.NaN;
        if (e === e) exp += e;
      }
      const during = meanRes(run.first, run.end);
      if (during.n < len / 2) return true;
      // Against the residual just before the run (another theft under the same node may be there).
      const before = meanRes(run.first - len, run.first);
      const ref = before.n > 0 ? Math.max(0, before.mean) : 0;
      return (during.mean - ref) * len > 0.3 * exp;
    });
  }
}

function onsetIn(b: NodeBalance, windowFrom: number): number | undefined {
  const e = b.episodes.find((x) => x.end > windowFrom);
  return e?.first;
}

// ---------------------------------------------------------------------------------------------
// Batch mode over a DetectionInput

/** The sampling step of the registers: the most common spacing between consecutive samples. */
export function inferStep(meters: Iterable<MeterData>): number {
  const counts = new Map<number, number>();
  let seen = 0;
  for (const m of meters) {
    const r = m.register;
    for (let i = 1; i < Math.min(r.length, 200); i++) {
      const d = r[i]!.ts - r[i - 1]!.ts;
      if (d > 0) counts.set(d, (counts.get(d) ?? 0) + 1);
    }
    if (++seen >= 100) break;
  }
  let best = 900_000;
  let n = 0;
  for (const [d, c] of counts) {
    if (c > n) {
      best = d;
      n = c;
    }
  }
  return best;
}

/**
 * Runs every detector over one input: balance, suspects and anomalies, plus `detectors` (e.g. the
 * illegal-load and heating detectors). Returns every finding and a score for every meter and node.
 */
export function detect(
  input: DetectionInput,
  config: DetectionConfig = {},
  detectors: readonly Detector[] = [],
): DetectionResult {
  const base = detectInput(input, config);
  const result: DetectionResult = { findings: [...base.findings], scores: [...base.scores] };
  for (const d of detectors) {
    const r = d.run(input);
    result.findings.push(...r.findings);
    for (const s of r.scores ?? []) mergeScore(result.scores, s, d.name);
  }
  return result;
}

function mergeScore(scores: Score[], s: Score, source: string): void {
  const i = scores.findIndex((x) => x.id === s.id && x.kind === s.kind);
  if (i < 0) return void scores.push(s);
  const cur = scores[i]!;
  scores[i] = {
    id: s.id,
    kind: s.kind,
    score: Math.max(cur.score, s.score),
    alert: cur.alert || s.alert,
    reason: s.score > cur.score ? `${source}: ${s.reason}` : cur.reason,
  };
}

/** The engine's own detectors over an input, with the full engine result (balances, anomalies). */
export function detectInput(input: DetectionInput, config: DetectionConfig = {}): EngineResult {
  const list = [...input.meters.values()];
  const specs: MeterSpec[] = list.map((m) => ({
    id: m.meter,
    kind: m.kind,
    ...(m.parent === undefined ? {} : { parent: m.parent }),
  }));
  const step = inferStep(list);
  const t0 = Math.ceil(input.from / step) * step;
  const instants = Math.max(0, Math.floor((input.to - t0) / step) + 1);
  const slotMs = 3_600_000 % step === 0 ? 3_600_000 : step;
  const detector = createDetector(
    specs,
    {
      step,
      timezone: input.timezone,
      start: input.from,
      capacitySlots: Math.ceil((instants * step) / slotMs) + 2,
    },
    config,
  );
  const n = list.length;
  const regs = new Float64Array(n);
  const errors = new Uint8Array(n);
  const relay = new Uint8Array(n);
  const cursors = list.map((m) => ({
    reg: 0,
    err: 0,
    relay: 0,
    relaySeries: m.series.relay_closed ?? m.series.breaker_closed ?? [],
    errs: m.errors ? [...m.errors].sort((a, b) => a - b) : [],
  }));
  const half = step / 2;
  for (let j = 0; j < instants; j++) {
    const t = t0 + j * step;
    for (let i = 0; i < n; i++) {
      const m = list[i]!;
      const c = cursors[i]!;
      const r = m.register;
      while (c.reg < r.length && r[c.reg]!.ts < t) c.reg++;
      const after = r[c.reg];
      const before = r[c.reg - 1];
      if (after && after.ts === t) regs[i] = after.value;
      else if (after && before && after.ts - before.ts <= 2 * step)
        regs[i] = before.value + ((after.value - before.value) * (t - before.ts)) / (after.ts - before.ts);
      else regs[i] = Number.NaN;
      while (c.err < c.errs.length && c.errs[c.err]! <= t - half) c.err++;
      errors[i] = c.err < c.errs.length && c.errs[c.err]! <= t + half ? 1 : 0;
      const rs = c.relaySeries;
      while (c.relay + 1 < rs.length && rs[c.relay + 1]!.ts <= t) c.relay++;
      const rv = rs[c.relay];
      relay[i] = rv && rv.ts <= t && rv.ts > t - 2 * step && rv.value === 0 ? 1 : 0;
    }
    detector.push({ ts: t, registers: regs, errors, relayOpen: relay });
  }
  return detector.result({ scanAll: true });
}
