import type { AuditLog } from '../../platform/audit/audit-log.ts';
import { assertCan } from '../../platform/auth/duties.ts';
import { assertIndependent } from '../../platform/auth/independence.ts';
import type { Actor } from '../../platform/auth/roles.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import type { CampusTree } from '../../metering/live/types.ts';
import { applicantOf, assertMeterOfKind, required, same, type ApplicantInput } from './application-input.ts';
import { heatingError } from './errors.ts';
import {
  STOP_SIGNATURES,
  type HeatingApplication,
  type HeatingFeeGate,
  type HeatingKind,
  type StoppedRegistration,
} from './types.ts';

/**
 * The heating service desk (DOMAIN.md "Heating start/stop"). Start: the household applies at the
 * desk, paying first unless on the payroll (the application waits until collection has the fee
 * paid); a work order goes to named maintenance staff; one of them opens the valve; the household
 * signs. Stop: the application, the work order, the valve locked (with its seal) and signed by at
 * least two distinct maintenance staff of the crew — never the applicant, never the desk clerk who
 * handled it — then reported to the inspection department. The signed stop, and nothing else, is
 * what registers a unit "stopped" for detection; a later start ends that registration when its
 * valve is opened. Every step is one row change and one audit entry in a transaction.
 */

const SCHEMA = `
CREATE TABLE IF NOT EXISTS heating_applications (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  unit TEXT NOT NULL,
  data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS heating_applications_unit ON heating_applications (unit);
`;

const OPEN_STATES = new Set(['awaiting-payment', 'accepted', 'dispatched', 'valve-done']);

export interface HeatingDeskDeps {
  db: BackofficeDb;
  audit: AuditLog;
  clock: Clock;
  tree: CampusTree;
  fees: HeatingFeeGate;
}

export interface ApplyInput extends ApplicantInput {
  kind: HeatingKind;
  unit: string;
}

export class HeatingDesk {
  constructor(private readonly d: HeatingDeskDeps) {
    d.db.exec(SCHEMA);
  }

  /** Records a household's start or stop application; a start's fee is looked up at once. */
  apply(actor: Actor, input: ApplyInput): HeatingApplication {
    assertCan(actor, 'heating.apply', 'record a heating application');
    assertMeterOfKind(this.d.tree, input.unit, 'heat');
    const applicant = applicantOf(input);
    const reason = required(input.reason, 'the reason');
    const now = this.d.clock();
    const open = this.forUnit(input.unit).find((a) => OPEN_STATES.has(a.state));
    if (open)
      heatingError(
        'APPLICATION_OPEN',
        `${input.unit} has application ${open.number} (${open.kind}, ${open.state})`,
      );
    if (input.kind === 'stop' && this.stoppedAt(input.unit, now))
      heatingError('INVALID_APPLICATION', `${input.unit} is already registered stopped`);
    const fee = this.d.fees.status(input.unit, now);
    const paysFirst = input.kind === 'start' && fee.state !== 'payroll' && fee.state !== 'paid';
    const a: Omit<HeatingApplication, 'id' | 'number'> = {
      ...{ kind: input.kind, unit: input.unit, reason },
      applicant: { ...applicant, account: fee.account },
      state: paysFirst ? 'awaiting-payment' : 'accepted',
      ...{ recordedBy: actor.id, recordedAt: now },
      fee: input.kind === 'start' ? { ...pickFee(fee), checkedAt: now } : null,
      ...{ order: null, valve: null, signatures: [], household: null, reportedAt: null, cancelled: null },
    };
    return this.d.db.transaction(() => {
      const id = Number(
        this.d.db
          .prepare('INSERT INTO heating_applications (unit, data) VALUES (?, ?)')
          .run(input.unit, JSON.stringify(a)).lastInsertRowid,
      );
      this.d.audit.append({
        actor: actor.id,
        action: `heating.apply-${a.kind}`,
        subject: `heating:${id}`,
        after: a,
      });
      return this.get(id);
    })();
  }

  /**
   * Sends the work order to named maintenance staff (two at least for a stop, who will sign it). A
   * start still waiting for its fee is looked up again: a fee paid since lets it go.
   */
  dispatch(actor: Actor, id: number, crew: readonly string[]): HeatingApplication {
    assertCan(actor, 'heating.apply', 'dispatch a heating work order');
    let a = this.get(id);
    if (a.state === 'awaiting-payment') a = this.recheckFee(actor, a);
    if (a.state !== 'accepted') heatingError('APPLICATION_STATE', `${a.number} is ${a.state}, not accepted`);
    const names = [...new Set(crew.map((c) => c.trim().toLowerCase()).filter(Boolean))];
    const needed = a.kind === 'stop' ? STOP_SIGNATURES : 1;
    if (names.length < needed)
      heatingError(
        'INVALID_APPLICATION',
        `a ${a.kind} work order needs ${needed} distinct maintenance staff`,
      );
    for (const n of names)
      if (same(a.applicant.staffId, n) || same(a.recordedBy, n) || same(actor.id, n))
        heatingError('NOT_INDEPENDENT', `${n} applied for or handled ${a.number} and may not be on its crew`);
    const order = {
      number: `WO-H-${a.id}`,
      dispatchedBy: actor.id,
      dispatchedAt: this.d.clock(),
      crew: names,
    };
    return this.update(a, { state: 'dispatched', order }, actor, 'heating.dispatch');
  }

  /** Maintenance records the valve opened (start) or locked (stop) on site, at `at`. */
  valve(
    actor: Actor,
    id: number,
    input: { at: number; seal?: string | undefined; note?: string | undefined },
  ) {
    assertCan(actor, 'heating.work', 'record a heating valve');
    const a = this.get(id);
    if (a.state !== 'dispatched')
      heatingError('APPLICATION_STATE', `${a.number} is ${a.state}, not dispatched`);
    this.assertCrew(a, actor);
    const now = this.d.clock();
    if (!Number.isSafeInteger(input.at) || input.at > now || input.at < a.order!.dispatchedAt)
      heatingError(
        'INVALID_TIME',
        `the valve time ${new Date(input.at).toISOString()} is not between the dispatch (${new Date(a.order!.dispatchedAt).toISOString()}) and now`,
      );
    const seal = input.seal?.trim() || null;
    if (a.kind === 'stop' && !seal)
      heatingError('INVALID_APPLICATION', 'a locked valve needs its seal number');
    this.assertSigner(a, actor);
    const valve = {
      ...{ action: a.kind === 'start' ? ('opened' as const) : ('locked' as const), at: input.at },
      ...{ by: actor.id, recordedAt: now, seal, note: input.note?.trim() || null },
    };
    // Whoever locked the valve is the stop's first signature.
    const signatures = a.kind === 'stop' ? [{ by: actor.id, at: now }] : [];
    return this.update(a, { state: 'valve-done', valve, signatures }, actor, `heating.valve-${valve.action}`);
  }

  /** A second (third…) maintenance person of the crew signs the locked stop; the stop is then reported. */
  sign(actor: Actor, id: number): HeatingApplication {
    assertCan(actor, 'heating.work', 'sign a heating stop');
    const a = this.get(id);
    if (a.kind !== 'stop' || (a.state !== 'valve-done' && a.state !== 'stopped'))
      heatingError(
        'APPLICATION_STATE',
        `${a.number} is a ${a.kind} at ${a.state}: there is no locked stop to sign`,
      );
    this.assertCrew(a, actor);
    this.assertSigner(a, actor);
    const now = this.d.clock();
    for (const s of a.signatures) {
      if (same(s.by, actor.id)) heatingError('NOT_INDEPENDENT', `${actor.id} has signed ${a.number} already`);
      assertIndependent(this.d.db, s.by, actor, `sign heating stop ${a.number}`, now);
    }
    const signatures = [...a.signatures, { by: actor.id, at: now }];
    const done = signatures.length >= STOP_SIGNATURES && a.reportedAt === null;
    // The signature and the report to inspection commit together: a crash leaves both or neither.
    return this.d.db.transaction(() => {
      const next = this.update(
        a,
        { signatures, ...(done ? { state: 'stopped' as const, reportedAt: now } : {}) },
        actor,
        'heating.sign-stop',
      );
      if (done)
        this.d.audit.append({
          actor: actor.id,
          action: 'heating.stop-reported',
          subject: `heating-unit:${a.unit}`,
          after: {
            application: a.number,
            from: a.valve!.at,
            seal: a.valve!.seal,
            signedBy: signatures.map((s) => s.by),
          },
        });
      return next;
    })();
  }

  /** The household signs for a start (recorded by the maintenance person who saw it). */
  householdSigned(actor: Actor, id: number, name: string): HeatingApplication {
    assertCan(actor, 'heating.work', "record a household's signature");
    const a = this.get(id);
    if (a.kind !== 'start' || a.state !== 'valve-done')
      heatingError('APPLICATION_STATE', `${a.number} is a ${a.kind} at ${a.state}, not an opened start`);
    this.assertCrew(a, actor);
    const signed = name.trim();
    if (!signed) heatingError('INVALID_APPLICATION', "the household's signature (a name) is missing");
    const household = { name: signed, at: this.d.clock(), recordedBy: actor.id };
    return this.update(a, { state: 'started', household }, actor, 'heating.household-signed');
  }

  cancel(actor: Actor, id: number, reason: string): HeatingApplication {
    assertCan(actor, 'heating.apply', 'cancel a heating application');
    const a = this.get(id);
    if (!OPEN_STATES.has(a.state) || a.state === 'valve-done')
      heatingError('APPLICATION_STATE', `${a.number} is ${a.state}: it can no longer be cancelled`);
    const cancelled = { by: actor.id, at: this.d.clock(), reason: reason.trim() };
    return this.update(a, { state: 'cancelled', cancelled }, actor, 'heating.cancel');
  }

  get(id: number): HeatingApplication {
    const r = this.d.db.prepare('SELECT id, data FROM heating_applications WHERE id = ?').get(id) as
      { id: number; data: string } | undefined;
    if (!r) heatingError('APPLICATION_NOT_FOUND', `no heating application ${id}`);
    return {
      id: r.id,
      number: `HA-${r.id}`,
      ...(JSON.parse(r.data) as Omit<HeatingApplication, 'id' | 'number'>),
    };
  }

  list(filter: { state?: string; crewMember?: string } = {}): HeatingApplication[] {
    const ids = this.d.db
      .prepare('SELECT id FROM heating_applications ORDER BY id DESC')
      .pluck()
      .all() as number[];
    return ids
      .map((id) => this.get(id))
      .filter((a) => !filter.state || a.state === filter.state)
      .filter((a) => !filter.crewMember || !!a.order?.crew.some((c) => same(c, filter.crewMember!)));
  }

  /**
   * Every stop registration: from the valve locked on a signed stop, until the valve of a later
   * start was opened. Only signed stops count: an application, a lock with one signature, or a
   * cancelled stop registers nothing.
   */
  registrations(): StoppedRegistration[] {
    const byUnit = new Map<string, HeatingApplication[]>();
    for (const a of this.list().reverse()) byUnit.set(a.unit, [...(byUnit.get(a.unit) ?? []), a]);
    const out: StoppedRegistration[] = [];
    for (const apps of byUnit.values()) {
      for (const s of apps.filter((a) => a.state === 'stopped')) {
        const from = s.valve!.at;
        const restart = apps
          .filter((a) => a.kind === 'start' && a.valve && a.valve.at > from && a.id > s.id)
          .sort((x, y) => x.valve!.at - y.valve!.at)[0];
        out.push({
          ...{ meter: s.unit, state: 'stopped', from },
          ...(restart ? { to: restart.valve!.at } : {}),
          ...{ workOrder: s.order!.number, confirmedBy: s.signatures.map((x) => x.by) },
        });
      }
    }
    return out.sort((a, b) => a.meter.localeCompare(b.meter) || a.from - b.from);
  }

  /** The registration a unit is stopped under at `at`, if any. */
  stoppedAt(unit: string, at: number): StoppedRegistration | undefined {
    return this.registrations().find(
      (r) => r.meter === unit && r.from <= at && (r.to === undefined || at < r.to),
    );
  }

  private forUnit(unit: string): HeatingApplication[] {
    const ids = this.d.db
      .prepare('SELECT id FROM heating_applications WHERE unit = ?')
      .pluck()
      .all(unit) as number[];
    return ids.map((id) => this.get(id));
  }

  private recheckFee(actor: Actor, a: HeatingApplication): HeatingApplication {
    const now = this.d.clock();
    const fee = this.d.fees.status(a.unit, now);
    if (fee.state !== 'payroll' && fee.state !== 'paid')
      heatingError('FEE_UNPAID', `${a.number} waits for its heating fee: ${fee.detail}`);
    return this.update(
      a,
      { state: 'accepted', fee: { ...pickFee(fee), checkedAt: now } },
      actor,
      'heating.fee-paid',
    );
  }

  private assertCrew(a: HeatingApplication, actor: Actor): void {
    if (actor.kind !== 'user' || !a.order?.crew.some((c) => same(c, actor.id)))
      heatingError('NOT_ON_CREW', `${actor.id} is not on the crew of ${a.order?.number ?? a.number}`);
  }

  /** The applicant and the desk staff who handled the application never sign for it. */
  private assertSigner(a: HeatingApplication, actor: Actor): void {
    if (same(a.applicant.staffId, actor.id))
      heatingError('NOT_INDEPENDENT', `${actor.id} applied for ${a.number} and may not sign it`);
    if (same(a.recordedBy, actor.id) || same(a.order?.dispatchedBy, actor.id))
      heatingError('NOT_INDEPENDENT', `${actor.id} handled ${a.number} at the desk and may not sign it`);
  }

  private update(
    a: HeatingApplication,
    change: Partial<HeatingApplication>,
    actor: Actor,
    action: string,
  ): HeatingApplication {
    const { id, number: _n, ...before } = a;
    const next = { ...before, ...change };
    return this.d.db.transaction(() => {
      const r = this.d.db
        .prepare('UPDATE heating_applications SET data = ? WHERE id = ? AND data = ?')
        .run(JSON.stringify(next), id, JSON.stringify(before));
      if (r.changes !== 1) heatingError('APPLICATION_STATE', `${a.number} changed meanwhile`);
      this.d.audit.append({
        actor: actor.id,
        action,
        subject: `heating:${id}`,
        before: { state: a.state },
        after: change,
      });
      return this.get(id);
    })();
  }
}

function pickFee(f: ReturnType<HeatingFeeGate['status']>) {
  return { state: f.state, notice: f.notice, outstandingFen: f.outstandingFen, detail: f.detail };
}
