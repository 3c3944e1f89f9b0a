import type { AuditLog } from '../../platform/audit/audit-log.ts';
import { assertCan, assertNotSelfApproval } from '../../platform/auth/duties.ts';
import type { Actor } from '../../platform/auth/roles.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import type { CampusTree } from '../../metering/live/types.ts';
import { applicantOf, assertMeterOfKind, required, same, type ApplicantInput } from './application-input.ts';
import { heatingError } from './errors.ts';
import type { ElectricHeatingRecord, ElectricHeatingState, ElectricRegistration } from './types.ts';

/**
 * Units heated by electricity, as the heating desk registers them: a building or flat without
 * district heat (or with its own electric heating) pays the electric-heating tariff, and detection
 * does not alert on its electricity following the cold — from the day it was registered on, and
 * only while the record lasts. Because that silences an alert, the record is an act someone
 * answers for: the clerk who recorded it, when, for whom and why, in the audit log; it takes
 * effect no earlier than it was recorded (a back-dated registration would excuse heating used
 * before it); the clerk may not register a unit for themselves, nor one whose electric-heating
 * alert an inspector has not decided yet; ending it is recorded the same way.
 *
 * Registering is a proposal by a desk clerk and an approval by a second, independent person: one
 * clerk alone could otherwise hide a friend's illegal heater from detection. The second person is
 * a supervisor (`heating.electric-approve`), not an inspector: the rulebook gives every act that
 * needs a second person (free quota, cut-offs, edits, refunds, tariffs) to the department's
 * supervisor, the registration also puts the unit on the electric-heating tariff, which is no
 * inspector's to grant, and an inspector who approved it would be excusing the very findings they
 * are to judge. The approver is neither the proposer nor linked to them (assertNotSelfApproval:
 * not an account either made, nor two accounts one administrator made), nor the applicant. Until
 * approved nothing changes for detection; approved, the record is in force from its `from` or the
 * approval, whichever is later (a late approval never excuses the days before it). A proposal can
 * be refused by a supervisor or withdrawn by the desk; both are kept and audited. Ending an
 * approved record takes one person: it gives detection the unit back, it silences nothing.
 *
 * Records written before proposals existed (no `state` in their data) were one person's act: they
 * read as proposals waiting for a second person, so no registration keeps silencing detection on
 * one person's word; the desk page lists them for a supervisor's approval.
 */

const SCHEMA = `
CREATE TABLE IF NOT EXISTS heating_electric (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  meter TEXT NOT NULL,
  data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS heating_electric_meter ON heating_electric (meter);
`;

/** How far ahead a registration may be recorded to start (next season's tariff, not next decade's). */
const MAX_AHEAD_MS = 366 * 86_400_000;

const AUDIT_ACTION = {
  approved: 'heating.electric-approved',
  refused: 'heating.electric-refused',
  withdrawn: 'heating.electric-withdrawn',
} as const;

/** A proposal or an approved record not ended by `from`: a second record over it is refused. */
const overlaps = (r: ElectricHeatingRecord, from: number) =>
  (r.state === 'proposed' || r.state === 'approved') && (r.ended === null || r.ended.at > from);

export interface ElectricHeatingDeps {
  db: BackofficeDb;
  audit: AuditLog;
  clock: Clock;
  tree: CampusTree;
  /**
   * The unit's electric-heating alerts no inspector has decided yet (from the inspectors' alert
   * store, handed over by the composition root: operations may not import inspection).
   */
  undecidedAlerts?: (meter: string) => readonly { id: number; since: number }[];
}

export interface RegisterElectricInput extends ApplicantInput {
  meter: string;
  /** UTC ms; absent: now. */
  from?: number | undefined;
}

export class ElectricHeating {
  constructor(private readonly d: ElectricHeatingDeps) {
    d.db.exec(SCHEMA);
  }

  register(actor: Actor, input: RegisterElectricInput): ElectricHeatingRecord {
    assertCan(actor, 'heating.apply', 'register electric heating');
    assertMeterOfKind(this.d.tree, input.meter, 'electricity');
    const { name, staffId } = applicantOf(input);
    const reason = required(input.reason, 'the reason (tariff or contract)');
    if (same(staffId, actor.id))
      heatingError('NOT_INDEPENDENT', `${actor.id} may not register electric heating for themselves`);
    const now = this.d.clock();
    const from = input.from ?? now;
    if (!Number.isSafeInteger(from) || from < now || from > now + MAX_AHEAD_MS)
      heatingError(
        'INVALID_TIME',
        `electric heating registered from ${Number.isSafeInteger(from) ? new Date(from).toISOString() : String(from)}: it takes effect no earlier than it is recorded (${new Date(now).toISOString()}) and within a year`,
      );
    const clash = this.forMeter(input.meter).find((r) => overlaps(r, from));
    if (clash)
      heatingError(
        'ELECTRIC_REGISTERED',
        `${input.meter} is registered heated electrically by ${clash.number} from ${new Date(clash.from).toISOString()}${clash.ended ? ` until ${new Date(clash.ended.at).toISOString()}` : ''}`,
      );
    // Registered, the unit's heater is no longer a finding and its alert would close by itself:
    // an alert an inspector is working on is decided first (the heat used before is theirs to judge).
    const alert = this.d.undecidedAlerts?.(input.meter)[0];
    if (alert)
      heatingError(
        'ELECTRIC_ALERT_OPEN',
        `${input.meter} has electric-heating alert ${alert.id} (since ${new Date(alert.since).toISOString()}) not yet decided by an inspector`,
      );
    const rec: Omit<ElectricHeatingRecord, 'id' | 'number'> = {
      ...{ meter: input.meter, applicant: { name, staffId }, reason, from },
      ...{ recordedBy: actor.id, recordedAt: now, state: 'proposed' as const, decision: null },
      ...{ inForceFrom: null, ended: null },
    };
    return this.d.db.transaction(() => {
      const id = Number(
        this.d.db
          .prepare('INSERT INTO heating_electric (meter, data) VALUES (?, ?)')
          .run(input.meter, JSON.stringify(rec)).lastInsertRowid,
      );
      this.d.audit.append({
        actor: actor.id,
        action: 'heating.electric-proposed',
        subject: `heating-unit:${input.meter}`,
        after: { record: `EH-${id}`, ...rec },
      });
      return this.get(id);
    })();
  }

  /** Ends a registration now (one not yet in force is withdrawn): detection judges the unit again. */
  end(actor: Actor, id: number, reason: string): ElectricHeatingRecord {
    assertCan(actor, 'heating.apply', 'end an electric heating registration');
    const r = this.get(id);
    if (r.ended) heatingError('ELECTRIC_REGISTERED', `${r.number} ended already`);
    if (r.state !== 'approved')
      heatingError('ELECTRIC_STATE', `${r.number} is ${r.state}, not approved: withdraw a proposal instead`);
    const why = required(reason, 'the reason for ending it');
    const ended = { at: this.d.clock(), by: actor.id, reason: why };
    return this.d.db.transaction(() => {
      this.swap(r, { ended });
      this.d.audit.append({
        actor: actor.id,
        action: 'heating.electric-ended',
        subject: `heating-unit:${r.meter}`,
        before: { record: r.number, from: r.from },
        after: { ended },
      });
      return this.get(id);
    })();
  }

  /**
   * A second person approves a proposal: from then on (or its `from`, if later) detection leaves
   * the unit's electricity out. Refused unless independent of the proposer and not the applicant;
   * refused again while the unit has an undecided electric-heating alert or another record over it.
   */
  approve(actor: Actor, id: number, reason?: string): ElectricHeatingRecord {
    assertCan(actor, 'heating.electric-approve', 'approve electric heating');
    const r = this.proposal(id);
    const now = this.d.clock();
    assertNotSelfApproval(r.recordedBy, actor, `approve electric heating ${r.number}`, {
      db: this.d.db,
      now,
    });
    if (same(r.applicant.staffId, actor.id))
      heatingError('NOT_INDEPENDENT', `${actor.id} is the applicant of ${r.number} and may not approve it`);
    const alert = this.d.undecidedAlerts?.(r.meter)[0];
    if (alert)
      heatingError(
        'ELECTRIC_ALERT_OPEN',
        `${r.meter} has electric-heating alert ${alert.id} (since ${new Date(alert.since).toISOString()}) not yet decided by an inspector`,
      );
    const inForceFrom = Math.max(r.from, now);
    const clash = this.forMeter(r.meter).find((o) => o.id !== r.id && overlaps(o, inForceFrom));
    if (clash)
      heatingError('ELECTRIC_REGISTERED', `${r.meter} is registered heated electrically by ${clash.number}`);
    return this.decide(actor, r, 'approved', reason, { inForceFrom });
  }

  /** A supervisor refuses a proposal, with the reason: kept and audited, never in force. */
  refuse(actor: Actor, id: number, reason: string): ElectricHeatingRecord {
    assertCan(actor, 'heating.electric-approve', 'refuse electric heating');
    const r = this.proposal(id);
    // The proposer takes their own back by withdrawing it; a refusal is the second person's word.
    assertNotSelfApproval(r.recordedBy, actor, `refuse electric heating ${r.number}`, {
      db: this.d.db,
      now: this.d.clock(),
    });
    return this.decide(actor, r, 'refused', required(reason, 'the reason for refusing it'));
  }

  /** The desk withdraws a proposal (the household changed its mind, a wrong meter): kept and audited. */
  withdraw(actor: Actor, id: number, reason: string): ElectricHeatingRecord {
    assertCan(actor, 'heating.apply', 'withdraw an electric heating proposal');
    const r = this.proposal(id);
    return this.decide(actor, r, 'withdrawn', required(reason, 'the reason for withdrawing it'));
  }

  get(id: number): ElectricHeatingRecord {
    const row = this.d.db.prepare('SELECT id, data FROM heating_electric WHERE id = ?').get(id) as
      { id: number; data: string } | undefined;
    if (!row) heatingError('ELECTRIC_NOT_FOUND', `no electric heating record ${id}`);
    const data = JSON.parse(row.data) as Partial<ElectricHeatingRecord>;
    return {
      id: row.id,
      number: `EH-${row.id}`,
      // Written before proposals existed: a proposal waiting for its second person (see above).
      ...{ state: 'proposed', decision: null, inForceFrom: null },
      ...(data as Omit<ElectricHeatingRecord, 'id' | 'number'>),
    };
  }

  /** Every record, newest first. */
  list(): ElectricHeatingRecord[] {
    const ids = this.d.db
      .prepare('SELECT id FROM heating_electric ORDER BY id DESC')
      .pluck()
      .all() as number[];
    return ids.map((id) => this.get(id));
  }

  /** What detection reads: each approved record as a registration of the meter heated electrically. */
  registrations(): ElectricRegistration[] {
    return this.list()
      .reverse()
      .filter((r) => r.state === 'approved' && r.inForceFrom !== null)
      .map((r) => {
        const from = r.inForceFrom!;
        return {
          ...{ meter: r.meter, electricityMeter: r.meter, state: 'on' as const, from },
          // Ended before it took effect: an empty span, never in force.
          ...(r.ended ? { to: Math.max(r.ended.at, from) } : {}),
          ...{ workOrder: r.number, confirmedBy: [r.recordedBy, r.decision!.by] },
        };
      });
  }

  private proposal(id: number): ElectricHeatingRecord {
    const r = this.get(id);
    if (r.state !== 'proposed') heatingError('ELECTRIC_STATE', `${r.number} is ${r.state}, not a proposal`);
    return r;
  }

  private decide(
    actor: Actor,
    r: ElectricHeatingRecord,
    state: Exclude<ElectricHeatingState, 'proposed'>,
    reason: string | undefined,
    extra: { inForceFrom?: number } = {},
  ): ElectricHeatingRecord {
    const decision = { by: actor.id, at: this.d.clock(), reason: reason?.trim() || null };
    return this.d.db
      .transaction(() => {
        this.swap(r, { state, decision, ...extra });
        this.d.audit.append({
          actor: actor.id,
          action: AUDIT_ACTION[state],
          subject: `heating-unit:${r.meter}`,
          before: { record: r.number, state: r.state, recordedBy: r.recordedBy },
          after: { state, decision, ...extra },
        });
        return this.get(r.id);
      })
      .immediate();
  }

  /** Writes `change` over `r` only if the row is still what `r` was read as (a concurrent decision loses). */
  private swap(r: ElectricHeatingRecord, change: Partial<ElectricHeatingRecord>): void {
    const row = this.d.db
      .prepare('SELECT data FROM heating_electric WHERE id = ?')
      .pluck()
      .get(r.id) as string;
    const { id: _id, number: _n, ...current } = this.get(r.id);
    const { id: _i, number: _m, ...seen } = r;
    if (JSON.stringify(current) !== JSON.stringify(seen))
      heatingError('ELECTRIC_STATE', `${r.number} changed meanwhile`);
    const changed = this.d.db
      .prepare('UPDATE heating_electric SET data = ? WHERE id = ? AND data = ?')
      .run(JSON.stringify({ ...current, ...change }), r.id, row).changes;
    if (changed !== 1) heatingError('ELECTRIC_STATE', `${r.number} changed meanwhile`);
  }

  private forMeter(meter: string): ElectricHeatingRecord[] {
    const ids = this.d.db
      .prepare('SELECT id FROM heating_electric WHERE meter = ?')
      .pluck()
      .all(meter) as number[];
    return ids.map((id) => this.get(id));
  }
}
