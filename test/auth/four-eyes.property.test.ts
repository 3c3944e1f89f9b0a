import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Actor, Role } from '../../services/platform/auth/roles.ts';
import { Users } from '../../services/platform/auth/users.ts';
import { ServiceError } from '../../services/platform/errors.ts';
import { RelayControl } from '../../services/operations/control/relay-control.ts';
import { tempBackoffice } from '../audit/helpers.ts';
import { testKeys } from '../control/support.ts';
import { PASSWORD, TEST_SCRYPT_COST } from './setup.ts';

/**
 * Random sequences of user administration by one insider administrator never end in a two-person
 * act done by two accounts the insider holds. The second administrator approves whatever the
 * insider proposes and the one-time codes reach the insider (the worst case); honest staff exist
 * and are never used by the insider unless the insider reset them.
 */
type Op =
  | { kind: 'create'; role: Role }
  | { kind: 'reset'; target: number }
  | { kind: 'grant'; target: number; role: Role }
  | { kind: 'enable'; target: number }
  | { kind: 'disable'; target: number }
  | { kind: 'relay'; requester: number; approver: number }
  | { kind: 'line'; recorder: number; confirmer: number };

const ROLES: Role[] = ['operator', 'supervisor', 'clerk', 'inspector'];
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('create' as const), role: fc.constantFrom(...ROLES) }),
  fc.record({ kind: fc.constant('reset' as const), target: fc.nat(20) }),
  fc.record({ kind: fc.constant('grant' as const), target: fc.nat(20), role: fc.constantFrom(...ROLES) }),
  fc.record({ kind: fc.constant('enable' as const), target: fc.nat(20) }),
  fc.record({ kind: fc.constant('disable' as const), target: fc.nat(20) }),
  fc.record({ kind: fc.constant('relay' as const), requester: fc.nat(20), approver: fc.nat(20) }),
  fc.record({ kind: fc.constant('line' as const), recorder: fc.nat(20), confirmer: fc.nat(20) }),
);

async function world() {
  const t = tempBackoffice();
  const users = new Users({ db: t.db, audit: t.audit, clock: t.clock, scryptCost: TEST_SCRYPT_COST });
  await users.bootstrapAdmin('insider', PASSWORD);
  for (const [username, roles] of [
    ['gullible', ['admin']],
    ['honest.sup', ['supervisor']],
    ['honest.op', ['operator']],
  ] as const) {
    await users.provisionUser({ username, displayName: username, roles: [...roles], password: PASSWORD });
  }
  const control = new RelayControl({
    db: t.db,
    audit: t.audit,
    clock: t.clock,
    signingKey: testKeys().privateKey,
    ackKeys: () => undefined,
    locate: () => ({ site: 's', gateway: 'g', hasRelay: true }),
    send: async () => undefined,
  });
  return { ...t, users, control };
}

const actor = (users: Users, id: string): Actor => {
  const u = users.getUser(id)!;
  return { id, kind: 'user', roles: u.roles };
};

describe('four eyes against one insider administrator', () => {
  it('no sequence of user administration lets one insider complete a two-person act alone', async () => {
    let attempts = 0;
    let refusedLinked = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 5, maxLength: 25 }), async (ops) => {
        const w = await world();
        const insider = actor(w.users, 'insider');
        const gullible = actor(w.users, 'gullible');
        /** The accounts the insider can log in as: their own, and every one whose code they got. */
        const held = new Set(['insider']);
        const everyone = () => w.users.listUsers(gullible).map((u) => u.username);
        const pick = (i: number) => everyone()[i % everyone().length]!;
        const approve = async (r: unknown) => {
          if (!r || typeof r !== 'object' || !('kind' in r) || !('state' in r)) return;
          try {
            const out = await w.users.approveRequest(gullible, (r as unknown as { id: number }).id);
            if (out.oneTimeCode) held.add(out.oneTimeCode.username);
          } catch (e) {
            if (!(e instanceof ServiceError)) throw e;
          }
        };
        const attempt = async (
          first: string,
          second: string,
          act: (a: Actor, b: Actor) => Promise<unknown>,
        ) => {
          if (!held.has(first) || !held.has(second)) return;
          const a = w.users.getUser(first)!;
          const b = w.users.getUser(second)!;
          if (a.disabled || b.disabled) return;
          attempts++;
          try {
            await act(actor(w.users, first), actor(w.users, second));
          } catch (e) {
            if (!(e instanceof ServiceError)) throw e;
            if (e.code === 'LINKED_ACCOUNTS') refusedLinked++;
            return;
          }
          throw new Error(`${first} and ${second}, both held by the insider, completed a two-person act`);
        };
        let n = 0;
        for (const o of ops) {
          try {
            switch (o.kind) {
              case 'create':
                await approve(
                  w.users.proposeUser(insider, {
                    username: `made.${n++}`,
                    displayName: 'x',
                    roles: [o.role],
                  }),
                );
                break;
              case 'reset':
                await approve(w.users.resetPassword(insider, pick(o.target)));
                break;
              case 'grant': {
                const u = w.users.getUser(pick(o.target))!;
                await approve(w.users.setRoles(insider, u.username, [...u.roles, o.role]));
                break;
              }
              case 'enable':
                await approve(w.users.enable(insider, pick(o.target)));
                break;
              case 'disable':
                w.users.disable(insider, pick(o.target));
                break;
              case 'relay':
                await attempt(pick(o.requester), pick(o.approver), async (a, b) => {
                  const req = w.control.request({
                    meter: `M${n++}`,
                    action: 'open',
                    reason: 'x',
                    requestedBy: a,
                  });
                  await w.control.approve(b, req.id);
                });
                break;
              case 'line':
                await attempt(pick(o.recorder), pick(o.confirmer), async (a, b) => {
                  const rec = w.control.recordLineOperation(a, {
                    line: 'L',
                    action: 'cut',
                    reason: 'x',
                    at: w.clock(),
                  });
                  w.control.confirmLineOperation(b, rec.id);
                });
                break;
            }
          } catch (e) {
            if (!(e instanceof ServiceError)) throw e;
          }
        }
        w.db.close();
      }),
      { numRuns: 60, seed: 20261206 },
    );
    // Not vacuous: the insider did hold pairs of accounts and tried them.
    expect(attempts).toBeGreaterThan(20);
    expect(refusedLinked).toBeGreaterThan(0);
  }, 120_000);
});
