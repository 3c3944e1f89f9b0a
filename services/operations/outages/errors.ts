import { fail, type ErrorCatalogue } from '../../platform/errors.ts';

/** Every code the planned-outage service refuses a request with (status and what it means). */
export const OUTAGE_ERRORS = {
  UNKNOWN_NODE: {
    status: 422,
    description: 'The node is not in the metering tree, or is a meter of another utility than the outage’s.',
  },
  INVALID_WINDOW: {
    status: 422,
    description:
      'The window ends before it starts, is longer than outages.maxWindowHours, or starts sooner than outages.minNoticeHours from now.',
  },
  NOTICE_TOO_LATE: {
    status: 409,
    description:
      'Approving now would publish the notice less than outages.minNoticeHours before the outage starts: the people affected could not be told ahead. Plan a new window.',
  },
  NOT_UTILITY_SUPERVISOR: {
    status: 403,
    description: 'The approver is not one of the supervisors the campus file names for this utility.',
  },
  OUTAGE_NOT_FOUND: { status: 404, description: 'No planned outage with this id.' },
  OUTAGE_STATE: {
    status: 409,
    description:
      'The outage is not in a state that allows this (approving one already decided, cancelling one that has ended).',
  },
} as const satisfies ErrorCatalogue;

export type OutageErrorCode = keyof typeof OUTAGE_ERRORS;

export function outageFail(code: OutageErrorCode, message: string): never {
  fail(OUTAGE_ERRORS, code, message);
}
