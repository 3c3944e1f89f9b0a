import type { AuditLog } from '../../platform/audit/audit-log.ts';
import { assertCan } from '../../platform/auth/duties.ts';
import type { Actor } from '../../platform/auth/roles.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import type { CampusTree } from '../../metering/live/types.ts';
import { heatingError } from './errors.ts';
import type { ElectricHeatingRecord, ElectricRegistration } from './types.ts';

/**
 * Units heated by electricity, as the heating desk registers them: a building or flat without
 * district heat (or with its own electric heating) pays the electric-heating tariff, and detection
 * does not alert on its electricity following the cold — from the day it was registered on, and
 * only while the record lasts. Because that silences an alert, the record is an act someone
 * answers for: the clerk who recorded it, when, for whom and why, in the audit log; it takes
 * effect no earlier than it was recorded (a back-dated registration would excuse heating used
 * before it); the clerk may not register a unit for themselves, nor one whose electric-heating
 * alert an inspector has not decided yet; ending it is recorded the same way.
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

const same = (a: string | null | undefined, b: string) =>
  !!a && a.trim().toLowerCase() === b.trim().toLowerCase();

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

export interface RegisterElectricInput {
  meter: string;
  applicant: string;
  applicantStaffId?: string | undefined;
  reason: string;
  /** UTC ms; absent: now. */
  from?: number | undefined;
}

export class ElectricHeating {
  constructor(private readonly d: ElectricHeatingDeps) {
    d.db.exec(SCHEMA);
  }

  register(actor: Actor, input: RegisterElectricInput): ElectricHeatingRecord {
    assertCan(actor, 'heating.apply', 'register electric heating');
    const node = this.d.tree.nodes[input.meter];
    if (!node || node.kind !== 'electricity')
      heatingError('INVALID_APPLICATION', `${input.meter} is not an electricity meter of the campus`);
    const name = input.applicant.trim();
    if (!name) heatingError('INVALID_APPLICATION', 'the applicant is missing');
    const reason = input.reason.trim();
    if (!reason) heatingError('INVALID_APPLICATION', 'the reason (tariff or contract) is missing');
    const staffId = input.applicantStaffId?.trim() || null;
    if (same(staffId, actor.id))
      heatingError('NOT_INDEPENDENT', `${actor.id} may not register electric heating for themselves`);
    const now = this.d.clock();
    const from = input.from ?? now;
    if (!Number.isSafeInteger(from) || from < now || from > now + MAX_AHEAD_MS)
      heatingError(
        'INVALID_TIME',
        `electric heating registered from ${Number.isSafeInteger(from) ? new Date(from).toISOString() : String(from)}: it takes effect no earlier than it is recorded (${new Date(now).toISOString()}) and within a year`,
      );
    const clash = this.forMeter(input.meter).find((r) => r.ended === null || r.ended.at > from);
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
      ...{ recordedBy: actor.id, recordedAt: now, ended: null },
    };
    return this.d.db.transaction(() => {
      const id = Number(
        this.d.db
          .prepare('INSERT INTO heating_electric (meter, data) VALUES (?, ?)')
          .run(input.meter, JSON.stringify(rec)).lastInsertRowid,
      );
      this.d.audit.append({
        actor: actor.id,
        action: 'heating.electric-registered',
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
    const why = reason.trim();
    if (!why) heatingError('INVALID_APPLICATION', 'the reason for ending it is missing');
    const ended = { at: this.d.clock(), by: actor.id, reason: why };
    const { id: _id, number: _n, ...before } = r;
    return this.d.db.transaction(() => {
      const changed = this.d.db
        .prepare('UPDATE heating_electric SET data = ? WHERE id = ? AND data = ?')
        .run(JSON.stringify({ ...before, ended }), id, JSON.stringify(before)).changes;
      if (changed !== 1) heatingError('ELECTRIC_REGISTERED', `${r.number} changed meanwhile`);
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

  get(id: number): ElectricHeatingRecord {
    const row = this.d.db.prepare('SELECT id, data FROM heating_electric WHERE id = ?').get(id) as
      { id: number; data: string } | undefined;
    if (!row) heatingError('ELECTRIC_NOT_FOUND', `no electric heating record ${id}`);
    return {
      id: row.id,
      number: `EH-${row.id}`,
      ...(JSON.parse(row.data) as Omit<ElectricHeatingRecord, 'id' | 'number'>),
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

  /** What detection reads: each record as a registration of the meter heated electrically. */
  registrations(): ElectricRegistration[] {
    return this.list()
      .reverse()
      .map((r) => ({
        ...{ meter: r.meter, electricityMeter: r.meter, state: 'on' as const, from: r.from },
        // Withdrawn before it took effect: an empty span, never in force.
        ...(r.ended ? { to: Math.max(r.ended.at, r.from) } : {}),
        ...{ workOrder: r.number, confirmedBy: [r.recordedBy] },
      }));
  }

  private forMeter(meter: string): ElectricHeatingRecord[] {
    const ids = this.d.db
      .prepare('SELECT id FROM heating_electric WHERE meter = ?')
      .pluck()
      .all(meter) as number[];
    return ids.map((id) => this.get(id));
  }
}
