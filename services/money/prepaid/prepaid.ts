import { searchAccounts, type AccountSearch, type AccountSearchPage } from './search.ts';
import type { z } from 'zod';
import type { Actor } from '../../platform/auth/roles.ts';
import type { AuditLog } from '../../platform/audit/audit-log.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import type { Installation, IntervalConsumption, ReadingStore } from '../../metering/storage.ts';
import type { Fen } from '../billing/money.ts';
import type { TariffTable } from '../billing/tariffs.ts';
import { FreeQuotaSettingsSchema } from '../../../config/schemas/prepaid.ts';
import * as accounts from './accounts.ts';
import type { PrepaidContext } from './context.ts';
import * as debits from './debits.ts';
import * as quota from './free-quota-requests.ts';
import { FreeQuotaRulesSchema, type FreeQuotaRule } from './free-quota.ts';
import * as handover from './handover.ts';
import type { OpenAccountInput } from './inputs.ts';
import * as ledger from './ledger.ts';
import * as payments from './payments.ts';
import * as resets from './meter-resets.ts';
import {
  evaluate,
  parsePolicy,
  type AccountState,
  type Policy,
  type PolicyAction,
  type PolicyInput,
} from './policy.ts';
import * as refunds from './refunds.ts';
import * as requests from './requests.ts';
import { PREPAID_SCHEMA } from './schema.ts';
import type {
  ConsumptionResult,
  HandoverReport,
  LedgerEntry,
  PaymentMethod,
  PrepaidAccount,
  PrepaidRequest,
} from './types.ts';

export * from './types.ts';

type FreeQuotaSettingsInput = z.input<typeof FreeQuotaSettingsSchema>;
export type { OpenAccountInput } from './inputs.ts';

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
 *
 * The parts live beside this file, one concern each: accounts.ts, ledger.ts (money in and the
 * balance), requests.ts (the two-person requests) with refunds.ts, free-quota-requests.ts and
 * meter-resets.ts, debits.ts (consumption), handover.ts. `Prepaid` is their one front door.
 */

export interface PrepaidOptions {
  db: BackofficeDb;
  audit: AuditLog;
  tariffs: TariffTable;
  clock?: Clock;
  /** Low-balance, cut-off and friendly-hours policy; defaults from policy.ts. */
  policy?: PolicyInput;
  /** Free-electricity rules; without any, credits are limited by the two signatures and the term cap. */
  freeQuotaRules?: readonly FreeQuotaRule[];
  /** The campus file's `prepaid.freeQuota` (cap per room and term); its schema's defaults when absent. */
  freeQuota?: FreeQuotaSettingsInput;
}

type Decision = { reason?: string };

export class Prepaid {
  readonly policy: Policy;
  private readonly ctx: PrepaidContext;

  constructor(options: PrepaidOptions) {
    const db = options.db;
    this.policy = parsePolicy({ timezone: options.tariffs.timezone, ...options.policy });
    this.ctx = {
      db,
      audit: options.audit,
      tariffs: options.tariffs,
      clock: options.clock ?? Date.now,
      policy: this.policy,
      quotaRules: options.freeQuotaRules ? FreeQuotaRulesSchema.parse(options.freeQuotaRules) : null,
      freeQuota: FreeQuotaSettingsSchema.parse(options.freeQuota ?? {}),
      tx: (fn) => db.transaction(fn)(),
    };
    db.exec(PREPAID_SCHEMA);
    payments.fileOldPaymentReferences(this.ctx);
  }

  // ── Accounts ────────────────────────────────────────────────────────────────────────────────

  /** Opens an account with its tariff type UNVERIFIED: nothing can be sold until a supervisor verifies it. */
  openAccount(by: Actor, input: OpenAccountInput): PrepaidAccount {
    return accounts.openAccount(this.ctx, by, input);
  }
  /** A supervisor other than the opener confirms the account's customer (tariff) type. */
  verifyTariffType(by: Actor, id: string): PrepaidAccount {
    return accounts.verifyTariffType(this.ctx, by, id);
  }
  /** Ids of the accounts whose tariff type is verified: the only ones that are debited and sold to. */
  verifiedAccounts(): string[] {
    return accounts.verifiedAccounts(this.ctx);
  }
  account(id: string): PrepaidAccount {
    return accounts.accountView(this.ctx, id);
  }
  /** The counter's search and its low-balance and out-of-credit lists, a page at a time (search.ts). */
  search(q: AccountSearch = {}): AccountSearchPage {
    return searchAccounts(this.ctx, q);
  }

  // ── Ledger and money in ─────────────────────────────────────────────────────────────────────

  /** Where the account's consumption debits end so far (UTC ms), or null before the first one. */
  lastDebitEnd(id: string): number | null {
    return ledger.lastDebitEnd(this.ctx, id);
  }
  /** The balance: the sum of the account's ledger entries, and nothing else. */
  balance(id: string): Fen {
    return ledger.balance(this.ctx, id);
  }
  ledger(id: string): LedgerEntry[] {
    return ledger.ledgerOf(this.ctx, id);
  }
  /** What may be paid back: the balance less the free quota not yet used up by consumption. */
  refundable(id: string): Fen {
    return ledger.refundable(this.ctx, id);
  }
  /** A sale: money paid in at the counter (or by card or transfer), with its receipt reference. */
  topUp(
    by: Actor,
    input: { account: string; amountFen: Fen; method: PaymentMethod; reference: string },
  ): LedgerEntry {
    return payments.topUp(this.ctx, by, input);
  }
  /**
   * Money paid through a payment provider, booked by the payments service (no person records it);
   * the reference is the provider's transaction id, filed once like a counter sale's.
   */
  creditFromProvider(input: Parameters<typeof payments.creditFromProvider>[1]): LedgerEntry {
    return payments.creditFromProvider(this.ctx, input);
  }
  /** A supervisor's correction of a ledger (either sign), with the reason. */
  correct(by: Actor, input: { account: string; amountFen: Fen; reason: string }): LedgerEntry {
    return payments.correct(this.ctx, by, input);
  }

  // ── Two-person requests ─────────────────────────────────────────────────────────────────────

  request(id: number): PrepaidRequest {
    return requests.getRequest(this.ctx, id);
  }
  pendingRequests(kind?: PrepaidRequest['kind']): PrepaidRequest[] {
    return requests.pendingRequests(this.ctx, kind);
  }

  requestRefund(by: Actor, input: Parameters<typeof refunds.requestRefund>[2]): PrepaidRequest {
    return refunds.requestRefund(this.ctx, by, input);
  }
  approveRefund(by: Actor, requestId: number): LedgerEntry {
    return refunds.approveRefund(this.ctx, by, requestId);
  }
  rejectRefund(by: Actor, requestId: number, decision: Decision = {}): PrepaidRequest {
    return refunds.rejectRefund(this.ctx, by, requestId, decision);
  }

  creditFreeQuota(by: Actor, input: { account: string; period: string; kwh: number }): PrepaidRequest {
    return quota.creditFreeQuota(this.ctx, by, input);
  }
  confirmFreeQuota(by: Actor, requestId: number): LedgerEntry {
    return quota.confirmFreeQuota(this.ctx, by, requestId);
  }
  rejectFreeQuota(by: Actor, requestId: number, decision: Decision = {}): PrepaidRequest {
    return quota.rejectFreeQuota(this.ctx, by, requestId, decision);
  }

  requestMeterReset(by: Actor, input: Parameters<typeof resets.requestMeterReset>[2]): PrepaidRequest {
    return resets.requestMeterReset(this.ctx, by, input);
  }
  approveMeterReset(by: Actor, requestId: number): LedgerEntry {
    return resets.approveMeterReset(this.ctx, by, requestId);
  }
  rejectMeterReset(by: Actor, requestId: number, decision: Decision = {}): PrepaidRequest {
    return resets.rejectMeterReset(this.ctx, by, requestId, decision);
  }
  /** The meter's register history as split by approved resets (see meter-resets.ts). */
  installations(meter: string): Installation[] {
    return resets.installations(this.ctx, meter);
  }

  // ── Consumption, policy, handover ───────────────────────────────────────────────────────────

  debitConsumption(
    by: Actor,
    input: { account: string; from: number; to: number },
    store: ReadingStore,
  ): Promise<ConsumptionResult> {
    return debits.debitConsumption(this.ctx, by, input, store);
  }
  applyConsumption(
    by: Actor,
    accountId: string,
    intervals: readonly IntervalConsumption[],
  ): ConsumptionResult {
    return debits.applyConsumption(this.ctx, by, accountId, intervals);
  }

  /** What the account's balance calls for now (see policy.ts); the supply state comes from the control service. */
  evaluate(
    id: string,
    supply: Pick<AccountState, 'supply' | 'pending'>,
    now = this.ctx.clock(),
  ): PolicyAction[] {
    const a = this.account(id);
    return evaluate(
      this.policy,
      { id, customerType: a.customerType, protected: a.protected, balanceFen: a.balanceFen, ...supply },
      now,
    );
  }

  handoverReport(by: Actor, input: { clerk: string; from: number; to: number }): HandoverReport {
    return handover.handoverReport(this.ctx, by, input);
  }
}

/** The prepaid service as the composition root builds it. */
export function createPrepaid(deps: PrepaidOptions): Prepaid {
  return new Prepaid(deps);
}
