import { fail, type ErrorCatalogue } from '../../platform/errors.ts';

/** Every code the customers' self-service refuses a request with. */
export const SELF_SERVICE_ERRORS = {
  INVALID_REQUEST: {
    status: 400,
    description: 'The request does not pass its schema (missing or malformed field)',
  },
  CUSTOMER_UNAUTHENTICATED: {
    status: 401,
    description: 'No customer session, or it ended (idle or too old): sign in again',
  },
  LOGIN_FAILED: {
    status: 401,
    description: 'Wrong sign-in name or password (which of the two is not said)',
  },
  LOGIN_DELAYED: {
    status: 429,
    description: 'Too many wrong passwords for this sign-in name: wait the seconds named, then try again',
  },
  INVALID_CODE: {
    status: 401,
    description:
      'Wrong, used or expired one-time code (five wrong tries void it); ask the business office for a new one',
  },
  WEAK_PASSWORD: {
    status: 400,
    description: 'A password of fewer than 8 characters, or the sign-in name itself',
  },
  LOGIN_NAME_TAKEN: { status: 409, description: 'The sign-in name belongs to another account' },
  LOGIN_NOT_FOUND: { status: 404, description: 'No customer sign-in has this name' },
  ORDER_NOT_YOURS: { status: 404, description: 'No payment order of this account has this number' },
} as const satisfies ErrorCatalogue;

export type SelfServiceErrorCode = keyof typeof SELF_SERVICE_ERRORS;

export function refuseSelf(code: SelfServiceErrorCode, message: string): never {
  fail(SELF_SERVICE_ERRORS, code, message);
}
