import { fail, type ErrorCatalogue } from '../../platform/errors.ts';

/** Every code the payments service refuses a request or a provider's notice with. */
export const PAYMENT_ERRORS = {
  INVALID_REQUEST: {
    status: 400,
    description: 'The request does not pass its schema (missing or malformed field)',
  },
  INVALID_AMOUNT: {
    status: 400,
    description:
      'A top-up amount is not whole fen, or outside the campus file’s payments.minTopUpFen–maxTopUpFen',
  },
  TOO_MANY_OPEN_ORDERS: {
    status: 429,
    description:
      'The account already has as many unpaid orders open as allowed (MAX_OPEN_ORDERS): pay one or let them expire',
  },
  UNKNOWN_PROVIDER: {
    status: 404,
    description: 'No payment provider of this id is configured in the campus file',
  },
  PROVIDER_UNAVAILABLE: {
    status: 503,
    description:
      'The payment provider did not answer, or answered without its signature; nothing was charged',
  },
  ORDER_NOT_FOUND: { status: 404, description: 'No payment order has this number' },
  BAD_SIGNATURE: {
    status: 401,
    description:
      'A notice whose signature does not match its body under the provider’s key (forged or tampered)',
  },
  MALFORMED_NOTICE: { status: 400, description: 'A signed notice whose body is not the protocol’s notice' },
  STALE_NOTICE: {
    status: 401,
    description:
      'A notice signed longer ago (or further ahead) than payments.noticeMaxAge: a replay of an old message',
  },
  REPLAYED_NOTICE: {
    status: 409,
    description: 'A notice whose signed nonce was already used by another message: a replay',
  },
  UNKNOWN_ORDER: { status: 404, description: 'A notice for an order this back office never created' },
  ACCOUNT_MISMATCH: {
    status: 409,
    description: 'A notice names another account than the order was created for',
  },
  AMOUNT_MISMATCH: {
    status: 409,
    description: 'A notice states another amount than the order was created for',
  },
  ORDER_ALREADY_PAID: {
    status: 409,
    description:
      'A notice with a second transaction for an order already paid by another one (it goes to the clerk’s queue)',
  },
  MISMATCH_NOT_FOUND: { status: 404, description: 'No reconciliation mismatch has this id' },
  MISMATCH_RESOLVED: { status: 409, description: 'The reconciliation mismatch was already resolved' },
} as const satisfies ErrorCatalogue;

export type PaymentErrorCode = keyof typeof PAYMENT_ERRORS;

export function refusePayment(code: PaymentErrorCode, message: string): never {
  fail(PAYMENT_ERRORS, code, message);
}
