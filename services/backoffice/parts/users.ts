import type { Logger } from 'pino';
import type { AuditLog } from '../../platform/audit/audit-log.ts';
import { Users } from '../../platform/auth/users.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import { ServiceError } from '../../platform/errors.ts';

export interface UsersDeps {
  db: BackofficeDb;
  audit: AuditLog;
  clock: Clock;
  log: Logger;
  /** scrypt N for new password hashes (tests pass a low one). */
  scryptCost?: number;
  /** The campus file's `auth` settings: the link window and the longest failed-login delay. */
  settings?: { linkDays: number; maxLoginDelay: number };
  /** The first administrator, created only while there is no user at all; afterwards ignored. */
  bootstrapAdmin?: { username: string; password: string; displayName?: string };
}

/** Users, roles, sessions and tokens; the first administrator on an empty database. */
export async function createUsers(deps: UsersDeps): Promise<Users> {
  const users = new Users({
    db: deps.db,
    audit: deps.audit,
    clock: deps.clock,
    ...(deps.scryptCost !== undefined ? { scryptCost: deps.scryptCost } : {}),
    ...(deps.settings
      ? { linkDays: deps.settings.linkDays, loginPolicy: { maxDelayMs: deps.settings.maxLoginDelay } }
      : {}),
  });
  const b = deps.bootstrapAdmin;
  if (!b) return users;
  try {
    await users.bootstrapAdmin(b.username, b.password, b.displayName);
    deps.log.info({ username: b.username }, 'first administrator created');
  } catch (err) {
    if (!(err instanceof ServiceError && err.code === 'ALREADY_BOOTSTRAPPED')) throw err;
    deps.log.info('users exist: the bootstrap administrator is ignored');
  }
  return users;
}
