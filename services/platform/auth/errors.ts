import { fail, type ErrorCatalogue } from '../errors.ts';

/**
 * Every code services/platform/auth refuses a request with. The API answers with the status and
 * `{code, message}`; the message names the case (the user, the permission, the rule).
 */
export const AUTH_ERRORS = {
  UNAUTHENTICATED: {
    status: 401,
    description: 'No session or API token, or one that is unknown or has expired (idle or absolute limit).',
  },
  INVALID_CREDENTIALS: {
    status: 401,
    description:
      'Wrong user name or password, or a disabled user. The answer is the same in every case, so that it does not tell which user names exist.',
  },
  TOKEN_REVOKED: {
    status: 401,
    description: 'The API token was revoked (or has expired) and may not be used again.',
  },
  FORBIDDEN: {
    status: 403,
    description: "The actor's roles (or, for an API token, its scopes) do not include the permission needed.",
  },
  SELF_APPROVAL: { status: 403, description: 'The approver is the person who made the request.' },
  LINKED_ACCOUNTS: {
    status: 403,
    description:
      'The two people of a two-person act are not independent: one created, re-enabled, reset or granted a role to the other within the link window, or one person did so for both. The message names the link.',
  },
  SAME_PERSON: {
    status: 403,
    description: 'A two-person rule (two readers, two signatures) was given the same person twice.',
  },
  PERSON_REQUIRED: {
    status: 403,
    description: 'An approval or a signature was given by an API token; only a person may approve or sign.',
  },
  SELF_ROLE_CHANGE: {
    status: 403,
    description:
      'A user manager tried to change their own roles or disable themselves; another manager must.',
  },
  SCOPE_NOT_ALLOWED: {
    status: 403,
    description:
      'An API token was asked for a permission only a person may hold: approvals, tariff verification, reading edits, user management.',
  },
  INCOMPATIBLE_DUTIES: {
    status: 409,
    description: 'The roles asked for may not be held by one user or token; the message names the rule.',
  },
  LAST_ADMIN: {
    status: 409,
    description: 'The change would leave no enabled administrator to manage users.',
  },
  ALREADY_BOOTSTRAPPED: {
    status: 409,
    description: 'The first administrator can only be created while there are no users at all.',
  },
  USER_EXISTS: {
    status: 409,
    description: 'The user name is taken. User names are never reused, not even after a user was disabled.',
  },
  TOKEN_EXISTS: {
    status: 409,
    description:
      'An API token with this name exists. Token names are never reused, not even after revocation.',
  },
  REQUEST_NOT_FOUND: { status: 404, description: 'No user administration request with this id.' },
  REQUEST_NOT_PENDING: {
    status: 409,
    description: 'The user administration request was decided already, or expired unanswered (7 days).',
  },
  REQUEST_PENDING: {
    status: 409,
    description: 'The same change to the same user or token is waiting for a second administrator already.',
  },
  INVALID_CODE: {
    status: 400,
    description:
      'A wrong, used or expired one-time code (valid 3 days; five wrong tries void it). An administrator proposes a new reset.',
  },
  USER_NOT_FOUND: { status: 404, description: 'No user with this user name.' },
  TOKEN_NOT_FOUND: { status: 404, description: 'No API token with this name.' },
  INVALID_USERNAME: {
    status: 400,
    description:
      'A user or token name must be 2 to 64 characters: lower-case letters, digits, dot, dash, underscore.',
  },
  INVALID_ROLE: { status: 400, description: 'A role that does not exist, or no role at all.' },
  INVALID_SCOPE: {
    status: 400,
    description:
      "An API token scope that is not a permission, or that the token's roles do not grant, or no scope.",
  },
  WEAK_PASSWORD: {
    status: 400,
    description:
      'The password is too short (12 characters at least), too long, or the same as the user name.',
  },
  LOGIN_RATE_LIMITED: {
    status: 429,
    description:
      'Too many failed logins: after 3 failures an account waits 1 s, doubling with each failure up to 30 s (an administrator can clear it); an address is refused after 20 failures in 15 minutes. The message says when to try again.',
  },
} as const satisfies ErrorCatalogue;

export type AuthErrorCode = keyof typeof AUTH_ERRORS;

/** Throws the auth error `code` with a message for this case. */
export function authFail(code: AuthErrorCode, message: string): never {
  fail(AUTH_ERRORS, code, message);
}
