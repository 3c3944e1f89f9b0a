import { z } from 'zod';
import { SupplyPointSchema } from '../../../config/schemas/campus.ts';
import type { AuditLog } from '../../platform/audit/audit-log.ts';
import { assertCan } from '../../platform/auth/duties.ts';
import type { Actor } from '../../platform/auth/roles.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import type { ValidatedSource } from '../../metering/vee/types.ts';
import { BILLED_QUANTITY } from './accounts.ts';
import { billingError } from './errors.ts';
import { divRoundHalfUp, toSafeNumber, toScaled, type Fen } from './money.ts';
import type { BillingPeriod } from './period.ts';
import { charge, parseTariffTable, type TariffTable, type Utility } from './tariffs.ts';

/**
 * The utility's bill against the campus's own meters (DOMAIN.md "The utility's bill vs. the
 * campus's own meters"). Per supply point (where the power company's or the water company's meter
 * hands over to the campus) finance enters the invoice: period, quantity, amount and its charge
 * elements. The check compares:
 * - the invoiced quantity with the campus's main meter at the supply point;
 * - each element with what it should be: per-unit elements priced with the supply contract's
 *   prices on the main meter's validated daily use (`charge`, so price changes split on the day),
 *   fixed elements (basic or demand charge: contracted kVA × price) once per month of the period;
 * - the main meter with the sum of the internal, billed meters below it. The gap is split into the
 *   expected technical loss (the configured loss %, else the median of this supply point's earlier
 *   checks whose loss was not flagged: learned) and the unexplained rest, which is what the
 *   utility must explain or the inspectors must find (loss, theft).
 * Anything at or beyond the supply point's threshold (3 % unless configured) is flagged (atOrBeyond). Every check is
 * stored with its figures and audited in the same transaction.
 *
 * Quantities are summed as integer milli-units; percentages are shares × 100 to two decimals for
 * reading (they decide a flag, never an amount). Money is integer fen throughout.
 */

const Id = z.string().regex(/^[A-Za-z0-9._:/-]{1,64}$/, 'ids are 1–64 letters, digits and . _ : / -');

/** Supply points are part of the campus file (config/schemas/campus.ts): one schema for both. */
export { SupplyPointSchema };
export type SupplyPointInput = z.input<typeof SupplyPointSchema>;
export type SupplyPoint = z.infer<typeof SupplyPointSchema>;

/** One line of a utility's invoice (a charge element: energy, a fee, a surcharge, a discount). */
export const InvoiceElementSchema = z
  .object({
    name: z.string().min(1).max(64),
    quantity: z.number().nonnegative().optional(),
    amountFen: z.number().int(),
  })
  .strict();

export const InvoiceSchema = z
  .object({
    supplyPoint: Id,
    invoiceNo: z.string().trim().min(1).max(64),
    quantity: z.number().nonnegative().describe('Units invoiced (kWh, m³)'),
    amountFen: z.number().int().nonnegative(),
    elements: z.array(InvoiceElementSchema).min(1),
  })
  .strict();
export type InvoiceInput = z.infer<typeof InvoiceSchema>;

export interface ElementCheck {
  name: string;
  billedFen: Fen;
  /** Null: the campus expects no such element. */
  expectedFen: Fen | null;
  differenceFen: Fen;
  /** Difference as % of expected; null when nothing was expected. */
  differencePercent: number | null;
  flagged: boolean;
}

export interface InvoiceCheck {
  id: number;
  supplyPoint: string;
  utility: Utility;
  invoiceNo: string;
  period: BillingPeriod;
  enteredBy: string;
  enteredAt: number;
  invoice: InvoiceInput;
  mainMeter: { meter: string; quantity: number; daysMissing: number };
  internal: { meters: number; quantity: number; incomplete: string[] };
  quantity: {
    invoiced: number;
    metered: number;
    difference: number;
    differencePercent: number | null;
    flagged: boolean;
  };
  elements: ElementCheck[];
  amount: {
    billedFen: Fen;
    expectedFen: Fen;
    differenceFen: Fen;
    differencePercent: number | null;
    flagged: boolean;
  };
  loss: {
    /** Main meter − Σ internal meters. */
    gap: number;
    gapPercent: number | null;
    lossPercent: number;
    lossSource: 'configured' | 'learned' | 'none';
    /** Expected technical loss: lossPercent of the main meter. */
    expectedLoss: number;
    unexplained: number;
    unexplainedPercent: number | null;
    flagged: boolean;
  };
  thresholdPercent: number;
  flagged: boolean;
  reasons: string[];
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS utility_invoice_checks (
  id INTEGER PRIMARY KEY,
  supply_point TEXT NOT NULL,
  invoice_no TEXT NOT NULL,
  label TEXT NOT NULL,
  from_ts INTEGER NOT NULL,
  to_ts INTEGER NOT NULL,
  entered_by TEXT NOT NULL,
  entered_at INTEGER NOT NULL,
  flagged INTEGER NOT NULL,
  result TEXT NOT NULL,
  UNIQUE (supply_point, invoice_no)
);
`;

/** a / b × 100 to two decimals; null when b is 0. */
function percent(a: bigint, b: bigint): number | null {
  if (b === 0n) return null;
  return Number(divRoundHalfUp(a * 10_000n, b < 0n ? -b : b)) / 100;
}
const units = (milli: bigint): number => toSafeNumber(milli, 'quantity') / 1000;
/**
 * The one comparison of every flag: |difference| ≥ threshold % of the base, exactly, in the
 * integers the figures are held in (fen, milli-units), never on a rounded percentage. At the
 * threshold counts as beyond it: an invoice exactly 3.00 % above what the campus expects is
 * challenged. Against a base of 0, any difference is beyond.
 */
export function atOrBeyond(difference: bigint, base: bigint, thresholdPercent: number): boolean {
  const abs = (n: bigint) => (n < 0n ? -n : n);
  if (base === 0n) return difference !== 0n;
  // thresholdPercent has at most a few decimals: compare in millionths of a percent.
  const t = toScaled(thresholdPercent, 6);
  return abs(difference) * 100_000_000n >= t * abs(base);
}

/** Whole months between two instants of the same zone (at least one). */
function monthsIn(period: BillingPeriod): number {
  const a = new Date(period.from);
  const b = new Date(period.to);
  const m = (b.getUTCFullYear() - a.getUTCFullYear()) * 12 + b.getUTCMonth() - a.getUTCMonth();
  return Math.max(1, m);
}

export interface InvoiceChecksOptions {
  db: BackofficeDb;
  audit: AuditLog;
  source: ValidatedSource;
  supplyPoints: readonly SupplyPointInput[];
  timezone: string;
  clock?: Clock;
}

export class InvoiceChecks {
  private readonly db: BackofficeDb;
  private readonly audit: AuditLog;
  private readonly source: ValidatedSource;
  private readonly points = new Map<string, { point: SupplyPoint; contract: TariffTable }>();
  private readonly tz: string;
  private readonly clock: Clock;

  constructor(o: InvoiceChecksOptions) {
    this.db = o.db;
    this.audit = o.audit;
    this.source = o.source;
    this.tz = o.timezone;
    this.clock = o.clock ?? Date.now;
    for (const input of o.supplyPoints) {
      const point = SupplyPointSchema.parse(input);
      // The contract prices become a tariff table of their own, so `charge` applies them.
      const contract = parseTariffTable({
        timezone: o.timezone,
        tariffs: point.contract.map((c) => ({
          utility: point.utility,
          customerTypes: ['external'],
          effectiveFrom: c.effectiveFrom,
          unit: point.utility === 'water' ? 'm3' : 'kWh',
          components: c.components,
        })),
      });
      this.points.set(point.id, { point, contract });
    }
    this.db.exec(SCHEMA);
  }

  /** Σ validated daily values of a meter over the period in milli-units, and days without a value. */
  private async used(meter: string, utility: Utility, period: BillingPeriod) {
    const intervals = await this.source.intervals({
      meter,
      quantity: BILLED_QUANTITY[utility],
      from: period.from,
      to: period.to,
      step: '1d',
    });
    let milli = 0n;
    let missing = 0;
    const priced: { start: number; end: number; quantity: number }[] = [];
    for (const iv of intervals) {
      if (iv.start < period.from || iv.end > period.to) continue;
      if (iv.value === null) {
        missing++;
        continue;
      }
      milli += toScaled(iv.value, 3);
      priced.push({ start: iv.start, end: iv.end, quantity: iv.value });
    }
    const expectedDays = Math.round((period.to - period.from) / 86_400_000);
    missing += Math.max(0, expectedDays - intervals.length);
    return { milli, missing, priced };
  }

  /** Checks an invoice against the meters, stores and audits the result. */
  async check(actor: Actor, input: { period: BillingPeriod; invoice: unknown }): Promise<InvoiceCheck> {
    assertCan(actor, 'invoices.check', 'check a utility invoice');
    const parsed = InvoiceSchema.safeParse(input.invoice);
    if (!parsed.success) billingError('INVALID_INVOICE', z.prettifyError(parsed.error));
    const invoice = parsed.data;
    const sum = invoice.elements.reduce((s, e) => s + e.amountFen, 0);
    if (sum !== invoice.amountFen)
      billingError(
        'INVALID_INVOICE',
        `the elements add up to ${sum} fen, the invoice says ${invoice.amountFen}`,
      );
    const sp = this.points.get(invoice.supplyPoint);
    if (!sp) billingError('UNKNOWN_SUPPLY_POINT', `no supply point ${invoice.supplyPoint}`);
    const { point, contract } = sp;
    const { period } = input;
    const threshold = point.thresholdPercent;

    const main = await this.used(point.meter, point.utility, period);
    let internal = 0n;
    const incomplete: string[] = [];
    for (const m of point.billedMeters) {
      const u = await this.used(m, point.utility, period);
      internal += u.milli;
      if (u.missing > 0) incomplete.push(m);
    }

    // Expected elements.
    const expected = new Map<string, Fen>();
    const priced = charge(contract, {
      utility: point.utility,
      customerType: 'external',
      intervals: main.priced,
    });
    for (const c of priced.components) expected.set(c.name, c.amountFen);
    const months = BigInt(monthsIn(period));
    for (const f of point.fixed) {
      // quantity (3 decimals) × price (milli-fen, 5 decimals) = micro-fen; rounded half up once.
      const micro = toScaled(f.quantity, 3) * toScaled(f.price, 5) * months;
      expected.set(
        f.name,
        (expected.get(f.name) ?? 0) + toSafeNumber(divRoundHalfUp(micro, 1_000_000n), 'amount'),
      );
    }
    const names = [...new Set([...invoice.elements.map((e) => e.name), ...expected.keys()])];
    const elements: ElementCheck[] = names.map((name) => {
      const billedFen = invoice.elements.filter((e) => e.name === name).reduce((s, e) => s + e.amountFen, 0);
      const exp = expected.get(name) ?? null;
      const differenceFen = billedFen - (exp ?? 0);
      const differencePercent = exp === null ? null : percent(BigInt(differenceFen), BigInt(exp));
      return {
        name,
        billedFen,
        expectedFen: exp,
        differenceFen,
        differencePercent,
        flagged: exp === null ? billedFen !== 0 : atOrBeyond(BigInt(differenceFen), BigInt(exp), threshold),
      };
    });
    const expectedFen = [...expected.values()].reduce((s, v) => s + v, 0);
    const amountDiff = invoice.amountFen - expectedFen;
    const amountPercent = percent(BigInt(amountDiff), BigInt(expectedFen));

    const invoiced = toScaled(invoice.quantity, 3);
    const qDiff = invoiced - main.milli;
    const qPercent = percent(qDiff, main.milli);

    const { lossPercent, lossSource } = this.lossPercent(point);
    const gap = main.milli - internal;
    // lossPercent has at most 2 decimals of a percent: basis points × main / 10 000.
    const expectedLoss = divRoundHalfUp(main.milli * toScaled(lossPercent, 2), 10_000n);
    const unexplained = gap - expectedLoss;
    const unexplainedPercent = percent(unexplained, main.milli);

    const reasons: string[] = [];
    const quantityFlag = atOrBeyond(qDiff, main.milli, threshold);
    if (quantityFlag) reasons.push(`invoiced quantity differs from the main meter by ${qPercent} %`);
    for (const e of elements.filter((x) => x.flagged)) {
      reasons.push(
        e.expectedFen === null
          ? `element ${e.name} is not expected (${e.billedFen} fen)`
          : `element ${e.name}: billed ${e.billedFen} fen, expected ${e.expectedFen} fen (${e.differencePercent ?? '∞'} %)`,
      );
    }
    const amountFlag = atOrBeyond(BigInt(amountDiff), BigInt(expectedFen), threshold);
    if (amountFlag) reasons.push(`amount differs from the expected ${expectedFen} fen by ${amountPercent} %`);
    const lossFlag = atOrBeyond(unexplained, main.milli, threshold);
    if (lossFlag)
      reasons.push(
        `${units(unexplained)} ${point.utility === 'water' ? 'm³' : 'kWh'} (${unexplainedPercent} % of the main meter) not explained by the internal meters and ${lossPercent} % technical loss`,
      );
    if (main.missing > 0) reasons.push(`main meter ${point.meter} has ${main.missing} days without a value`);
    if (incomplete.length > 0)
      reasons.push(`internal meters without complete data: ${incomplete.join(', ')}`);

    const result: Omit<InvoiceCheck, 'id'> = {
      supplyPoint: point.id,
      utility: point.utility,
      invoiceNo: invoice.invoiceNo,
      period: { ...period },
      enteredBy: actor.id,
      enteredAt: this.clock(),
      invoice,
      mainMeter: { meter: point.meter, quantity: units(main.milli), daysMissing: main.missing },
      internal: { meters: point.billedMeters.length, quantity: units(internal), incomplete },
      quantity: {
        invoiced: units(invoiced),
        metered: units(main.milli),
        difference: units(qDiff),
        differencePercent: qPercent,
        flagged: quantityFlag,
      },
      elements,
      amount: {
        billedFen: invoice.amountFen,
        expectedFen,
        differenceFen: amountDiff,
        differencePercent: amountPercent,
        flagged: amountFlag,
      },
      loss: {
        gap: units(gap),
        gapPercent: percent(gap, main.milli),
        lossPercent,
        lossSource,
        expectedLoss: units(expectedLoss),
        unexplained: units(unexplained),
        unexplainedPercent,
        flagged: lossFlag,
      },
      thresholdPercent: threshold,
      flagged: reasons.length > 0,
      reasons,
    };
    const id = this.db.transaction(() => {
      if (
        this.db
          .prepare('SELECT 1 FROM utility_invoice_checks WHERE supply_point = ? AND invoice_no = ?')
          .get(point.id, invoice.invoiceNo)
      ) {
        billingError('DUPLICATE_INVOICE', `invoice ${invoice.invoiceNo} of ${point.id} was entered already`);
      }
      const info = this.db
        .prepare(
          `INSERT INTO utility_invoice_checks (supply_point, invoice_no, label, from_ts, to_ts, entered_by, entered_at,
             flagged, result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          point.id,
          invoice.invoiceNo,
          period.label,
          period.from,
          period.to,
          actor.id,
          result.enteredAt,
          result.flagged ? 1 : 0,
          JSON.stringify(result),
        );
      const rowId = Number(info.lastInsertRowid);
      this.audit.append({
        actor: actor.id,
        action: 'invoice.check',
        subject: `invoice-check:${rowId}`,
        after: {
          supplyPoint: point.id,
          invoiceNo: invoice.invoiceNo,
          period,
          amountFen: invoice.amountFen,
          expectedFen,
          unexplained: result.loss.unexplained,
          flagged: result.flagged,
        },
        reason: reasons.join('; ') || undefined,
      });
      return rowId;
    })();
    return { id, ...result };
  }

  /** The configured loss %, else the median of earlier checks' gap % whose loss was not flagged. */
  private lossPercent(point: SupplyPoint): {
    lossPercent: number;
    lossSource: 'configured' | 'learned' | 'none';
  } {
    if (point.lossPercent !== undefined) return { lossPercent: point.lossPercent, lossSource: 'configured' };
    const earlier = this.list(point.id)
      .filter((c) => !c.loss.flagged && c.loss.gapPercent !== null)
      .map((c) => c.loss.gapPercent!)
      .sort((a, b) => a - b);
    if (earlier.length === 0) return { lossPercent: 0, lossSource: 'none' };
    const mid = earlier.length >> 1;
    const median = earlier.length % 2 ? earlier[mid]! : (earlier[mid - 1]! + earlier[mid]!) / 2;
    return { lossPercent: Math.round(Math.max(0, median) * 100) / 100, lossSource: 'learned' };
  }

  get(id: number): InvoiceCheck {
    const r = this.db.prepare('SELECT id, result FROM utility_invoice_checks WHERE id = ?').get(id) as
      { id: number; result: string } | undefined;
    if (!r) billingError('INVOICE_NOT_FOUND', `no invoice check ${id}`);
    return { id: r.id, ...(JSON.parse(r.result) as Omit<InvoiceCheck, 'id'>) };
  }

  /** Stored checks, oldest first; of one supply point when given. */
  list(supplyPoint?: string): InvoiceCheck[] {
    const rows = (
      supplyPoint === undefined
        ? this.db.prepare('SELECT id, result FROM utility_invoice_checks ORDER BY from_ts, id').all()
        : this.db
            .prepare(
              'SELECT id, result FROM utility_invoice_checks WHERE supply_point = ? ORDER BY from_ts, id',
            )
            .all(supplyPoint)
    ) as { id: number; result: string }[];
    return rows.map((r) => ({ id: r.id, ...(JSON.parse(r.result) as Omit<InvoiceCheck, 'id'>) }));
  }
}
