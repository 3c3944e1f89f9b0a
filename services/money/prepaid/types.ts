import type { Fen } from '../billing/money.ts';
import type { CustomerType } from '../billing/tariffs.ts';

/** The prepaid service's public records and constants: what its callers and routes see. */

export const PAYMENT_METHODS = ['cash', 'card', 'transfer'] as const;
export type PaymentMethod = (typeof PAYMENT_METHODS)[number];
export const ENTRY_TYPES = ['topup', 'free-quota', 'debit', 'refund', 'meter-reset', 'correction'] as const;
export type EntryType = (typeof ENTRY_TYPES)[number];

/** The largest amount one entry may carry: 1 000 000 yuan; larger is a typing mistake. */
export const MAX_ENTRY_FEN = 100_000_000;

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
