import { fail, type ErrorCatalogue } from '../../platform/errors.ts';

/**
 * Why a schedule or power-limit proposal is refused. Who may do what (FORBIDDEN, SELF_APPROVAL,
 * PERSON_REQUIRED) is services/platform/auth's catalogue; a test keeps every code documented and used.
 */
export const POLICY_PROPOSAL_ERRORS = {
  BAD_INPUT: { status: 400, description: 'A field is missing or invalid (reason, subject)' },
  NOT_FOUND: { status: 404, description: 'No such schedule or proposal' },
  INVALID_STATE: {
    status: 409,
    description: 'The proposal was already approved, rejected or withdrawn',
  },
  STALE: {
    status: 409,
    description:
      'The campus file no longer says what was proposed (the schedule or the limits were edited since): propose the current version',
  },
} as const satisfies ErrorCatalogue;
export type PolicyProposalErrorCode = keyof typeof POLICY_PROPOSAL_ERRORS;

export function proposalError(code: PolicyProposalErrorCode, message: string): never {
  return fail(POLICY_PROPOSAL_ERRORS, code, message);
}
