/**
 * The prepaid service's access checks, in one place: services/platform/auth/duties.ts. FORBIDDEN,
 * SELF_APPROVAL and PERSON_REQUIRED (an API token approving) come from its catalogue
 * (services/platform/auth/errors.ts), not from PREPAID_ERRORS.
 */
export { assertCan, assertNotSelfApproval } from '../../platform/auth/duties.ts';
export { authFail } from '../../platform/auth/errors.ts';
