import { fail, type ErrorCatalogue } from '../../platform/errors.ts';

/**
 * Why the alert store refuses an inspector's request. A test keeps every code documented and used.
 * Who may handle alerts at all (FORBIDDEN) is services/platform/auth's catalogue.
 */
export const DETECTION_ERRORS = {
  BAD_INPUT: {
    status: 400,
    description:
      'A field is missing or invalid (the inspector assigned, the notes of a field check or decision)',
  },
  ALERT_NOT_FOUND: { status: 404, description: 'No alert with this id' },
  INVALID_TRANSITION: {
    status: 409,
    description:
      'The alert is not in a state that allows this step (open → assigned → field-checked → confirmed or dismissed; closed and decided alerts take no further step)',
  },
} as const satisfies ErrorCatalogue;
export type DetectionErrorCode = keyof typeof DETECTION_ERRORS;

export function detectionError(code: DetectionErrorCode, message: string): never {
  return fail(DETECTION_ERRORS, code, message);
}
