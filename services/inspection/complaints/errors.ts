import { fail, type ErrorCatalogue } from '../../platform/errors.ts';

/**
 * Why the complaints desk refuses a request. Who may act at all (FORBIDDEN, PERSON_REQUIRED) is
 * services/platform/auth's catalogue.
 */
export const COMPLAINTS_ERRORS = {
  INVALID_CASE: {
    status: 422,
    description:
      'The case is missing what its channel needs (a box case needs its box and the date it was emptied; a date in the future) or a field is malformed.',
  },
  CASE_NOT_FOUND: { status: 404, description: 'No complaint or tip has this number or id.' },
  CASE_CLOSED: { status: 409, description: 'The case is closed: nothing more is linked or changed.' },
  CASE_CHANGED: {
    status: 409,
    description: 'The case changed while this request was made (another step was taken first); reload it.',
  },
  NOT_COMPLAINTS_STAFF: {
    status: 422,
    description: 'A case is assigned only to an enabled user of the dedicated complaints staff.',
  },
  LINK_TARGET_UNKNOWN: {
    status: 422,
    description:
      'The alert, account, meter or inspector named in a link does not exist (an inspection link names an enabled inspector).',
  },
  LINK_EXISTS: {
    status: 409,
    description: 'The case is already linked to this alert, account, meter or inspector.',
  },
  LINK_NOT_FOUND: { status: 404, description: 'The case has no such link.' },
  NO_MESSAGE: {
    status: 404,
    description:
      'The case did not come by email, or its message was too large to keep in the database (its file is in cur/).',
  },
  NO_MAIL_DROP: { status: 409, description: 'The campus file names no tip mailbox (complaints.mailDrop).' },
  NOT_LINKED: {
    status: 404,
    description:
      'An inspector reads only the cases linked to them (an inspection or an alert assigned to them).',
  },
} as const satisfies ErrorCatalogue;

export type ComplaintsErrorCode = keyof typeof COMPLAINTS_ERRORS;

export function complaintsError(code: ComplaintsErrorCode, message: string): never {
  return fail(COMPLAINTS_ERRORS, code, message);
}
