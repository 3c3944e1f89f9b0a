import { Users, type UsersOptions } from '../../services/platform/auth/users.ts';
import type { Actor } from '../../services/platform/auth/roles.ts';
import { tempBackoffice } from '../audit/helpers.ts';

/** scrypt N=2^10 instead of 2^15: the same code, a thousandth of the work. */
export const TEST_SCRYPT_COST = 2 ** 10;
export const PASSWORD = 'correct horse battery';

/** A back office with a bootstrapped administrator `root`, logged in. */
export async function withAdmin(options: Partial<UsersOptions> = {}) {
  const t = tempBackoffice();
  const users = new Users({
    db: t.db,
    audit: t.audit,
    clock: t.clock,
    scryptCost: TEST_SCRYPT_COST,
    ...options,
  });
  await users.bootstrapAdmin('root', PASSWORD, 'Root Admin');
  const admin: Actor = (await users.login('root', PASSWORD, { ip: '10.0.0.1' })).actor;
  return { ...t, users, admin };
}
