/**
 * The prepaid service's access checks, in one place: services/auth/duties.ts. FORBIDDEN,
 * SELF_APPROVAL and PERSON_REQUIRED (an API token approving) come from its catalogue
 * (services/auth/errors.ts), not from PREPAID_ERRORS.
 */
export { assertCan, assertNotSelfApproval } from '../auth/duties.ts';
export { authFail } from '../auth/errors.ts';
