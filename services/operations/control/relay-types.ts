import type { KeyObject } from 'node:crypto';
import type { LoadedCampus } from '../../../config/campus.ts';
import type { AuditLog } from '../../platform/audit/audit-log.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import type { RelayAction, RelayState, SignedRelayCommand } from './commands.ts';
import { controlError } from './errors.ts';
import { profileCanSwitch } from '../../../config/field-profiles.ts';

/**
 * What relay control keeps and returns: requests, commands, standing approvals, line operations
 * and handovers, their tables and rows. The behaviour is in relay-control.ts (requests and
 * commands), acks.ts, policy-approvals.ts and line-operations.ts.
 */

export const POLICY_ACTOR = 'system:prepaid-policy';
export const CONTROL_ACTOR = 'system:control';

export type RequestState =
  | 'pending'
  | 'rejected'
  | 'cancelled'
  | 'approved'
  | 'sent'
  | 'done'
  /** A restore the meter took as permission only (DL/T 645 allow closing): the customer closes it. */
  | 'armed'
  | 'failed'
  | 'timed_out'
  /** An approved restore that released its reason while others still hold the relay open: no command. */
  | 'held';

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
  /**
   * Why the relay is to be open (relay-holds.ts): the reason an open request adds, or a
   * policy restore releases; null for a person's restore (which releases every reason but credit).
   */
  hold: string | null;
  /** The standing policy version a schedule or limit request acts under (`<subject>@<sha256>`). */
  basis: string | null;
  /** From the gateway's ack: the relay state read back, and the refusal code if not ok. */
  observed: RelayState | null;
  error: string | null;
}

export interface PolicyApprovalScope {
  actions: RelayAction[];
  /** Absent with `meters` absent: the whole campus. */
  sites?: string[];
  meters?: string[];
  /**
   * The open reasons (relay-holds.ts) it approves requests for. Absent: `credit` and `policy`
   * only (the prepaid policy and the automatic illegal-load trip), so that a grant made for
   * prepaid never approves a schedule or a power limit.
   */
  holds?: string[];
  /**
   * The exact version of the standing policy approved (`schedule:<id>@<sha256>`): a request made
   * under any other version, e.g. the schedule edited after approval, is not covered.
   */
  basis?: string;
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
  | { kind: 'recorded'; requestId: number; ok: boolean; late: boolean; armed?: true }
  | { kind: 'duplicate' | 'mismatch'; commandId: string }
  | { kind: 'unknown'; commandId: string }
  /** A gateway's refusal of a message it could not trust as a command: audited, changes nothing. */
  | { kind: 'refused'; claimedId: string; error: string }
  /** Not signed by the gateway of its topic, or altered: audited and counted, changes nothing. */
  | { kind: 'forged'; reason: string }
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
            hasRelay: profileCanSwitch(campus, m.profile),
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
  /**
   * Why a meter's relay may not be closed now (its account is out of credit), or null. Given by
   * the composition root from the prepaid accounts, which this group may not import; every
   * restore, a person's or an automatic one, is refused while it says so.
   */
  closeVeto?: (meter: string) => string | null;
  /** How long a command is valid (default 5 min). */
  commandTtlMs?: number;
  /** How long after a command expired its ack is still waited for (default 30 s). */
  ackGraceMs?: number;
  /**
   * Each gateway's public key for its acks (`gatewayAckKeys`). An ack that does not verify with
   * the key of the gateway named by its topic is refused: nobody else's message, not even the
   * broker's or another gateway's, can record an outcome.
   */
  ackKeys: (site: string, gateway: string) => KeyObject | undefined;
}

export const RELAY_SCHEMA = `
CREATE TABLE IF NOT EXISTS relay_requests (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  meter TEXT NOT NULL, site TEXT NOT NULL, gateway TEXT NOT NULL,
  action TEXT NOT NULL CHECK (action IN ('open', 'close')),
  reason TEXT NOT NULL,
  source TEXT NOT NULL CHECK (source IN ('user', 'policy')),
  requested_by TEXT NOT NULL, requested_at INTEGER NOT NULL,
  state TEXT NOT NULL,
  hold TEXT, basis TEXT,
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

/** Columns added after the first release: a database made before them gets them at start. */
export const RELAY_MIGRATIONS: readonly { table: string; column: string; ddl: string }[] = [
  { table: 'relay_requests', column: 'hold', ddl: 'ALTER TABLE relay_requests ADD COLUMN hold TEXT' },
  { table: 'relay_requests', column: 'basis', ddl: 'ALTER TABLE relay_requests ADD COLUMN basis TEXT' },
];

export function migrateRelaySchema(db: BackofficeDb): void {
  for (const m of RELAY_MIGRATIONS) {
    const cols = db.prepare(`PRAGMA table_info(${m.table})`).all() as { name: string }[];
    if (!cols.some((c) => c.name === m.column)) db.exec(m.ddl);
  }
}

/** States in which a request still occupies its meter: a second one would race it. */
export const OPEN_STATES = ['pending', 'approved', 'sent'];
/** A line operation dated this far ahead of the clock is a typo, not a record. */
export const MAX_FUTURE_MS = 5 * 60_000;

export interface RequestRow {
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
  hold: string | null;
  basis: string | null;
  observed: RelayState | null;
  error: string | null;
}

export interface CommandRow {
  id: string;
  request_id: number;
  payload: string;
  state: 'issued' | 'sent' | 'acked' | 'timed_out' | 'send_failed';
}

export function toRequest(r: RequestRow): RelayRequest {
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
    hold: r.hold ?? null,
    basis: r.basis ?? null,
    observed: r.observed,
    error: r.error,
  };
}

export function requireText(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.trim() === '') controlError('BAD_INPUT', `${what} is required`);
  return value.trim();
}
