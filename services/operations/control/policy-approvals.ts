import type { Actor } from '../../platform/auth/roles.ts';
import { assertCan } from '../../platform/auth/duties.ts';
import { authFail } from '../../platform/auth/errors.ts';
import type { AuditLog } from '../../platform/audit/audit-log.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import { RelayActionSchema } from './commands.ts';
import { controlError } from './errors.ts';
import { isHold } from './relay-holds.ts';
import {
  requireText,
  type PolicyApproval,
  type PolicyApprovalScope,
  type RelayRequest,
} from './relay-types.ts';

/**
 * Standing approvals: a supervisor approves, once and for a scope (actions, sites or meters, until
 * a date), the relay requests the prepaid policy raises. They never approve a request a person
 * raised (relay-control.ts checks the source).
 */
export class PolicyApprovals {
  constructor(
    private readonly db: BackofficeDb,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
  ) {}

  grantPolicyApproval(
    supervisor: Actor,
    input: { scope: PolicyApprovalScope; reason: string; until?: number },
  ): PolicyApproval {
    assertCan(supervisor, 'relay.policy-approval', 'grant a standing policy approval');
    if (supervisor.kind !== 'user') authFail('PERSON_REQUIRED', 'a standing approval is granted by a person');
    const reason = requireText(input.reason, 'a reason');
    const actions = input.scope.actions.map((a) => RelayActionSchema.parse(a));
    if (actions.length === 0) controlError('BAD_INPUT', 'a standing approval names at least one action');
    const holds = input.scope.holds;
    if (holds !== undefined && (holds.length === 0 || !holds.every(isHold)))
      controlError('BAD_INPUT', 'a standing approval names known open reasons (holds)');
    const scope: PolicyApprovalScope = {
      actions,
      sites: input.scope.sites,
      meters: input.scope.meters,
      ...(holds ? { holds } : {}),
      ...(input.scope.basis !== undefined ? { basis: input.scope.basis } : {}),
    };
    const now = this.clock();
    if (input.until !== undefined && input.until <= now) controlError('BAD_INPUT', 'until is in the past');
    return this.db.transaction(() => {
      const id = Number(
        this.db
          .prepare(
            'INSERT INTO relay_policy_approvals (scope, reason, granted_by, granted_at, until) VALUES (?, ?, ?, ?, ?)',
          )
          .run(JSON.stringify(scope), reason, supervisor.id, now, input.until ?? null).lastInsertRowid,
      );
      this.audit.append({
        actor: supervisor.id,
        action: 'relay.policy-approval.grant',
        subject: `relay-policy-approval:${id}`,
        after: { scope, until: input.until ?? null },
        reason,
      });
      return this.policyApproval(id);
    })();
  }

  revokePolicyApproval(supervisor: Actor, id: number, reason: string): PolicyApproval {
    assertCan(supervisor, 'relay.policy-approval', 'revoke a standing policy approval');
    const why = requireText(reason, 'a reason');
    return this.db.transaction(() => {
      const grant = this.policyApproval(id);
      if (grant.revokedAt !== null)
        controlError('INVALID_STATE', `standing approval ${id} is already revoked`);
      const now = this.clock();
      this.db
        .prepare(
          'UPDATE relay_policy_approvals SET revoked_by = ?, revoked_at = ?, revoke_reason = ? WHERE id = ?',
        )
        .run(supervisor.id, now, why, id);
      this.audit.append({
        actor: supervisor.id,
        action: 'relay.policy-approval.revoke',
        subject: `relay-policy-approval:${id}`,
        before: { revokedAt: null },
        after: { revokedAt: now },
        reason: why,
      });
      return this.policyApproval(id);
    })();
  }

  /**
   * Ends a standing approval whose policy changed under it (a schedule edited after approval):
   * recorded as revoked by `by` (a `system:` id), audited.
   */
  voidPolicyApproval(id: number, by: string, reason: string): PolicyApproval {
    const why = requireText(reason, 'a reason');
    return this.db.transaction(() => {
      const grant = this.policyApproval(id);
      if (grant.revokedAt !== null) return grant;
      const now = this.clock();
      this.db
        .prepare(
          'UPDATE relay_policy_approvals SET revoked_by = ?, revoked_at = ?, revoke_reason = ? WHERE id = ?',
        )
        .run(by, now, why, id);
      this.audit.append({
        actor: by,
        action: 'relay.policy-approval.void',
        subject: `relay-policy-approval:${id}`,
        before: { revokedAt: null },
        after: { revokedAt: now },
        reason: why,
      });
      return this.policyApproval(id);
    })();
  }

  activePolicyApprovals(): PolicyApproval[] {
    const now = this.clock();
    return (
      this.db
        .prepare(
          'SELECT id FROM relay_policy_approvals WHERE revoked_at IS NULL AND (until IS NULL OR until > ?)',
        )
        .all(now) as { id: number }[]
    ).map((r) => this.policyApproval(r.id));
  }

  policyApproval(id: number): PolicyApproval {
    const r = this.db.prepare('SELECT * FROM relay_policy_approvals WHERE id = ?').get(id) as
      | {
          id: number;
          scope: string;
          reason: string;
          granted_by: string;
          granted_at: number;
          until: number | null;
          revoked_by: string | null;
          revoked_at: number | null;
        }
      | undefined;
    if (!r) controlError('NOT_FOUND', `no standing policy approval ${id}`);
    return {
      id: r.id,
      scope: JSON.parse(r.scope) as PolicyApprovalScope,
      reason: r.reason,
      grantedBy: r.granted_by,
      grantedAt: r.granted_at,
      until: r.until,
      revokedBy: r.revoked_by,
      revokedAt: r.revoked_at,
    };
  }
}

/** Whether a standing approval's scope covers a request. */
export function covers(
  scope: PolicyApprovalScope,
  req: Pick<RelayRequest, 'action' | 'site' | 'meter'> & { hold?: string | null; basis?: string | null },
): boolean {
  if (!scope.actions.includes(req.action)) return false;
  const hold = req.hold ?? 'policy';
  if (scope.holds ? !scope.holds.includes(hold) : hold !== 'credit' && hold !== 'policy') return false;
  if (scope.basis !== undefined && scope.basis !== req.basis) return false;
  if (!scope.sites && !scope.meters) return true;
  return !!scope.sites?.includes(req.site) || !!scope.meters?.includes(req.meter);
}
