import { z } from 'zod';
import type { MeterKind } from '../../metering/storage.ts';
import {
  BalanceTracker,
  DEFAULT_BALANCE,
  balanceFindings,
  nodeBalance,
  type BalanceSeries,
  type NodeBalance,
} from './balance.ts';
import {
  AnomalyTracker,
  DEFAULT_ANOMALIES,
  anomalyFindings,
  meterAnomalies,
  type AnomalyWindows,
  type Calendar,
  type MeterAnomaly,
  type MeterBaseline,
  type MeterWindow,
} from './meter-anomalies.ts';
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
import { childDriftFinding, childDriftVerdict, type ChildDrift } from './child-drift.ts';
import { driftFinding, driftOf, type Drift } from './drift.ts';
import { balanceEvidence, meterEvidence } from './evidence.ts';
import { feederChecks, feederEvidence, feederFactor, type FeederCheck } from './feeder-check.ts';
import { DEFAULT_LONG_MEMORY, LongMemoryCache, longMemory, type LongMemory } from './long-memory.ts';
import { lossOnset, matchesAt, otherRises, type LossMatch } from './loss-match.ts';
import {
  endedRiseFinding,
  endedRiseOnRecord,
  lossRise,
  riseEvidence,
  riseFinding,
  type LossRise,
} from './loss-rise.ts';
import { confirmStopped } from './stopped-confirmation.ts';
import { rankSuspects, type SuspectDetail } from './suspects.ts';
import type { DetectionInput, DetectionResult, Detector, Finding, MeterData, Score } from './types.ts';

/**
 * The detection engine: energy balance of every metering-tree node, suspects for each loss, and
 * per-meter anomalies, plus any extra detectors (illegal loads, heating) passed in. One engine for
 * the live service (incremental: `createDetector(...).push(instant)`, then `result()` whenever a
 * view is wanted) and the offline CLI and tests (`detect(input)`, which feeds the same detector).
 *
 * Work per pushed instant is O(meters) (a few typed-array operations per meter). The first
 * `result()` is bounded by the retained window (retentionDays); after that, `result()` works on
 * what changed since the last one (see EvaluationCache): O(meters) small updates per closed slot
 * plus a day's share of the band and baseline refits. `detect()` evaluates once, afresh.
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

/** See DetectionConfigSchema.lossRise (chosen on the tuning half's clean feeders). */
const LOSS_RISE_MIN_Z = 6;

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
      minSlotShare: z
        .number()
        .nonnegative()
        .default(DEFAULT_BALANCE.minSlotShare)
        .describe('A slot episode shorter than a day needs this share of throughput'),
      dayFloorRel: z
        .number()
        .nonnegative()
        .default(DEFAULT_BALANCE.dayFloorRel)
        .describe('Daily σ floor, share of the day’s throughput'),
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
  lossRise: z
    .object({
      minZ: z
        .number()
        .positive()
        .default(LOSS_RISE_MIN_Z)
        .describe(
          "A node's daily unexplained energy risen by this many standard errors since one day alerts",
        ),
      minShare: z
        .number()
        .nonnegative()
        .default(0.002)
        .describe('…and by at least this share of its throughput (a meter class of error below it)'),
    })
    .strict()
    .prefault({}),
  longMemory: z
    .object({
      maxOnsetDays: z.number().int().positive().default(DEFAULT_LONG_MEMORY.maxOnsetDays),
      minOnsetDays: z.number().int().positive().default(DEFAULT_LONG_MEMORY.minOnsetDays),
      referenceDays: z.number().int().positive().default(DEFAULT_LONG_MEMORY.referenceDays),
      minReferenceDays: z.number().int().positive().default(DEFAULT_LONG_MEMORY.minReferenceDays),
      dependence: z.number().min(1).default(DEFAULT_LONG_MEMORY.dependence),
      alertStat: z
        .number()
        .positive()
        .default(8)
        .describe('Step statistic at which a lasting drop or shape change against the peers alerts'),
    })
    .default({ ...DEFAULT_LONG_MEMORY, alertStat: 8 }),
});
export type DetectionConfig = z.input<typeof DetectionConfigSchema>;
export type ResolvedDetectionConfig = z.output<typeof DetectionConfigSchema>;

/** Loss matches (loss-match.ts) credited: a share of the shortfall in this range… */
const MATCH_MIN_RATIO = 0.1;
const MATCH_MAX_RATIO = 3;
/** …from this many standard errors, in full from this many. */
const MATCH_FROM_Z = 1;
const MATCH_FULL_Z = 6;
/** A rise of a node's loss besides its largest (a second thief) is matched from this z on. */
const OTHER_RISE_Z = 4;
const DAY_MS = 86_400_000;

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
  opts: {
    step: number;
    timezone?: string;
    offsetMs?: number;
    start?: number;
    capacitySlots?: number;
    /** Recompute what the incremental paths keep up to date (peers' medians): the exactness tests' reference. */
    recompute?: boolean;
  },
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
  const cache = new EvaluationCache(topology, cfg, opts.recompute ?? false);
  return {
    topology,
    store,
    push: (d) => store.push(d),
    result: (o = {}) => {
      store.flush();
      return cache.result(store, o.scanAll ?? false);
    },
  };
}

/**
 * What the incremental detector keeps between evaluations. What changes slowly is refitted at
 * most once per local day per node or meter (or as soon as the data it rests on grew or shrank by
 * a quarter): the loss band of a node and the baseline profile of a meter. Refits are spread over
 * the day (entity i at slot of day i mod slotsPerDay), so no single evaluation refits everything.
 * Per-slot balance series are extended by the new slots only; everything judged over the
 * evaluation window (episodes, persistence, window statistics, anomalies, scores, and the suspects
 * of every node with evidence) is recomputed from them on every evaluation. A node without
 * evidence credits no suspect: its suspect list is refreshed once a day (or when it stops being
 * quiet). While no slot has closed, the last result stands.
 */
class EvaluationCache {
  private readonly trackers: BalanceTracker[];
  private readonly meters: AnomalyTracker;
  private spd = 24;
  private readonly suspects: ({ at: number; quiet: boolean; list: SuspectDetail[] } | undefined)[] = [];
  private last: { version: number; base: number; scanAll: boolean; result: EngineResult } | undefined;
  private readonly longCache: LongMemoryCache;
  private readonly drifts: ({ at: number; drift: NodeDrift } | undefined)[] = [];
  private readonly checks: ({ at: number; list: FeederCheck[] } | undefined)[] = [];
  /** The meters' anomaly objects, rewritten by each evaluation (meterAnomalies' reuse); new ones in the reference. */
  private readonly anomalies: MeterAnomaly[] | undefined;

  constructor(
    readonly topology: Topology,
    private readonly cfg: ResolvedDetectionConfig,
    recompute: boolean,
  ) {
    this.longCache = new LongMemoryCache({ recomputeMedians: recompute });
    this.anomalies = recompute ? undefined : [];
    this.trackers = topology.nodes.map((n) => new BalanceTracker(n, cfg.balance));
    // A baseline's window ends where the evaluation window starts: its end is the clock.
    this.meters = new AnomalyTracker(topology, cfg.anomalies, (m, cur, from, to) =>
      this.due(m, to - 1, cur.to - 1, cur.to - cur.from, to - from),
    );
  }

  result(store: SlotStore, scanAll: boolean): EngineResult {
    const last = this.last;
    if (last && last.version === store.version && last.base === store.base && last.scanAll === scanAll) {
      // No slot closed: the standing result, and the next slot's long-memory work done ahead.
      if (!scanAll) this.longCache.prepare(store, this.cfg.longMemory);
      return last.result;
    }
    this.spd = store.slotsPerDay;
    const newest = store.base + store.length - 1;
    const result = evaluate(store, this.cfg, scanAll, {
      series: (b) =>
        this.trackers[b]!.update(store, (t) => this.due(b, newest, t.fittedAt, t.fittedSpan, store.length)),
      suspects: (b, balance, rank) => {
        // A node without evidence credits nobody: its ranking is kept for the day.
        const quiet = balance.evidence === 0 && balance.episodes.length === 0;
        const cur = this.suspects[b];
        if (quiet && cur?.quiet && !this.due(b, newest, cur.at, 1, 1)) return cur.list;
        const list = rank();
        this.suspects[b] = { at: newest, quiet, list };
        return list;
      },
      meter: (m, windows, cal) => this.meters.meter(store, m, windows, cal),
      anomalies: this.anomalies,
      // Once a local day per node at its phase (the hourly drift fits of every node at one day's
      // turn would hold that one evaluation up).
      drift: (b, compute) => {
        const c = this.drifts[b];
        if (c && !this.due(b, newest, c.at, 1, 1)) return c.drift;
        const drift = compute();
        this.drifts[b] = { at: newest, drift };
        return drift;
      },
      // Day-level statistics, recomputed once a local day per meter at its phase.
      long: () => this.longCache.update(store, this.cfg.longMemory),
      checks: (m, compute) => {
        const cur = this.checks[m];
        if (cur && !this.due(m, newest, cur.at, 1, 1)) return cur.list;
        const list = compute();
        this.checks[m] = { at: newest, list };
        return list;
      },
    });
    this.last = { version: store.version, base: store.base, scanAll, result };
    return result;
  }

  /**
   * Entity i's fit is due once per local day at its phase (`now`, `fittedAt`: absolute slots),
   * or when the span of data it rests on moved by a quarter.
   */
  private due(i: number, now: number, fittedAt: number, fittedSpan: number, span: number): boolean {
    const spd = this.spd;
    return (
      Math.floor((now - (i % spd)) / spd) !== Math.floor((fittedAt - (i % spd)) / spd) ||
      span > 1.25 * fittedSpan ||
      span < 0.8 * fittedSpan
    );
  }
}

/** A node's drift tests: its daily unexplained share (drift.ts), the meter whose load it follows. */
interface NodeDrift {
  node?: Drift | undefined;
  child?: ChildDrift | undefined;
  /** Which child's shortfall the node's loss follows since it began (day-level, like the drift). */
  matches?: LossMatch[];
  /** The node's daily unexplained energy's largest rise over the scan (loss-match.ts). */
  rise?: LossRise | undefined;
}

/** Where evaluate takes slowly changing parts from (incremental mode); computed afresh otherwise. */
interface EvaluationParts {
  /** The series of the b-th balance node. */
  series: (b: number) => BalanceSeries;
  meter: (
    m: number,
    windows: AnomalyWindows,
    cal: Calendar,
  ) => { baseline: MeterBaseline; window: MeterWindow };
  /** The anomaly objects to rewrite in place (kept between evaluations), if any. */
  anomalies: MeterAnomaly[] | undefined;
  /** The suspects of the b-th balance node over the evaluation window (`rank` computes them). */
  suspects: (b: number, balance: NodeBalance, rank: () => SuspectDetail[]) => SuspectDetail[];
  /** The b-th node's drift tests, on whole days (`compute` computes them). */
  drift: (b: number, compute: () => NodeDrift) => NodeDrift;
  /** The long-memory step tests (`compute` computes them). */
  long: (compute: () => LongMemory[]) => LongMemory[];
  /** The m-th meter's feeder checks, day-level (`compute` computes them). */
  checks: (m: number, compute: () => FeederCheck[]) => FeederCheck[];
}

function evaluate(
  store: SlotStore,
  cfg: ResolvedDetectionConfig,
  scanAll: boolean,
  parts?: EvaluationParts,
): EngineResult {
  const top = store.topology;
  const L = store.length;
  const spd = store.slotsPerDay;
  const recent = Math.min(Math.round(cfg.recentDays * spd), Math.floor(L / 2));
  const windowFrom = L - recent;
  const baselineFrom = Math.max(0, windowFrom - Math.round(cfg.baselineDays * spd));
  const scanFrom = scanAll ? 0 : windowFrom;
  const windows = { baselineFrom, windowFrom, scanFrom };
  const anomalies = meterAnomalies(
    store,
    windows,
    cfg.anomalies,
    parts && ((m, cal) => parts.meter(m, windows, cal)),
    parts?.anomalies,
  );
  const balances = top.nodes.map((n, i) =>
    nodeBalance(store, n, cfg.balance, { from: scanFrom, fitFrom: 0, windowFrom }, parts?.series(i)),
  );
  confirmStopped(store, anomalies, balances);
  const findings: Finding[] = [];
  const suspects = new Map<string, SuspectDetail[]>();
  const attribution = new Float64Array(top.ids.length);
  const attributionReason: string[] = top.ids.map(() => '');
  const firstSuspect = new Set<number>();
  // Each node's evidence as judged below (the band's, or its loss rise's) and the rise behind it.
  const nodeEvidence = new Map<number, number>();
  const nodeRise = new Map<number, LossRise>();
  /** Nodes whose unexplained share ramps (a drifting meter): their residual is no theft's word. */
  const drifting = new Set<number>();
  const balanceOf: (NodeBalance | undefined)[] = top.ids.map(() => undefined);
  for (const b of balances) balanceOf[b.node] ??= b;

  for (const [i, b] of balances.entries()) {
    const unit = UNIT[b.kind];
    const rank = () =>
      rankSuspects(store, b, anomalies, { from: windowFrom, end: L, onset: onsetIn(b, windowFrom) });
    const ranked = parts ? parts.suspects(i, b, rank) : rank();
    suspects.set(b.id, ranked);
    // A steady ramp of the unexplained share is a drifting meter: its own alert (naming the
    // suspects for the metering team), and the node's loss is that drift, not a theft: no meter
    // is raised as its thief.
    // The node's hourly loss on each meter's own load says which meter drifts (child-drift.ts);
    // the node's daily share alone only says that one does.
    const computeDrift = (): NodeDrift => {
      const lo = lossOnset(store, b, cfg.longMemory.referenceDays, cfg.longMemory.maxOnsetDays);
      const ref = cfg.longMemory.referenceDays;
      const matches = lo
        ? [
            ...matchesAt(store, b, lo, ref),
            ...otherRises(lo, ref, cfg.longMemory.maxOnsetDays, OTHER_RISE_Z).flatMap((o) =>
              matchesAt(store, b, lo, ref, o),
            ),
          ]
        : [];
      const rise = lo && lossRise(lo, store.slotsPerDay);
      if (b.kind !== 'electricity') return { matches, rise };
      const hourly = childDriftVerdict(store, b);
      // Where one meter's step explains the rising loss clearly better than any ramp, the
      // daily share's coarser ramp test is not asked: that loss is a theft's.
      return { node: hourly.stepWins ? undefined : driftOf(b), child: hourly.drift, matches, rise };
    };
    const drifts = parts ? parts.drift(i, computeDrift) : computeDrift();
    const drift = drifts.child ? { since: drifts.child.since } : drifts.node && { since: drifts.node.since };
    if (drifts.child) {
      drifting.add(b.node);
      findings.push(childDriftFinding(store, b, drifts.child, unit));
    } else if (drifts.node) {
      drifting.add(b.node);
      findings.push(
        driftFinding(
          b,
          drifts.node,
          ranked.slice(0, 3).map(({ meter, score, reasons }) => ({ meter, score, reasons })),
        ),
      );
    }
    const best = ranked[0]?.score ?? 0;
    // The band's evidence, or the rise of the daily unexplained energy (a loss too small for the
    // band), whichever is stronger; a drift explains its node's rise.
    const rise = drift ? undefined : riseEvidence(drifts.rise, cfg.lossRise);
    const evidence = Math.max(b.evidence, rise?.evidence ?? 0);
    nodeEvidence.set(b.node, evidence);
    if (rise) nodeRise.set(b.node, rise.rise);
    // The first suspect of a node with unexplained loss alerts when it stands out from the rest.
    if (!drift && evidence >= cfg.nodeAlert && best > 0.2 && best >= 1.3 * (ranked[1]?.score ?? 0))
      firstSuspect.add(ranked[0]!.index);
    for (const s of drift ? [] : ranked) {
      // Credit shrinks with the distance to the first suspect: one thief per loss is the rule.
      const a = clamp(evidence, 0, 1) * s.score * (best > 0 ? (s.score / best) ** 2 : 0);
      if (a > attribution[s.index]!) {
        attribution[s.index] = a;
        attributionReason[s.index] = `top suspect of ${b.id}'s unexplained loss: ${s.reasons.join('; ')}`;
      }
    }
    const follows = drift
      ? undefined
      : lossCredit(b, evidence, drifts.matches ?? [], store, attribution, attributionReason);
    for (const f of balanceFindings(b, unit)) {
      // The drift explains the loss since its ramp began, and what is still going on: not a theft.
      if (
        drift &&
        !f.key.includes(':negative:') &&
        (f.since >= drift.since || b.episodes.some((e) => e.ongoing && e.from === f.since))
      )
        continue;
      balanceEvidence(f, store, b, unit);
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
    // A rise the band did not raise as an episode: its own finding, with the same suspects.
    if (rise && rise.evidence >= cfg.nodeAlert && !b.episodes.some((e) => e.ongoing))
      findings.push(riseFinding(b, rise.rise, rise.evidence, ranked, store, unit));
    // A rise that ended, where no episode of the band covers it: on record, for the energy.
    const ended = !drift && !rise ? endedRiseOnRecord(drifts.rise, cfg.lossRise) : undefined;
    if (
      ended &&
      !b.episodes.some(
        (e) => e.first < ended.ended.slot && e.end > ended.onsetSlot && e.to - e.from >= DAY_MS,
      )
    )
      findings.push(endedRiseFinding(b, ended, store, unit));
    // The node's latest loss since the loss began carries which meter's shortfall it follows.
    if (follows) {
      const since = store.slotStart(follows.onsetSlot) - DAY_MS;
      const latest = findings
        .filter((x) => x.node === b.id && x.type === 'energy-balance' && !x.key.includes(':negative:'))
        .filter((x) => x.since >= since)
        .at(-1);
      if (latest) lossFollowsEvidence(latest, follows, store);
    }
  }

  const scores: Score[] = [];
  const windowStart = store.slotStart(windowFrom);
  const computeLong = () => longMemory(store, cfg.longMemory);
  const long = parts ? parts.long(computeLong) : computeLong();
  const parentBalance = new Map<number, NodeBalance>();
  for (const b of balances) for (const c of b.children) parentBalance.set(c, b);
  for (const a of anomalies) {
    const unit = UNIT[top.kind[a.meter]!];
    const lm = long[a.meter]!;
    // The upstream meter's word on a lasting change (only worth computing for one that shows).
    const nb = parentBalance.get(a.meter);
    // Not a named closure per meter: under tsx each costs a defineProperty (5,000 per evaluation).
    const checks =
      nb && !drifting.has(nb.node)
        ? parts
          ? parts.checks(a.meter, () => checksOf(store, nb, a.meter, lm, cfg))
          : checksOf(store, nb, a.meter, lm, cfg)
        : [];
    const check = checks[0];
    // Raised on the node's word alone only where the meter's own data moved the same way: under
    // a feeder with another thief, an honest meter's ordinary departures from its profile follow
    // the occupancy that the thief's missing energy follows as well.
    const upstream = Math.max(
      0,
      ...checks.map((c) => ((lm[c.kind]?.stat ?? 0) >= 2 ? feederEvidence(c) : 0)),
    );
    const longStat = Math.max(lm.stat * feederFactor(check), 2 * upstream * cfg.longMemory.alertStat);
    const lasting =
      longStat >= cfg.longMemory.alertStat
        ? lastingChange(store, lm, longStat, check, a.id, unit, cfg)
        : undefined;
    // The lasting change against the peers replaces the window's drop finding (one condition).
    const own = anomalyFindings(a, store, windows, cfg.anomalies, unit).filter(
      (f) => !(lasting && f.type === 'meter-drop'),
    );
    if (lasting) own.push(lasting);
    for (const f of own) meterEvidence(f, store, a, unit);
    findings.push(...own);
    // A meter's own evidence counts whether or not a balance covers it: a thief whose feeder
    // shows no loss (a tap elsewhere hides it, the band absorbed it) must still stand out. The
    // window's drop is weighed against its 28-day baseline; the lasting step against the peers
    // over months (alertStat maps to 0.5, the meter alert).
    const ownPart = Math.max(clamp(a.score / 3, 0, 1) * 0.6, (0.5 * longStat) / cfg.longMemory.alertStat);
    let score = attribution[a.meter]! + ownPart;
    let reason = attribution[a.meter]! > 0.05 ? attributionReason[a.meter]! : '';
    if (lasting && !reason) reason = lasting.reason;
    const inWindow = own.filter(
      (f) => f.type !== 'meter-drop' && f.type !== 'meter-drift' && f.evidence.to > windowStart,
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
  const meterScore = new Float64Array(top.ids.length);
  const meterReason: string[] = [];
  for (const sc of scores) {
    const i = top.index.get(sc.id)!;
    meterScore[i] = sc.score;
    meterReason[i] = sc.reason;
  }
  for (const b of balances) {
    // Only an episode still going on at the end counts: one that ended in the window is history.
    const active = b.episodes.some((e) => e.ongoing);
    // The current suspects: the children by their scores of this run (attribution of the current
    // loss plus their own evidence), not the ranking of some older episode.
    const current = topBy(b.children, meterScore, 5).map((c) => ({
      meter: top.ids[c]!,
      score: Math.round(meterScore[c]! * 1e4) / 1e4,
      reasons: [meterReason[c] ?? ''],
    }));
    const evidence = nodeEvidence.get(b.node) ?? b.evidence;
    const risen = evidence > b.evidence;
    scores.push({
      id: b.id,
      kind: 'node',
      score: evidence + (active ? 0.5 : 0),
      alert: active || evidence >= cfg.nodeAlert,
      reason:
        risen && b.state === 'normal'
          ? `rising-loss: unexplained energy risen since ${new Date(store.slotStart(nodeRise.get(b.node)!.onsetSlot)).toISOString().slice(0, 10)}, within the technical-loss band`
          : `${b.state}: ${b.stateReason}`,
      suspects: current,
    });
  }
  return { findings, scores, balances, anomalies, suspects, windowFrom, store };
}

function checksOf(
  store: SlotStore,
  nb: NodeBalance,
  m: number,
  lm: LongMemory,
  cfg: ResolvedDetectionConfig,
): FeederCheck[] {
  return feederChecks(store, nb, m, lm, cfg.longMemory.referenceDays, cfg.longMemory.maxOnsetDays);
}

/**
 * The finding of a lasting drop or shape change against the peer buildings: what was expected
 * (the meter's ratio to its peers over the reference days before the onset), what was seen, since
 * when, and the energy short.
 */
function lastingChange(
  store: SlotStore,
  lm: LongMemory,
  stat: number,
  check: FeederCheck | undefined,
  id: string,
  unit: string,
  cfg: ResolvedDetectionConfig,
): Finding {
  const level = lm.level && lm.level.stat >= (lm.shape?.stat ?? 0);
  const t = (level ? lm.level : lm.shape)!;
  const since = store.slotStart(t.onsetSlot);
  const short = lm.expectedSince - lm.seenSince;
  const what = level
    ? `consumption ${(100 * (1 - Math.exp(t.shift))).toFixed(0)} % below its usual ratio to its peer buildings`
    : shapeWords(lm);
  return {
    type: 'meter-drop',
    key: `meter-drop:${id}`,
    severity: stat >= 2 * cfg.longMemory.alertStat ? 'high' : 'medium',
    meter: id,
    score: (0.5 * stat) / cfg.longMemory.alertStat,
    since,
    reason:
      `${id}: ${what} since ${new Date(since).toISOString().slice(0, 10)} (${t.after} days, step test ${lm.stat.toFixed(1)} ` +
      `against the ${t.reference} days before)` +
      (level && short > 0 ? `; about ${short.toFixed(0)} ${unit} less than expected` : '') +
      (check
        ? check.ratio >= 0.5
          ? `; its upstream meter lost ${(100 * check.ratio).toFixed(0)} % of that change since (the energy still flows)`
          : `; its upstream meter saw the change too (${(100 * Math.max(0, check.ratio)).toFixed(0)} % unexplained): more likely a real change of use`
        : ''),
    evidence: {
      from: since,
      to: store.slotStart(store.length),
      figures: {
        model: level ? 'daily energy / peer buildings, step test' : 'daily shape vs own profile, step test',
        stepStatistic: Math.round(lm.stat * 100) / 100,
        ...(check
          ? {
              upstreamCheck: check.kind,
              upstreamShare: Math.round(check.ratio * 100) / 100,
              upstreamPower: Math.round(check.power * 10) / 10,
            }
          : {}),
        ...(!level && lm.shapeKind ? { shapeChange: lm.shapeKind } : {}),
        ...(!level && lm.shapeKind === 'flattened' && lm.shapeSeen
          ? {
              hourlySpreadBefore: Math.round(lm.shapeSeen.before * 1e4) / 1e4,
              hourlySpreadSince: Math.round(lm.shapeSeen.since * 1e4) / 1e4,
            }
          : {}),
        ...(!level && lm.shapeKind === 'reversed' && lm.shapeSeen
          ? {
              directionBefore: Math.round(lm.shapeSeen.before * 100) / 100,
              directionSince: Math.round(lm.shapeSeen.since * 100) / 100,
            }
          : {}),
        shift: Math.round(t.shift * 1e4) / 1e4,
        daysSince: t.after,
        referenceDays: t.reference,
        ...(level
          ? { expectedSince: Math.round(lm.expectedSince), seenSince: Math.round(lm.seenSince) }
          : {}),
        unit,
      },
    },
    ...(level && short > 0 ? { unexplained: short } : {}),
  };
}

/**
 * What happened to the day, in the inspector's words: a flattened day (the same power every hour,
 * Jokar h5) and a reversed one (Jokar h6) keep the day's energy, so only the shape tells.
 */
function shapeWords(lm: LongMemory): string {
  const seen = lm.shapeSeen;
  if (lm.shapeKind === 'flattened' && seen)
    return (
      `its day lost its hourly shape (the hours' spread around the day's mean ${(100 * seen.since).toFixed(1)} % ` +
      `against ${(100 * seen.before).toFixed(1)} % before) while its peers kept theirs: a register reporting the day's average`
    );
  if (lm.shapeKind === 'reversed' && seen)
    return (
      `its day runs backwards against its own profile (direction ${seen.since.toFixed(2)} against ${seen.before.toFixed(2)} ` +
      `before; +1: as its profile, −1: reversed in time) while its peers' days do not`
    );
  return 'daily load shape no longer follows its own profile while its peers still follow theirs';
}

/**
 * Credit for the child whose shortfall the node's loss follows since the loss began (loss-match.ts):
 * the window's ranking cannot see a theft older than its baseline, this can. One thief per loss:
 * the credit shrinks with the distance to the best match.
 */
function lossCredit(
  b: NodeBalance,
  /** The node's evidence: the band's or its loss rise's (evaluate). */
  evidence: number,
  matches: readonly LossMatch[],
  store: SlotStore,
  attribution: Float64Array,
  attributionReason: string[],
): LossMatch | undefined {
  const fits = matches.filter((m) => m.ratio >= MATCH_MIN_RATIO && m.ratio <= MATCH_MAX_RATIO);
  // One thief per rise: each rise's matches are weighed against that rise's best (the first
  // matches are the largest rise's; a later or earlier rise is a second theft's, loss-match.ts).
  const bestAt = new Map<number, number>();
  for (const m of fits) bestAt.set(m.onsetSlot, Math.max(bestAt.get(m.onsetSlot) ?? 0, m.z));
  const first = matches[0]?.onsetSlot;
  let top: LossMatch | undefined;
  for (const m of fits) {
    const best = bestAt.get(m.onsetSlot)!;
    if (m.onsetSlot === first && m.z > MATCH_FROM_Z && m.z === best) top = m;
    const a =
      clamp(evidence, 0, 1) *
      clamp((m.z - MATCH_FROM_Z) / (MATCH_FULL_Z - MATCH_FROM_Z), 0, 1) *
      (m.z / best) ** 2;
    if (a <= attribution[m.child]!) continue;
    attribution[m.child] = a;
    attributionReason[m.child] =
      `top suspect of ${b.id}'s unexplained loss: since ${new Date(store.slotStart(m.onsetSlot)).toISOString().slice(0, 10)} ` +
      `the loss follows its shortfall against its usual share of the feeder, day by day ` +
      `(${(100 * m.ratio).toFixed(0)} % of it shows as unexplained energy, z ${m.z.toFixed(1)})`;
  }
  return top;
}

/**
 * The node's current loss finding says which meter's shortfall it follows since when, how much
 * of that shortfall shows as unexplained energy and how surely: an inspector can set the
 * meter's daily energy beside the node's (the finding's chart) and see the two move together.
 */
function lossFollowsEvidence(f: Finding, m: LossMatch, store: SlotStore): void {
  const meter = store.topology.ids[m.child]!;
  f.evidence.figures = {
    ...f.evidence.figures,
    lossFollows: meter,
    lossFollowsSince: new Date(store.slotStart(m.onsetSlot)).toISOString().slice(0, 10),
    lossFollowsShare: Math.round(m.ratio * 100) / 100,
    lossFollowsZ: Math.round(m.z * 10) / 10,
  };
  f.reason += `; since ${String(f.evidence.figures.lossFollowsSince)} the loss follows ${meter}'s shortfall day by day`;
}

/** The k entries of `ids` with the highest `score`, best first (one pass, k small). */
function topBy(ids: readonly number[], score: Float64Array, k: number): number[] {
  const out: number[] = [];
  for (const i of ids) {
    if (out.length === k && score[i]! <= score[out[k - 1]!]!) continue;
    let j = Math.min(out.length, k - 1);
    out[j] = i;
    while (j > 0 && score[out[j - 1]!]! < score[i]!) {
      out[j] = out[j - 1]!;
      out[--j] = i;
    }
  }
  return out;
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
  return withDetectors(detectInput(input, config), input, detectors);
}

/** The engine's result plus the findings and scores of `detectors` run over `input`. */
export function withDetectors(
  base: DetectionResult,
  input: DetectionInput,
  detectors: readonly Detector[],
): DetectionResult {
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
  feedInstants(detector, list, step, t0, instants);
  return detector.result({ scanAll: true });
}

/**
 * Pushes `instants` instants from t0 on (step apart) of the meters' registers into a detector, in
 * the detector's meter order (`list`): a register between two samples at most two steps apart is
 * interpolated, otherwise unknown; error readings and an open relay are flagged.
 */
export function feedInstants(
  detector: IncrementalDetector,
  list: readonly MeterData[],
  step: number,
  t0: number,
  instants: number,
): void {
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
}

/**
 * The instants of `input` after `after` (UTC ms, exclusive) pushed into a detector made for the
 * same meters (`detector.topology`): the live path's new readings. Returns the last instant pushed
 * (or `after` when none was new).
 */
export function feedNew(
  detector: IncrementalDetector,
  input: DetectionInput,
  step: number,
  after: number,
): number {
  const list = detector.topology.ids.map(
    (id) =>
      input.meters.get(id) ?? {
        meter: id,
        kind: detector.topology.kind[detector.topology.index.get(id)!]!,
        register: [],
        series: {},
      },
  );
  const t0 = Math.floor(after / step) * step + step;
  const instants = Math.max(0, Math.floor((input.to - t0) / step) + 1);
  feedInstants(detector, list, step, t0, instants);
  return instants > 0 ? t0 + (instants - 1) * step : after;
}
