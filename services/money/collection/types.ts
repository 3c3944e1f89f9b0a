import type { PenaltyRule } from '../../../config/schemas/collection.ts';
import type { Fen } from '../billing/money.ts';
import type { AgeBucket } from './ageing.ts';

/** What callers and routes of post-paid collection see. */

export const COLLECTION_METHODS = ['cash', 'card', 'transfer'] as const;
export type CollectionMethod = (typeof COLLECTION_METHODS)[number];
export const REMINDER_CHANNELS = ['door', 'phone', 'sms', 'email', 'letter'] as const;

export interface Objection {
  id: number;
  account: string;
  text: string;
  recordedBy: string;
  recordedAt: number;
  decision: {
    outcome: 'upheld' | 'dismissed';
    amountFen: Fen | null;
    reason: string;
    decidedBy: string;
    decidedAt: number;
  } | null;
}

export interface FeeTableAccount {
  account: string;
  holder: string;
  payrollCode: string | null;
  billedFen: Fen;
  /** Meters of the account the bill run blocked (VEE): not in this fee, billed once resolved. */
  blockedMeters: string[];
  /** What is charged: the billed amount, or the amount an upheld objection set. */
  feeFen: Fen;
}

export interface FeeTable {
  id: string;
  runId: string;
  period: { label: string; from: number; to: number };
  publishedBy: string;
  publishedAt: number;
  objectionsUntil: number;
  state: 'open-for-objections' | 'awaiting-confirmation' | 'confirmed';
  confirmedBy: string | null;
  confirmedAt: number | null;
  penaltyRule: PenaltyRule;
  accounts: FeeTableAccount[];
  objections: Objection[];
  totalFen: Fen;
}

export interface NoticeState {
  id: number;
  number: string;
  feeTable: string;
  account: string;
  holder: string;
  period: string;
  feeFen: Fen;
  issuedBy: string;
  issuedAt: number;
  /** The local midnight ending the due day. */
  dueAt: number;
  /** The due day, `YYYY-MM-DD` in the campus zone. */
  dueDate: string;
  paidPrincipalFen: Fen;
  principalDueFen: Fen;
  penaltyAccruedFen: Fen;
  penaltyDays: number;
  penaltyPaidFen: Fen;
  penaltyWaivedFen: Fen;
  penaltyDueFen: Fen;
  outstandingFen: Fen;
  daysOverdue: number;
  bucket: AgeBucket | null;
  reminders: { at: number; channel: string; note: string | null; recordedBy: string }[];
  payments: Payment[];
  asOf: number;
}

export interface Payment {
  id: number;
  notice: number;
  account: string;
  at: number;
  method: CollectionMethod | 'credit';
  amountFen: Fen;
  principalFen: Fen;
  penaltyFen: Fen;
  /** What went beyond the notice's debt into the account's credit. */
  creditFen: Fen;
  reference: string | null;
  recordedBy: string;
}

/** A clerk's request that waits for a supervisor's decision: who asked, why, and what was decided. */
export interface SupervisorRequest {
  reason: string;
  requestedBy: string;
  requestedAt: number;
  status: 'pending' | 'approved' | 'rejected';
  decidedBy: string | null;
  decidedAt: number | null;
}

export interface Waiver extends SupervisorRequest {
  id: number;
  notice: number;
  amountFen: Fen;
}

export interface Reversal extends SupervisorRequest {
  id: number;
  payment: Payment;
  notice: string;
}
