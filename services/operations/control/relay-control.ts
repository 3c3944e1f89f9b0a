import { randomUUID, type KeyObject } from 'node:crypto';
import type { LoadedCampus } from '../../../config/campus.ts';
import type { Actor } from '../../platform/auth/roles.ts';
import type { AuditLog } from '../../platform/audit/audit-log.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import {
  RelayAckSchema,
  RelayActionSchema,
  parseCommandTopic,
  signCommand,
  type RelayAction,
  type RelayState,
  type SignedRelayCommand,
} from './commands.ts';
import { controlError } from './errors.ts';
import { assertCan, assertNotSelfApproval } from '../../platform/auth/duties.ts';
import { authFail } from '../../platform/auth/errors.ts';

/**
 * Cut-off and restore (DOMAIN.md): no relay moves without a second person's approval, and every
 * step is in the audit log, in the same transaction as the state change it records.
 *
 * request (pending) → approve by another person → command signed and published (sent) → the
 * gateway's ack: done (ok) or failed; no ack by the deadline: timed_out. A pending request can
 * instead be rejected (by an approver) or cancelled (by its requester or an approver).
 *
 * Requests the prepaid policy raises (actor `system:prepaid-policy`) are approved by a supervisor
 * (`relay.policy-approval`), or at once by a standing policy approval a supervisor granted for
 * their scope; a standing approval never approves a request a person raised.
 */

export const POLICY_ACTOR = 'system:prepaid-policy';
const CONTROL_ACTOR = 'system:control';

export type RequestState =
  'pending' | 'rejected' | 'cancelled' | 'approved' | 'sent' | 'done' | 'failed' | 'timed_out';

export interface RelayRequest {
  id: number;
  meter: string;
  site: string;
  gateway: string;
  action: RelayAction;
  reason: string;
  source: 'user' | 'policy';
  requestedBy: string;
  requestedAt: number;
  state: RequestState;
  /** Who approved, rejected or cancelled; `policy-approval:<id>` for a standing approval. */
  decidedBy: string | null;
  decidedAt: number | null;
  decisionNote: string | null;
  commandId: string | null;
  /** From the gateway's ack: the relay state read back, and the refusal code if not ok. */
  observed: RelayState | null;
  error: string | null;
}

export interface PolicyApprovalScope {
  actions: RelayAction[];
  /** Absent with `meters` absent: the whole campus. */
  sites?: string[];
  meters?: string[];
}

export interface PolicyApproval {
  id: number;
  scope: PolicyApprovalScope;
  reason: string;
  grantedBy: string;
  grantedAt: number;
  until: number | null;
  revokedBy: string | null;
  revokedAt: number | null;
}

export interface LineOperation {
  id: number;
  line: string;
  action: 'cut' | 'restore';
  reason: string;
  /** When the operation was done in the power room (UTC ms). */
  at: number;
  recordedBy: string;
  recordedAt: number;
  state: 'unconfirmed' | 'confirmed' | 'disputed';
  confirmedBy: string | null;
  confirmedAt: number | null;
  note: string | null;
}

export interface Handover {
  id: number;
  from: string;
  to: string;
  notes: string;
  at: number;
  /** What was open at handover: pending requests, commands under way, unconfirmed line operations. */
  open: { requests: number[]; lineOperations: number[] };
}

export type AckOutcome =
  | { kind: 'recorded'; requestId: number; ok: boolean; late: boolean }
  | { kind: 'duplicate' | 'mismatch'; commandId: string }
  | { kind: 'unknown'; commandId: string }
  | { kind: 'invalid'; reason: string };

export interface MeterLocation {
  site: string;
  gateway: string;
  hasRelay: boolean;
}
export type MeterLocator = (meter: string) => MeterLocation | undefined;

/** Where each Modbus meter of the campus is polled, and whether its profile has a relay. */
export function campusMeterLocator(campus: LoadedCampus): MeterLocator {
  const map = new Map<string, MeterLocation>();
  for (const site of campus.config.sites)
    for (const gateway of site.gateways)
      for (const bus of gateway.buses)
        for (const m of bus.meters)
          map.set(m.id, {
            site: site.id,
            gateway: gateway.id,
            hasRelay: !!campus.profiles.get(m.profile)?.relay,
          });
  return (meter) => map.get(meter);
}

export interface RelayControlOptions {
  db: BackofficeDb;
  audit: AuditLog;
  clock?: Clock;
  /** Publishes a signed command (QoS 1) on its topic; rejects if the broker did not take it. */
  send: (command: SignedRelayCommand) => Promise<void>;
  /** The Ed25519 private key (`loadSigningKey`), from a file or env outside the repository. */
  signingKey: KeyObject;
  locate: MeterLocator;
  /** How long a command is valid (default 5 min). */
  commandTtlMs?: number;
  /** How long after a command expired its ack is still waited for (default 30 s). */
  ackGraceMs?: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS relay_requests (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  meter TEXT NOT NULL, site TEXT NOT NULL, gateway TEXT NOT NULL,
  action TEXT NOT NULL CHECK (action IN ('open', 'close')),
  reason TEXT NOT NULL,
  source TEXT NOT NULL CHECK (source IN ('user', 'policy')),
  requested_by TEXT NOT NULL, requested_at INTEGER NOT NULL,
  state TEXT NOT NULL,
  decided_by TEXT, decided_at INTEGER, decision_note TEXT,
  policy_approval_id INTEGER REFERENCES relay_policy_approvals (id),
  command_id TEXT
);
CREATE INDEX IF NOT EXISTS relay_requests_meter ON relay_requests (meter, state);
CREATE TABLE IF NOT EXISTS relay_commands (
  id TEXT PRIMARY KEY,
  request_id INTEGER NOT NULL REFERENCES relay_requests (id),
  payload TEXT NOT NULL,
  issued_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, ack_deadline INTEGER NOT NULL,
  state TEXT NOT NULL,
  ack_at INTEGER, ok INTEGER, observed TEXT, error TEXT
);
CREATE INDEX IF NOT EXISTS relay_commands_state ON relay_commands (state, ack_deadline);
CREATE TABLE IF NOT EXISTS relay_policy_approvals (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  scope TEXT NOT NULL, reason TEXT NOT NULL,
  granted_by TEXT NOT NULL, granted_at INTEGER NOT NULL, until INTEGER,
  revoked_by TEXT, revoked_at INTEGER, revoke_reason TEXT
);
CREATE TABLE IF NOT EXISTS line_operations (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  line TEXT NOT NULL, action TEXT NOT NULL CHECK (action IN ('cut', 'restore')),
  reason TEXT NOT NULL, at INTEGER NOT NULL,
  recorded_by TEXT NOT NULL, recorded_at INTEGER NOT NULL,
  state TEXT NOT NULL, confirmed_by TEXT, confirmed_at INTEGER, note TEXT
);
CREATE TABLE IF NOT EXISTS shift_handovers (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  from_user TEXT NOT NULL, to_user TEXT NOT NULL, notes TEXT NOT NULL, at INTEGER NOT NULL,
  open_items TEXT NOT NULL
);
`;

/** States in which a request still occupies its meter: a second one would race it. */
const OPEN_STATES = ['pending', 'approved', 'sent'];
/** A line operation dated this far ahead of the clock is a typo, not a record. */
const MAX_FUTURE_MS = 5 * 60_000;

interface RequestRow {
  id: number;
  meter: string;
  site: string;
  gateway: string;
  action: RelayAction;
  reason: string;
  source: 'user' | 'policy';
  requested_by: string;
  requested_at: number;
  state: RequestState;
  decided_by: string | null;
  decided_at: number | null;
  decision_note: string | null;
  command_id: string | null;
  observed: RelayState | null;
  error: string | null;
}

interface CommandRow {
  id: string;
  request_id: number;
  payload: string;
  state: 'issued' | 'sent' | 'acked' | 'timed_out' | 'send_failed';
}

function toRequest(r: RequestRow): RelayRequest {
  return {
    id: r.id,
    meter: r.meter,
    site: r.site,
    gateway: r.gateway,
    action: r.action,
    reason: r.reason,
    source: r.source,
    requestedBy: r.requested_by,
    requestedAt: r.requested_at,
    state: r.state,
    decidedBy: r.decided_by,
    decidedAt: r.decided_at,
    decisionNote: r.decision_note,
    commandId: r.command_id,
    observed: r.observed,
    error: r.error,
  };
}

function requireText(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.trim() === '') controlError('BAD_INPUT', `${what} is required`);
  return value.trim();
}

export class RelayControl {
  private readonly db: BackofficeDb;
  private readonly audit: AuditLog;
  private readonly clock: Clock;
  private readonly ttl: number;
  private readonly grace: number;

  constructor(private readonly opts: RelayControlOptions) {
    this.db = opts.db;
    this.audit = opts.audit;
    this.clock = opts.clock ?? Date.now;
    this.ttl = opts.commandTtlMs ?? 5 * 60_000;
    this.grace = opts.ackGraceMs ?? 30_000;
    this.db.exec(SCHEMA);
  }

  // --- Relay requests -----------------------------------------------------------------------

  /** A person asks for a cut-off (`open`) or restore (`close`); nothing moves until approved. */
  request(input: { meter: string; action: RelayAction; reason: string; requestedBy: Actor }): RelayRequest {
    assertCan(input.requestedBy, 'relay.request', 'request a relay operation');
    return this.db.transaction(() => this.insertRequest(input, 'user', input.requestedBy.id))();
  }

  /**
   * The prepaid policy asks (actor `system:prepaid-policy`). A standing approval covering it
   * approves it at once and the command goes out; otherwise it waits for a supervisor.
   */
  async requestFromPolicy(input: {
    meter: string;
    action: RelayAction;
    reason: string;
  }): Promise<RelayRequest> {
    const issued = this.db.transaction(() => {
      const req = this.insertRequest(input, 'policy', POLICY_ACTOR);
      const grant = this.activePolicyApprovals().find((g) => covers(g.scope, req));
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
      return { req, command: this.issue(req.id) };
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
      assertNotSelfApproval(req.requestedBy, approver, 'approve it');
      this.decide(req, 'approved', approver.id, note ?? null, null);
      this.audit.append({
        actor: approver.id,
        action: 'relay.approve',
        subject: `relay-request:${req.id}`,
        before: { state: 'pending' },
        after: { state: 'approved', meter: req.meter, action: req.action },
        reason: note,
      });
      return this.issue(req.id);
    })();
    await this.dispatch(command);
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
      assertNotSelfApproval(req.requestedBy, approver, 'reject it (cancel it instead)');
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

  // --- Acks and timeouts ----------------------------------------------------------------------

  /**
   * Records a gateway's ack (`campus/v1/<site>/<gateway>/<meter>/cmd/ack`). Acks for unknown
   * commands, second acks (a replay the gateway refused) and acks from the wrong gateway are
   * recorded too: they are how an attempt to move a relay outside this service shows up.
   */
  handleAck(topic: string, payload: Buffer | string): AckOutcome {
    const where = parseCommandTopic(topic);
    let json: unknown;
    try {
      json = JSON.parse(payload.toString());
    } catch {
      return { kind: 'invalid', reason: 'not JSON' };
    }
    const parsed = RelayAckSchema.safeParse(json);
    if (!where?.ack || !parsed.success) {
      return {
        kind: 'invalid',
        reason: parsed.success ? `not an ack topic: ${topic}` : parsed.error.message,
      };
    }
    const ack = parsed.data;
    const reporter = `gateway:${where.site}/${where.gateway}`;
    return this.db.transaction((): AckOutcome => {
      const cmd = this.db.prepare('SELECT * FROM relay_commands WHERE id = ?').get(ack.id) as
        CommandRow | undefined;
      if (!cmd) {
        this.audit.append({
          actor: reporter,
          action: 'relay.ack-unknown',
          subject: `meter:${ack.meter || where.meter}`,
          after: ack,
          reason: `a command this service did not issue reached the gateway${ack.error ? ` (${ack.error})` : ''}`,
        });
        return { kind: 'unknown', commandId: ack.id };
      }
      const req = this.get(cmd.request_id);
      if (req.site !== where.site || req.gateway !== where.gateway || req.meter !== where.meter) {
        this.audit.append({
          actor: reporter,
          action: 'relay.ack-mismatch',
          subject: `relay-command:${cmd.id}`,
          after: ack,
          reason: `ack on ${topic} for a command to ${req.site}/${req.gateway}/${req.meter}`,
        });
        return { kind: 'mismatch', commandId: cmd.id };
      }
      if (cmd.state === 'acked') {
        this.audit.append({
          actor: reporter,
          action: 'relay.ack-duplicate',
          subject: `relay-command:${cmd.id}`,
          after: ack,
          reason: ack.error ? `the command was received again and refused (${ack.error})` : 'second ack',
        });
        return { kind: 'duplicate', commandId: cmd.id };
      }
      const late = cmd.state === 'timed_out';
      const now = this.clock();
      this.db
        .prepare(
          `UPDATE relay_commands SET state = 'acked', ack_at = ?, ok = ?, observed = ?, error = ? WHERE id = ?`,
        )
        .run(now, ack.ok ? 1 : 0, ack.observed, ack.error ?? null, cmd.id);
      const state: RequestState = ack.ok ? 'done' : 'failed';
      this.db.prepare('UPDATE relay_requests SET state = ? WHERE id = ?').run(state, req.id);
      this.audit.append({
        actor: reporter,
        action: 'relay.ack',
        subject: `relay-request:${req.id}`,
        before: { state: req.state },
        after: { state, command: cmd.id, ok: ack.ok, observed: ack.observed, error: ack.error ?? null, late },
        reason: ack.message,
      });
      return { kind: 'recorded', requestId: req.id, ok: ack.ok, late };
    })();
  }

  /** Marks commands whose ack did not come by their deadline; returns how many. */
  checkTimeouts(): number {
    const now = this.clock();
    return this.db.transaction(() => {
      const due = this.db
        .prepare(`SELECT * FROM relay_commands WHERE state IN ('issued', 'sent') AND ack_deadline <= ?`)
        .all(now) as CommandRow[];
      for (const cmd of due) {
        this.db.prepare(`UPDATE relay_commands SET state = 'timed_out' WHERE id = ?`).run(cmd.id);
        this.db.prepare(`UPDATE relay_requests SET state = 'timed_out' WHERE id = ?`).run(cmd.request_id);
        this.audit.append({
          actor: CONTROL_ACTOR,
          action: 'relay.timeout',
          subject: `relay-request:${cmd.request_id}`,
          before: { state: 'sent' },
          after: { state: 'timed_out', command: cmd.id },
          reason: 'no ack from the gateway before the command expired; the relay state is unknown',
        });
      }
      return due.length;
    })();
  }

  /** Runs `checkTimeouts` every `intervalMs`; returns the stop function. */
  startTimeoutSweep(intervalMs = 10_000): () => void {
    const timer = setInterval(() => this.checkTimeouts(), intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  // --- Standing policy approvals --------------------------------------------------------------

  grantPolicyApproval(
    supervisor: Actor,
    input: { scope: PolicyApprovalScope; reason: string; until?: number },
  ): PolicyApproval {
    assertCan(supervisor, 'relay.policy-approval', 'grant a standing policy approval');
    if (supervisor.kind !== 'user') authFail('PERSON_REQUIRED', 'a standing approval is granted by a person');
    const reason = requireText(input.reason, 'a reason');
    const actions = input.scope.actions.map((a) => RelayActionSchema.parse(a));
    if (actions.length === 0) controlError('BAD_INPUT', 'a standing approval names at least one action');
    const scope: PolicyApprovalScope = { actions, sites: input.scope.sites, meters: input.scope.meters };
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

  // --- Power-room records -----------------------------------------------------------------------

  /** A duty operator records a line cut or restore done in the power room; a second person confirms it. */
  recordLineOperation(
    by: Actor,
    input: { line: string; action: 'cut' | 'restore'; reason: string; at: number },
  ): LineOperation {
    assertCan(by, 'lines.record', 'record a line cut or restore');
    const line = requireText(input.line, 'the line');
    const reason = requireText(input.reason, 'a reason');
    if (input.action !== 'cut' && input.action !== 'restore')
      controlError('BAD_INPUT', 'action is cut or restore');
    const now = this.clock();
    if (!Number.isInteger(input.at) || input.at > now + MAX_FUTURE_MS) {
      controlError('BAD_INPUT', 'at must be the time of the operation (UTC ms), not in the future');
    }
    return this.db.transaction(() => {
      const id = Number(
        this.db
          .prepare(
            `INSERT INTO line_operations (line, action, reason, at, recorded_by, recorded_at, state)
             VALUES (?, ?, ?, ?, ?, ?, 'unconfirmed')`,
          )
          .run(line, input.action, reason, input.at, by.id, now).lastInsertRowid,
      );
      this.audit.append({
        actor: by.id,
        action: `line.${input.action}`,
        subject: `line-operation:${id}`,
        after: { line, action: input.action, at: input.at, state: 'unconfirmed' },
        reason,
      });
      return this.lineOperation(id);
    })();
  }

  /** The second person confirms (true) or disputes (false) a line operation record. */
  confirmLineOperation(by: Actor, id: number, confirmed = true, note?: string): LineOperation {
    assertCan(by, 'lines.confirm', 'confirm a line cut or restore');
    if (!confirmed) requireText(note, 'a note saying what is wrong');
    return this.db.transaction(() => {
      const op = this.lineOperation(id);
      if (op.state !== 'unconfirmed')
        controlError('INVALID_STATE', `line operation ${id} is already ${op.state}`);
      assertNotSelfApproval(op.recordedBy, by, 'confirm it');
      const state = confirmed ? 'confirmed' : 'disputed';
      this.db
        .prepare(
          'UPDATE line_operations SET state = ?, confirmed_by = ?, confirmed_at = ?, note = ? WHERE id = ?',
        )
        .run(state, by.id, this.clock(), note ?? null, id);
      this.audit.append({
        actor: by.id,
        action: confirmed ? 'line.confirm' : 'line.dispute',
        subject: `line-operation:${id}`,
        before: { state: 'unconfirmed' },
        after: { state },
        reason: note,
      });
      return this.lineOperation(id);
    })();
  }

  /** Line operations, newest first; by state (e.g. those still waiting for a second person). */
  lineOperations(filter: { state?: LineOperation['state']; limit?: number } = {}): LineOperation[] {
    const limit = Math.min(Math.max(1, filter.limit ?? 200), 1000);
    const ids = (
      filter.state
        ? this.db
            .prepare('SELECT id FROM line_operations WHERE state = ? ORDER BY id DESC LIMIT ?')
            .all(filter.state, limit)
        : this.db.prepare('SELECT id FROM line_operations ORDER BY id DESC LIMIT ?').all(limit)
    ) as { id: number }[];
    return ids.map((r) => this.lineOperation(r.id));
  }

  lineOperation(id: number): LineOperation {
    const r = this.db.prepare('SELECT * FROM line_operations WHERE id = ?').get(id) as
      | (Omit<LineOperation, 'recordedBy' | 'recordedAt' | 'confirmedBy' | 'confirmedAt'> & {
          recorded_by: string;
          recorded_at: number;
          confirmed_by: string | null;
          confirmed_at: number | null;
        })
      | undefined;
    if (!r) controlError('NOT_FOUND', `no line operation ${id}`);
    return {
      id: r.id,
      line: r.line,
      action: r.action,
      reason: r.reason,
      at: r.at,
      recordedBy: r.recorded_by,
      recordedAt: r.recorded_at,
      state: r.state,
      confirmedBy: r.confirmed_by,
      confirmedAt: r.confirmed_at,
      note: r.note,
    };
  }

  /** Shift handover: the note, and a snapshot of what is still open, so nothing falls between shifts. */
  handover(by: Actor, to: string, notes: string): Handover {
    assertCan(by, 'handover.report', 'hand over a shift');
    const toUser = requireText(to, 'who takes over');
    if (toUser === by.id) controlError('BAD_INPUT', 'a shift is handed over to someone else');
    const text = requireText(notes, 'handover notes');
    return this.db.transaction(() => {
      const open = {
        requests: (
          this.db
            .prepare(
              `SELECT id FROM relay_requests WHERE state IN (${OPEN_STATES.map(() => '?').join(', ')}) ORDER BY id`,
            )
            .all(...OPEN_STATES) as { id: number }[]
        ).map((r) => r.id),
        lineOperations: (
          this.db.prepare(`SELECT id FROM line_operations WHERE state = 'unconfirmed' ORDER BY id`).all() as {
            id: number;
          }[]
        ).map((r) => r.id),
      };
      const at = this.clock();
      const id = Number(
        this.db
          .prepare(
            'INSERT INTO shift_handovers (from_user, to_user, notes, at, open_items) VALUES (?, ?, ?, ?, ?)',
          )
          .run(by.id, toUser, text, at, JSON.stringify(open)).lastInsertRowid,
      );
      this.audit.append({
        actor: by.id,
        action: 'shift.handover',
        subject: `handover:${id}`,
        after: { to: toUser, open },
        reason: text,
      });
      return { id, from: by.id, to: toUser, notes: text, at, open };
    })();
  }

  // --- Internals ------------------------------------------------------------------------------

  private insertRequest(
    input: { meter: string; action: RelayAction; reason: string },
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
          `INSERT INTO relay_requests (meter, site, gateway, action, reason, source, requested_by, requested_at, state)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending')`,
        )
        .run(input.meter, where.site, where.gateway, action.data, reason, source, requestedBy, now)
        .lastInsertRowid,
    );
    this.audit.append({
      actor: requestedBy,
      action: 'relay.request',
      subject: `relay-request:${id}`,
      after: { meter: input.meter, action: action.data, source, state: 'pending' },
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

function covers(scope: PolicyApprovalScope, req: RelayRequest): boolean {
  if (!scope.actions.includes(req.action)) return false;
  if (!scope.sites && !scope.meters) return true;
  return !!scope.sites?.includes(req.site) || !!scope.meters?.includes(req.meter);
}
