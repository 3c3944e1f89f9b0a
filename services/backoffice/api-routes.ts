import type { FastifyInstance } from 'fastify';
import type { AuditLog } from '../platform/audit/audit-log.ts';
import type { Users } from '../platform/auth/users.ts';
import type { RelayControl } from '../operations/control/relay-control.ts';
import type { Prepaid } from '../money/prepaid/prepaid.ts';
import { accountRoutes } from '../money/prepaid/routes.ts';
import { auditRoutes } from '../platform/audit/routes.ts';
import { relayRoutes } from '../operations/control/routes.ts';
import { sessionRoutes } from '../platform/auth/session-routes.ts';
import { userRoutes } from '../platform/auth/user-routes.ts';

/** The back-office services the routes call; all share one SQLite database and its audit log. */
export interface BackofficeServices {
  users: Users;
  prepaid: Prepaid;
  control: RelayControl;
  audit: AuditLog;
  /** The campus time zone (IANA), for local calendar days such as a handover report's date. */
  timezone: string;
  /** Mark the session cookie Secure (HTTPS only); true unless given. */
  secureCookie?: boolean;
}

/**
 * Every back-office route, for `buildApi({ routes })`. Each one names its permission (roles.ts),
 * which the API's hook checks before the handler runs; routes without one are public (login,
 * logout).
 */
export function backofficeRoutes(s: BackofficeServices): ((app: FastifyInstance) => void)[] {
  return [...sessionRoutes(s), ...userRoutes(s), ...accountRoutes(s), ...relayRoutes(s), ...auditRoutes(s)];
}
