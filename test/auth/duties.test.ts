import { describe, expect, it } from 'vitest';
import {
  assertCan,
  assertDistinctPeople,
  assertNotSelfApproval,
} from '../../services/platform/auth/duties.ts';
import {
  APPROVAL_PERMISSIONS,
  can,
  INCOMPATIBLE_ROLES,
  PERMISSIONS,
  PERSON_ONLY_PERMISSIONS,
  ROLES,
  type Actor,
} from '../../services/platform/auth/roles.ts';
import { ServiceError } from '../../services/platform/errors.ts';

const supervisor: Actor = { id: 'zhou.min', kind: 'user', roles: ['supervisor'] };
const clerk: Actor = { id: 'wang.fang', kind: 'user', roles: ['clerk'] };
const token: Actor = { id: 'token:sync', kind: 'token', roles: ['supervisor'], scopes: ['billing.export'] };

function thrown(fn: () => void): ServiceError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ServiceError) return e;
    throw e;
  }
  throw new Error('did not throw');
}

describe('duties', () => {
  it('assertCan names the permission and the roles', () => {
    assertCan(clerk, 'payments.record');
    expect(thrown(() => assertCan(clerk, 'refunds.approve'))).toMatchObject({
      code: 'FORBIDDEN',
      status: 403,
      message: 'wang.fang (clerk) may not refunds.approve',
    });
    expect(thrown(() => assertCan(token, 'refunds.approve')).message).toBe(
      'token:sync (supervisor; token scopes: billing.export) may not refunds.approve',
    );
  });

  it('nobody approves their own request, and a token approves nothing', () => {
    assertNotSelfApproval('wang.fang', supervisor);
    expect(thrown(() => assertNotSelfApproval('zhou.min', supervisor)).code).toBe('SELF_APPROVAL');
    expect(thrown(() => assertNotSelfApproval(' Zhou.Min', supervisor)).code).toBe('SELF_APPROVAL');
    expect(thrown(() => assertNotSelfApproval('wang.fang', token)).code).toBe('PERSON_REQUIRED');
    expect(thrown(() => assertNotSelfApproval('zhou.min', supervisor, 'confirm the quota')).message).toBe(
      'zhou.min requested this and may not also confirm the quota; another person must',
    );
    expect(thrown(() => assertCan(clerk, 'relay.approve', 'approve a relay request')).message).toBe(
      'wang.fang (clerk) may not approve a relay request (needs relay.approve)',
    );
  });

  it('two-person rules need two different people', () => {
    assertDistinctPeople('li.wei', 'zhao.lei', 'a manual reading round');
    const e = thrown(() => assertDistinctPeople(clerk, 'wang.fang', 'a manual reading round'));
    expect(e).toMatchObject({ code: 'SAME_PERSON', status: 403 });
    expect(e.message).toBe('a manual reading round needs two different people; wang.fang was given twice');
    expect(thrown(() => assertDistinctPeople(token, clerk, 'the free quota')).code).toBe('PERSON_REQUIRED');
    expect(thrown(() => assertDistinctPeople('system:relay', clerk, 'the free quota')).code).toBe(
      'PERSON_REQUIRED',
    );
  });
});

describe('roles as data', () => {
  it('no role set an administrator may hold passes an approval permission', () => {
    const compatibleWithAdmin = ROLES.filter(
      (r) =>
        r !== 'admin' &&
        !INCOMPATIBLE_ROLES.some(([a, b]) => (a === 'admin' && b === r) || (b === 'admin' && a === r)),
    );
    // Every combination of admin with the roles it may be given.
    for (let mask = 0; mask < 1 << compatibleWithAdmin.length; mask++) {
      const roles = ['admin' as const, ...compatibleWithAdmin.filter((_, i) => mask & (1 << i))];
      const admin: Actor = { id: 'root', kind: 'user', roles };
      for (const p of APPROVAL_PERMISSIONS) expect(can(admin, p), `${roles.join('+')} ${p}`).toBe(false);
    }
  });

  it('approval permissions are person-only and exist', () => {
    for (const p of APPROVAL_PERMISSIONS) {
      expect(Object.keys(PERMISSIONS)).toContain(p);
      expect(PERSON_ONLY_PERMISSIONS).toContain(p);
    }
  });

  it('a token scope narrows its roles', () => {
    expect(can({ ...token, scopes: [] }, 'billing.export')).toBe(false);
    expect(can({ ...token, roles: ['clerk'] }, 'billing.export')).toBe(false);
    expect(can(token, 'billing.export')).toBe(true);
  });
});
