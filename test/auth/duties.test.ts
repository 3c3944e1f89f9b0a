import { openBackofficeDb } from '../../services/platform/db.ts';
import { endPasswordLinks, LINKS_SCHEMA, recordLink } from '../../services/platform/auth/independence.ts';
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
    const links = { db: openBackofficeDb(':memory:'), now: 0 };
    assertNotSelfApproval('wang.fang', supervisor, 'approve it', links);
    expect(thrown(() => assertNotSelfApproval('zhou.min', supervisor, 'approve it', links)).code).toBe(
      'SELF_APPROVAL',
    );
    expect(thrown(() => assertNotSelfApproval(' Zhou.Min', supervisor, 'approve it', links)).code).toBe(
      'SELF_APPROVAL',
    );
    expect(thrown(() => assertNotSelfApproval('wang.fang', token, 'approve it', links)).code).toBe(
      'PERSON_REQUIRED',
    );
    expect(
      thrown(() => assertNotSelfApproval('zhou.min', supervisor, 'confirm the quota', links)).message,
    ).toBe('zhou.min requested this and may not also confirm the quota; another person must');
    expect(thrown(() => assertCan(clerk, 'relay.approve', 'approve a relay request')).message).toBe(
      'wang.fang (clerk) may not approve a relay request (needs relay.approve)',
    );
  });

  it('the approver must be independent of the requester: not made by them, not their maker, not made by the same person', () => {
    const db = openBackofficeDb(':memory:');
    db.exec(LINKS_SCHEMA);
    const day = 86_400_000;
    const links = { db, now: 10 * day };
    // root created wang.fang (an operator) and zhou.min (a supervisor) on day 1; li.na made root.
    recordLink(db, { account: 'wang.fang', by: 'root', action: 'user.create', at: day, days: 30 });
    recordLink(db, { account: 'zhou.min', by: 'root', action: 'user.create', at: day, days: 30 });
    recordLink(db, { account: 'root', by: 'li.na', action: 'user.password', at: day, days: 30 });
    const e = thrown(() => assertNotSelfApproval('wang.fang', supervisor, 'approve it', links));
    expect(e.code).toBe('LINKED_ACCOUNTS');
    expect(e.message).toMatch(/wang\.fang was created by root .* zhou\.min was created by root/);
    const rootAsApprover = { id: 'root', kind: 'user' as const, roles: ['supervisor' as const] };
    expect(thrown(() => assertNotSelfApproval('wang.fang', rootAsApprover, 'approve it', links)).code).toBe(
      'LINKED_ACCOUNTS',
    );
    const liNa = { id: 'li.na', kind: 'user' as const, roles: ['supervisor' as const] };
    expect(thrown(() => assertNotSelfApproval('root', liNa, 'approve it', links)).code).toBe(
      'LINKED_ACCOUNTS',
    );
    // An independent supervisor may approve; the system's requests are linked to nobody.
    assertNotSelfApproval('wang.fang', liNa, 'approve it', links);
    assertNotSelfApproval('system:prepaid-policy', supervisor, 'approve it', links);
    // Creation links outlast the window; they end when each holder sets their own password.
    const later = { db, now: 32 * day };
    expect(thrown(() => assertNotSelfApproval('wang.fang', supervisor, 'approve it', later)).code).toBe(
      'LINKED_ACCOUNTS',
    );
    endPasswordLinks(db, 'wang.fang', 31 * day);
    endPasswordLinks(db, 'zhou.min', 31 * day);
    assertNotSelfApproval('wang.fang', supervisor, 'approve it', later);
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
