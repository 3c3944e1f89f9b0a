import { randomUUID } from 'node:crypto';
import type { Actor } from '../../platform/auth/roles.ts';
import type { AuditLog } from '../../platform/audit/audit-log.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import { assertCan, assertNotSelfApproval } from '../../platform/auth/duties.ts';
import { RelayActionSchema, signCommand, type RelayAction, type SignedRelayCommand } from './commands.ts';
import { RelayAcks, type AckStats } from './acks.ts';
import { controlError } from './errors.ts';
import { everyInterval } from '../../platform/timers.ts';
import { LineOperations } from './line-operations.ts';
import { isHold, PERSON_CANNOT_RELEASE, RelayHolds, type RelayHold } from './relay-holds.ts';
import { covers, PolicyApprovals } from './policy-approvals.ts';
import {
  CONTROL_ACTOR,
  migrateRelaySchema,
  POLICY_ACTOR,
  RELAY_SCHEMA,
  requireText,
  toRequest,
  type AckOutcome,
  type Handover,
  type LineOperation,
  type PolicyApproval,
  type PolicyApprovalScope,
  type RelayControlOptions,
  type RelayRequest,
  type RequestRow,
  type RequestState,
} from './relay-types.ts';

export {
  campusMeterLocator,
  POLICY_ACTOR,
  type AckOutcome,
  type Handover,
  type LineOperation,
  type MeterLocation,
  type MeterLocator,
  type PolicyApproval,
  type PolicyApprovalScope,
  type RelayControlOptions,
  type RelayRequest,
  type RequestState,
} from './relay-types.ts';
export type { AckStats } from './acks.ts';
export { scheduleHold, type RelayHold } from './relay-holds.ts';

/**
 * Cut-off and restore (DOMAIN.md): no relay moves without a second person's approval, and every
 * step is in the audit log, in the same transaction as the state change it records.
 *
 * request (pending) → approve by another, independent person → command signed and published
 * (sent) → the gateway's signed ack: done (ok) or failed; no ack by the deadline: timed_out. A
 * pending request can instead be rejected (by an approver) or cancelled (by its requester or an
 * approver).
 *
 * Requests the prepaid policy raises (actor `system:prepaid-policy`) are approved by a supervisor
 * (`relay.policy-approval`), or at once by a standing policy approval a supervisor granted for
 * their scope; a standing approval never approves a request a person raised.
 *
 * Open reasons (relay-holds.ts): an approved cut-off adds its reason (`hold`) to the meter; an
 * approved restore releases its reason and sends a command only when no other reason remains
 * (else the request ends `held`). A restore of a meter whose account is out of credit is refused
 * (`closeVeto`), whoever asks.
 *
 * The parts: relay-types.ts (records and tables), acks.ts (acknowledgements and deadlines),
 * policy-approvals.ts, relay-holds.ts, line-operations.ts (the power room's records and handovers).
 */
export class RelayControl {
  private readonly db: BackofficeDb;
  private readonly audit: AuditLog;
  private readonly clock: Clock;
  private readonly ttl: number;
  private readonly grace: number;
  private readonly acks: RelayAcks;
  private readonly policies: PolicyApprovals;
  private readonly lines: LineOperations;
  private readonly holdSet: RelayHolds;

  constructor(private readonly opts: RelayControlOptions) {
    this.db = opts.db;
    this.audit = opts.audit;
    this.clock = opts.clock ?? Date.now;
    this.ttl = opts.commandTtlMs ?? 5 * 60_000;
    this.grace = opts.ackGraceMs ?? 30_000;
    this.db.exec(RELAY_SCHEMA);
    migrateRelaySchema(this.db);
    this.holdSet = new RelayHolds(this.db, this.audit, this.clock);
    this.acks = new RelayAcks(this.db, this.audit, this.clock, opts.ackKeys, (id) => this.get(id));
    this.policies = new PolicyApprovals(this.db, this.audit, this.clock);
    this.lines = new LineOperations(this.db, this.audit, this.clock);
  }

  // --- Relay requests -----------------------------------------------------------------------

  /**
   * A person asks for a cut-off (`open`) or restore (`close`); nothing moves until approved. A
   * cut-off holds the relay open as `manual` (or `illegal-load`, an inspector's finding on site);
   * a restore releases every hold but `credit`.
   */
  request(input: {
    meter: string;
    action: RelayAction;
    reason: string;
    requestedBy: Actor;
    hold?: 'manual' | 'illegal-load';
  }): RelayRequest {
    assertCan(input.requestedBy, 'relay.request', 'request a relay operation');
    if (input.hold !== undefined && input.hold !== 'manual' && input.hold !== 'illegal-load')
      controlError('BAD_INPUT', 'a person’s cut-off is held as manual or illegal-load');
    if (input.action === 'close') this.assertMayClose(input.meter);
    const hold = input.action === 'open' ? (input.hold ?? 'manual') : null;
    return this.db.transaction(() =>
      this.insertRequest({ ...input, hold, basis: null }, 'user', input.requestedBy.id),
    )();
  }

  /** Why the meter's relay is to be open, oldest first (empty: nothing holds it). */
  holds(meter: string): RelayHold[] {
    return this.holdSet.of(meter);
  }

  /** Every hold on every meter. */
  allHolds(): RelayHold[] {
    return this.holdSet.all();
  }

  /**
   * An automatic policy asks: the prepaid policy (actor `system:prepaid-policy`, hold `credit`), a
   * schedule or a power limit (their own actor, hold and `basis`, the version approved). A
   * standing approval covering it approves it at once and the command goes out; otherwise it
   * waits for a supervisor, or with `requireGrant` is refused (NO_APPROVAL) and nothing is asked.
   */
  async requestFromPolicy(input: {
    meter: string;
    action: RelayAction;
    reason: string;
    /** The open reason it adds or releases; default `policy`. */
    hold?: string;
    /** Who asks, a `system:<service>` id; default the prepaid policy. */
    by?: string;
    basis?: string;
    requireGrant?: boolean;
  }): Promise<RelayRequest> {
    const hold = input.hold ?? 'policy';
    if (!isHold(hold)) controlError('BAD_INPUT', `unknown open reason "${hold}"`);
    const by = input.by ?? POLICY_ACTOR;
    if (!by.startsWith('system:'))
      controlError('BAD_INPUT', 'an automatic request is made by a system:<service>');
    if (input.action === 'close') this.assertMayClose(input.meter);
    const issued = this.db.transaction(() => {
      const req = this.insertRequest({ ...input, hold, basis: input.basis ?? null }, 'policy', by);
      const grant = this.policies.activePolicyApprovals().find((g) => covers(g.scope, req));
      if (!grant && input.requireGrant)
        controlError(
          'NO_APPROVAL',
          `no standing approval covers ${input.action} of ${input.meter} for ${hold}`,
        );
      if (!grant) return { req, command: null };
      const decidedBy = `policy-approval:${grant.id}`;
      this.decide(req, 'approved', decidedBy, `standing approval granted by ${grant.grantedBy}`, grant.id);
      this.audit.append({
        actor: CONTROL_ACTOR,
        action: 'relay.approve',
        subject: `relay-request:${req.id}`,
        before: { state: 'pending' },
        after: { state: 'approved', by: decidedBy, grantedBy: grant.grantedBy },
        reason: `standing policy approval ${grant.id}: ${grant.reason}`,
      });
      return { req, command: this.carryOut(req.id, CONTROL_ACTOR) };
    })();
    if (issued.command) await this.dispatch(issued.command);
    return this.get(issued.req.id);
  }

  /** A second person approves; the signed command is published before this resolves. */
  async approve(approver: Actor, requestId: number, note?: string): Promise<RelayRequest> {
    const command = this.db.transaction(() => {
      const req = this.pending(requestId);
      if (req.source === 'policy')
        assertCan(approver, 'relay.policy-approval', 'approve a policy-raised relay request');
      else assertCan(approver, 'relay.approve', 'approve a relay request');
      assertNotSelfApproval(req.requestedBy, approver, 'approve it', { db: this.db, now: this.clock() });
      if (req.action === 'close') this.assertMayClose(req.meter);
      this.decide(req, 'approved', approver.id, note ?? null, null);
      this.audit.append({
        actor: approver.id,
        action: 'relay.approve',
        subject: `relay-request:${req.id}`,
        before: { state: 'pending' },
        after: { state: 'approved', meter: req.meter, action: req.action },
        reason: note,
      });
      return this.carryOut(req.id, approver.id);
    })();
    if (command) await this.dispatch(command);
    return this.get(requestId);
  }

  reject(approver: Actor, requestId: number, reason: string): RelayRequest {
    const why = requireText(reason, 'a reason');
    return this.db.transaction(() => {
      const req = this.pending(requestId);
      assertCan(
        approver,
        req.source === 'policy' ? 'relay.policy-approval' : 'relay.approve',
        'reject a relay request',
      );
      assertNotSelfApproval(req.requestedBy, approver, 'reject it (cancel it instead)', {
        db: this.db,
        now: this.clock(),
      });
      this.endPending(req, 'rejected', approver.id, why);
      return this.get(requestId);
    })();
  }

  /** The requester withdraws a pending request (or an approver withdraws a policy-raised one). */
  cancel(actor: Actor, requestId: number, reason: string): RelayRequest {
    const why = requireText(reason, 'a reason');
    return this.db.transaction(() => {
      const req = this.pending(requestId);
      const own = req.requestedBy === actor.id;
      if (!own) assertCan(actor, 'relay.approve', 'cancel someone else’s relay request');
      this.endPending(req, 'cancelled', actor.id, why);
      return this.get(requestId);
    })();
  }

  /** A pending request that ends without a command (rejected or cancelled), audited. */
  private endPending(req: RelayRequest, state: 'rejected' | 'cancelled', actor: string, why: string): void {
    this.decide(req, state, actor, why, null);
    this.audit.append({
      actor,
      action: state === 'rejected' ? 'relay.reject' : 'relay.cancel',
      subject: `relay-request:${req.id}`,
      before: { state: 'pending' },
      after: { state },
      reason: why,
    });
  }

  get(requestId: number): RelayRequest {
    const row = this.db
      .prepare(
        `SELECT r.*, c.observed AS observed, c.error AS error FROM relay_requests r
         LEFT JOIN relay_commands c ON c.id = r.command_id WHERE r.id = ?`,
      )
      .get(requestId) as RequestRow | undefined;
    if (!row) controlError('NOT_FOUND', `no relay request ${requestId}`);
    return toRequest(row);
  }

  list(filter: { state?: RequestState; meter?: string } = {}): RelayRequest[] {
    const rows = this.db
      .prepare(
        `SELECT r.*, c.observed AS observed, c.error AS error FROM relay_requests r
         LEFT JOIN relay_commands c ON c.id = r.command_id
         WHERE (@state IS NULL OR r.state = @state) AND (@meter IS NULL OR r.meter = @meter) ORDER BY r.id`,
      )
      .all({ state: filter.state ?? null, meter: filter.meter ?? null }) as RequestRow[];
    return rows.map(toRequest);
  }

  // --- Acks and timeouts (acks.ts) ---------------------------------------------------------

  /**
   * Records a gateway's signed ack (`campus/v1/<site>/<gateway>/<meter>/cmd/ack`), or audits a
   * refusal, a forged or a mismatched message without changing any request.
   */
  handleAck(topic: string, payload: Buffer | string): AckOutcome {
    return this.acks.handle(topic, payload);
  }

  /** Acks since start by outcome, for /metrics. */
  ackStats(): AckStats {
    return this.acks.stats();
  }

  /** Marks commands whose ack did not come by their deadline; returns how many. */
  checkTimeouts(): number {
    return this.acks.checkTimeouts();
  }

  /**
   * Runs `checkTimeouts` every `intervalMs`; returns the stop function. A sweep that fails (the
   * database busy with another writer past its timeout) is reported to `onError` and the next
   * one tries again: a timer's throw would end the whole back office.
   */
  startTimeoutSweep(
    intervalMs = 10_000,
    onError: (err: unknown) => void = () => undefined,
  ): () => Promise<void> {
    const sweep = everyInterval('relay ack timeout sweep', intervalMs, () => this.checkTimeouts(), {
      error: (o) => onError((o as { err?: unknown }).err),
    });
    return () => sweep.stop();
  }

  // --- Standing policy approvals (policy-approvals.ts) -------------------------------------

  grantPolicyApproval(
    supervisor: Actor,
    input: { scope: PolicyApprovalScope; reason: string; until?: number },
  ): PolicyApproval {
    return this.policies.grantPolicyApproval(supervisor, input);
  }

  revokePolicyApproval(supervisor: Actor, id: number, reason: string): PolicyApproval {
    return this.policies.revokePolicyApproval(supervisor, id, reason);
  }

  /** Ends a standing approval whose policy changed under it (by a `system:` id), audited. */
  voidPolicyApproval(id: number, by: string, reason: string): PolicyApproval {
    return this.policies.voidPolicyApproval(id, by, reason);
  }

  activePolicyApprovals(): PolicyApproval[] {
    return this.policies.activePolicyApprovals();
  }

  policyApproval(id: number): PolicyApproval {
    return this.policies.policyApproval(id);
  }

  // --- Power-room records (line-operations.ts) ---------------------------------------------

  recordLineOperation(
    by: Actor,
    input: { line: string; action: 'cut' | 'restore'; reason: string; at: number },
  ): LineOperation {
    return this.lines.recordLineOperation(by, input);
  }

  confirmLineOperation(by: Actor, id: number, confirmed = true, note?: string): LineOperation {
    return this.lines.confirmLineOperation(by, id, confirmed, note);
  }

  lineOperations(filter: { state?: LineOperation['state']; limit?: number } = {}): LineOperation[] {
    return this.lines.lineOperations(filter);
  }

  lineOperation(id: number): LineOperation {
    return this.lines.lineOperation(id);
  }

  handover(by: Actor, to: string, notes: string): Handover {
    return this.lines.handover(by, to, notes);
  }

  // --- Internals ------------------------------------------------------------------------------

  /** Refuses a restore the close veto forbids (an account out of credit), naming why. */
  private assertMayClose(meter: string): void {
    const veto = this.opts.closeVeto?.(meter);
    if (veto) controlError('CLOSE_VETOED', `meter ${meter} may not be closed: ${veto}`);
  }

  /**
   * What an approved request does to the open reasons (inside the caller's transaction): a cut-off
   * adds its hold and is issued; a restore releases its hold(s) and is issued only when none is
   * left, else it ends `held` with no command. Returns the command to dispatch, if any.
   */
  private carryOut(requestId: number, actor: string): SignedRelayCommand | null {
    const req = this.get(requestId);
    if (req.action === 'open') {
      this.holdSet.add(req.meter, req.hold ?? 'manual', req.id, actor);
      return this.issue(req.id);
    }
    const releases =
      req.source === 'user'
        ? this.holdSet
            .of(req.meter)
            .map((h) => h.hold)
            .filter((h) => !PERSON_CANNOT_RELEASE.has(h))
        : [req.hold ?? 'policy'];
    const remain = this.holdSet.release(req.meter, releases, req.id, actor);
    if (remain.length === 0) return this.issue(req.id);
    this.db.prepare(`UPDATE relay_requests SET state = 'held' WHERE id = ?`).run(req.id);
    this.audit.append({
      actor: CONTROL_ACTOR,
      action: 'relay.held',
      subject: `relay-request:${req.id}`,
      before: { state: 'approved' },
      after: { state: 'held', holds: remain },
      reason: `not closed: still open because of ${remain.join(', ')}`,
    });
    return null;
  }

  private insertRequest(
    input: { meter: string; action: RelayAction; reason: string; hold: string | null; basis: string | null },
    source: 'user' | 'policy',
    requestedBy: string,
  ): RelayRequest {
    const action = RelayActionSchema.safeParse(input.action);
    if (!action.success) controlError('BAD_INPUT', 'action is open (cut off) or close (restore)');
    const reason = requireText(input.reason, 'a reason');
    const where = this.opts.locate(input.meter);
    if (!where) controlError('UNKNOWN_METER', `no meter ${input.meter} in the campus`);
    if (!where.hasRelay) controlError('NO_RELAY', `meter ${input.meter} has no relay`);
    const open = this.db
      .prepare(
        `SELECT id, state FROM relay_requests WHERE meter = ? AND state IN ('pending', 'approved', 'sent')`,
      )
      .get(input.meter) as { id: number; state: string } | undefined;
    if (open)
      controlError('REQUEST_OPEN', `meter ${input.meter} already has request ${open.id} (${open.state})`);
    const now = this.clock();
    const id = Number(
      this.db
        .prepare(
          `INSERT INTO relay_requests (meter, site, gateway, action, reason, source, requested_by, requested_at, state, hold, basis)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)`,
        )
        .run(
          input.meter,
          where.site,
          where.gateway,
          action.data,
          reason,
          source,
          requestedBy,
          now,
          input.hold,
          input.basis,
        ).lastInsertRowid,
    );
    this.audit.append({
      actor: requestedBy,
      action: 'relay.request',
      subject: `relay-request:${id}`,
      after: {
        meter: input.meter,
        action: action.data,
        source,
        state: 'pending',
        ...(input.hold ? { hold: input.hold } : {}),
        ...(input.basis ? { basis: input.basis } : {}),
      },
      reason,
    });
    return this.get(id);
  }

  private pending(requestId: number): RelayRequest {
    const req = this.get(requestId);
    if (req.state !== 'pending') controlError('INVALID_STATE', `relay request ${requestId} is ${req.state}`);
    return req;
  }

  private decide(
    req: RelayRequest,
    state: RequestState,
    by: string,
    note: string | null,
    policyApprovalId: number | null,
  ): void {
    this.db
      .prepare(
        `UPDATE relay_requests SET state = ?, decided_by = ?, decided_at = ?, decision_note = ?, policy_approval_id = ?
         WHERE id = ? AND state = 'pending'`,
      )
      .run(state, by, this.clock(), note, policyApprovalId, req.id);
  }

  /** Builds and signs the command of an approved request and records it (inside the caller's transaction). */
  private issue(requestId: number): SignedRelayCommand {
    const req = this.get(requestId);
    const issuedAt = this.clock();
    const command = signCommand(
      {
        id: randomUUID(),
        meter: req.meter,
        site: req.site,
        gateway: req.gateway,
        action: req.action,
        issuedAt,
        expiresAt: issuedAt + this.ttl,
        requestId: req.id,
      },
      this.opts.signingKey,
    );
    this.db
      .prepare(
        `INSERT INTO relay_commands (id, request_id, payload, issued_at, expires_at, ack_deadline, state)
         VALUES (?, ?, ?, ?, ?, ?, 'issued')`,
      )
      .run(
        command.id,
        req.id,
        JSON.stringify(command),
        issuedAt,
        command.expiresAt,
        command.expiresAt + this.grace,
      );
    this.db.prepare('UPDATE relay_requests SET command_id = ? WHERE id = ?').run(command.id, req.id);
    this.audit.append({
      actor: CONTROL_ACTOR,
      action: 'relay.command',
      subject: `relay-request:${req.id}`,
      after: { command: command.id, meter: req.meter, action: req.action, expiresAt: command.expiresAt },
    });
    return command;
  }

  /** Publishes a recorded command; the request is `sent` on PUBACK, `failed` if the broker did not take it. */
  private async dispatch(command: SignedRelayCommand): Promise<void> {
    let error: string | null = null;
    try {
      await this.opts.send(command);
    } catch (err) {
      error = (err as Error).message ?? String(err);
    }
    this.db.transaction(() => {
      const cmd = this.db.prepare('SELECT state FROM relay_commands WHERE id = ?').get(command.id) as {
        state: string;
      };
      // The gateway's ack can arrive before the broker's PUBACK reaches us: keep its outcome.
      if (cmd.state !== 'issued') return;
      this.db
        .prepare(`UPDATE relay_commands SET state = ?, error = ? WHERE id = ?`)
        .run(error ? 'send_failed' : 'sent', error ? 'SEND_FAILED' : null, command.id);
      this.db
        .prepare('UPDATE relay_requests SET state = ? WHERE id = ?')
        .run(error ? 'failed' : 'sent', command.requestId);
      this.audit.append({
        actor: CONTROL_ACTOR,
        action: error ? 'relay.send-failed' : 'relay.sent',
        subject: `relay-request:${command.requestId}`,
        after: { command: command.id, state: error ? 'failed' : 'sent' },
        reason: error ?? undefined,
      });
    })();
  }
}
