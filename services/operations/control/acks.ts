import type { KeyObject } from 'node:crypto';
import type { AuditLog } from '../../platform/audit/audit-log.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import {
  RelayAckSchema,
  RelayRefusalSchema,
  parseCommandTopic,
  verifyGatewayMessage,
  type RelayAck,
} from './commands.ts';
import {
  CONTROL_ACTOR,
  type AckOutcome,
  type CommandRow,
  type RelayRequest,
  type RequestState,
} from './relay-types.ts';

/** What came back on the ack topics since start, for /metrics. */
export interface AckStats {
  recorded: number;
  /** Not signed by the gateway of the topic, or altered. */
  forged: number;
  /** Messages a gateway refused as commands (bad signature, replayed, another gateway's…). */
  refusedByGateway: number;
  /** Signed acks for unknown commands, for another meter, or a second ack for one command. */
  unknown: number;
  mismatched: number;
  duplicates: number;
  invalid: number;
}

/**
 * Acknowledgements and their deadlines. An outcome is recorded only from an ack that verifies with
 * the key of the gateway its topic names, for a command this service issued to that gateway and
 * meter, with the command's own action: a forged `{ok: false}` cannot mark a request failed while
 * the relay opened, and a gateway's refusal of a copy (replayed, badly signed) is never taken for
 * the outcome of the genuine command. Everything else is audited and counted, and changes nothing.
 */
export class RelayAcks {
  private readonly counts: AckStats = {
    recorded: 0,
    forged: 0,
    refusedByGateway: 0,
    unknown: 0,
    mismatched: 0,
    duplicates: 0,
    invalid: 0,
  };

  constructor(
    private readonly db: BackofficeDb,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
    private readonly ackKeys: (site: string, gateway: string) => KeyObject | undefined,
    private readonly get: (requestId: number) => RelayRequest,
  ) {}

  stats(): AckStats {
    return { ...this.counts };
  }

  /**
   * Takes a message from `campus/v1/<site>/<gateway>/<meter>/cmd/ack`: a signed ack, a signed
   * refusal, or anything else (refused and audited).
   */
  handle(topic: string, payload: Buffer | string): AckOutcome {
    const where = parseCommandTopic(topic);
    let json: unknown;
    try {
      json = JSON.parse(payload.toString());
    } catch {
      return this.count('invalid', { kind: 'invalid', reason: 'not JSON' });
    }
    if (!where?.ack) return this.count('invalid', { kind: 'invalid', reason: `not an ack topic: ${topic}` });
    const reporter = `gateway:${where.site}/${where.gateway}`;
    const key = this.ackKeys(where.site, where.gateway);

    const refusal = RelayRefusalSchema.safeParse(json);
    if (refusal.success) {
      const r = refusal.data;
      if (!key || r.site !== where.site || r.gateway !== where.gateway || !verifyGatewayMessage(r, key)) {
        return this.forged(
          reporter,
          topic,
          json,
          key ? 'refusal signature does not verify' : 'no key for this gateway',
        );
      }
      this.db.transaction(() =>
        this.audit.append({
          actor: reporter,
          action: 'relay.command-refused',
          subject: `meter:${where.meter}`,
          after: { claimedId: r.claimedId, error: r.error },
          reason: r.message,
        }),
      )();
      return this.count('refusedByGateway', { kind: 'refused', claimedId: r.claimedId, error: r.error });
    }

    const parsed = RelayAckSchema.safeParse(json);
    if (!parsed.success) {
      // An ack in the old, unsigned form, or anything else: nobody's outcome.
      return this.forged(reporter, topic, json, `not a signed ack: ${parsed.error.issues[0]?.message ?? ''}`);
    }
    const ack = parsed.data;
    if (!key) return this.forged(reporter, topic, ack, 'no ack key for this gateway');
    if (ack.site !== where.site || ack.gateway !== where.gateway || ack.meter !== where.meter) {
      return this.forged(reporter, topic, ack, `ack for ${ack.site}/${ack.gateway}/${ack.meter} on ${topic}`);
    }
    if (!verifyGatewayMessage(ack, key)) {
      return this.forged(reporter, topic, ack, 'the signature does not verify with the gateway key');
    }
    return this.record(ack, reporter, topic);
  }

  private record(ack: RelayAck, reporter: string, topic: string): AckOutcome {
    const { sig: _sig, ...shown } = ack;
    return this.db.transaction((): AckOutcome => {
      const cmd = this.db.prepare('SELECT * FROM relay_commands WHERE id = ?').get(ack.id) as
        CommandRow | undefined;
      if (!cmd) {
        this.audit.append({
          actor: reporter,
          action: 'relay.ack-unknown',
          subject: `meter:${ack.meter}`,
          after: shown,
          reason: `a command this service did not issue reached the gateway${ack.error ? ` (${ack.error})` : ''}`,
        });
        return this.count('unknown', { kind: 'unknown', commandId: ack.id });
      }
      const req = this.get(cmd.request_id);
      if (
        req.site !== ack.site ||
        req.gateway !== ack.gateway ||
        req.meter !== ack.meter ||
        req.action !== ack.action
      ) {
        this.audit.append({
          actor: reporter,
          action: 'relay.ack-mismatch',
          subject: `relay-command:${cmd.id}`,
          after: shown,
          reason: `ack on ${topic} (${ack.action}) for a command to ${req.site}/${req.gateway}/${req.meter} (${req.action})`,
        });
        return this.count('mismatched', { kind: 'mismatch', commandId: cmd.id });
      }
      if (cmd.state === 'acked') {
        this.audit.append({
          actor: reporter,
          action: 'relay.ack-duplicate',
          subject: `relay-command:${cmd.id}`,
          after: shown,
          reason: ack.error ? `a second outcome (${ack.error})` : 'second ack',
        });
        return this.count('duplicates', { kind: 'duplicate', commandId: cmd.id });
      }
      const late = cmd.state === 'timed_out';
      const now = this.clock();
      this.db
        .prepare(
          `UPDATE relay_commands SET state = 'acked', ack_at = ?, ok = ?, observed = ?, error = ? WHERE id = ?`,
        )
        .run(now, ack.ok ? 1 : 0, ack.observed, ack.error ?? null, cmd.id);
      // Armed is its own outcome: the meter allows closing, the customer closes it; never done, never failed.
      const state: RequestState = ack.ok ? 'done' : ack.armed ? 'armed' : 'failed';
      this.db.prepare('UPDATE relay_requests SET state = ? WHERE id = ?').run(state, req.id);
      this.audit.append({
        actor: reporter,
        action: 'relay.ack',
        subject: `relay-request:${req.id}`,
        before: { state: req.state },
        after: {
          state,
          command: cmd.id,
          ok: ack.ok,
          ...(ack.armed ? { armed: true } : {}),
          observed: ack.observed,
          error: ack.error ?? null,
          late,
        },
        reason: ack.message,
      });
      return this.count('recorded', {
        kind: 'recorded',
        requestId: req.id,
        ok: ack.ok,
        late,
        ...(ack.armed ? { armed: true as const } : {}),
      });
    })();
  }

  private forged(reporter: string, topic: string, message: unknown, reason: string): AckOutcome {
    this.db.transaction(() =>
      this.audit.append({
        actor: 'system:control',
        action: 'relay.ack-forged',
        subject: `topic:${topic.slice(0, 200)}`,
        after: { claimedReporter: reporter, message: JSON.stringify(message).slice(0, 2000) },
        reason,
      }),
    )();
    return this.count('forged', { kind: 'forged', reason });
  }

  private count<T extends AckOutcome>(what: keyof AckStats, outcome: T): T {
    this.counts[what]++;
    return outcome;
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
}
