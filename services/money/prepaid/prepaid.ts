import { z } from 'zod';
import type { AuditLog } from '../../platform/audit/audit-log.ts';
import type { Actor } from '../../platform/auth/roles.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import { intervalConsumption } from '../../metering/consumption/consumption.ts';
import { localTimeToUtc } from '../../metering/consumption/zone.ts';
import { fail, ServiceError } from '../../platform/errors.ts';
import { isExactAtScale, isFen, toSafeNumber, toScaled, type Fen } from '../billing/money.ts';
import {
  charge,
  CUSTOMER_TYPES,
  hasTariff,
  monthOf,
  type CustomerType,
  type TariffTable,
} from '../billing/tariffs.ts';
import type { Installation, IntervalConsumption, ReadingStore } from '../../metering/storage.ts';
import { assertCan, assertNotSelfApproval, authFail } from './duties.ts';
import { PREPAID_ERRORS, type PrepaidErrorCode } from './errors.ts';
import {
  freeQuotaAllowanceMilli,
  FreeQuotaRulesSchema,
  PeriodSchema,
  type FreeQuotaRule,
} from './free-quota.ts';
import {
  evaluate,
  parsePolicy,
  type AccountState,
  type Policy,
  type PolicyAction,
  type PolicyInput,
} from './policy.ts';
import { PREPAID_SCHEMA } from './schema.ts';
import { resetInstallations } from '../../metering/installations.ts';

/**
 * Prepaid electricity at the business office: accounts, a ledger in integer fen, and the
 * two-person steps around it. Every change and its audit entry commit in one transaction; a
 * refused operation throws a ServiceError before anything is written (or rolls back what was), so
 * it changes neither the ledger nor the audit log.
 *
 * Choices:
 * - Free quota is credited in kWh and, once a supervisor confirms it, booked in fen: the kWh
 *   valued at the account's electricity tariff as if used evenly over the quota's month (first
 *   tier for tiered tariffs), rounded half up. It counts only after confirmation. Free quota is
 *   spent before paid money and is never paid out: a refund is limited to the balance less the free
 *   quota not yet used up by consumption debits.
 * - Consumption is debited per local day per meter (the idempotency key is account, meter and the
 *   interval's bounds; re-running never debits twice, and an interval overlapping a debited one
 *   with other bounds is skipped, not charged). Each day is one charge, so rounding happens once per
 *   component per meter per day (at most half a fen either way).
 * - A refund is booked when the supervisor approves it and belongs to the requesting clerk's
 *   handover (the clerk pays it out); a confirmed free quota belongs to the crediting operator's.
 * - A meter reset (register cleared or meter exchanged) is a 0-fen ledger entry once approved; it
 *   splits the meter's register history (installations) so later debits are computed across it.
 */

export const PAYMENT_METHODS = ['cash', 'card', 'transfer'] as const;
export type PaymentMethod = (typeof PAYMENT_METHODS)[number];
export const ENTRY_TYPES = ['topup', 'free-quota', 'debit', 'refund', 'meter-reset', 'correction'] as const;
export type EntryType = (typeof ENTRY_TYPES)[number];

/** The largest amount one entry may carry: 1 000 000 yuan; larger is a typing mistake. */
export const MAX_ENTRY_FEN = 100_000_000;

/** The cumulative register prepaid electricity is debited from. */
const METER_QUANTITY = 'energy_import_kwh' as const;

const ID = z.string().regex(/^[A-Za-z0-9._:/-]{1,64}$/, 'ids are 1–64 letters, digits and . _ : / -');
const TEXT = z.string().trim().min(1).max(500);

const OpenAccountSchema = z
  .object({
    id: ID,
    customerType: z.enum(CUSTOMER_TYPES),
    holder: TEXT,
    meters: z.array(ID).min(1).max(16),
    payrollCode: z.string().min(1).max(64).optional(),
    protected: z.boolean().default(false),
    occupants: z.number().int().min(0).max(64).optional().describe('People in a room, for free quota'),
  })
  .strict();
export type OpenAccountInput = z.input<typeof OpenAccountSchema>;

const TopUpSchema = z
  .object({
    account: ID,
    amountFen: z.number(),
    method: z.enum(PAYMENT_METHODS),
    reference: z.string().trim().min(1).max(128).describe('Receipt, card transaction or transfer number'),
  })
  .strict();
const RefundSchema = z
  .object({ account: ID, amountFen: z.number(), method: z.enum(PAYMENT_METHODS), reason: TEXT })
  .strict();
const CorrectionSchema = z.object({ account: ID, amountFen: z.number(), reason: TEXT }).strict();
const FreeQuotaSchema = z
  .object({
    account: ID,
    period: PeriodSchema,
    kwh: z
      .number()
      .positive()
      .refine((n) => isExactAtScale(n, 3), 'kWh with at most 3 decimals'),
  })
  .strict();
const MeterResetSchema = z
  .object({
    account: ID,
    meter: ID,
    at: z.number().int().nonnegative().describe('When the register was cleared or the meter exchanged'),
    registerBefore: z.number().finite().nonnegative().optional(),
    registerAfter: z.number().finite().nonnegative().default(0),
    reason: TEXT,
  })
  .strict();
const HandoverSchema = z
  .object({ clerk: z.string().min(1), from: z.number().int(), to: z.number().int() })
  .strict();
const DecisionSchema = z.object({ reason: z.string().trim().max(500).optional() }).strict();

export interface PrepaidAccount {
  id: string;
  customerType: CustomerType;
  holder: string;
  meters: string[];
  payrollCode: string | null;
  protected: boolean;
  occupants: number | null;
  tariffType: 'unverified' | 'verified';
  openedBy: string;
  openedAt: number;
  verifiedBy: string | null;
  verifiedAt: number | null;
  balanceFen: Fen;
}

export interface LedgerEntry {
  id: number;
  accountId: string;
  at: number;
  type: EntryType;
  /** Signed: credits positive, debits and refunds negative, meter resets 0. */
  amountFen: Fen;
  /** Whose entry it is: the clerk or operator who took the money or the request, or the debiting job. */
  recordedBy: string;
  /** The second person, where there is one. */
  approvedBy: string | null;
  method: PaymentMethod | null;
  reference: string | null;
  reason: string | null;
  meter: string | null;
  intervalStart: number | null;
  intervalEnd: number | null;
  quantityMilli: number | null;
  requestId: number | null;
  detail: unknown;
}

export interface PrepaidRequest {
  id: number;
  kind: 'refund' | 'meter-reset' | 'free-quota';
  accountId: string;
  status: 'pending' | 'approved' | 'rejected';
  requestedBy: string;
  requestedAt: number;
  decidedBy: string | null;
  decidedAt: number | null;
  decisionReason: string | null;
  reason: string | null;
  amountFen: Fen | null;
  method: PaymentMethod | null;
  meter: string | null;
  resetAt: number | null;
  registerBefore: number | null;
  registerAfter: number | null;
  period: string | null;
  kwhMilli: number | null;
  ledgerId: number | null;
}

export interface HandoverTotals {
  count: number;
  fen: Fen;
}

export interface HandoverReport {
  clerk: string;
  from: number;
  to: number;
  printedBy: string;
  printedAt: number;
  entries: LedgerEntry[];
  byMethod: Record<PaymentMethod, HandoverTotals>;
  byType: Record<EntryType, HandoverTotals>;
  /** Sum of the entries' signed amounts. */
  netFen: Fen;
  /** Cash taken in less cash paid out: what the drawer should hold beyond its float. */
  cashNetFen: Fen;
}

export type SkipReason =
  'already-debited' | 'overlaps-debited' | 'no-value' | 'not-ended' | 'not-on-account' | 'crosses-month';

export interface ConsumptionResult {
  debited: LedgerEntry[];
  skipped: { meter: string; start: number; end: number; why: SkipReason }[];
}

export interface PrepaidOptions {
  db: BackofficeDb;
  audit: AuditLog;
  tariffs: TariffTable;
  clock?: Clock;
  /** Low-balance, cut-off and friendly-hours policy; defaults from policy.ts. */
  policy?: PolicyInput;
  /** Free-electricity rules; without any, credits are limited only by the two signatures. */
  freeQuotaRules?: readonly FreeQuotaRule[];
}

interface AccountRow {
  id: string;
  customer_type: CustomerType;
  holder: string;
  payroll_code: string | null;
  protected: number;
  occupants: number | null;
  tariff_status: 'unverified' | 'verified';
  opened_by: string;
  opened_at: number;
  verified_by: string | null;
  verified_at: number | null;
}

interface LedgerRow {
  id: number;
  account_id: string;
  at: number;
  type: EntryType;
  amount_fen: number;
  recorded_by: string;
  approved_by: string | null;
  method: PaymentMethod | null;
  reference: string | null;
  reason: string | null;
  meter: string | null;
  interval_start: number | null;
  interval_end: number | null;
  quantity_milli: number | null;
  request_id: number | null;
  detail: string | null;
}

interface RequestRow {
  id: number;
  kind: PrepaidRequest['kind'];
  account_id: string;
  status: PrepaidRequest['status'];
  requested_by: string;
  requested_at: number;
  decided_by: string | null;
  decided_at: number | null;
  decision_reason: string | null;
  reason: string | null;
  amount_fen: number | null;
  method: PaymentMethod | null;
  meter: string | null;
  reset_at: number | null;
  register_before: number | null;
  register_after: number | null;
  period: string | null;
  kwh_milli: number | null;
  ledger_id: number | null;
}

interface NewEntry {
  type: EntryType;
  amountFen: Fen;
  recordedBy: string;
  approvedBy?: string;
  method?: PaymentMethod;
  reference?: string;
  reason?: string;
  meter?: string;
  intervalStart?: number;
  intervalEnd?: number;
  quantityMilli?: number;
  month?: string;
  requestId?: number;
  detail?: unknown;
}

function refuse(code: PrepaidErrorCode, message: string): never {
  fail(PREPAID_ERRORS, code, message);
}

function parse<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const r = schema.safeParse(input);
  if (!r.success) refuse('INVALID_REQUEST', z.prettifyError(r.error));
  return r.data;
}

/** A positive whole number of fen (a correction may also be negative, never zero). */
function assertAmount(amount: unknown, allowNegative = false): asserts amount is Fen {
  if (!isFen(amount) || amount === 0 || (!allowNegative && amount < 0) || Math.abs(amount) > MAX_ENTRY_FEN) {
    refuse(
      'INVALID_AMOUNT',
      `${String(amount)} is not a ${allowNegative ? 'non-zero' : 'positive'} whole number of fen up to ${MAX_ENTRY_FEN}`,
    );
  }
}

function toEntry(r: LedgerRow): LedgerEntry {
  return {
    id: r.id,
    accountId: r.account_id,
    at: r.at,
    type: r.type,
    amountFen: r.amount_fen,
    recordedBy: r.recorded_by,
    approvedBy: r.approved_by,
    method: r.method,
    reference: r.reference,
    reason: r.reason,
    meter: r.meter,
    intervalStart: r.interval_start,
    intervalEnd: r.interval_end,
    quantityMilli: r.quantity_milli,
    requestId: r.request_id,
    detail: r.detail === null ? null : (JSON.parse(r.detail) as unknown),
  };
}

function toRequest(r: RequestRow): PrepaidRequest {
  return {
    id: r.id,
    kind: r.kind,
    accountId: r.account_id,
    status: r.status,
    requestedBy: r.requested_by,
    requestedAt: r.requested_at,
    decidedBy: r.decided_by,
    decidedAt: r.decided_at,
    decisionReason: r.decision_reason,
    reason: r.reason,
    amountFen: r.amount_fen,
    method: r.method,
    meter: r.meter,
    resetAt: r.reset_at,
    registerBefore: r.register_before,
    registerAfter: r.register_after,
    period: r.period,
    kwhMilli: r.kwh_milli,
    ledgerId: r.ledger_id,
  };
}

const emptyTotals = <K extends string>(keys: readonly K[]): Record<K, HandoverTotals> =>
  Object.fromEntries(keys.map((k) => [k, { count: 0, fen: 0 }])) as Record<K, HandoverTotals>;

export class Prepaid {
  private readonly db: BackofficeDb;
  private readonly audit: AuditLog;
  private readonly tariffs: TariffTable;
  private readonly clock: Clock;
  readonly policy: Policy;
  private readonly quotaRules: readonly FreeQuotaRule[] | null;

  constructor(options: PrepaidOptions) {
    this.db = options.db;
    this.audit = options.audit;
    this.tariffs = options.tariffs;
    this.clock = options.clock ?? Date.now;
    this.policy = parsePolicy({ timezone: options.tariffs.timezone, ...options.policy });
    this.quotaRules = options.freeQuotaRules ? FreeQuotaRulesSchema.parse(options.freeQuotaRules) : null;
    this.db.exec(PREPAID_SCHEMA);
  }

  // ── Accounts ────────────────────────────────────────────────────────────────────────────────

  /** Opens an account with its tariff type UNVERIFIED: nothing can be sold until a supervisor verifies it. */
  openAccount(by: Actor, input: OpenAccountInput): PrepaidAccount {
    assertCan(by, 'accounts.open');
    const a = parse(OpenAccountSchema, input);
    return this.tx(() => {
      if (this.accountRow(a.id)) refuse('ACCOUNT_EXISTS', `account ${a.id} is already open`);
      const meters = [...new Set(a.meters)];
      for (const m of meters) {
        const owner = this.db
          .prepare('SELECT account_id FROM prepaid_account_meters WHERE meter = ?')
          .get(m) as { account_id: string } | undefined;
        if (owner) refuse('METER_ALREADY_ASSIGNED', `meter ${m} belongs to account ${owner.account_id}`);
      }
      this.db
        .prepare(
          `INSERT INTO prepaid_accounts (id, customer_type, holder, payroll_code, protected, occupants,
             tariff_status, opened_by, opened_at) VALUES (?, ?, ?, ?, ?, ?, 'unverified', ?, ?)`,
        )
        .run(
          a.id,
          a.customerType,
          a.holder,
          a.payrollCode ?? null,
          a.protected ? 1 : 0,
          a.occupants ?? null,
          by.id,
          this.clock(),
        );
      const addMeter = this.db.prepare(
        'INSERT INTO prepaid_account_meters (meter, account_id) VALUES (?, ?)',
      );
      for (const m of meters) addMeter.run(m, a.id);
      const account = this.account(a.id);
      this.audit.append({ actor: by.id, action: 'account.open', subject: `account:${a.id}`, after: account });
      return account;
    });
  }

  /** A supervisor other than the opener confirms the account's customer (tariff) type. */
  verifyTariffType(by: Actor, id: string): PrepaidAccount {
    assertCan(by, 'accounts.verify-tariff');
    return this.tx(() => {
      const row = this.requireAccount(id);
      assertNotSelfApproval(row.opened_by, by);
      if (row.tariff_status === 'verified')
        refuse('TARIFF_TYPE_ALREADY_VERIFIED', `account ${id} is already verified`);
      if (!hasTariff(this.tariffs, 'electricity', row.customer_type, this.clock())) {
        refuse('NO_TARIFF', `no electricity tariff is in force for ${row.customer_type}`);
      }
      const before = this.account(id);
      this.db
        .prepare(
          `UPDATE prepaid_accounts SET tariff_status = 'verified', verified_by = ?, verified_at = ? WHERE id = ?`,
        )
        .run(by.id, this.clock(), id);
      const after = this.account(id);
      this.audit.append({
        actor: by.id,
        action: 'account.verify-tariff',
        subject: `account:${id}`,
        before: { tariffType: before.tariffType, customerType: before.customerType },
        after: { tariffType: after.tariffType, customerType: after.customerType },
      });
      return after;
    });
  }

  /** Ids of the accounts whose tariff type is verified: the only ones that are debited and sold to. */
  verifiedAccounts(): string[] {
    return (
      this.db
        .prepare("SELECT id FROM prepaid_accounts WHERE tariff_status = 'verified' ORDER BY id")
        .all() as {
        id: string;
      }[]
    ).map((r) => r.id);
  }

  /** Where the account's consumption debits end so far (UTC ms), or null before the first one. */
  lastDebitEnd(id: string): number | null {
    const row = this.db
      .prepare("SELECT MAX(interval_end) AS t FROM prepaid_ledger WHERE account_id = ? AND type = 'debit'")
      .get(id) as { t: number | null };
    return row.t;
  }

  account(id: string): PrepaidAccount {
    const r = this.requireAccount(id);
    const meters = (
      this.db
        .prepare('SELECT meter FROM prepaid_account_meters WHERE account_id = ? ORDER BY meter')
        .all(id) as {
        meter: string;
      }[]
    ).map((m) => m.meter);
    return {
      id: r.id,
      customerType: r.customer_type,
      holder: r.holder,
      meters,
      payrollCode: r.payroll_code,
      protected: r.protected === 1,
      occupants: r.occupants,
      tariffType: r.tariff_status,
      openedBy: r.opened_by,
      openedAt: r.opened_at,
      verifiedBy: r.verified_by,
      verifiedAt: r.verified_at,
      balanceFen: this.balance(id),
    };
  }

  /** The balance: the sum of the account's ledger entries, and nothing else. */
  balance(id: string): Fen {
    const r = this.db
      .prepare('SELECT COALESCE(SUM(amount_fen), 0) AS fen FROM prepaid_ledger WHERE account_id = ?')
      .get(id) as { fen: number };
    return r.fen;
  }

  ledger(id: string): LedgerEntry[] {
    return (
      this.db.prepare('SELECT * FROM prepaid_ledger WHERE account_id = ? ORDER BY id').all(id) as LedgerRow[]
    ).map(toEntry);
  }

  request(id: number): PrepaidRequest {
    const r = this.db.prepare('SELECT * FROM prepaid_requests WHERE id = ?').get(id) as
      RequestRow | undefined;
    if (!r) refuse('REQUEST_NOT_FOUND', `no request ${id}`);
    return toRequest(r);
  }

  pendingRequests(kind?: PrepaidRequest['kind']): PrepaidRequest[] {
    const rows = this.db
      .prepare(
        `SELECT * FROM prepaid_requests WHERE status = 'pending' AND (? IS NULL OR kind = ?) ORDER BY id`,
      )
      .all(kind ?? null, kind ?? null) as RequestRow[];
    return rows.map(toRequest);
  }

  // ── Money in ─────────────────────────────────────────────────────────────────────────────────

  /** A sale: money paid in at the counter (or by card or transfer), with its receipt reference. */
  topUp(
    by: Actor,
    input: { account: string; amountFen: Fen; method: PaymentMethod; reference: string },
  ): LedgerEntry {
    assertCan(by, 'payments.record');
    assertAmount(input?.amountFen);
    const t = parse(TopUpSchema, input);
    return this.tx(() => {
      this.requireVerified(t.account);
      const dup = this.db
        .prepare(
          `SELECT account_id FROM prepaid_ledger WHERE type = 'topup' AND method = ? AND reference = ?`,
        )
        .get(t.method, t.reference) as { account_id: string } | undefined;
      if (dup)
        refuse(
          'DUPLICATE_REFERENCE',
          `${t.method} ${t.reference} is already recorded on account ${dup.account_id}`,
        );
      return this.book(by.id, t.account, {
        type: 'topup',
        amountFen: t.amountFen,
        recordedBy: by.id,
        method: t.method,
        reference: t.reference,
      });
    });
  }

  /** A supervisor's correction of a ledger (either sign), with the reason. */
  correct(by: Actor, input: { account: string; amountFen: Fen; reason: string }): LedgerEntry {
    assertCan(by, 'ledger.correct');
    assertAmount(input?.amountFen, true);
    const c = parse(CorrectionSchema, input);
    return this.tx(() => {
      this.requireAccount(c.account);
      return this.book(by.id, c.account, {
        type: 'correction',
        amountFen: c.amountFen,
        recordedBy: by.id,
        reason: c.reason,
      });
    });
  }

  // ── Refunds ──────────────────────────────────────────────────────────────────────────────────

  /** A clerk asks to pay money back; nothing moves until a supervisor approves. */
  requestRefund(
    by: Actor,
    input: { account: string; amountFen: Fen; method: PaymentMethod; reason: string },
  ): PrepaidRequest {
    assertCan(by, 'refunds.request');
    assertAmount(input?.amountFen);
    const r = parse(RefundSchema, input);
    return this.tx(() => {
      this.requireAccount(r.account);
      this.assertRefundable(r.account, r.amountFen);
      const id = this.insertRequest('refund', r.account, by.id, {
        reason: r.reason,
        amount_fen: r.amountFen,
        method: r.method,
      });
      const req = this.request(id);
      this.audit.append({
        actor: by.id,
        action: 'refund.request',
        subject: `refund-request:${id}`,
        after: req,
        reason: r.reason,
      });
      return req;
    });
  }

  /** A supervisor other than the requester approves: the refund is booked, if the balance still allows it. */
  approveRefund(by: Actor, requestId: number): LedgerEntry {
    assertCan(by, 'refunds.approve');
    return this.tx(() => {
      const req = this.pending(requestId, 'refund');
      assertNotSelfApproval(req.requestedBy, by);
      this.assertRefundable(req.accountId, req.amountFen!);
      const entry = this.book(by.id, req.accountId, {
        type: 'refund',
        amountFen: -req.amountFen!,
        recordedBy: req.requestedBy,
        approvedBy: by.id,
        method: req.method!,
        reason: req.reason!,
        requestId,
      });
      this.decide(by, req, 'approved', undefined, entry.id);
      return entry;
    });
  }

  rejectRefund(by: Actor, requestId: number, decision: { reason?: string } = {}): PrepaidRequest {
    assertCan(by, 'refunds.approve');
    const d = parse(DecisionSchema, decision);
    return this.tx(() => {
      const req = this.pending(requestId, 'refund');
      assertNotSelfApproval(req.requestedBy, by);
      return this.decide(by, req, 'rejected', d.reason);
    });
  }

  /** What may be paid back: the balance less the free quota not yet used up by consumption. */
  refundable(id: string): Fen {
    const r = this.db
      .prepare(
        `SELECT COALESCE(SUM(amount_fen), 0) AS balance,
                COALESCE(SUM(CASE WHEN type = 'free-quota' THEN amount_fen ELSE 0 END), 0) AS free,
                COALESCE(SUM(CASE WHEN type = 'debit' THEN -amount_fen ELSE 0 END), 0) AS used
           FROM prepaid_ledger WHERE account_id = ?`,
      )
      .get(id) as { balance: number; free: number; used: number };
    return Math.max(0, r.balance - Math.max(0, r.free - r.used));
  }

  // ── Free quota ───────────────────────────────────────────────────────────────────────────────

  /** An operator credits free electricity for a period; it counts only once a supervisor confirms. */
  creditFreeQuota(by: Actor, input: { account: string; period: string; kwh: number }): PrepaidRequest {
    assertCan(by, 'free-quota.credit');
    const q = parse(FreeQuotaSchema, input);
    const kwhMilli = toSafeNumber(toScaled(q.kwh, 3), 'kWh');
    return this.tx(() => {
      const row = this.requireVerified(q.account);
      const existing = this.db
        .prepare(
          `SELECT id FROM prepaid_requests WHERE kind = 'free-quota' AND account_id = ? AND period = ? AND status <> 'rejected'`,
        )
        .get(q.account, q.period) as { id: number } | undefined;
      if (existing)
        refuse(
          'QUOTA_ALREADY_CREDITED',
          `${q.account} already has free quota ${existing.id} for ${q.period}`,
        );
      if (this.quotaRules) {
        const allowed = freeQuotaAllowanceMilli(
          this.quotaRules,
          { customerType: row.customer_type, occupants: row.occupants ?? 0 },
          q.period,
        );
        if (BigInt(kwhMilli) > allowed) {
          refuse(
            'QUOTA_NOT_ELIGIBLE',
            `the rules give ${q.account} ${Number(allowed) / 1000} kWh for ${q.period}, not ${q.kwh}`,
          );
        }
      }
      this.valueQuota(row.customer_type, q.period, kwhMilli);
      const id = this.insertRequest('free-quota', q.account, by.id, {
        period: q.period,
        kwh_milli: kwhMilli,
      });
      const req = this.request(id);
      this.audit.append({
        actor: by.id,
        action: 'free-quota.credit',
        subject: `free-quota:${id}`,
        after: req,
      });
      return req;
    });
  }

  /** A supervisor other than the crediting person confirms: the quota is booked in fen. */
  confirmFreeQuota(by: Actor, requestId: number): LedgerEntry {
    assertCan(by, 'free-quota.confirm');
    return this.tx(() => {
      const req = this.quotaRequest(requestId);
      assertNotSelfApproval(req.requestedBy, by);
      const row = this.requireVerified(req.accountId);
      const value = this.valueQuota(row.customer_type, req.period!, req.kwhMilli!);
      const entry = this.book(by.id, req.accountId, {
        type: 'free-quota',
        amountFen: value.totalFen,
        recordedBy: req.requestedBy,
        approvedBy: by.id,
        quantityMilli: req.kwhMilli!,
        month: req.period!,
        requestId,
        detail: { period: req.period, kwh: req.kwhMilli! / 1000, components: value.components },
      });
      this.decide(by, req, 'approved', undefined, entry.id);
      return entry;
    });
  }

  rejectFreeQuota(by: Actor, requestId: number, decision: { reason?: string } = {}): PrepaidRequest {
    assertCan(by, 'free-quota.confirm');
    const d = parse(DecisionSchema, decision);
    return this.tx(() => {
      const req = this.quotaRequest(requestId);
      assertNotSelfApproval(req.requestedBy, by);
      return this.decide(by, req, 'rejected', d.reason);
    });
  }

  // ── Meter reset ──────────────────────────────────────────────────────────────────────────────

  requestMeterReset(
    by: Actor,
    input: {
      account: string;
      meter: string;
      at: number;
      registerBefore?: number;
      registerAfter?: number;
      reason: string;
    },
  ): PrepaidRequest {
    assertCan(by, 'meter-reset.request');
    const m = parse(MeterResetSchema, input);
    return this.tx(() => {
      this.requireAccount(m.account);
      this.requireMeterOf(m.account, m.meter);
      const id = this.insertRequest('meter-reset', m.account, by.id, {
        meter: m.meter,
        reset_at: m.at,
        register_before: m.registerBefore ?? null,
        register_after: m.registerAfter,
        reason: m.reason,
      });
      const req = this.request(id);
      this.audit.append({
        actor: by.id,
        action: 'meter-reset.request',
        subject: `meter-reset:${id}`,
        after: req,
        reason: m.reason,
      });
      return req;
    });
  }

  approveMeterReset(by: Actor, requestId: number): LedgerEntry {
    assertCan(by, 'meter-reset.approve');
    return this.tx(() => {
      const req = this.pending(requestId, 'meter-reset');
      assertNotSelfApproval(req.requestedBy, by);
      const entry = this.book(by.id, req.accountId, {
        type: 'meter-reset',
        amountFen: 0,
        recordedBy: req.requestedBy,
        approvedBy: by.id,
        meter: req.meter!,
        intervalStart: req.resetAt!,
        reason: req.reason!,
        requestId,
        detail: { registerBefore: req.registerBefore, registerAfter: req.registerAfter },
      });
      this.decide(by, req, 'approved', undefined, entry.id);
      return entry;
    });
  }

  rejectMeterReset(by: Actor, requestId: number, decision: { reason?: string } = {}): PrepaidRequest {
    assertCan(by, 'meter-reset.approve');
    const d = parse(DecisionSchema, decision);
    return this.tx(() => {
      const req = this.pending(requestId, 'meter-reset');
      assertNotSelfApproval(req.requestedBy, by);
      return this.decide(by, req, 'rejected', d.reason);
    });
  }

  /**
   * The meter's register history as split by approved resets, for intervalConsumption: one
   * installation before the first reset, one between each pair, one open-ended after the last.
   * Empty when the meter was never reset (one open-ended installation is the default).
   */
  installations(meter: string): Installation[] {
    return resetInstallations(this.db, meter);
  }

  // ── Consumption ──────────────────────────────────────────────────────────────────────────────

  /**
   * Debits the account's metered consumption for the local days overlapping [from, to), read from
   * the store. Days not yet over, gaps and days already debited are skipped and listed.
   */
  async debitConsumption(
    by: Actor,
    input: { account: string; from: number; to: number },
    store: ReadingStore,
  ): Promise<ConsumptionResult> {
    assertCan(by, 'consumption.debit');
    const account = this.account(input.account);
    if (account.tariffType !== 'verified') this.requireVerified(input.account);
    const intervals = await intervalConsumption(store, {
      meters: account.meters,
      quantity: METER_QUANTITY,
      from: input.from,
      to: input.to,
      step: '1d',
      timezone: this.tariffs.timezone,
      installations: account.meters.flatMap((m) => this.installations(m)),
    });
    return this.applyConsumption(by, input.account, intervals);
  }

  /**
   * Debits given interval consumption (what debitConsumption reads), idempotently per
   * (account, meter, interval). All debits of one call commit together with their audit entries.
   */
  applyConsumption(
    by: Actor,
    accountId: string,
    intervals: readonly IntervalConsumption[],
  ): ConsumptionResult {
    assertCan(by, 'consumption.debit');
    return this.tx(() => {
      const row = this.requireVerified(accountId);
      const meters = new Set(this.account(accountId).meters);
      const now = this.clock();
      const tz = this.tariffs.timezone;
      const result: ConsumptionResult = { debited: [], skipped: [] };
      const sorted = [...intervals].sort((a, b) => a.start - b.start || (a.meter < b.meter ? -1 : 1));
      const sameOrOverlap = this.db.prepare(
        `SELECT interval_start, interval_end FROM prepaid_ledger
          WHERE type = 'debit' AND account_id = ? AND meter = ? AND interval_start < ? AND interval_end > ? LIMIT 1`,
      );
      const usedInMonth = this.db.prepare(
        `SELECT COALESCE(SUM(quantity_milli), 0) AS q FROM prepaid_ledger
          WHERE type = 'debit' AND account_id = ? AND month = ?`,
      );
      for (const iv of sorted) {
        const skip = (why: SkipReason) =>
          result.skipped.push({ meter: iv.meter, start: iv.start, end: iv.end, why });
        if (!meters.has(iv.meter)) {
          skip('not-on-account');
          continue;
        }
        if (iv.value === null || !Number.isFinite(iv.value) || iv.value < 0) {
          skip('no-value');
          continue;
        }
        if (iv.end > now) {
          skip('not-ended');
          continue;
        }
        const month = monthOf(iv.start, tz);
        if (monthOf(iv.end - 1, tz) !== month) {
          skip('crosses-month');
          continue;
        }
        const hit = sameOrOverlap.get(accountId, iv.meter, iv.end, iv.start) as
          { interval_start: number; interval_end: number } | undefined;
        if (hit) {
          skip(
            hit.interval_start === iv.start && hit.interval_end === iv.end
              ? 'already-debited'
              : 'overlaps-debited',
          );
          continue;
        }
        const prior = (usedInMonth.get(accountId, month) as { q: number }).q;
        const priced = this.price(() =>
          charge(this.tariffs, {
            utility: 'electricity',
            customerType: row.customer_type,
            intervals: [{ start: iv.start, end: iv.end, quantity: iv.value! }],
            priorUsage: { [month]: prior / 1000 },
          }),
        );
        result.debited.push(
          this.book(by.id, accountId, {
            type: 'debit',
            amountFen: priced.totalFen === 0 ? 0 : -priced.totalFen,
            recordedBy: by.id,
            meter: iv.meter,
            intervalStart: iv.start,
            intervalEnd: iv.end,
            quantityMilli: priced.quantityMilli,
            month,
            detail: { status: iv.status, components: priced.components },
          }),
        );
      }
      return result;
    });
  }

  // ── Policy ───────────────────────────────────────────────────────────────────────────────────

  /** What the account's balance calls for now (see policy.ts); the supply state comes from the control service. */
  evaluate(id: string, supply: Pick<AccountState, 'supply' | 'pending'>, now = this.clock()): PolicyAction[] {
    const a = this.account(id);
    return evaluate(
      this.policy,
      { id, customerType: a.customerType, protected: a.protected, balanceFen: a.balanceFen, ...supply },
      now,
    );
  }

  // ── Handover ─────────────────────────────────────────────────────────────────────────────────

  /**
   * The shift's entries recorded by `clerk` in [from, to), with totals per payment method and
   * per entry type. The totals are computed twice, from the entries and by SQL over the ledger,
   * and must agree; printing is audited with the totals, so the signed paper can be checked later.
   * A clerk or operator prints their own report; a supervisor prints anyone's.
   */
  handoverReport(by: Actor, input: { clerk: string; from: number; to: number }): HandoverReport {
    assertCan(by, 'handover.report');
    const h = parse(HandoverSchema, input);
    if (h.clerk !== by.id && !by.roles.includes('supervisor')) {
      authFail('FORBIDDEN', `${by.id} may print only their own handover report`);
    }
    return this.tx(() => {
      const entries = (
        this.db
          .prepare('SELECT * FROM prepaid_ledger WHERE recorded_by = ? AND at >= ? AND at < ? ORDER BY id')
          .all(h.clerk, h.from, h.to) as LedgerRow[]
      ).map(toEntry);
      const byMethod = emptyTotals(PAYMENT_METHODS);
      const byType = emptyTotals(ENTRY_TYPES);
      let netFen = 0;
      for (const e of entries) {
        netFen += e.amountFen;
        byType[e.type].count++;
        byType[e.type].fen += e.amountFen;
        if (e.method) {
          byMethod[e.method].count++;
          byMethod[e.method].fen += e.amountFen;
        }
      }
      const sql = this.db
        .prepare(
          `SELECT type, method, COUNT(*) AS n, SUM(amount_fen) AS fen FROM prepaid_ledger
            WHERE recorded_by = ? AND at >= ? AND at < ? GROUP BY type, method`,
        )
        .all(h.clerk, h.from, h.to) as {
        type: EntryType;
        method: PaymentMethod | null;
        n: number;
        fen: number;
      }[];
      const check = { byMethod: emptyTotals(PAYMENT_METHODS), byType: emptyTotals(ENTRY_TYPES), net: 0 };
      for (const g of sql) {
        check.net += g.fen;
        check.byType[g.type].count += g.n;
        check.byType[g.type].fen += g.fen;
        if (g.method) {
          check.byMethod[g.method].count += g.n;
          check.byMethod[g.method].fen += g.fen;
        }
      }
      if (
        check.net !== netFen ||
        JSON.stringify(check.byMethod) !== JSON.stringify(byMethod) ||
        JSON.stringify(check.byType) !== JSON.stringify(byType)
      ) {
        throw new Error(`handover report for ${h.clerk} does not agree with the ledger`);
      }
      const report: HandoverReport = {
        clerk: h.clerk,
        from: h.from,
        to: h.to,
        printedBy: by.id,
        printedAt: this.clock(),
        entries,
        byMethod,
        byType,
        netFen,
        cashNetFen: byMethod.cash.fen,
      };
      this.audit.append({
        actor: by.id,
        action: 'handover.report',
        subject: `clerk:${h.clerk}`,
        after: {
          from: h.from,
          to: h.to,
          entries: entries.length,
          lastEntryId: entries[entries.length - 1]?.id ?? null,
          byMethod,
          byType,
          netFen,
        },
      });
      return report;
    });
  }

  // ── Internals ────────────────────────────────────────────────────────────────────────────────

  private tx<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  private accountRow(id: string): AccountRow | undefined {
    return this.db.prepare('SELECT * FROM prepaid_accounts WHERE id = ?').get(id) as AccountRow | undefined;
  }

  private requireAccount(id: string): AccountRow {
    const r = this.accountRow(id);
    if (!r) refuse('ACCOUNT_NOT_FOUND', `no prepaid account ${id}`);
    return r;
  }

  private requireVerified(id: string): AccountRow {
    const r = this.requireAccount(id);
    if (r.tariff_status !== 'verified') {
      refuse('TARIFF_TYPE_UNVERIFIED', `account ${id} (${r.customer_type}) has no verified tariff type yet`);
    }
    return r;
  }

  private requireMeterOf(account: string, meter: string): void {
    const r = this.db.prepare('SELECT account_id FROM prepaid_account_meters WHERE meter = ?').get(meter) as
      { account_id: string } | undefined;
    if (r?.account_id !== account)
      refuse('METER_NOT_ON_ACCOUNT', `meter ${meter} is not on account ${account}`);
  }

  private assertRefundable(account: string, amountFen: Fen): void {
    const max = this.refundable(account);
    if (amountFen > max) {
      refuse(
        'INSUFFICIENT_BALANCE',
        `a refund of ${amountFen} fen exceeds the refundable ${max} fen of ${account}`,
      );
    }
  }

  /** Tariff errors surface as the prepaid service's NO_TARIFF. */
  private price<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof ServiceError && e.code === 'TARIFF_NOT_FOUND') refuse('NO_TARIFF', e.message);
      throw e;
    }
  }

  /** The quota's kWh valued as if used evenly over its month, at the tariff then in force. */
  private valueQuota(customerType: CustomerType, period: string, kwhMilli: number) {
    const [y, m] = period.split('-').map(Number) as [number, number];
    const tz = this.tariffs.timezone;
    const priced = this.price(() =>
      charge(this.tariffs, {
        utility: 'electricity',
        customerType,
        intervals: [
          {
            start: localTimeToUtc(tz, y, m, 1),
            end: localTimeToUtc(tz, y, m + 1, 1),
            quantity: kwhMilli / 1000,
          },
        ],
      }),
    );
    if (priced.totalFen <= 0) refuse('INVALID_AMOUNT', `${kwhMilli / 1000} kWh is worth less than one fen`);
    return priced;
  }

  private insertRequest(
    kind: PrepaidRequest['kind'],
    account: string,
    requestedBy: string,
    fields: Record<string, string | number | null>,
  ): number {
    const cols = Object.keys(fields);
    const info = this.db
      .prepare(
        `INSERT INTO prepaid_requests (kind, account_id, status, requested_by, requested_at${cols.map((c) => `, ${c}`).join('')})
         VALUES (?, ?, 'pending', ?, ?${cols.map(() => ', ?').join('')})`,
      )
      .run(kind, account, requestedBy, this.clock(), ...Object.values(fields));
    return Number(info.lastInsertRowid);
  }

  private pending(requestId: number, kind: PrepaidRequest['kind']): PrepaidRequest {
    if (!Number.isSafeInteger(requestId)) refuse('REQUEST_NOT_FOUND', `no request ${String(requestId)}`);
    const req = this.request(requestId);
    if (req.kind !== kind)
      refuse('REQUEST_NOT_FOUND', `request ${requestId} is a ${req.kind} request, not ${kind}`);
    if (req.status !== 'pending')
      refuse('REQUEST_NOT_PENDING', `request ${requestId} is already ${req.status}`);
    return req;
  }

  private quotaRequest(requestId: number): PrepaidRequest {
    if (!Number.isSafeInteger(requestId)) refuse('REQUEST_NOT_FOUND', `no request ${String(requestId)}`);
    const req = this.request(requestId);
    if (req.kind !== 'free-quota') refuse('REQUEST_NOT_FOUND', `request ${requestId} is not a free quota`);
    if (req.status === 'approved')
      refuse('QUOTA_ALREADY_CONFIRMED', `free quota ${requestId} is already confirmed`);
    if (req.status !== 'pending') refuse('REQUEST_NOT_PENDING', `free quota ${requestId} was ${req.status}`);
    return req;
  }

  private decide(
    by: Actor,
    req: PrepaidRequest,
    status: 'approved' | 'rejected',
    reason: string | undefined,
    ledgerId?: number,
  ): PrepaidRequest {
    this.db
      .prepare(
        `UPDATE prepaid_requests SET status = ?, decided_by = ?, decided_at = ?, decision_reason = ?, ledger_id = ?
          WHERE id = ? AND status = 'pending'`,
      )
      .run(status, by.id, this.clock(), reason ?? null, ledgerId ?? null, req.id);
    const after = this.request(req.id);
    const verb = { refund: 'refund', 'meter-reset': 'meter-reset', 'free-quota': 'free-quota' }[req.kind];
    const action =
      status === 'rejected'
        ? `${verb}.reject`
        : req.kind === 'free-quota'
          ? 'free-quota.confirm'
          : `${verb}.approve`;
    this.audit.append({
      actor: by.id,
      action,
      subject: `${req.kind}:${req.id}`,
      before: { status: req.status },
      after: { status: after.status, ledgerId: after.ledgerId },
      ...(reason ? { reason } : {}),
    });
    return after;
  }

  /** Appends one ledger entry and its audit entry (with the balance before and after); call inside tx. */
  private book(actor: string, account: string, e: NewEntry): LedgerEntry {
    if (!isFen(e.amountFen)) throw new Error(`ledger amounts are whole fen, got ${e.amountFen}`);
    const before = this.balance(account);
    const info = this.db
      .prepare(
        `INSERT INTO prepaid_ledger (account_id, at, type, amount_fen, recorded_by, approved_by, method, reference,
           reason, meter, interval_start, interval_end, quantity_milli, month, request_id, detail)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        account,
        this.clock(),
        e.type,
        e.amountFen,
        e.recordedBy,
        e.approvedBy ?? null,
        e.method ?? null,
        e.reference ?? null,
        e.reason ?? null,
        e.meter ?? null,
        e.intervalStart ?? null,
        e.intervalEnd ?? null,
        e.quantityMilli ?? null,
        e.month ?? null,
        e.requestId ?? null,
        e.detail === undefined ? null : JSON.stringify(e.detail),
      );
    const entry = toEntry(
      this.db
        .prepare('SELECT * FROM prepaid_ledger WHERE id = ?')
        .get(Number(info.lastInsertRowid)) as LedgerRow,
    );
    const after = this.balance(account);
    this.audit.append({
      actor,
      action: `ledger.${e.type}`,
      subject: `account:${account}`,
      before: { balanceFen: before },
      after: { balanceFen: after, entry },
      ...(e.reason ? { reason: e.reason } : {}),
    });
    return entry;
  }
}

/** The prepaid service as the composition root builds it. */
export function createPrepaid(deps: PrepaidOptions): Prepaid {
  return new Prepaid(deps);
}
