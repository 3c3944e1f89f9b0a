import { fail, type ErrorCatalogue } from '../../platform/errors.ts';

/**
 * Why manual meter readings refuse a request. Who may enter readings at all (FORBIDDEN), two
 * different people (SAME_PERSON, PERSON_REQUIRED) and incompatible duties (INCOMPATIBLE_DUTIES)
 * are services/platform/auth's catalogue.
 */
export const READINGS_ERRORS = {
  UNKNOWN_ROUTE: { status: 404, description: 'No reading route with this id' },
  ROUND_NOT_FOUND: { status: 404, description: 'No reading round with this id' },
  UNKNOWN_METER: { status: 400, description: 'The meter is not on the round’s route' },
  POOL_TOO_SMALL: {
    status: 409,
    description: 'A round needs two different readers and the pool has fewer than two people',
  },
  NOT_ASSIGNED: {
    status: 403,
    description: 'The reader entering the reading is not one of the two drawn for the round',
  },
  ALREADY_ENTERED: {
    status: 409,
    description:
      'This reader already entered a reading of this meter in this round (a correction is an edit)',
  },
  INVALID_READING: {
    status: 400,
    description: 'The register value is not a finite non-negative number, or the time is not a valid instant',
  },
} as const satisfies ErrorCatalogue;
export type ReadingsErrorCode = keyof typeof READINGS_ERRORS;

export function readingsError(code: ReadingsErrorCode, message: string): never {
  return fail(READINGS_ERRORS, code, message);
}
