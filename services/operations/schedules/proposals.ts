import { createHash } from 'node:crypto';
import type { Actor } from '../../platform/auth/roles.ts';
import { assertCan, assertNotSelfApproval } from '../../platform/auth/duties.ts';
import { authFail } from '../../platform/auth/errors.ts';
import type { AuditLog } from '../../platform/audit/audit-log.ts';
import { canonicalJson } from '../../platform/audit/canonical-json.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import type { PolicyApproval, RelayControl } from '../control/relay-control.ts';
import { proposalError } from './errors.ts';

/**
 * Standing policies that switch relays without a person each time — a lights-out schedule, the
 * power limits — act only under a standing approval (services/operations/control) that names the
 * exact version approved. Here: one person (who may request relay operations) proposes the
 * version the campus file holds now; another, independent supervisor approves it, which grants
 * the standing approval for that version, its meters and its hold. An edit to the file makes a
 * new version: its old approval is void, and it acts on nothing until the new one is approved.
 *
 * A version is the SHA-256 of the canonical JSON of what it does (the schedule or limits and the
 * meters it reaches); the basis of its requests is `<subject>@<sha256>`.
 */

export interface PolicyVersion {
  /** `schedule:<id>` or `power-limits`. */
  subject: string;
  /** What the version does, as approved (hashed). */
  body: unknown;
  /** The relay meters it may switch. */
  meters: string[];
  /** The open reasons its requests add and release. */
  holds: string[];
}

export interface Proposal {
  id: number;
  subject: string;
  sha256: string;
  body: unknown;
  meters: string[];
  holds: string[];
  proposedBy: string;
  proposedAt: number;
  reason: string;
  state: 'pending' | 'approved' | 'rejected' | 'withdrawn';
  decidedBy: string | null;
  decidedAt: number | null;
  decisionNote: string | null;
  grantId: number | null;
}

export type VersionStatus =
  | { state: 'approved'; grant: PolicyApproval; proposal: Proposal | null }
  | { state: 'awaiting-approval'; proposal: Proposal }
  | { state: 'not-approved' };

const SCHEMA = `
CREATE TABLE IF NOT EXISTS policy_proposals (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  subject TEXT NOT NULL, sha256 TEXT NOT NULL, body TEXT NOT NULL,
  meters TEXT NOT NULL, holds TEXT NOT NULL,
  proposed_by TEXT NOT NULL, proposed_at INTEGER NOT NULL, reason TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'rejected', 'withdrawn')),
  decided_by TEXT, decided_at INTEGER, decision_note TEXT, grant_id INTEGER
);
CREATE INDEX IF NOT EXISTS policy_proposals_subject ON policy_proposals (subject, state);
`;

export const PROPOSALS_ACTOR = 'system:standing-policies';

export function versionSha(v: Pick<PolicyVersion, 'body' | 'meters' | 'holds'>): string {
  return createHash('sha256')
    .update(canonicalJson({ body: v.body, meters: v.meters, holds: v.holds }))
    .digest('hex');
}

export function basisOf(v: PolicyVersion): string {
  return `${v.subject}@${versionSha(v)}`;
}

interface Row {
  id: number;
  subject: string;
  sha256: string;
  body: string;
  meters: string;
  holds: string;
  proposed_by: string;
  proposed_at: number;
  reason: string;
  state: Proposal['state'];
  decided_by: string | null;
  decided_at: number | null;
  decision_note: string | null;
  grant_id: number | null;
}

const toProposal = (r: Row): Proposal => ({
  id: r.id,
  subject: r.subject,
  sha256: r.sha256,
  body: JSON.parse(r.body) as unknown,
  meters: JSON.parse(r.meters) as string[],
  holds: JSON.parse(r.holds) as string[],
  proposedBy: r.proposed_by,
  proposedAt: r.proposed_at,
  reason: r.reason,
  state: r.state,
  decidedBy: r.decided_by,
  decidedAt: r.decided_at,
  decisionNote: r.decision_note,
  grantId: r.grant_id,
});

function text(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.trim() === '') proposalError('BAD_INPUT', `${what} is required`);
  return value.trim().slice(0, 500);
}

export class PolicyProposals {
  constructor(
    private readonly db: BackofficeDb,
    private readonly audit: AuditLog,
    private readonly control: RelayControl,
    private readonly clock: Clock,
  ) {
    db.exec(SCHEMA);
  }

  /** A person proposes the version the campus file holds now; it acts on nothing until approved. */
  propose(by: Actor, current: PolicyVersion, reason: string): Proposal {
    assertCan(by, 'relay.request', 'propose a schedule or power limits');
    if (by.kind !== 'user') authFail('PERSON_REQUIRED', 'a schedule or limit is proposed by a person');
    const why = text(reason, 'a reason');
    const sha = versionSha(current);
    return this.db.transaction(() => {
      const same = this.db
        .prepare(`SELECT * FROM policy_proposals WHERE subject = ? AND sha256 = ? AND state = 'pending'`)
        .get(current.subject, sha) as Row | undefined;
      if (same) return toProposal(same);
      const id = Number(
        this.db
          .prepare(
            `INSERT INTO policy_proposals (subject, sha256, body, meters, holds, proposed_by, proposed_at, reason, state)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending')`,
          )
          .run(
            current.subject,
            sha,
            canonicalJson(current.body),
            JSON.stringify(current.meters),
            JSON.stringify(current.holds),
            by.id,
            this.clock(),
            why,
          ).lastInsertRowid,
      );
      this.audit.append({
        actor: by.id,
        action: 'standing-policy.propose',
        subject: current.subject,
        after: { proposal: id, sha256: sha, meters: current.meters.length, holds: current.holds },
        reason: why,
      });
      return this.get(id);
    })();
  }

  /**
   * A supervisor other than the proposer (and not linked to them) approves: the standing approval
   * for exactly this version is granted, and the subject's earlier approvals end. Refused when the
   * campus file no longer holds the proposed version.
   */
  approve(by: Actor, id: number, current: PolicyVersion, note?: string): Proposal {
    assertCan(by, 'relay.policy-approval', 'approve a schedule or power limits');
    return this.db.transaction(() => {
      const p = this.pending(id);
      assertNotSelfApproval(p.proposedBy, by, 'approve it', { db: this.db, now: this.clock() });
      if (current.subject !== p.subject || versionSha(current) !== p.sha256)
        proposalError(
          'STALE',
          `proposal ${id} is not what the campus file says of ${p.subject} now; propose the current version`,
        );
      for (const g of this.grantsOf(p.subject))
        this.control.voidPolicyApproval(g.id, PROPOSALS_ACTOR, `superseded by proposal ${id}`);
      const grant = this.control.grantPolicyApproval(by, {
        scope: {
          actions: ['open', 'close'],
          meters: p.meters,
          holds: p.holds,
          basis: `${p.subject}@${p.sha256}`,
        },
        reason: `${p.subject} version ${p.sha256.slice(0, 12)}, proposed by ${p.proposedBy}: ${p.reason}`,
      });
      this.decide(p, 'approved', by.id, note ?? null, grant.id);
      return this.get(id);
    })();
  }

  reject(by: Actor, id: number, reason: string): Proposal {
    assertCan(by, 'relay.policy-approval', 'reject a schedule or power limits');
    const why = text(reason, 'a reason');
    return this.db.transaction(() => {
      const p = this.pending(id);
      assertNotSelfApproval(p.proposedBy, by, 'reject it (withdraw it instead)', {
        db: this.db,
        now: this.clock(),
      });
      this.decide(p, 'rejected', by.id, why, null);
      return this.get(id);
    })();
  }

  withdraw(by: Actor, id: number, reason: string): Proposal {
    const why = text(reason, 'a reason');
    return this.db.transaction(() => {
      const p = this.pending(id);
      if (p.proposedBy !== by.id) assertCan(by, 'relay.policy-approval', 'withdraw someone else’s proposal');
      this.decide(p, 'withdrawn', by.id, why, null);
      return this.get(id);
    })();
  }

  /**
   * Where the current version stands. An approval of any other version of the subject is voided
   * here (audited once): the file was edited after approval.
   */
  status(current: PolicyVersion): VersionStatus {
    const basis = basisOf(current);
    let approved: PolicyApproval | undefined;
    for (const g of this.grantsOf(current.subject)) {
      if (g.scope.basis === basis) approved = g;
      else
        this.control.voidPolicyApproval(
          g.id,
          PROPOSALS_ACTOR,
          `${current.subject} was changed after approval (now ${basis.split('@')[1]!.slice(0, 12)})`,
        );
    }
    const sha = versionSha(current);
    if (approved) {
      const row = this.db.prepare(`SELECT * FROM policy_proposals WHERE grant_id = ?`).get(approved.id) as
        Row | undefined;
      return { state: 'approved', grant: approved, proposal: row ? toProposal(row) : null };
    }
    const pending = this.db
      .prepare(
        `SELECT * FROM policy_proposals WHERE subject = ? AND sha256 = ? AND state = 'pending' ORDER BY id DESC`,
      )
      .get(current.subject, sha) as Row | undefined;
    return pending
      ? { state: 'awaiting-approval', proposal: toProposal(pending) }
      : { state: 'not-approved' };
  }

  get(id: number): Proposal {
    const r = this.db.prepare('SELECT * FROM policy_proposals WHERE id = ?').get(id) as Row | undefined;
    if (!r) proposalError('NOT_FOUND', `no proposal ${id}`);
    return toProposal(r);
  }

  list(filter: { subject?: string; state?: Proposal['state'] } = {}): Proposal[] {
    return (
      this.db
        .prepare(
          `SELECT * FROM policy_proposals WHERE (@subject IS NULL OR subject = @subject)
           AND (@state IS NULL OR state = @state) ORDER BY id DESC LIMIT 200`,
        )
        .all({ subject: filter.subject ?? null, state: filter.state ?? null }) as Row[]
    ).map(toProposal);
  }

  /** Active standing approvals granted for a subject (any version). */
  private grantsOf(subject: string): PolicyApproval[] {
    return this.control.activePolicyApprovals().filter((g) => g.scope.basis?.startsWith(`${subject}@`));
  }

  private pending(id: number): Proposal {
    const p = this.get(id);
    if (p.state !== 'pending') proposalError('INVALID_STATE', `proposal ${id} is ${p.state}`);
    return p;
  }

  private decide(
    p: Proposal,
    state: Proposal['state'],
    by: string,
    note: string | null,
    grant: number | null,
  ) {
    this.db
      .prepare(
        `UPDATE policy_proposals SET state = ?, decided_by = ?, decided_at = ?, decision_note = ?, grant_id = ?
         WHERE id = ? AND state = 'pending'`,
      )
      .run(state, by, this.clock(), note, grant, p.id);
    this.audit.append({
      actor: by,
      action: `standing-policy.${state === 'approved' ? 'approve' : state === 'rejected' ? 'reject' : 'withdraw'}`,
      subject: p.subject,
      before: { proposal: p.id, state: 'pending' },
      after: { proposal: p.id, state, sha256: p.sha256, ...(grant !== null ? { grant } : {}) },
      ...(note ? { reason: note } : {}),
    });
  }
}
