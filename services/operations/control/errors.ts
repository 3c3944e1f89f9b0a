import { fail, type ErrorCatalogue } from '../../platform/errors.ts';

/**
 * Why the control service refuses a request. A test keeps every code documented and used. Who may
 * do what (FORBIDDEN, SELF_APPROVAL, PERSON_REQUIRED) is services/platform/auth's catalogue.
 */
export const CONTROL_ERRORS = {
  BAD_INPUT: { status: 400, description: 'A field is missing or invalid (reason, action, line, time)' },
  UNKNOWN_METER: { status: 404, description: 'No meter with this id in the campus configuration' },
  NO_RELAY: { status: 422, description: 'The meter’s profile has no relay to switch' },
  NOT_FOUND: {
    status: 404,
    description: 'No relay request, standing approval or line operation with this id',
  },
  REQUEST_OPEN: {
    status: 409,
    description: 'The meter already has a relay request that is pending or whose command is under way',
  },
  INVALID_STATE: {
    status: 409,
    description: 'The request or record is no longer in a state that allows this (decided, sent, revoked)',
  },
  NO_APPROVAL: {
    status: 409,
    description:
      'No standing approval on record covers this automatic request (its schedule or limits version is not approved, or was changed after approval); nothing was asked',
  },
  CLOSE_VETOED: {
    status: 409,
    description:
      'The relay may not be closed: the meter’s account is out of credit (a top-up restores it), whatever else asked for the restore',
  },
  SEND_FAILED: { status: 503, description: 'The signed command could not be handed to the MQTT broker' },
} as const satisfies ErrorCatalogue;
export type ControlErrorCode = keyof typeof CONTROL_ERRORS;

export function controlError(code: ControlErrorCode, message: string): never {
  return fail(CONTROL_ERRORS, code, message);
}
