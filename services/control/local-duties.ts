import { can, type Actor, type Permission } from '../auth/roles.ts';
import { controlError } from './errors.ts';

/**
 * The two-person checks of relay control, in one place until services/auth/duties.ts (with the
 * same two names) replaces this file.
 */
export function assertCan(actor: Actor, permission: Permission, what: string): void {
  if (!can(actor, permission)) {
    controlError('FORBIDDEN', `${actor.id} may not ${what} (needs ${permission})`);
  }
}

/** An approval or confirmation is a person's, and never the person who asked for it. */
export function assertNotSelfApproval(requester: string, approver: Actor, what: string): void {
  if (approver.kind !== 'user')
    controlError('FORBIDDEN', `${what} must be done by a person, not ${approver.id}`);
  if (approver.id === requester) {
    controlError(
      'SELF_APPROVAL',
      `${approver.id} asked for this and may not also ${what}: a second person must`,
    );
  }
}
