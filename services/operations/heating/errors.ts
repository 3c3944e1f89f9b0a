import { fail, type ErrorCatalogue } from '../../platform/errors.ts';

/** The heating desk's refusals: each code documented, with the HTTP status the API answers with. */
export const HEATING_ERRORS = {
  INVALID_APPLICATION: {
    status: 422,
    description: 'The unit is not a heat meter of the campus, or the application is missing what it needs.',
  },
  APPLICATION_NOT_FOUND: { status: 404, description: 'No heating application with this number.' },
  APPLICATION_OPEN: {
    status: 409,
    description: 'The unit already has an application in progress; finish or cancel it first.',
  },
  APPLICATION_STATE: {
    status: 409,
    description: 'The application or its work order is not at the step this act belongs to.',
  },
  FEE_UNPAID: {
    status: 409,
    description:
      'A start for a household not on the payroll waits until its heating fee is paid through collection.',
  },
  NOT_ON_CREW: {
    status: 403,
    description: 'Only the maintenance staff the work order was dispatched to record or sign it.',
  },
  NOT_INDEPENDENT: {
    status: 403,
    description:
      'The applicant or the desk clerk who handled the application may not sign its stop; nor may one person sign twice.',
  },
  INVALID_TIME: {
    status: 422,
    description: 'The time given for the valve is in the future or before the work order was dispatched.',
  },
  NO_STOPPED_UNITS: {
    status: 409,
    description: 'No unit is registered stopped: there is nothing to spot-check.',
  },
  SPOT_CHECK_NOT_FOUND: { status: 404, description: 'No spot-check list with this id.' },
  ELECTRIC_NOT_FOUND: { status: 404, description: 'No electric heating record with this number.' },
  ELECTRIC_ALERT_OPEN: {
    status: 409,
    description:
      "The unit has an electric-heating alert no inspector has decided yet: it is confirmed or dismissed first, so that a registration never closes an inspector's case.",
  },
  ELECTRIC_REGISTERED: {
    status: 409,
    description:
      'The unit is already registered as heated electrically over that time, proposed or approved (withdraw or end that record first), or the record has ended already.',
  },
  ELECTRIC_STATE: {
    status: 409,
    description:
      'The electric heating record is not at the step this act belongs to: only a proposal is approved, refused or withdrawn, only an approved record is ended.',
  },
} as const satisfies ErrorCatalogue;

export type HeatingErrorCode = keyof typeof HEATING_ERRORS;

export function heatingError(code: HeatingErrorCode, message: string): never {
  return fail(HEATING_ERRORS, code, message);
}
