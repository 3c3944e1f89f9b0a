import { intervalConsumption } from '../../metering/consumption/consumption.ts';
import { localTimeToUtc, stepBoundaries } from '../../metering/consumption/zone.ts';
import type { CampusTree } from '../../metering/live/types.ts';
import type {
  CumulativeQuantity,
  IntervalConsumption,
  MeterKind,
  ReadingStore,
  Step,
} from '../../metering/storage.ts';
import type { ValidatedSource } from '../../metering/vee/types.ts';
import { ServiceError } from '../../platform/errors.ts';
import { divRoundHalfUp, toSafeNumber, toScaled, type Fen } from '../billing/money.ts';
import { mapLimit, mergeDays } from '../billing/bill-run.ts';
import {
  charge,
  monthOf,
  tariffVersions,
  type ChargeInterval,
  type CustomerType,
  type TariffTable,
} from '../billing/tariffs.ts';
import type { SettledIntervals } from './settled-intervals.ts';
import { previousPeriod, sameLastYear, type ReportPeriod } from './period.ts';
import { rowOf, spreadOverRows } from './row-costs.ts';
import { scopeMeters, scopeName, type CustomerMeter, type ReportScope, type ScopeMeters } from './scope.ts';

/**
 * Energy reports (issue 15 item 3): per utility, a period's consumption row by row (hours of a
 * day, days of a month, months of a year), its cost at the tariff in force for each interval, and
 * the comparison with the previous period and the same period a year earlier. Computed on the
 * server from the store's interval consumption.
 *
 * Rules:
 * - Consumption is the sum of the scope's top meters' intervals (no meter of the same utility
 *   above them in the scope), each read to 0.001 unit and summed as integers. An interval that
 *   cannot be computed is a gap: counted, left out of the sum, never read as zero. A row or a
 *   total where nothing could be computed is null ("no data"), not 0.
 * - Cost is what the customers' meters in the scope are charged: each meter with an account of a
 *   verified customer type is one charge over the period (as billing charges one meter), from its
 *   days (its hours for a day report), so a tariff that changes on any day applies from that day.
 *   Prepaid meters are priced from the raw interval consumption (what the prepaid debits use);
 *   post-paid meters from VEE's validated days (what a bill run uses). A day report counts the
 *   meter's use earlier in the month towards tiers. The charge is spread over the rows to the fen
 *   (row-costs.ts). Meters that cannot be priced (no verified type, no tariff in force) are
 *   counted, not guessed.
 * - Comparison: absolute and percent change of consumption and cost; null when either side has no
 *   data, and the percent null when the earlier figure is zero.
 */

/** The cumulative register of each utility, and its unit. */
export const REGISTER: Readonly<Record<MeterKind, { quantity: CumulativeQuantity; unit: 'kWh' | 'm³' }>> = {
  electricity: { quantity: 'energy_import_kwh', unit: 'kWh' },
  water: { quantity: 'volume_m3', unit: 'm³' },
  heat: { quantity: 'heat_kwh', unit: 'kWh' },
};

export interface ReportSources {
  tree: CampusTree;
  store: ReadingStore;
  tariffs: TariffTable;
  /** The customer behind a meter (its account's verified type), or undefined. */
  customerOf(meter: string): CustomerMeter | undefined;
  /** Settled intervals remembered between reports; without it every report reads the store. */
  intervals?: SettledIntervals;
  /** VEE's validated intervals, for post-paid meters; without it they are priced like prepaid ones. */
  validated?: ValidatedSource['intervals'];
  /** Heat shown in kWh (the register) or GJ (1 kWh = 0.0036 GJ), as the campus file says. */
  heatUnit: 'kWh' | 'GJ';
  clock(): number;
}

export interface ReportRow {
  start: number;
  end: number;
  /** Consumption in the report's unit, to 0.001; null when no meter could be read (no data). */
  value: number | null;
  /** (meter, interval) pairs that could not be computed: left out of `value`. */
  gaps: number;
  /** Cost of the priced meters in this row, in fen. */
  costFen: Fen;
}

export interface PeriodAmount {
  label: string;
  from: number;
  to: number;
  value: number | null;
  gaps: number;
  costFen: Fen;
  /** Intervals of priced meters left unpriced because their consumption is unknown. */
  unpricedIntervals: number;
}

export interface Change {
  /** Current − earlier, in the unit; null when either has no data. */
  value: number | null;
  /** In %, to 0.1; null when either has no data or the earlier one is zero. */
  percent: number | null;
  costFen: Fen | null;
  costPercent: number | null;
}

export interface UtilityReport {
  utility: MeterKind;
  unit: 'kWh' | 'm³' | 'GJ';
  /** The meters summed for consumption. */
  meters: string[];
  /** Customer meters priced, and meters of accounts left unpriced (with why). */
  priced: number;
  unpriced: { meter: string; reason: string }[];
  rows: ReportRow[];
  total: PeriodAmount;
  previous: PeriodAmount;
  lastYear: PeriodAmount;
  vsPrevious: Change;
  vsLastYear: Change;
}

export interface EnergyReport {
  scope: ReportScope & { name: string };
  period: { kind: ReportPeriod['kind']; label: string; from: number; to: number; step: Step };
  timezone: string;
  generatedAt: number;
  utilities: UtilityReport[];
}

/** Milli-units to the report's unit: kWh and m³ as they are, heat in GJ when asked (exact, half up). */
function toUnit(milli: bigint, kind: MeterKind, heatUnit: 'kWh' | 'GJ'): number {
  const m = kind === 'heat' && heatUnit === 'GJ' ? divRoundHalfUp(milli * 36n, 10_000n) : milli;
  return toSafeNumber(m, 'quantity') / 1000;
}

interface Consumed {
  /** Per row: Σ milli-units and how many meters were known and unknown. */
  milli: bigint[];
  known: number[];
  gaps: number[];
}

/** The consumption meters' intervals summed into the rows (several intervals may make one row). */
function consumed(
  src: ReportSources,
  meters: ReadonlySet<string>,
  intervals: readonly IntervalConsumption[],
  rowStarts: readonly number[],
): Consumed {
  const out: Consumed = {
    milli: rowStarts.map(() => 0n),
    known: rowStarts.map(() => 0),
    gaps: rowStarts.map(() => 0),
  };
  const now = src.clock();
  for (const r of intervals) {
    if (!meters.has(r.meter)) continue;
    const i = rowOf(rowStarts, r.start);
    if (i < 0) continue;
    // An interval not over yet is not missing: it has no data because it has not happened.
    if (r.value === null) out.gaps[i]! += r.end <= now ? 1 : 0;
    else {
      out.milli[i]! += toScaled(r.value, 3);
      out.known[i]!++;
    }
  }
  return out;
}

/** The intervals of every meter of the scope (consumption and prepaid priced ones), in one read. */
function readIntervals(
  src: ReportSources,
  meters: readonly string[],
  quantity: CumulativeQuantity,
  from: number,
  to: number,
  step: '1h' | '1d',
): Promise<IntervalConsumption[]> {
  const q = { meters, quantity, from, to, step, timezone: src.tree.timezone };
  if (meters.length === 0) return Promise.resolve([]);
  return src.intervals ? src.intervals.read({ ...q, now: src.clock() }) : intervalConsumption(src.store, q);
}

interface Priced {
  costFen: Fen[];
  unpricedIntervals: number;
  unpriced: { meter: string; reason: string }[];
}

/** Instants where a price may change for this customer type: its effective dates and the rows' starts (months). */
function priceCuts(
  src: ReportSources,
  kind: MeterKind,
  type: CustomerType,
  rowStarts: readonly number[],
): number[] {
  const dates = tariffVersions(src.tariffs, kind, type).map((v) => v.from);
  return [...new Set([...dates, ...rowStarts])].sort((a, b) => a - b);
}

/**
 * The priced meters' charges over [p.from, p.to), spread over the rows. A year's days are merged
 * between price cuts before pricing (as a bill run does, the same amounts to the fen; the cuts
 * include every month start, so each merged stretch lies in one row).
 */
/** Priced meters read and charged at once (see `priced`). */
const PRICED_AT_ONCE = 4;

async function priced(
  src: ReportSources,
  scope: ScopeMeters,
  kind: MeterKind,
  p: ReportPeriod,
  rowStarts: readonly number[],
  raw: ReadonlyMap<string, IntervalConsumption[]>,
): Promise<Priced> {
  const { quantity } = REGISTER[kind];
  const tz = src.tree.timezone;
  const step = p.kind === 'day' ? '1h' : '1d';
  const now = src.clock();
  const out: Priced = {
    costFen: rowStarts.map(() => 0),
    unpricedIntervals: 0,
    unpriced: scope.unpriced.map((meter) => ({ meter, reason: 'no account of a verified customer type' })),
  };
  const [y, m] = monthOf(p.from, tz).split('-').map(Number) as [number, number];
  const monthStart = localTimeToUtc(tz, y, m, 1);
  // A day report inside a month: the month's use before the day counts towards the tiers.
  const before =
    monthStart < p.from
      ? await readIntervals(
          src,
          scope.priced.filter((x) => !x.customer.postPaid).map((x) => x.meter),
          quantity,
          monthStart,
          p.from,
          '1d',
        )
      : [];
  // A few meters at a time: a post-paid meter's year is a year of VEE (its readings, every
  // 15-minute interval), and all of a campus's at once ran the demo out of its 4 GB heap.
  await mapLimit(scope.priced, PRICED_AT_ONCE, async ({ meter, customer }) => {
    const validated = customer.postPaid && src.validated;
    const intervals = validated
      ? await src.validated!({
          meter,
          quantity,
          from: p.from,
          to: p.to,
          step: step === '1h' ? '15m' : '1d',
        })
      : (raw.get(meter) ?? []);
    const known: ChargeInterval[] = [];
    for (const iv of intervals) {
      if (iv.start < p.from || iv.end > p.to) continue;
      if (iv.value === null || iv.value < 0) out.unpricedIntervals += iv.end <= now ? 1 : 0;
      else known.push({ start: iv.start, end: iv.end, quantity: iv.value });
    }
    let prior = 0n;
    const earlier =
      validated && monthStart < p.from
        ? await src.validated!({ meter, quantity, from: monthStart, to: p.from, step: '1d' })
        : before.filter((iv) => iv.meter === meter);
    for (const iv of earlier) if (iv.value !== null && iv.value > 0) prior += toScaled(iv.value, 3);
    try {
      const result = charge(src.tariffs, {
        utility: kind,
        customerType: customer.type,
        intervals:
          p.kind === 'year' ? mergeDays(known, priceCuts(src, kind, customer.type, rowStarts)) : known,
        priorUsage: prior > 0n ? { [monthOf(p.from, tz)]: Number(prior) / 1000 } : {},
      });
      spreadOverRows(result, rowStarts).forEach((fen, i) => (out.costFen[i]! += fen));
    } catch (err) {
      if (!(err instanceof ServiceError)) throw err;
      out.unpriced.push({ meter, reason: err.message });
    }
  });
  out.unpriced.sort((a, b) => a.meter.localeCompare(b.meter));
  return out;
}

function amount(
  src: ReportSources,
  kind: MeterKind,
  period: ReportPeriod,
  c: Consumed,
  cost: Priced,
): PeriodAmount {
  const known = c.known.some((k) => k > 0);
  return {
    ...{ label: period.label, from: period.from, to: period.to },
    value: known
      ? toUnit(
          c.milli.reduce((a, b) => a + b, 0n),
          kind,
          src.heatUnit,
        )
      : null,
    gaps: c.gaps.reduce((a, b) => a + b, 0),
    costFen: cost.costFen.reduce((a, b) => a + b, 0),
    unpricedIntervals: cost.unpricedIntervals,
  };
}

const pct = (now: number, before: number): number | null =>
  before === 0 ? null : Math.round(((now - before) / before) * 1000) / 10;

export function change(now: PeriodAmount, before: PeriodAmount): Change {
  const both = now.value !== null && before.value !== null;
  return {
    value: both ? Math.round((now.value! - before.value!) * 1000) / 1000 : null,
    percent: both ? pct(now.value!, before.value!) : null,
    // A period with no data has no cost either: its 0 fen is not a price of nothing.
    costFen: both ? now.costFen - before.costFen : null,
    costPercent: both ? pct(now.costFen, before.costFen) : null,
  };
}

/** A whole period of one utility: per row consumption and cost, and the total. */
async function periodOf(src: ReportSources, kind: MeterKind, scope: ScopeMeters, period: ReportPeriod) {
  const rowStarts = stepBoundaries(period.from, period.to, period.step, src.tree.timezone).slice(0, -1);
  const step = period.kind === 'day' ? '1h' : '1d';
  const prepaid = scope.priced.filter((x) => !(x.customer.postPaid && src.validated)).map((x) => x.meter);
  const meters = [...new Set([...scope.consumption, ...prepaid])];
  const intervals = await readIntervals(src, meters, REGISTER[kind].quantity, period.from, period.to, step);
  const byMeter = new Map<string, IntervalConsumption[]>();
  for (const iv of intervals) {
    const list = byMeter.get(iv.meter) ?? [];
    list.push(iv);
    byMeter.set(iv.meter, list);
  }
  const c = consumed(src, new Set(scope.consumption), intervals, rowStarts);
  const cost = await priced(src, scope, kind, period, rowStarts, byMeter);
  return { rowStarts, c, cost, total: amount(src, kind, period, c, cost) };
}

async function utilityReport(
  src: ReportSources,
  kind: MeterKind,
  scope: ScopeMeters,
  period: ReportPeriod,
): Promise<UtilityReport> {
  const tz = src.tree.timezone;
  const prevPeriod = previousPeriod(period, tz);
  const yearPeriod = sameLastYear(period, tz);
  // For a year report the previous period is the same year a year earlier: computed once.
  const same = prevPeriod.from === yearPeriod.from;
  const [now, prev, year] = await Promise.all([
    periodOf(src, kind, scope, period),
    periodOf(src, kind, scope, prevPeriod),
    same ? undefined : periodOf(src, kind, scope, yearPeriod),
  ]);
  const lastYear = (year ?? prev).total;
  const rows: ReportRow[] = now.rowStarts.map((start, i) => ({
    start,
    end: now.rowStarts[i + 1] ?? period.to,
    value: now.c.known[i]! > 0 ? toUnit(now.c.milli[i]!, kind, src.heatUnit) : null,
    gaps: now.c.gaps[i]!,
    costFen: now.cost.costFen[i]!,
  }));
  return {
    utility: kind,
    unit: kind === 'heat' && src.heatUnit === 'GJ' ? 'GJ' : REGISTER[kind].unit,
    meters: scope.consumption,
    priced: scope.priced.length - now.cost.unpriced.filter((u) => !scope.unpriced.includes(u.meter)).length,
    unpriced: now.cost.unpriced,
    rows,
    total: now.total,
    previous: prev.total,
    lastYear,
    vsPrevious: change(now.total, prev.total),
    vsLastYear: change(now.total, lastYear),
  };
}

/** The report of `scope` over `period`, one section per utility the scope has meters of. */
export async function energyReport(
  src: ReportSources,
  scope: ReportScope,
  period: ReportPeriod,
): Promise<EnergyReport> {
  const meters = scopeMeters(src.tree, scope, src.customerOf);
  const utilities = await Promise.all([...meters].map(([kind, m]) => utilityReport(src, kind, m, period)));
  return {
    scope: { ...scope, name: scopeName(src.tree, scope) },
    period: { kind: period.kind, label: period.label, from: period.from, to: period.to, step: period.step },
    timezone: src.tree.timezone,
    generatedAt: src.clock(),
    utilities,
  };
}
