import type { Fen } from '../billing/money.ts';
import type { PaymentMethod } from '../prepaid/types.ts';

/**
 * The one interface every payment channel implements (campus card, WeChat Pay, Alipay): create an
 * order, read its signed asynchronous notice, query it, refund it, and fetch the day's statement.
 * The payments service knows nothing else of a provider; adding one is a new file implementing
 * this and a line in the registry (providers.ts).
 */

export interface NewProviderOrder {
  /** Our order number: what the provider echoes in its notice and statement. */
  orderNo: string;
  amountFen: Fen;
  /** The prepaid account the money is for, echoed back in the notice and checked against ours. */
  account: string;
  description: string;
  /** Where the provider posts its signed notice. */
  notifyUrl: string;
  /** After this (UTC ms) the provider closes the order unpaid. */
  expiresAt: number;
}

export interface CreatedProviderOrder {
  /** The provider's own order number. */
  providerOrderNo: string;
  /** Where the customer pays (a QR code or the wallet's page). */
  payUrl: string;
}

/** What a provider says about one of our orders. */
export interface ProviderOrderState {
  orderNo: string;
  providerOrderNo: string;
  account: string;
  amountFen: Fen;
  status: 'pending' | 'paid' | 'closed' | 'refunded';
  /** The provider's transaction id, once paid. */
  transactionId: string | null;
  /** When the provider took the money (UTC ms), once paid. */
  paidAt: number | null;
}

/** A paid order as the provider's notice states it. */
export interface PaymentNotice {
  orderNo: string;
  providerOrderNo: string;
  transactionId: string;
  account: string;
  amountFen: Fen;
  paidAt: number;
}

/** A notice whose signature checked out, with what replay checks need. */
export interface SignedNotice {
  notice: PaymentNotice;
  /** The signed timestamp (UTC ms). */
  timestampMs: number;
  /** The signed nonce: one message, once. */
  nonce: string;
}

/** One line of the provider's statement file for a day. */
export interface StatementLine {
  kind: 'payment' | 'refund';
  transactionId: string;
  orderNo: string;
  amountFen: Fen;
  at: number;
}

export interface ProviderRefund {
  refundNo: string;
  status: 'succeeded' | 'refused';
  reason?: string;
}

/** Why a notice is refused before anything of it is believed. */
export class NoticeRefused extends Error {
  constructor(
    readonly why: 'bad-signature' | 'malformed',
    message: string,
  ) {
    super(message);
  }
}

export interface PaymentProvider {
  /** The id in the campus file and in the notify URL (`/api/payments/notify/<id>`). */
  readonly id: string;
  /** How the ledger files its payments (campus card: `card`; wallets: `transfer`). */
  readonly method: PaymentMethod;
  createOrder(order: NewProviderOrder): Promise<CreatedProviderOrder>;
  /** Checks the notice's signature and reads it; throws NoticeRefused. Believes nothing else. */
  readNotice(headers: Record<string, string | string[] | undefined>, rawBody: string): SignedNotice;
  /** The provider's state of our order, or null if it never heard of it. */
  query(orderNo: string): Promise<ProviderOrderState | null>;
  refund(input: {
    orderNo: string;
    refundNo: string;
    amountFen: Fen;
    reason: string;
  }): Promise<ProviderRefund>;
  /** The statement file for a calendar day (YYYY-MM-DD in the provider's zone), its signature checked. */
  statement(date: string): Promise<StatementLine[]>;
}
