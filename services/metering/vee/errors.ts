import { fail, type ErrorCatalogue } from '../../platform/errors.ts';

/** Every code services/metering/vee refuses a request with. */
export const VEE_ERRORS = {
  VEE_UNKNOWN_METER: {
    status: 404,
    description:
      'The meter has no readings and no kind was configured for it, so VEE cannot tell which rules apply.',
  },
  VEE_INVALID_QUERY: {
    status: 400,
    description:
      'The window is empty or not finite, or the quantity is not the register of the meter’s kind.',
  },
  VEE_INVALID_EDIT: {
    status: 400,
    description:
      'An edit without a known reason code, without a note, or with a value that is not a finite number ≥ 0.',
  },
  VEE_INTERVAL_NOT_FOUND: {
    status: 404,
    description:
      'No validated version of this interval exists yet; VEE validates an interval when it is first asked for.',
  },
  VEE_VERSION_CONFLICT: {
    status: 409,
    description: 'The interval got a newer version since the one the editor saw; reload and edit again.',
  },
  VEE_STALE_PIN: {
    status: 409,
    description:
      'A bill run asked to pin an interval version that does not exist, or a daily interval whose 15-min versions changed since it was read.',
  },
  VEE_RAW_RETIRED: {
    status: 409,
    description:
      'A bill run asked to pin a day past raw retention whose intervals were never validated: its consumption comes from the roll-ups, and there is no validated version to pin.',
  },
  VEE_INVALID_EXCHANGE: {
    status: 400,
    description:
      'A meter exchange or reset without a meter, a past time, registers that are finite numbers ≥ 0, a new serial (for an exchange) or a note.',
  },
  VEE_EXCHANGE_NOT_FOUND: { status: 404, description: 'No recorded meter exchange or reset with this id.' },
  VEE_EXCHANGE_DECIDED: {
    status: 409,
    description: 'The meter exchange or reset was approved or rejected already.',
  },
} as const satisfies ErrorCatalogue;

export type VeeErrorCode = keyof typeof VEE_ERRORS;

export function veeFail(code: VeeErrorCode, message: string): never {
  fail(VEE_ERRORS, code, message);
}
