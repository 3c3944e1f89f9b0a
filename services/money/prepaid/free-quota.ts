import { z } from 'zod';
import { isExactAtScale, toScaled } from '../billing/money.ts';
import { CUSTOMER_TYPES, type CustomerType } from '../billing/tariffs.ts';
import type { FreeQuotaTerm } from '../../../config/schemas/prepaid.ts';

/**
 * The free-electricity rules as data: how many kWh a room gets per person per month, in which
 * months. E.g. 5 kWh per person per month in the ten months of the academic year, none in summer.
 * Only what the rules allow can be credited; the crediting operator and the confirming supervisor
 * both sign for the quantity (creditFreeQuota / confirmFreeQuota).
 */

const PERIOD = z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'a period is a month, YYYY-MM');
export const PeriodSchema = PERIOD;

export const FreeQuotaRuleSchema = z
  .object({
    name: z.string().min(1).describe('E.g. "2024–25 academic year"'),
    customerTypes: z.array(z.enum(CUSTOMER_TYPES)).min(1),
    kwhPerPersonPerMonth: z
      .number()
      .positive()
      .refine((n) => isExactAtScale(n, 3), 'at most 3 decimals'),
    months: z.array(PERIOD).min(1).describe('The months (YYYY-MM) the rule gives a quota for: term time'),
  })
  .strict();
export const FreeQuotaRulesSchema = z.array(FreeQuotaRuleSchema);
export type FreeQuotaRule = z.infer<typeof FreeQuotaRuleSchema>;

/**
 * The most kWh (in Wh, i.e. milli-kWh) the rules give an account for a period: the sum over the
 * rules that cover its customer type and the period. 0 when none does.
 */
export function freeQuotaAllowanceMilli(
  rules: readonly FreeQuotaRule[],
  account: { customerType: CustomerType; occupants: number },
  period: string,
): bigint {
  let total = 0n;
  for (const r of rules) {
    if (r.customerTypes.includes(account.customerType) && r.months.includes(period)) {
      total += toScaled(r.kwhPerPersonPerMonth, 3) * BigInt(account.occupants);
    }
  }
  return total;
}

/** One term of one academic year: its name with the year it starts, and its months (YYYY-MM). */
export interface TermInstance {
  label: string;
  periods: string[];
}

/**
 * The term (of the campus file's `prepaid.freeQuota.terms`) a period belongs to, with all its
 * months: a term listed as [9, 10, 11, 12, 1] holds 2025-09 … 2026-01 for the one starting in 2025.
 * Null when the period is in no term.
 */
export function termOf(terms: readonly FreeQuotaTerm[], period: string): TermInstance | null {
  const [y, m] = period.split('-').map(Number) as [number, number];
  for (const t of terms) {
    if (!t.months.includes(m)) continue;
    for (const start of [y, y - 1]) {
      const periods: string[] = [];
      let year = start;
      t.months.forEach((month, i) => {
        if (i > 0 && month < t.months[i - 1]!) year++;
        periods.push(`${year}-${String(month).padStart(2, '0')}`);
      });
      if (periods.includes(period)) return { label: `${t.name} ${start}`, periods };
    }
  }
  return null;
}
