import { formatFen, toScaled } from './money.ts';
import { tariffVersions, type CustomerType, type TariffTable, type Utility } from './tariffs.ts';

/**
 * The prices a bill was priced with, as data carried on the bill line itself: what the disclosure
 * and the exports print beside the amounts, so a later change of the tariff table can never put
 * other prices next to billed amounts. Also the fixed-decimal formats every export uses, all from
 * integers.
 */

export interface PricedTariff {
  utility: Utility;
  /** First local day in force (YYYY-MM-DD). */
  effectiveFrom: string;
  unit: string;
  components: { name: string; tiers: { upToMilli: number | null; price: string }[] }[];
}

/** A price in milli-fen per unit (0.00001 yuan) as yuan, at least two decimals: 58830 → "0.5883". */
export function formatPrice(milliFen: number): string {
  const whole = Math.floor(milliFen / 100_000);
  let frac = String(milliFen % 100_000).padStart(5, '0');
  while (frac.length > 2 && frac.endsWith('0')) frac = frac.slice(0, -1);
  return `${whole}.${frac}`;
}

/** The tariff versions of a utility and customer type in force at some time in [from, to). */
export function tariffsInForce(
  table: TariffTable,
  utility: Utility,
  customerType: CustomerType,
  from: number,
  to: number,
): PricedTariff[] {
  const versions = tariffVersions(table, utility, customerType);
  return versions
    .filter((v, i) => v.from < to && (versions[i + 1]?.from ?? Infinity) > from)
    .map((v) => ({
      utility,
      effectiveFrom: v.effectiveFrom,
      unit: v.unit,
      components: v.components.map((c) => ({
        name: c.name,
        tiers: c.tiers.map((t) => ({
          upToMilli: t.upTo === null ? null : Number(t.upTo),
          price: formatPrice(Number(t.priceMilliFen)),
        })),
      })),
    }));
}

/** Milli-units as a decimal with three places, from the integer (never float division). */
export function formatMilli(milli: number): string {
  const sign = milli < 0 ? '-' : '';
  const abs = Math.abs(milli);
  return `${sign}${Math.floor(abs / 1000)}.${String(abs % 1000).padStart(3, '0')}`;
}

/** A register (kWh, m³) with three places, read to 0.001 half up from its shortest decimal; '' when unknown. */
export function formatRegister(value: number | null): string {
  return value === null ? '' : formatMilli(Number(toScaled(value, 3)));
}

/** part / whole as a percentage with two places, half up, from the integers: 364 of 121650 → "0.30 %". */
export function formatShare(part: number, whole: number): string {
  if (whole === 0) return '';
  const bp = (BigInt(part) * 20_000n + BigInt(whole)) / (2n * BigInt(whole));
  return `${formatFen(Number(bp))} %`;
}
