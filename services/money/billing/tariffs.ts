import { z } from 'zod';
import { localTimeToUtc, wallClock } from '../../metering/consumption/zone.ts';
import { fail, type ErrorCatalogue } from '../../platform/errors.ts';
import { divRoundHalfUp, isExactAtScale, toSafeNumber, toScaled, type Fen } from './money.ts';

/**
 * Tariffs as data, and the one pure function that prices consumption with them. Prepaid sales use
 * it today and post-paid billing will; it knows nothing about accounts or databases.
 *
 * Units and exactness:
 * - Prices are written as decimal strings in yuan per unit (kWh, m³), at most 5 decimals, and
 *   held as integer milli-fen per unit (1 milli-fen = 0.00001 yuan): "0.5883" → 58 830.
 * - Quantities are held as integer milli-units (Wh, litres): a meter's float kWh is read through
 *   its shortest decimal form and rounded half up to 0.001 (no meter resolves finer).
 * - quantity (milli-units) × price (milli-fen per unit) is an exact integer in micro-fen (10⁻⁶ fen),
 *   summed in bigint.
 *
 * Rounding rule (the only one): each component's exact micro-fen over the whole charge is rounded
 * half up to whole fen once; the total is the sum of the rounded components. Example: 0.5 kWh at
 * 0.61 yuan/kWh is exactly 30.5 fen and is charged 31 fen (banker's rounding would give 30).
 *
 * Periods: a tariff version is in force from its `effectiveFrom` (local midnight in the table's
 * time zone) until the next version's. An interval that crosses an effective date or a month start
 * is split there, its quantity shared in proportion to time and rounded half up to whole
 * milli-units cumulatively, so the parts add up exactly to the interval's quantity. Each part is
 * priced with the version in force at its start.
 *
 * Tiers (block tariffs) count consumption per local calendar month: the intervals of a charge in
 * time order, after `priorUsage` (what was already consumed in that month before this charge).
 */

export const UTILITIES = ['electricity', 'water', 'heat'] as const;
export type Utility = (typeof UTILITIES)[number];

export const CUSTOMER_TYPES = [
  'student-room',
  'staff-household',
  'business',
  'external',
  'fully-recovered-unit',
  'vendor',
  'public',
] as const;
export type CustomerType = (typeof CUSTOMER_TYPES)[number];

export const TARIFF_ERRORS = {
  INVALID_TARIFF_TABLE: {
    status: 422,
    description: 'The tariff table does not pass its schema or is inconsistent',
  },
  TARIFF_NOT_FOUND: {
    status: 409,
    description: 'No tariff is in force for this utility and customer type at the time being charged',
  },
  INVALID_QUANTITY: {
    status: 400,
    description: 'An interval is empty, reversed, or its quantity is negative or not a finite number',
  },
} as const satisfies ErrorCatalogue;

const PRICE = z
  .string()
  .regex(/^\d{1,6}(\.\d{1,5})?$/, 'a price is a decimal string in yuan per unit with at most 5 decimals')
  .describe('Yuan per unit, e.g. "0.5883"');

const TierSchema = z
  .object({
    upTo: z
      .number()
      .positive()
      .refine((n) => isExactAtScale(n, 3), 'tier limits have at most 3 decimals')
      .optional()
      .describe('Upper limit of the block in units per month; absent on the last block'),
    price: PRICE,
  })
  .strict();

const ComponentSchema = z
  .object({
    name: z.string().min(1).describe('e.g. "energy", "water", "water-resource-fee", "sewage-treatment-fee"'),
    price: PRICE.optional(),
    tiers: z.array(TierSchema).min(1).optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if ((c.price === undefined) === (c.tiers === undefined)) {
      ctx.addIssue({ code: 'custom', message: `component ${c.name}: give either price or tiers` });
    }
    if (c.tiers) {
      c.tiers.forEach((t, i) => {
        const last = i === c.tiers!.length - 1;
        if (last !== (t.upTo === undefined)) {
          ctx.addIssue({ code: 'custom', message: `component ${c.name}: only the last tier has no upTo` });
        }
        const prev = c.tiers![i - 1]?.upTo;
        if (prev !== undefined && t.upTo !== undefined && t.upTo <= prev) {
          ctx.addIssue({ code: 'custom', message: `component ${c.name}: tier limits must increase` });
        }
      });
    }
  });

const DATE = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date is YYYY-MM-DD');

export const TariffVersionSchema = z
  .object({
    utility: z.enum(UTILITIES),
    customerTypes: z.array(z.enum(CUSTOMER_TYPES)).min(1),
    effectiveFrom: DATE.describe('First local day the version is in force'),
    unit: z.enum(['kWh', 'm3']),
    components: z.array(ComponentSchema).min(1),
    note: z.string().optional().describe('E.g. the price bureau document the prices come from'),
  })
  .strict();

export const TariffTableSchema = z
  .object({
    timezone: z.string().default('Asia/Shanghai').describe('IANA zone of effective dates and tier months'),
    tierLimitsWithinMonth: z
      .enum(['cumulative', 'pro-rata'])
      .default('cumulative')
      .describe(
        "When a version with other tier limits takes effect inside a month. cumulative: the month's use is counted from its first day, each part against the limits in force when it is used. pro-rata: each version's days of the month are a block of their own, counted from zero against its limits × its share of the month's days",
      ),
    tariffs: z.array(TariffVersionSchema),
  })
  .strict();
export type TariffTableInput = z.input<typeof TariffTableSchema>;

interface CompiledTier {
  /** Upper limit in milli-units per month; null for the last block. */
  upTo: bigint | null;
  priceMilliFen: bigint;
}
interface CompiledComponent {
  name: string;
  tiers: CompiledTier[];
}
interface CompiledVersion {
  effectiveFrom: string;
  /** UTC ms of local midnight starting effectiveFrom. */
  from: number;
  unit: 'kWh' | 'm3';
  components: CompiledComponent[];
}

/** A validated tariff table, ready to charge with. Build it with `parseTariffTable`. */
export interface TariffTable {
  readonly timezone: string;
  /** How tier limits apply when they change inside a month (see the schema); cumulative when absent. */
  readonly tierLimitsWithinMonth?: 'cumulative' | 'pro-rata';
  /** Versions per `${utility}/${customerType}`, by effective date. */
  readonly versions: ReadonlyMap<string, readonly CompiledVersion[]>;
}

const key = (utility: Utility, customerType: CustomerType): string => `${utility}/${customerType}`;

/** Validates a tariff table (e.g. parsed from JSON or YAML) and compiles it to exact integers. */
export function parseTariffTable(input: unknown): TariffTable {
  const parsed = TariffTableSchema.safeParse(input);
  if (!parsed.success) fail(TARIFF_ERRORS, 'INVALID_TARIFF_TABLE', z.prettifyError(parsed.error));
  const { timezone, tariffs, tierLimitsWithinMonth } = parsed.data;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
  } catch {
    fail(TARIFF_ERRORS, 'INVALID_TARIFF_TABLE', `unknown time zone ${timezone}`);
  }
  const versions = new Map<string, CompiledVersion[]>();
  for (const t of tariffs) {
    const [y, m, d] = t.effectiveFrom.split('-').map(Number) as [number, number, number];
    const compiled: CompiledVersion = {
      effectiveFrom: t.effectiveFrom,
      from: localTimeToUtc(timezone, y, m, d),
      unit: t.unit,
      components: t.components.map((c) => ({
        name: c.name,
        tiers: (c.tiers ?? [{ price: c.price! }]).map((tier) => ({
          upTo: 'upTo' in tier && tier.upTo !== undefined ? toScaled(tier.upTo, 3) : null,
          priceMilliFen: toScaled(tier.price, 5),
        })),
      })),
    };
    for (const ct of t.customerTypes) {
      const list = versions.get(key(t.utility, ct)) ?? [];
      if (list.some((v) => v.from === compiled.from)) {
        fail(
          TARIFF_ERRORS,
          'INVALID_TARIFF_TABLE',
          `two ${t.utility} tariffs for ${ct} take effect on ${t.effectiveFrom}`,
        );
      }
      list.push(compiled);
      versions.set(key(t.utility, ct), list);
    }
  }
  for (const list of versions.values()) list.sort((a, b) => a.from - b.from);
  return { timezone, tierLimitsWithinMonth, versions };
}

export interface ChargeInterval {
  /** UTC ms, inclusive. */
  start: number;
  /** UTC ms, exclusive. */
  end: number;
  /** Consumption in the tariff's unit (kWh, m³); finite and not negative. */
  quantity: number;
}

export interface ChargeRequest {
  utility: Utility;
  customerType: CustomerType;
  intervals: readonly ChargeInterval[];
  /** Units already consumed in a local month ("YYYY-MM") before this charge; counts for tiers. */
  priorUsage?: Readonly<Record<string, number>>;
}

/** One priced piece: part of an interval, one component, one tier. For the self-check of a sale. */
export interface ChargeLine {
  start: number;
  end: number;
  effectiveFrom: string;
  component: string;
  /** 0-based block index; 0 for untiered components. */
  tier: number;
  quantityMilli: number;
  priceMilliFen: number;
  /** Exact amount in micro-fen (10⁻⁶ fen), as a decimal string. */
  microFen: string;
}

export interface ComponentCharge {
  name: string;
  /** Exact amount in micro-fen before rounding, as a decimal string. */
  microFen: string;
  amountFen: Fen;
}

export interface ChargeResult {
  utility: Utility;
  customerType: CustomerType;
  /** Total quantity charged, in milli-units. */
  quantityMilli: number;
  /** Quantity per local month ("YYYY-MM") in milli-units, for the next charge's priorUsage. */
  usageByMonth: Record<string, number>;
  components: ComponentCharge[];
  totalFen: Fen;
  lines: ChargeLine[];
}

/** The local month ("YYYY-MM") of instant `ts`. */
export function monthOf(ts: number, timeZone: string): string {
  const w = wallClock(ts, timeZone);
  return `${w.year}-${String(w.month).padStart(2, '0')}`;
}

/** The versions in force for a utility and customer type (empty when there are none). */
export function tariffVersions(table: TariffTable, utility: Utility, customerType: CustomerType) {
  return table.versions.get(key(utility, customerType)) ?? [];
}

/** True when a tariff for this utility and customer type is in force at `at`. */
export function hasTariff(
  table: TariffTable,
  utility: Utility,
  customerType: CustomerType,
  at: number,
): boolean {
  return tariffVersions(table, utility, customerType).some((v) => v.from <= at);
}

/** Instants strictly inside (start, end) where the price or the tier month may change. */
function cutsInside(start: number, end: number, versions: readonly CompiledVersion[], tz: string): number[] {
  const cuts = new Set<number>();
  for (const v of versions) if (v.from > start && v.from < end) cuts.add(v.from);
  const w = wallClock(start, tz);
  for (let i = 1; ; i++) {
    const monthStart = localTimeToUtc(tz, w.year, w.month + i, 1);
    if (monthStart >= end) break;
    if (monthStart > start) cuts.add(monthStart);
  }
  return [...cuts].sort((a, b) => a - b);
}

/**
 * Under 'pro-rata', when versions change inside the month of `at`: the span of that month the
 * version is in force (ms), the month's length, and whether it is the month's first span (which
 * counts the prior usage). Undefined under 'cumulative' or when one version covers the month.
 */
function tierBlock(
  table: TariffTable,
  versions: readonly CompiledVersion[],
  version: CompiledVersion,
  at: number,
): { ms: bigint; monthMs: bigint; first: boolean } | undefined {
  if (table.tierLimitsWithinMonth !== 'pro-rata') return undefined;
  const tz = table.timezone;
  const w = wallClock(at, tz);
  const monthStart = localTimeToUtc(tz, w.year, w.month, 1);
  const monthEnd = localTimeToUtc(tz, w.year, w.month + 1, 1);
  const next = versions.find((v) => v.from > version.from)?.from ?? Infinity;
  const from = Math.max(monthStart, version.from);
  const to = Math.min(monthEnd, next);
  if (from === monthStart && to === monthEnd) return undefined;
  return { ms: BigInt(to - from), monthMs: BigInt(monthEnd - monthStart), first: from === monthStart };
}

/**
 * Prices consumption: per component the exact amount and the amount in fen (rounded half up once
 * per component), and the total. Pure: everything it needs is in its arguments.
 */
export function charge(table: TariffTable, request: ChargeRequest): ChargeResult {
  const { utility, customerType } = request;
  const versions = tariffVersions(table, utility, customerType);
  const tz = table.timezone;
  const usage = new Map<string, bigint>();
  for (const [month, q] of Object.entries(request.priorUsage ?? {})) {
    if (!Number.isFinite(q) || q < 0)
      fail(TARIFF_ERRORS, 'INVALID_QUANTITY', `prior usage of ${month} is ${q}`);
    usage.set(month, toScaled(q, 3));
  }
  const usageThisCharge = new Map<string, bigint>();
  const componentTotals = new Map<string, bigint>();
  const lines: ChargeLine[] = [];
  let totalQuantity = 0n;

  const intervals = [...request.intervals].sort((a, b) => a.start - b.start);
  for (const iv of intervals) {
    if (!Number.isFinite(iv.start) || !Number.isFinite(iv.end) || !(iv.end > iv.start)) {
      fail(TARIFF_ERRORS, 'INVALID_QUANTITY', `interval [${iv.start}, ${iv.end}) is empty or reversed`);
    }
    if (!Number.isFinite(iv.quantity) || iv.quantity < 0) {
      fail(TARIFF_ERRORS, 'INVALID_QUANTITY', `quantity ${iv.quantity} is not a finite non-negative number`);
    }
    const q = toScaled(iv.quantity, 3);
    totalQuantity += q;
    const bounds = [iv.start, ...cutsInside(iv.start, iv.end, versions, tz), iv.end];
    const duration = BigInt(iv.end - iv.start);
    let allocated = 0n;
    for (let i = 1; i < bounds.length; i++) {
      const pStart = bounds[i - 1]!;
      const pEnd = bounds[i]!;
      // Cumulative rounding: the parts always add up to q exactly.
      const upTo = divRoundHalfUp(q * BigInt(pEnd - iv.start), duration);
      const part = upTo - allocated;
      allocated = upTo;
      const version = versions.findLast((v) => v.from <= pStart);
      if (!version) {
        fail(
          TARIFF_ERRORS,
          'TARIFF_NOT_FOUND',
          `no ${utility} tariff for ${customerType} in force at ${new Date(pStart).toISOString()}`,
        );
      }
      const month = monthOf(pStart, tz);
      const block = tierBlock(table, versions, version, pStart);
      const counter = block ? `${month}/${version.effectiveFrom}` : month;
      // Pro-rata: a version's own days of a month count from zero, as the first version's days
      // count from the prior usage; cumulative: the whole month counts from its first day.
      const before = usage.get(counter) ?? (block && !block.first ? 0n : (usage.get(month) ?? 0n));
      for (const c of version.components) {
        if (!componentTotals.has(c.name)) componentTotals.set(c.name, 0n);
        let lower = 0n;
        c.tiers.forEach((t, tierIndex) => {
          const tier = block
            ? { ...t, upTo: t.upTo === null ? null : divRoundHalfUp(t.upTo * block.ms, block.monthMs) }
            : t;
          // The part's share of this block: [before, before + part) ∩ [lower, upTo).
          const from = before > lower ? before : lower;
          const to = tier.upTo === null || before + part < tier.upTo ? before + part : tier.upTo;
          if (tier.upTo !== null) lower = tier.upTo;
          if (to <= from) return;
          const micro = (to - from) * tier.priceMilliFen;
          componentTotals.set(c.name, componentTotals.get(c.name)! + micro);
          lines.push({
            start: pStart,
            end: pEnd,
            effectiveFrom: version.effectiveFrom,
            component: c.name,
            tier: tierIndex,
            quantityMilli: toSafeNumber(to - from, 'quantity'),
            priceMilliFen: toSafeNumber(tier.priceMilliFen, 'price'),
            microFen: micro.toString(),
          });
        });
      }
      usage.set(counter, before + part);
      usageThisCharge.set(month, (usageThisCharge.get(month) ?? 0n) + part);
    }
  }

  const components: ComponentCharge[] = [...componentTotals].map(([name, micro]) => ({
    name,
    microFen: micro.toString(),
    amountFen: toSafeNumber(divRoundHalfUp(micro, 1_000_000n), 'amount'),
  }));
  return {
    utility,
    customerType,
    quantityMilli: toSafeNumber(totalQuantity, 'quantity'),
    usageByMonth: Object.fromEntries([...usageThisCharge].map(([m, q]) => [m, toSafeNumber(q, 'quantity')])),
    components,
    totalFen: components.reduce((sum, c) => sum + c.amountFen, 0),
    lines,
  };
}
