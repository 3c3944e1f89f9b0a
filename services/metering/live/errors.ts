import { fail, type ErrorCatalogue } from '../../platform/errors.ts';

/**
 * Why the live-view API refuses a request. A test keeps every code documented and used. Who may
 * view readings at all (UNAUTHENTICATED, FORBIDDEN) is services/platform/auth's business; malformed query
 * strings are INVALID_REQUEST from services/platform/http/route.ts.
 */
export const LIVE_ERRORS = {
  UNKNOWN_METER: { status: 404, description: 'A meter id the campus file does not list' },
  INVALID_RANGE: {
    status: 400,
    description: 'The time range is empty (`to` not after `from`) or longer than the route allows',
  },
  VEE_UNAVAILABLE: {
    status: 503,
    description: 'The back office runs without VEE, so there are no validated intervals to show',
  },
} as const satisfies ErrorCatalogue;
export type LiveErrorCode = keyof typeof LIVE_ERRORS;

export function liveError(code: LiveErrorCode, message: string): never {
  return fail(LIVE_ERRORS, code, message);
}
