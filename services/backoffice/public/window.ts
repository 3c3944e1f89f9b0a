import type { BillRuns } from '../../money/billing/bill-run.ts';
import type { CapacityApplications } from '../../operations/capacity/capacity.ts';
import { buildDisclosure, type Disclosure } from '../../money/billing/disclosure.ts';
import { monthsOfQuarter, parsePeriod } from '../../money/billing/period.ts';
import type { TariffStore } from '../../money/billing/tariff-store.ts';
import { TariffTableSchema, type TariffTable } from '../../money/billing/tariffs.ts';
import { wallClock } from '../../metering/consumption/zone.ts';

/**
 * What the public window publishes, each part built field by field from an allow-list: the tariffs
 * (every version of every tariff with its effective date, the ones in force marked, prices as the
 * exact decimal strings approved), the dates the tariff table was approved (not by whom), and the
 * quarterly disclosure as the rule publishes it — per account its readings and charges, never the
 * holder's name, payroll code or anything about staff.
 */

export interface PublicTariff {
  utility: string;
  customerTypes: string[];
  effectiveFrom: string;
  unit: string;
  components: { name: string; price?: string; tiers?: { upTo?: number; price: string }[] }[];
  note?: string;
  inForce: boolean;
}

export function publicTariffs(
  store: TariffStore,
  now: number,
  timezone: string,
): { tariffs: PublicTariff[]; versions: { version: number; approvedAt: number }[] } {
  const versions = store.versions();
  const latest = versions.at(-1);
  if (!latest) return { tariffs: [], versions: [] };
  const table = TariffTableSchema.parse(latest.table);
  const w = wallClock(now, timezone);
  const today = `${w.year}-${String(w.month).padStart(2, '0')}-${String(w.day).padStart(2, '0')}`;
  // The version in force for each utility and customer type: the latest effective date up to today.
  const inForce = new Map<string, string>();
  for (const t of table.tariffs)
    for (const c of t.customerTypes) {
      const k = `${t.utility}/${c}`;
      if (t.effectiveFrom <= today && t.effectiveFrom > (inForce.get(k) ?? ''))
        inForce.set(k, t.effectiveFrom);
    }
  const tariffs = table.tariffs
    .map((t): PublicTariff => ({
      utility: t.utility,
      customerTypes: [...t.customerTypes],
      effectiveFrom: t.effectiveFrom,
      unit: t.unit,
      components: t.components.map((c) => ({
        name: c.name,
        ...(c.price !== undefined ? { price: c.price } : {}),
        ...(c.tiers
          ? {
              tiers: c.tiers.map((x) => ({
                ...(x.upTo !== undefined ? { upTo: x.upTo } : {}),
                price: x.price,
              })),
            }
          : {}),
      })),
      ...(t.note ? { note: t.note } : {}),
      inForce: t.customerTypes.some((c) => inForce.get(`${t.utility}/${c}`) === t.effectiveFrom),
    }))
    .sort((a, b) => a.utility.localeCompare(b.utility) || b.effectiveFrom.localeCompare(a.effectiveFrom));
  return { tariffs, versions: versions.map((v) => ({ version: v.version, approvedAt: v.approvedAt })) };
}

export interface PublicDisclosure {
  quarter: string;
  timezone: string;
  accounts: {
    account: string;
    customerType: string;
    months: {
      period: string;
      meters: {
        meter: string;
        utility: string;
        unit: string;
        opening: number | null;
        openingEstimated: boolean;
        closing: number | null;
        closingEstimated: boolean;
        quantityMilli: number;
        estimatedMilli: number;
        notes: string[];
        components: { name: string; amountFen: number }[];
        totalFen: number;
      }[];
      totalFen: number;
    }[];
    totalFen: number;
  }[];
}

export function publicDisclosure(d: Disclosure): PublicDisclosure {
  return {
    quarter: d.quarter.label,
    timezone: d.timezone,
    accounts: d.accounts.map((a) => ({
      account: a.account,
      customerType: a.customerType,
      months: a.months.map((m) => ({
        period: m.period.label,
        meters: m.meters.map((x) => ({
          meter: x.meter,
          utility: x.utility,
          unit: x.unit,
          opening: x.opening,
          openingEstimated: x.openingEstimated,
          closing: x.closing,
          closingEstimated: x.closingEstimated,
          quantityMilli: x.quantityMilli,
          estimatedMilli: x.estimatedMilli,
          notes: [...x.notes],
          components: x.components.map((c) => ({ name: c.name, amountFen: c.amountFen })),
          totalFen: x.totalFen,
        })),
        totalFen: m.totalFen,
      })),
      totalFen: a.totalFen,
    })),
  };
}

/** The quarters (of the last five) whose three months all have a bill run: those can be published. */
export function publishedQuarters(runs: BillRuns, now: number, timezone: string): string[] {
  const w = wallClock(now, timezone);
  const out: string[] = [];
  let y = w.year;
  let q = Math.floor((w.month - 1) / 3) + 1;
  for (let i = 0; i < 5; i++) {
    const label = `${y}-Q${q}`;
    if (monthsOfQuarter(label, timezone).every((m) => runs.latest(m.label) !== null)) out.push(label);
    q -= 1;
    if (q === 0) [y, q] = [y - 1, 4];
  }
  return out;
}

export function quarterDisclosure(
  runs: BillRuns,
  quarter: string,
  tariffs: TariffTable,
  timezone: string,
): PublicDisclosure | null {
  const months = monthsOfQuarter(quarter, timezone).map((m) => runs.latest(m.label));
  if (months.some((r) => r === null)) return null;
  return publicDisclosure(
    buildDisclosure({
      quarter: parsePeriod(quarter, timezone),
      runs: months.map((r) => r!),
      tariffs,
      timezone,
    }),
  );
}

export interface PublicCapacityDecision {
  id: number;
  utility: string;
  increase: number;
  unit: string;
  outcome: 'approved' | 'rejected' | 'done';
  decidedAt: number;
  feeFen: number | null;
  doneAt: number | null;
}

/** Decided capacity applications, their outcome and fee: never the applicant, the meter or who decided. */
export function publicCapacity(c: CapacityApplications): PublicCapacityDecision[] {
  return c
    .list()
    .filter(
      (a) => a.decidedAt !== null && (a.state === 'approved' || a.state === 'rejected' || a.state === 'done'),
    )
    .map((a) => ({
      id: a.id,
      utility: a.utility,
      increase: a.increase,
      unit: a.unit,
      outcome: a.state as 'approved' | 'rejected' | 'done',
      decidedAt: a.decidedAt!,
      feeFen: a.state === 'rejected' ? null : (a.review?.feeFen ?? null),
      doneAt: a.doneAt,
    }));
}
