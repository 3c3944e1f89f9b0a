import type { ErrorCatalogue } from '../../platform/errors.ts';

/**
 * Every code the prepaid service refuses a request with, its HTTP status and what it means. The
 * access codes (FORBIDDEN, SELF_APPROVAL, PERSON_REQUIRED) are services/platform/auth's (AUTH_ERRORS).
 */
export const PREPAID_ERRORS = {
  INVALID_REQUEST: {
    status: 400,
    description: 'The request does not pass its schema (missing or malformed field)',
  },
  INVALID_AMOUNT: {
    status: 400,
    description:
      'An amount of money is not a whole, positive (non-zero for corrections) number of fen, or too large',
  },
  ACCOUNT_NOT_FOUND: { status: 404, description: 'No prepaid account has this id' },
  ACCOUNT_EXISTS: { status: 409, description: 'An account with this id is already open' },
  METER_ALREADY_ASSIGNED: {
    status: 409,
    description: 'The meter already belongs to another prepaid account',
  },
  METER_NOT_ON_ACCOUNT: { status: 409, description: 'The meter named does not belong to this account' },
  TARIFF_TYPE_UNVERIFIED: {
    status: 409,
    description:
      'The account’s tariff type has not been verified by a supervisor: no sale, quota or debit yet',
  },
  TARIFF_TYPE_ALREADY_VERIFIED: { status: 409, description: 'The account’s tariff type is already verified' },
  NO_TARIFF: {
    status: 409,
    description:
      'No electricity tariff is in force for the account’s customer type, so nothing can be priced',
  },
  DUPLICATE_REFERENCE: {
    status: 409,
    description:
      'A top-up with this payment reference is already recorded, under any method and in any letter case (a payment counted twice)',
  },
  INSUFFICIENT_BALANCE: {
    status: 409,
    description: 'A refund exceeds the refundable balance (the balance less free quota not yet used)',
  },
  REQUEST_NOT_FOUND: { status: 404, description: 'No refund, meter-reset or free-quota request has this id' },
  REQUEST_NOT_PENDING: { status: 409, description: 'The request was already approved or rejected' },
  QUOTA_ALREADY_CREDITED: {
    status: 409,
    description: 'A free quota for this account and period is already credited (pending or confirmed)',
  },
  QUOTA_ALREADY_CONFIRMED: { status: 409, description: 'The free-quota credit was already confirmed' },
  QUOTA_CAP_EXCEEDED: {
    status: 409,
    description:
      'The grant would take the room’s free quota over the campus file’s cap per room and term (prepaid.freeQuota), counting grants still waiting for confirmation',
  },
  QUOTA_NOT_ELIGIBLE: {
    status: 409,
    description:
      'The free-quota rules give this account nothing for this period (or it is in no term of the campus file), or less than the kWh credited',
  },
} as const satisfies ErrorCatalogue;

export type PrepaidErrorCode = keyof typeof PREPAID_ERRORS;
