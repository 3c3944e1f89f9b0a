import { fail, type ErrorCatalogue } from '../../platform/errors.ts';

/**
 * Why post-paid collection refuses a request. Who may act at all (FORBIDDEN, SELF_APPROVAL,
 * PERSON_REQUIRED, LINKED_ACCOUNTS) is services/platform/auth's catalogue.
 */
export const COLLECTION_ERRORS = {
  INVALID_REQUEST: {
    status: 400,
    description: 'The request does not pass its schema (missing or malformed field)',
  },
  INVALID_AMOUNT: {
    status: 400,
    description:
      'An amount of money is not a whole, positive number of fen, or is larger than one entry may be',
  },
  FEE_TABLE_NOT_FOUND: { status: 404, description: 'No fee table has this id' },
  FEE_TABLE_EXISTS: { status: 409, description: 'The bill run’s fee table is already published' },
  EMPTY_RUN: { status: 409, description: 'The bill run has no billed line, so there is no fee to publish' },
  ACCOUNT_NOT_IN_FEE_TABLE: { status: 404, description: 'The account is not in this fee table' },
  OBJECTION_PERIOD_OVER: {
    status: 409,
    description: 'The fee table’s objection period has ended: no new objection is recorded',
  },
  OBJECTION_PERIOD_OPEN: {
    status: 409,
    description: 'The fee table is still open for objections: it cannot be confirmed before the period ends',
  },
  OBJECTION_NOT_FOUND: { status: 404, description: 'No objection has this id' },
  OBJECTION_DECIDED: { status: 409, description: 'The objection was already decided' },
  OBJECTIONS_UNRESOLVED: {
    status: 409,
    description: 'An objection to the fee table is not decided yet: the table cannot be confirmed',
  },
  FEE_TABLE_CONFIRMED: {
    status: 409,
    description: 'The fee table is confirmed: it is final and its notices issued',
  },
  NOT_CONFIRMED: {
    status: 409,
    description: 'The fee table is not confirmed yet: no notice or payroll list exists',
  },
  NOTICE_NOT_FOUND: { status: 404, description: 'No payment notice has this number' },
  NOTICE_ACCOUNT_MISMATCH: {
    status: 409,
    description:
      'The payment names an account other than the notice’s: the money would be booked to the wrong door',
  },
  NOTICE_PERIOD_MISMATCH: {
    status: 409,
    description:
      'The payment is for another period than the notice’s: a payment is recorded against its own period’s notice',
  },
  REFERENCE_REQUIRED: {
    status: 400,
    description: 'A payment needs its receipt number (cash) or bank reference (card, transfer)',
  },
  DUPLICATE_REFERENCE: {
    status: 409,
    description: 'A payment with this method and reference (any letter case) is already recorded',
  },
  PAYMENT_NOT_FOUND: { status: 404, description: 'No post-paid payment has this id' },
  REVERSAL_NOT_ALLOWED: {
    status: 409,
    description:
      'A credit set-off moved no money and is not reversed; it follows the notice it was set against',
  },
  REVERSAL_EXISTS: {
    status: 409,
    description: 'The payment is already reversed, or a reversal of it waits for a decision',
  },
  REVERSAL_NOT_LATEST: {
    status: 409,
    description:
      'Only the latest payment of a notice is reversed (later payments were allocated after it); reverse those first',
  },
  REVERSAL_CREDIT_USED: {
    status: 409,
    description:
      'The credit this payment left was already set against another fee: it cannot be taken back by a reversal',
  },
  REVERSAL_NOT_FOUND: { status: 404, description: 'No payment reversal request has this id' },
  REVERSAL_DECIDED: { status: 409, description: 'The reversal request was already approved or rejected' },
  NOT_OVERDUE: {
    status: 409,
    description: 'The notice is not overdue or nothing is owed on it: no reminder',
  },
  WAIVER_NOT_FOUND: { status: 404, description: 'No penalty waiver request has this id' },
  WAIVER_DECIDED: { status: 409, description: 'The waiver request was already approved or rejected' },
  WAIVER_EXCEEDS_PENALTY: {
    status: 409,
    description: 'A waiver is larger than the penalty owed on the notice (accrued less paid and waived)',
  },
} as const satisfies ErrorCatalogue;

export type CollectionErrorCode = keyof typeof COLLECTION_ERRORS;

export function collectionError(code: CollectionErrorCode, message: string): never {
  return fail(COLLECTION_ERRORS, code, message);
}
