import { fail, type ErrorCatalogue } from '../../platform/errors.ts';

/**
 * Why post-paid billing (bill runs, the utility invoice check, the quarterly disclosure) refuses a
 * request. Who may do it at all (FORBIDDEN) is services/platform/auth's catalogue; tariff problems are
 * TARIFF_ERRORS in tariffs.ts.
 */
export const BILLING_ERRORS = {
  INVALID_ACCOUNTS: {
    status: 422,
    description:
      'The billing accounts file does not pass its schema or is inconsistent (a meter in two accounts)',
  },
  INVALID_PERIOD: {
    status: 400,
    description:
      'The billing period is not a month like 2026-11, a quarter like 2026-Q4, or two dates in order',
  },
  BILL_RUN_NOT_FOUND: { status: 404, description: 'No bill run with this id' },
  NO_ACCOUNTS: { status: 409, description: 'A bill run was asked for with no account to bill' },
  PERIOD_CLOSED: {
    status: 409,
    description:
      'The period (or part of it) was billed already: it is closed, and corrections to it are billed as adjustment lines in the next period’s run',
  },
  INVALID_INVOICE: {
    status: 400,
    description:
      'A utility invoice is missing a field, has a non-integer amount, or elements that do not add up',
  },
  UNKNOWN_SUPPLY_POINT: {
    status: 404,
    description: 'The invoice names a supply point that is not configured',
  },
  INVOICE_NOT_FOUND: { status: 404, description: 'No stored invoice check with this id' },
  DUPLICATE_INVOICE: {
    status: 409,
    description: 'An invoice with this number was already entered for the supply point',
  },
  NO_TARIFFS: {
    status: 409,
    description:
      'The back office holds no tariff version yet: it imports tariffs.json (or the demo example) at its first start',
  },
  TARIFF_PROPOSAL_NOT_FOUND: { status: 404, description: 'No tariff change proposal with this id' },
  TARIFF_PROPOSAL_DECIDED: {
    status: 409,
    description: 'The tariff change proposal was approved or rejected already; a decision is final',
  },
  TARIFF_PROPOSAL_STALE: {
    status: 409,
    description:
      'Another tariff version was approved since this proposal was made: approving it would undo that change, so propose again on the version in force',
  },
  TARIFF_CHANGE_IN_PAST: {
    status: 422,
    description:
      'A tariff change would alter prices already in force (today or earlier), the time zone or the tier-limit rule: changes take effect from a later day',
  },
  TARIFF_FILE_DIFFERS: {
    status: 409,
    description:
      'A tariff file given to the CLI differs from the tariffs in force in the back office, which are the only source once imported',
  },
} as const satisfies ErrorCatalogue;
export type BillingErrorCode = keyof typeof BILLING_ERRORS;

export function billingError(code: BillingErrorCode, message: string): never {
  return fail(BILLING_ERRORS, code, message);
}
