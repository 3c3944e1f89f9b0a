import { fail, type ErrorCatalogue } from '../../platform/errors.ts';

/**
 * Why the half-monthly reconciliation refuses a request. Who may act (FORBIDDEN, SELF_APPROVAL,
 * PERSON_REQUIRED, LINKED_ACCOUNTS) is services/platform/auth's catalogue.
 */
export const RECONCILIATION_ERRORS = {
  INVALID_REQUEST: {
    status: 400,
    description: 'The request does not pass its schema (missing or malformed field)',
  },
  INVALID_HALF_MONTH: {
    status: 400,
    description: 'The half month is not written like 2026-11-H1 or 2026-11-H2',
  },
  INVALID_AMOUNT: {
    status: 400,
    description:
      'An amount is not a whole number of fen (non-zero; positive on the inspection list) or is too large',
  },
  HALF_NOT_OVER: { status: 409, description: 'The half month has not ended: its takings are not final yet' },
  REPORT_NOT_FOUND: { status: 404, description: 'No reconciliation report has this id' },
  REASON_REQUIRED: {
    status: 400,
    description: 'A new version of a half month’s report needs the reason it replaces the earlier one',
  },
  SUPERSEDED: {
    status: 409,
    description:
      'A newer version of this half month’s report exists: only the newest is explained and signed',
  },
  REPORT_SIGNED: {
    status: 409,
    description: 'The report has a signature: it is immutable; a correction is a new version',
  },
  NO_SUCH_DIFFERENCE: { status: 404, description: 'The report names no difference with this key' },
  ALREADY_EXPLAINED: { status: 409, description: 'The difference is already explained in this version' },
  UNEXPLAINED_DIFFERENCE: {
    status: 409,
    description: 'A difference in the report is not explained: the report cannot be signed',
  },
  REPORT_TAMPERED: {
    status: 409,
    description:
      'The stored report no longer hashes to the digest recorded (and audited) when it was prepared: it was changed outside the service',
  },
  REPORT_STALE: {
    status: 409,
    description:
      'The takings, finance records or inspection list changed since this version was prepared: prepare a new version',
  },
  WRONG_SIGNING_STEP: {
    status: 409,
    description:
      'The report is signed by the clerk, the assistant and the supervisor in that order; this is not the next step, or it is complete',
  },
  SIGNER_KEPT_RECORDS: {
    status: 409,
    description:
      'The signer entered finance records or the inspection list of this half month: checker and checked are different people',
  },
} as const satisfies ErrorCatalogue;

export type ReconciliationErrorCode = keyof typeof RECONCILIATION_ERRORS;

export function reconciliationError(code: ReconciliationErrorCode, message: string): never {
  return fail(RECONCILIATION_ERRORS, code, message);
}
