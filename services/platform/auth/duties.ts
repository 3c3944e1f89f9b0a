import type { BackofficeDb } from '../db.ts';
import { authFail } from './errors.ts';
import { assertIndependent } from './independence.ts';
import { can, type Actor, type Permission } from './roles.ts';

/**
 * The checks a service makes before it changes anything on someone's behalf. The API already
 * refuses a route whose permission the actor lacks; services check again, because they are also
 * called from the CLI and from jobs, and because some rules (self-approval, two different people)
 * depend on the request, not only on the route.
 */

function describe(actor: Actor): string {
  const roles = actor.roles.length > 0 ? actor.roles.join(', ') : 'no role';
  return actor.scopes
    ? `${actor.id} (${roles}; token scopes: ${actor.scopes.join(', ') || 'none'})`
    : `${actor.id} (${roles})`;
}

/**
 * Throws FORBIDDEN naming the permission and the actor's roles, unless the actor has it. `what`
 * says it in words ("approve a relay request") for the message.
 */
export function assertCan(actor: Actor, permission: Permission, what?: string): void {
  if (!can(actor, permission)) {
    authFail(
      'FORBIDDEN',
      `${describe(actor)} may not ${what ? `${what} (needs ${permission})` : permission}`,
    );
  }
}

/** User names are lower case; compare them so, whoever passed them in. */
const same = (a: string, b: string) => a.trim().toLowerCase() === b.trim().toLowerCase();

/** Where the links between accounts are kept (the back office's database) and the time now. */
export interface IndependenceContext {
  db: BackofficeDb;
  now: number;
}

/**
 * The approver of a request must be a person other than whoever requested it, and independent of
 * them: not an account the requester created, re-enabled, reset or granted a role to within the
 * link window, nor one that did so for the requester, nor one made by the same person
 * (independence.ts). `requester` is the actor id stored with the request; `what` names the act for
 * the message ("confirm the quota"). Requests raised by the system (`system:…`) are linked to nobody.
 */
export function assertNotSelfApproval(
  requester: string,
  approver: Actor,
  what: string,
  links: IndependenceContext,
): void {
  if (approver.kind !== 'user') {
    authFail('PERSON_REQUIRED', `${approver.id} is an API token; only a person may ${what}`);
  }
  if (same(requester, approver.id)) {
    authFail('SELF_APPROVAL', `${approver.id} requested this and may not also ${what}; another person must`);
  }
  if (!requester.includes(':')) assertIndependent(links.db, requester, approver, what, links.now);
}

/**
 * Two-person rules (two meter readers, the operator and the supervisor who both sign a free quota,
 * two maintenance staff locking a valve): `a` and `b` must be two different people. Given as
 * actors, both must be persons, not API tokens. `what` names the rule in the message.
 */
export function assertDistinctPeople(a: string | Actor, b: string | Actor, what: string): void {
  const idA = typeof a === 'string' ? a : a.id;
  const idB = typeof b === 'string' ? b : b.id;
  for (const x of [a, b]) {
    const id = typeof x === 'string' ? x : x.id;
    // `token:<name>` and `system:<service>` are machines; user names have no colon.
    if ((typeof x !== 'string' && x.kind !== 'user') || id.includes(':')) {
      authFail('PERSON_REQUIRED', `${what}: ${id} is not a person`);
    }
  }
  if (same(idA, idB)) authFail('SAME_PERSON', `${what} needs two different people; ${idA} was given twice`);
}
