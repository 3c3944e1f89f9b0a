import { intervalConsumption } from '../../metering/consumption/consumption.ts';
import { floorToStep, localTimeToUtc, wallClock } from '../../metering/consumption/zone.ts';
import type {
  CumulativeQuantity,
  IntervalConsumption,
  MeterKind,
  ReadingStore,
} from '../../metering/storage.ts';
import type { CampusTree, HealthResponse, LiveReading, TreeNode } from '../../metering/live/types.ts';

/**
 * The overview's figures, computed on the server from the store's interval consumption (never in
 * the browser): today so far against the same hours of the same weekday last week, per utility
 * for the campus and per building; electricity peak demand; loss per metered node; what is failing;
 * what is off in a planned outage (not a fault: its supply is cut on purpose, announced ahead);
 * open alerts by type; approvals waiting.
 *
 * "Today so far" is [local midnight, the last complete 15-minute boundary): the interval under way
 * has no reading at its end yet and would read as a gap. Last week's window is the same local
 * hours seven calendar days earlier, so a morning is compared with a morning.
 */

const STEP_MS = 15 * 60_000;
const KINDS: readonly MeterKind[] = ['electricity', 'water', 'heat'];
export const REGISTER_OF: Readonly<Record<MeterKind, [CumulativeQuantity, string]>> = {
  electricity: ['energy_import_kwh', 'kWh'],
  water: ['volume_m3', 'm³'],
  heat: ['heat_kwh', 'kWh'],
};

/** A consumption figure over a window: `value` sums the intervals that could be computed. */
export interface Figure {
  value: number | null;
  /** (meter, quarter hour) pairs that could not be computed: left out, never read as zero. */
  gaps: number;
}

export interface UtilityFigure {
  kind: MeterKind;
  unit: string;
  /** The top meters of this utility, whose sum is the campus figure. */
  meters: string[];
  today: Figure;
  lastWeek: Figure;
  /** Yesterday's whole campus day, and the same weekday the week before. */
  yesterday: Figure;
  weekBeforeYesterday: Figure;
}

export interface BuildingFigure {
  id: string;
  name: string;
  site: string;
  kind: MeterKind;
  unit: string;
  today: Figure;
  lastWeek: Figure;
  yesterday: Figure;
  weekBeforeYesterday: Figure;
}

export interface PeakDemand {
  /** Highest 15-minute average demand of the campus's top electricity meters, kW. */
  kw: number | null;
  /** Start of that 15-minute interval (UTC ms). */
  at: number | null;
  lastWeekKw: number | null;
  lastWeekAt: number | null;
  yesterdayKw: number | null;
  yesterdayAt: number | null;
}

export interface NodeLoss {
  node: string;
  name: string;
  kind: MeterKind;
  unit: string;
  children: number;
  /**
   * The node's own consumption and its meters' sum over the last 24 hours of complete quarter
   * hours (steadier than a day just begun), over the intervals where every one of them is known.
   */
  upstream: number;
  downstream: number;
  /** (upstream − downstream) / upstream, in %; null when upstream is zero or nothing is known. */
  lossPercent: number | null;
  /** Intervals left out because a meter of the node had a gap. */
  gaps: number;
  /** Open energy-balance alert on this node: detection found the loss above its learned band. */
  alert: number | null;
}

export interface Failing {
  gateways: { id: string; site: string; state: 'offline' | 'unknown'; ts: number | null }[];
  /** Devices whose polling is paused after repeated failures (the gateway's circuit breaker). */
  devices: { gateway: string; device: string; state: 'open' | 'half-open'; errorRate: number }[];
  meters: { meter: string; reason: 'error' | 'stale'; ts: number; error?: string }[];
}

export interface Overview {
  timezone: string;
  /** When the figures were computed (UTC ms). */
  at: number;
  window: OverviewWindow;
  utilities: UtilityFigure[];
  buildings: BuildingFigure[];
  peak: PeakDemand;
  losses: NodeLoss[];
  failing: Failing;
  /**
   * Meters that would be failing (not answering or silent) but are in an approved outage's window
   * (from its start to its settling time): counted here, never among the faults.
   */
  inPlannedOutage: { meter: string; outage: number; reason: 'error' | 'stale'; ts: number }[];
  /** Undecided alerts (open, assigned, field-checked) by type; absent when the caller may not see alerts. */
  alerts?: { total: number; byType: Record<string, number> };
  /** Requests waiting for a second person, by kind; only the kinds the caller may see. */
  approvals: { relay?: number; prepaid?: number; lines?: number };
}

export interface OverviewSources {
  tree: CampusTree;
  store: ReadingStore;
  latest(): LiveReading[];
  health(): HealthResponse;
  clock(): number;
  /** Undecided alerts (id, type, node); undefined when the caller may not see alerts. */
  openAlerts?: () => { id: number; type: string; node?: string }[];
  approvals: () => Overview['approvals'];
  /** The approved outage a meter is in now, if any (none given: no meter is). */
  outageOf?: (meter: string) => number | undefined;
}

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

function isMeter(n: TreeNode | undefined): n is TreeNode & { kind: MeterKind } {
  return !!n && n.kind !== 'group';
}

/** Meters of `kind` with no meter of the same kind above them: together they are the campus. */
export function topMeters(tree: CampusTree, kind: MeterKind): string[] {
  const out: string[] = [];
  for (const n of Object.values(tree.nodes)) {
    if (n.kind !== kind) continue;
    let p = n.parent ? tree.nodes[n.parent] : undefined;
    let covered = false;
    while (p) {
      if (p.kind === kind) {
        covered = true;
        break;
      }
      p = p.parent ? tree.nodes[p.parent] : undefined;
    }
    if (!covered) out.push(n.id);
  }
  return out.sort();
}

/** Meters with at least one child meter of their own utility: the nodes a loss can be computed for. */
export function meteredNodes(
  tree: CampusTree,
): { node: TreeNode & { kind: MeterKind }; children: string[] }[] {
  const out: { node: TreeNode & { kind: MeterKind }; children: string[] }[] = [];
  for (const n of Object.values(tree.nodes)) {
    if (!isMeter(n)) continue;
    const children = n.children.filter((c) => tree.nodes[c]?.kind === n.kind);
    if (children.length) out.push({ node: n, children });
  }
  return out;
}

/** Per meter, its interval values by interval start (null = not computable). */
function byMeter(rows: readonly IntervalConsumption[], from: number, to: number) {
  const out = new Map<string, Map<number, number | null>>();
  for (const r of rows) {
    if (r.start < from || r.end > to) continue;
    let m = out.get(r.meter);
    if (!m) out.set(r.meter, (m = new Map()));
    m.set(r.start, r.value);
  }
  return out;
}

function starts(from: number, to: number): number[] {
  const out: number[] = [];
  for (let t = from; t < to; t += STEP_MS) out.push(t);
  return out;
}

/**
 * Σ over meters and intervals of what could be computed. A meter's unknown interval is counted in
 * `gaps` (and the page says the figure is incomplete) instead of making the whole campus unknown:
 * one silent meter among 300 must not blank the campus total.
 */
function figure(
  values: Map<string, Map<number, number | null>>,
  meters: readonly string[],
  slots: number[],
): Figure {
  let value = 0;
  let gaps = 0;
  let known = 0;
  for (const s of slots) {
    for (const m of meters) {
      const v = values.get(m)?.get(s);
      if (v === null || v === undefined) gaps++;
      else {
        value += v;
        known++;
      }
    }
  }
  return { value: known ? round(value) : null, gaps };
}

function peakOf(values: Map<string, Map<number, number | null>>, meters: readonly string[], slots: number[]) {
  let kw: number | null = null;
  let at: number | null = null;
  for (const s of slots) {
    let total = 0;
    let known = 0;
    for (const m of meters) {
      const v = values.get(m)?.get(s);
      if (v !== null && v !== undefined) {
        total += v;
        known++;
      }
    }
    if (!known) continue;
    // kWh in a quarter hour × 4 = the quarter hour's average kW (how a utility's demand meter reads).
    const d = total * (3_600_000 / STEP_MS);
    if (kw === null || d > kw) {
      kw = round(d, 2);
      at = s;
    }
  }
  return { kw, at };
}

export interface OverviewWindow {
  /** Today so far: [local midnight, the last quarter-hour boundary). */
  from: number;
  to: number;
  /** The same local hours seven calendar days before. */
  lastWeekFrom: number;
  lastWeekTo: number;
  /** Yesterday's campus day and the same weekday a week before it. */
  yesterdayFrom: number;
  lastWeekYesterdayFrom: number;
  /** The losses' window: the 24 hours before `to`. */
  lossFrom: number;
}

export function overviewWindow(now: number, timezone: string): OverviewWindow {
  const from = floorToStep(now, '1d', timezone);
  const to = Math.max(from, floorToStep(now, '15m', timezone));
  const w = wallClock(from, timezone);
  const day = (d: number) => localTimeToUtc(timezone, w.year, w.month, w.day + d);
  const lastWeekFrom = day(-7);
  return {
    ...{ from, to, lastWeekFrom, lastWeekTo: lastWeekFrom + (to - from) },
    ...{ yesterdayFrom: day(-1), lastWeekYesterdayFrom: day(-8), lossFrom: to - 86_400_000 },
  };
}

/** The figures read from the store: the expensive part, the same for every caller in a quarter hour. */
export type ConsumptionFigures = Pick<Overview, 'window' | 'utilities' | 'buildings' | 'peak' | 'losses'>;

/** The window's slot lists, shared by every utility of one computation. */
interface Slots {
  today: number[];
  week: number[];
  yesterday: number[];
  weekYesterday: number[];
  loss: number[];
}

type ByMeter = Map<string, Map<number, number | null>>;

export async function computeConsumption(
  tree: CampusTree,
  store: ReadingStore,
  now: number,
): Promise<ConsumptionFigures> {
  const window = overviewWindow(now, tree.timezone);
  const slots: Slots = {
    today: starts(window.from, window.to),
    week: starts(window.lastWeekFrom, window.lastWeekTo),
    yesterday: starts(window.yesterdayFrom, window.from),
    weekYesterday: starts(window.lastWeekYesterdayFrom, window.lastWeekFrom),
    loss: starts(window.lossFrom, window.to),
  };
  const perKind = await Promise.all(KINDS.map((kind) => kindFigures(tree, store, window, slots, kind)));
  const utilities = perKind.flatMap((k) => (k ? [k.utility] : []));
  const buildings = perKind.flatMap((k) => k?.buildings ?? []);
  const losses = perKind.flatMap((k) => k?.losses ?? []);
  const peak = perKind.find((k) => k?.peak)?.peak ?? {
    kw: null,
    at: null,
    lastWeekKw: null,
    lastWeekAt: null,
    yesterdayKw: null,
    yesterdayAt: null,
  };
  utilities.sort((a, b) => KINDS.indexOf(a.kind) - KINDS.indexOf(b.kind));
  buildings.sort((a, b) => KINDS.indexOf(a.kind) - KINDS.indexOf(b.kind) || a.id.localeCompare(b.id));
  return { window, utilities, buildings, peak, losses };
}

/** One utility's figures: its campus total, its buildings, the losses of its metered nodes, its peak. */
async function kindFigures(
  tree: CampusTree,
  store: ReadingStore,
  window: OverviewWindow,
  slots: Slots,
  kind: MeterKind,
): Promise<{
  utility: UtilityFigure;
  buildings: BuildingFigure[];
  losses: NodeLoss[];
  peak?: PeakDemand;
} | null> {
  const [quantity, unit] = REGISTER_OF[kind];
  const top = topMeters(tree, kind);
  const kindNodes = meteredNodes(tree).filter((n) => n.node.kind === kind);
  const buildingNodes = Object.values(tree.nodes).filter(
    (n): n is TreeNode & { kind: MeterKind } => isMeter(n) && n.role === 'building' && n.kind === kind,
  );
  const meters = [
    ...new Set([
      ...top,
      ...buildingNodes.map((b) => b.id),
      ...kindNodes.flatMap((n) => [n.node.id, ...n.children]),
    ]),
  ];
  if (meters.length === 0) return null;
  const read = async (from: number, to: number): Promise<ByMeter> =>
    to > from
      ? byMeter(
          await intervalConsumption(store, {
            meters,
            quantity,
            from,
            to,
            step: '15m',
            timezone: tree.timezone,
          }),
          from,
          to,
        )
      : new Map();
  // Two reads: yesterday and today (the losses' 24 hours lie within), and the same a week before.
  const [today, week] = await Promise.all([
    read(window.yesterdayFrom, window.to),
    read(window.lastWeekYesterdayFrom, window.lastWeekTo),
  ]);
  const figures = (ms: readonly string[]) => ({
    today: figure(today, ms, slots.today),
    lastWeek: figure(week, ms, slots.week),
    yesterday: figure(today, ms, slots.yesterday),
    weekBeforeYesterday: figure(week, ms, slots.weekYesterday),
  });
  const buildings = buildingNodes.map((b) => ({
    ...{ id: b.id, name: b.name, site: b.site, kind, unit },
    ...figures([b.id]),
  }));
  const losses = kindNodes.map(({ node, children }) =>
    nodeLoss(node, children, today, slots.loss, { kind, unit }),
  );
  const out = { utility: { kind, unit, meters: top, ...figures(top) }, buildings, losses };
  if (kind !== 'electricity') return out;
  const p = peakOf(today, top, slots.today);
  const q = peakOf(week, top, slots.week);
  const y = peakOf(today, top, slots.yesterday);
  return {
    ...out,
    peak: { kw: p.kw, at: p.at, lastWeekKw: q.kw, lastWeekAt: q.at, yesterdayKw: y.kw, yesterdayAt: y.at },
  };
}

/** A metered node's loss over the slots where it and every child were read; a slot missing any is a gap. */
function nodeLoss(
  node: TreeNode & { kind: MeterKind },
  children: readonly string[],
  today: ByMeter,
  slots: readonly number[],
  u: { kind: MeterKind; unit: UtilityFigure['unit'] },
): NodeLoss {
  const members = [node.id, ...children];
  let up = 0;
  let down = 0;
  let gaps = 0;
  let known = 0;
  for (const s of slots) {
    const vs = members.map((m) => today.get(m)?.get(s));
    if (vs.some((v) => v === null || v === undefined)) {
      gaps++;
      continue;
    }
    known++;
    up += vs[0]!;
    down += sum(vs.slice(1) as number[]);
  }
  return {
    ...{ node: node.id, name: node.name, kind: u.kind, unit: u.unit, children: children.length },
    upstream: round(up),
    downstream: round(down),
    lossPercent: known && up > 0 ? round((100 * (up - down)) / up, 2) : null,
    gaps,
    alert: null,
  };
}

/**
 * The overview from the consumption figures (computed now, or `cached` ones of the same quarter
 * hour) and what changes by the second: health, alerts, approvals.
 */
export async function computeOverview(
  src: OverviewSources,
  cached?: Promise<ConsumptionFigures>,
): Promise<Overview> {
  const now = src.clock();
  const figures = await (cached ?? computeConsumption(src.tree, src.store, now));
  const open = src.openAlerts?.();
  const alertsByNode = new Map<string, number>();
  for (const a of open ?? []) if (a.type === 'energy-balance' && a.node) alertsByNode.set(a.node, a.id);
  const losses = figures.losses.map((l) => ({ ...l, alert: alertsByNode.get(l.node) ?? null }));
  // Marked ones first, then the highest loss: what an operator should look at is on top.
  losses.sort(
    (a, b) =>
      Number(b.alert !== null) - Number(a.alert !== null) ||
      (b.lossPercent ?? -Infinity) - (a.lossPercent ?? -Infinity) ||
      a.node.localeCompare(b.node),
  );

  const health = src.health();
  const { failingMeters, inPlannedOutage } = metersOff(src);
  const failing: Failing = {
    gateways: health.gateways
      .filter((g): g is typeof g & { state: 'offline' | 'unknown' } => g.state !== 'online')
      .map((g) => ({ id: g.id, site: g.site, state: g.state, ts: g.ts })),
    devices: health.devices
      .filter((d): d is typeof d & { breaker: 'open' | 'half-open' } => d.breaker !== 'closed')
      .map((d) => ({ gateway: d.gateway, device: d.device, state: d.breaker, errorRate: d.errorRate })),
    meters: failingMeters,
  };
  const byType: Record<string, number> = {};
  for (const a of open ?? []) byType[a.type] = (byType[a.type] ?? 0) + 1;
  return {
    timezone: src.tree.timezone,
    at: now,
    ...figures,
    losses,
    failing,
    inPlannedOutage,
    ...(open ? { alerts: { total: open.length, byType } } : {}),
    approvals: src.approvals(),
  };
}

/** Meters not answering or silent: faults, unless a planned outage they are in explains it. */
function metersOff(src: OverviewSources): {
  failingMeters: Failing['meters'];
  inPlannedOutage: Overview['inPlannedOutage'];
} {
  const failingMeters: Failing['meters'] = [];
  const inPlannedOutage: Overview['inPlannedOutage'] = [];
  for (const r of src.latest()) {
    if (r.quality !== 'error' && !r.stale) continue;
    const reason = r.quality === 'error' ? ('error' as const) : ('stale' as const);
    const outage = src.outageOf?.(r.meter);
    if (outage !== undefined) inPlannedOutage.push({ meter: r.meter, outage, reason, ts: r.ts });
    else
      failingMeters.push({ meter: r.meter, reason, ts: r.ts, ...(r.error ? { error: r.error.code } : {}) });
  }
  const byMeter = (a: { meter: string }, b: { meter: string }) =>
    a.meter.localeCompare(b.meter, 'en', { numeric: true });
  return { failingMeters: failingMeters.sort(byMeter), inPlannedOutage: inPlannedOutage.sort(byMeter) };
}
