import type { BackofficeDb, Clock } from '../../platform/db.ts';
import { localTimeToUtc, wallClock } from '../../metering/consumption/zone.ts';
import { tariffVersions, type TariffTable } from '../billing/tariffs.ts';
import type { Prepaid } from '../prepaid/prepaid.ts';

/**
 * What a customer sees of their own account: the balance, the days it lasts at the recent rate,
 * consumption per day and per month (from the ledger's daily debits, so it is exactly what was
 * charged), the tariff in force, and the top-ups and debits. Staff names are not shown; amounts
 * are integer fen, times UTC ms (the page shows them in the campus zone).
 */

export interface ViewDeps {
  db: BackofficeDb;
  prepaid: Prepaid;
  tariffs: () => TariffTable;
  timezone: string;
  clock: Clock;
  /** Remaining days: the balance over the mean daily debit of this many complete recent days. */
  recentDays: number;
}

export interface AccountSummary {
  account: string;
  holder: string;
  customerType: string;
  balanceFen: number;
  /** Mean daily debit over the recent days charged (fen), or null before any debit. */
  dailyRateFen: number | null;
  /** Whole days the balance lasts at that rate; null without a rate; 0 when nothing is left. */
  remainingDays: number | null;
  recentDays: number;
  tariff: {
    effectiveFrom: string;
    unit: string;
    components: { name: string; tiers: { upTo: number | null; yuanPerUnit: string }[] }[];
  } | null;
  timezone: string;
}

export interface UsagePoint {
  /** YYYY-MM-DD or YYYY-MM, local. */
  period: string;
  kwh: number;
  fen: number;
}

export interface CustomerEntry {
  at: number;
  type: 'topup' | 'free-quota' | 'debit' | 'refund' | 'correction';
  amountFen: number;
  method: string | null;
  /** For debits: the local day charged and the kWh. */
  day: string | null;
  kwh: number | null;
}

const pad = (n: number) => String(n).padStart(2, '0');
const localDay = (t: number, tz: string) => {
  const w = wallClock(t, tz);
  return `${w.year}-${pad(w.month)}-${pad(w.day)}`;
};
const yuan = (milliFen: bigint) => {
  const s = milliFen.toString().padStart(6, '0');
  return `${s.slice(0, -5)}.${s.slice(-5)}`.replace(/(\.\d\d\d*?)0+$/, '$1');
};

export function summary(d: ViewDeps, accountId: string): AccountSummary {
  const a = d.prepaid.account(accountId);
  const now = d.clock();
  const w = wallClock(now, d.timezone);
  const today = localTimeToUtc(d.timezone, w.year, w.month, w.day);
  const since = localTimeToUtc(d.timezone, w.year, w.month, w.day - d.recentDays);
  const r = d.db
    .prepare(
      `SELECT COALESCE(-SUM(amount_fen), 0) AS fen, COUNT(DISTINCT interval_start) AS days FROM prepaid_ledger
        WHERE account_id = ? AND type = 'debit' AND interval_start >= ? AND interval_start < ?`,
    )
    .get(accountId, since, today) as { fen: number; days: number };
  // Over the days actually charged (one debit per local day and meter): a room opened three days
  // ago is not assumed to have used nothing on the eleven days before.
  const dailyRateFen = r.days === 0 ? null : Math.round(r.fen / r.days);
  const remainingDays =
    dailyRateFen === null
      ? null
      : a.balanceFen <= 0
        ? 0
        : dailyRateFen === 0
          ? null
          : Math.floor(a.balanceFen / dailyRateFen);
  const version = tariffVersions(d.tariffs(), 'electricity', a.customerType)
    .filter((v) => v.from <= now)
    .at(-1);
  return {
    account: a.id,
    holder: a.holder,
    customerType: a.customerType,
    balanceFen: a.balanceFen,
    dailyRateFen,
    remainingDays,
    recentDays: d.recentDays,
    tariff: version
      ? {
          effectiveFrom: version.effectiveFrom,
          unit: version.unit,
          components: version.components.map((c) => ({
            name: c.name,
            tiers: c.tiers.map((t) => ({
              upTo: t.upTo === null ? null : Number(t.upTo) / 1000,
              yuanPerUnit: yuan(t.priceMilliFen),
            })),
          })),
        }
      : null,
    timezone: d.timezone,
  };
}

/** Consumption charged per local day (the last `days`) and per local month (the last `months`). */
export function usage(
  d: ViewDeps,
  accountId: string,
  days = 31,
  months = 12,
): { daily: UsagePoint[]; monthly: UsagePoint[] } {
  d.prepaid.account(accountId);
  const w = wallClock(d.clock(), d.timezone);
  const from = localTimeToUtc(d.timezone, w.year, w.month - months + 1, 1);
  const rows = d.db
    .prepare(
      `SELECT interval_start AS t, -amount_fen AS fen, COALESCE(quantity_milli, 0) AS q FROM prepaid_ledger
        WHERE account_id = ? AND type = 'debit' AND interval_start >= ? ORDER BY interval_start`,
    )
    .all(accountId, from) as { t: number; fen: number; q: number }[];
  const daily = new Map<string, { q: number; fen: number }>();
  const monthly = new Map<string, { q: number; fen: number }>();
  const firstDay = localDay(localTimeToUtc(d.timezone, w.year, w.month, w.day - days + 1), d.timezone);
  for (const r of rows) {
    const day = localDay(r.t, d.timezone);
    for (const [map, key] of [
      [monthly, day.slice(0, 7)],
      ...(day >= firstDay ? [[daily, day] as const] : []),
    ] as const) {
      const s = map.get(key) ?? { q: 0, fen: 0 };
      s.q += r.q;
      s.fen += r.fen;
      map.set(key, s);
    }
  }
  const points = (m: Map<string, { q: number; fen: number }>) =>
    [...m].map(([period, s]) => ({ period, kwh: s.q / 1000, fen: s.fen }));
  return { daily: points(daily), monthly: points(monthly) };
}

/** Top-ups, debits and the rest, newest first; no staff names. */
export function entries(d: ViewDeps, accountId: string, limit = 100): CustomerEntry[] {
  return d.prepaid
    .ledger(accountId)
    .filter((e) => e.type !== 'meter-reset')
    .reverse()
    .slice(0, limit)
    .map((e) => ({
      at: e.at,
      type: e.type as CustomerEntry['type'],
      amountFen: e.amountFen,
      method: e.method,
      day: e.type === 'debit' && e.intervalStart !== null ? localDay(e.intervalStart, d.timezone) : null,
      kwh: e.type === 'debit' && e.quantityMilli !== null ? e.quantityMilli / 1000 : null,
    }));
}
