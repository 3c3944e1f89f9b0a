import { Users, type UsersOptions } from '../../services/platform/auth/users.ts';
import type { Actor, Role } from '../../services/platform/auth/roles.ts';
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

/**
 * A back office with two administrators, `root` (bootstrapped) and `root2` (set up by the system),
 * both logged in: user administration needs one to propose and the other to approve.
 */
export async function withTwoAdmins(options: Partial<UsersOptions> = {}) {
  const t = await withAdmin(options);
  await t.users.provisionUser({
    username: 'root2',
    displayName: 'Second Admin',
    roles: ['admin'],
    password: PASSWORD,
  });
  const admin2: Actor = (await t.users.login('root2', PASSWORD, { ip: '10.0.0.1' })).actor;
  /** A user proposed by `by`, approved by `approver`, who then sets `password` with the one-time code. */
  const addUser = async (
    input: { username: string; displayName: string; roles: Role[]; password?: string },
    by: Actor = t.admin,
    approver: Actor = admin2,
  ) => {
    const req = t.users.proposeUser(by, input);
    const outcome = await t.users.approveRequest(approver, req.id);
    await t.users.redeemCode(input.username, outcome.oneTimeCode!.code, input.password ?? PASSWORD);
    return outcome;
  };
  return { ...t, admin2, addUser };
}
