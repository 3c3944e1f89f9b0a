import type { AuditLog } from '../../services/platform/audit/audit-log.ts';
import type { Actor, Role } from '../../services/platform/auth/roles.ts';
import { Users } from '../../services/platform/auth/users.ts';
import type { BackofficeDb, Clock } from '../../services/platform/db.ts';
import { PASSWORD, TEST_SCRYPT_COST } from '../auth/setup.ts';

/**
 * The insider of the two-person attacks (test/attacks): one administrator, `insider`, with a
 * gullible second administrator, `gullible`, on a back office's own users, audit log and clock.
 * `make` has an account proposed by the insider and approved by the gullible one; the one-time
 * code reaches the insider, who redeems it with a password of their own choosing and logs in: an
 * account the insider holds, with the roles asked for. Whether two such accounts may complete a
 * two-person act together is what each attack tests; this only builds the people.
 */
export async function insiderAdmins(d: { db: BackofficeDb; audit: AuditLog; clock: Clock }): Promise<{
  users: Users;
  insider: Actor;
  gullible: Actor;
  make: (username: string, roles: Role[]) => Promise<Actor>;
}> {
  const users = new Users({ db: d.db, audit: d.audit, clock: d.clock, scryptCost: TEST_SCRYPT_COST });
  await users.bootstrapAdmin('insider', PASSWORD);
  await users.provisionUser({ username: 'gullible', displayName: 'g', roles: ['admin'], password: PASSWORD });
  const ip = { ip: '10.0.0.9' };
  const insider = (await users.login('insider', PASSWORD, ip)).actor;
  const gullible = (await users.login('gullible', PASSWORD, ip)).actor;
  const make = async (username: string, roles: Role[]): Promise<Actor> => {
    const r = users.proposeUser(insider, { username, displayName: username, roles });
    const code = (await users.approveRequest(gullible, r.id)).oneTimeCode!.code;
    await users.redeemCode(username, code, `${username} insider pw`);
    return (await users.login(username, `${username} insider pw`, ip)).actor;
  };
  return { users, insider, gullible, make };
}
