import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { CampusConfig } from '../../../config/schemas/campus.ts';
import type { CumulativeQuantity } from '../../metering/storage.ts';
import { billingError } from './errors.ts';
import { CUSTOMER_TYPES, UTILITIES, type CustomerType, type Utility } from './tariffs.ts';

/**
 * Post-paid billing accounts: who is billed after the period for which meters. Kept as a file
 * (YAML or JSON) next to the campus file rather than a table, because the list changes a few times
 * a term, is reviewed like the tariff table, and a bill run records the accounts it used (so a
 * later change to the file does not change a recorded run). Prepaid accounts live apart, in
 * services/money/prepaid, and are never billed here.
 *
 * ```yaml
 * accounts:
 *   - id: H-12-301
 *     holder: Staff household 12-301
 *     customerType: staff-household
 *     payrollCode: P004211        # deducted from salary; absent: a payment notice
 *     meters:
 *       - { meter: E-H-12-301, utility: electricity }
 *       - { meter: W-H-12-301, utility: water }
 * ```
 */

const Id = z.string().regex(/^[A-Za-z0-9._:/-]{1,64}$/, 'ids are 1–64 letters, digits and . _ : / -');

export const BillingMeterSchema = z
  .object({
    meter: Id.describe('Meter id in the campus file'),
    utility: z.enum(UTILITIES),
  })
  .strict();

/** A staff member's payroll code, on a billing account or a heated unit: their charges are deducted from salary. */
export const PayrollCode = z.string().trim().min(1).max(64);

export const BillingAccountSchema = z
  .object({
    id: Id,
    holder: z.string().trim().min(1).max(200),
    customerType: z.enum(CUSTOMER_TYPES),
    payrollCode: PayrollCode.optional().describe('Staff payroll code: the charge is deducted from salary'),
    meters: z.array(BillingMeterSchema).min(1),
  })
  .strict();
export type BillingAccount = z.infer<typeof BillingAccountSchema>;

export const BillingAccountsSchema = z.object({ accounts: z.array(BillingAccountSchema) }).strict();

/** The cumulative register billed for each utility. */
export const BILLED_QUANTITY: Readonly<Record<Utility, CumulativeQuantity>> = {
  electricity: 'energy_import_kwh',
  water: 'volume_m3',
  heat: 'heat_kwh',
};

/** Validates a parsed accounts file: the schema, unique account ids, and each meter in one account. */
export function parseBillingAccounts(input: unknown, file = '(accounts)'): BillingAccount[] {
  const parsed = BillingAccountsSchema.safeParse(input);
  if (!parsed.success) billingError('INVALID_ACCOUNTS', `${file}: ${z.prettifyError(parsed.error)}`);
  const ids = new Set<string>();
  const meters = new Map<string, string>();
  for (const a of parsed.data.accounts) {
    if (ids.has(a.id)) billingError('INVALID_ACCOUNTS', `${file}: account ${a.id} is listed twice`);
    ids.add(a.id);
    for (const m of a.meters) {
      const other = meters.get(m.meter);
      if (other !== undefined)
        billingError('INVALID_ACCOUNTS', `${file}: meter ${m.meter} is in accounts ${other} and ${a.id}`);
      meters.set(m.meter, a.id);
    }
  }
  return parsed.data.accounts;
}

export function loadBillingAccounts(file: string): BillingAccount[] {
  return parseBillingAccounts(parseYaml(readFileSync(file, 'utf8')), file);
}

/**
 * What does not fit between the accounts file and the campus file: a billed meter the campus does
 * not have, one of another kind than the utility billed, or one the campus file gives to another
 * account. Warnings for the person running the bill, not refusals: the campus file's `account` is
 * informational.
 */
export function crossCheckAccounts(accounts: readonly BillingAccount[], campus: CampusConfig): string[] {
  const meters = new Map<string, { kind: string; account?: string }>();
  for (const site of campus.sites)
    for (const g of site.gateways) {
      for (const b of g.buses) for (const m of b.meters) meters.set(m.id, m);
      for (const d of g.opcua) for (const m of d.meters) meters.set(m.id, m);
    }
  const problems: string[] = [];
  for (const a of accounts)
    for (const m of a.meters) {
      const c = meters.get(m.meter);
      if (!c) problems.push(`${a.id}: meter ${m.meter} is not in the campus file`);
      else if (c.kind !== m.utility)
        problems.push(`${a.id}: meter ${m.meter} is a ${c.kind} meter, billed as ${m.utility}`);
      else if (c.account !== undefined && c.account !== a.id)
        problems.push(`${a.id}: the campus file gives meter ${m.meter} to account ${c.account}`);
    }
  return problems;
}

export type { CustomerType, Utility };
