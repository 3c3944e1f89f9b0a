import { z } from 'zod';
import type { AuditLog } from '../../platform/audit/audit-log.ts';
import type { Actor } from '../../platform/auth/roles.ts';
import { assertCan } from '../../platform/auth/duties.ts';
import {
  InvoiceElementSchema,
  type InvoiceCheck,
  type InvoiceChecks,
  type SupplyPointInput,
} from '../billing/invoice-check.ts';
import { divRoundHalfUp, toSafeNumber, toScaled } from '../billing/money.ts';
import { parsePeriod } from '../billing/period.ts';
import { heatingMoneyError } from './errors.ts';

/**
 * Heat purchase (DOMAIN.md "Operations and the public window": the center buys high-temperature
 * water from the primary heat source and settles the heat bill). Each heat-exchange station's
 * primary-side heat meter is a heat supply point of the campus file (billing.supplyPoints,
 * utility heat), read like any other meter; the supplier's monthly bill is checked against it
 * exactly as the power company's invoice is (invoice-check.ts, reused, not copied): the quantity
 * against the primary meter, each charge element against the supply agreement's prices, the
 * primary meter against the households' heat meters below it with the agreed station loss, every
 * difference named, the tolerance the supply point's (the contract's) thresholdPercent.
 *
 * Suppliers bill in GJ or MWh; the campus meters read kWh. The bill's quantity is converted to kWh
 * once, to 0.001 kWh rounded half up (1 GJ = 1 000 000 / 3 600 kWh), and kept as entered beside it.
 */

export const HEAT_UNITS = ['GJ', 'MWh', 'kWh'] as const;
/** Milli-kWh per thousandth of the unit, as a fraction (numerator, denominator). */
const MILLI_KWH: Record<(typeof HEAT_UNITS)[number], [bigint, bigint]> = {
  GJ: [1_000_000n, 3_600n],
  MWh: [1_000n, 1n],
  kWh: [1n, 1n],
};

export const HeatBillSchema = z
  .object({
    station: z.string().min(1).max(64).describe("The heat-exchange station's supply point id"),
    month: z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'a month is YYYY-MM'),
    billNo: z.string().trim().min(1).max(64),
    quantity: z.number().nonnegative().max(1e9).describe('Heat billed, in `unit`'),
    unit: z.enum(HEAT_UNITS),
    amountFen: z.number().int().nonnegative(),
    elements: z.array(InvoiceElementSchema).min(1),
  })
  .strict();

export interface HeatBillCheck extends InvoiceCheck {
  /** The bill's quantity as the supplier wrote it. */
  billed: { quantity: number; unit: (typeof HEAT_UNITS)[number] };
}

/** kWh of a billed heat quantity, to 0.001 kWh rounded half up. */
export function billedKwh(quantity: number, unit: (typeof HEAT_UNITS)[number]): number {
  const [n, d] = MILLI_KWH[unit];
  return toSafeNumber(divRoundHalfUp(toScaled(quantity, 3) * n, d), 'heat') / 1000;
}

export class HeatPurchase {
  private readonly stations: SupplyPointInput[];

  constructor(
    private readonly d: {
      invoices: InvoiceChecks;
      audit: AuditLog;
      supplyPoints: readonly SupplyPointInput[];
      timezone: string;
    },
  ) {
    this.stations = d.supplyPoints.filter((p) => p.utility === 'heat');
  }

  /** The heat-exchange stations: each one's primary meter, the meters below it, the contract. */
  listStations(): SupplyPointInput[] {
    return this.stations;
  }

  async check(actor: Actor, input: unknown): Promise<HeatBillCheck> {
    assertCan(actor, 'invoices.check', 'check a heat bill');
    const p = HeatBillSchema.safeParse(input);
    if (!p.success) heatingMoneyError('INVALID_HEAT_BILL', z.prettifyError(p.error));
    const bill = p.data;
    if (!this.stations.some((s) => s.id === bill.station))
      heatingMoneyError(
        'INVALID_HEAT_BILL',
        `${bill.station} is not a heat-exchange station (a heat supply point) of the campus`,
      );
    const check = await this.d.invoices.check(actor, {
      period: parsePeriod(bill.month, this.d.timezone),
      invoice: {
        ...{
          supplyPoint: bill.station,
          invoiceNo: bill.billNo,
          quantity: billedKwh(bill.quantity, bill.unit),
        },
        ...{ amountFen: bill.amountFen, elements: bill.elements },
      },
    });
    const billed = { quantity: bill.quantity, unit: bill.unit };
    // The check stores kWh; the bill as the supplier wrote it is kept beside it in the audit log.
    this.d.audit.append({
      actor: actor.id,
      action: 'heat-purchase.bill',
      subject: `invoice-check:${check.id}`,
      after: {
        station: bill.station,
        month: bill.month,
        billNo: bill.billNo,
        ...billed,
        kWh: check.quantity.invoiced,
      },
    });
    return { ...check, billed };
  }

  /** Checked heat bills, newest first. */
  checks(): InvoiceCheck[] {
    const ids = new Set(this.stations.map((s) => s.id));
    return this.d.invoices
      .list()
      .filter((c) => ids.has(c.supplyPoint))
      .reverse();
  }
}
