import type { Logger } from 'pino';
import type { ScheduleConfig } from '../../../config/schemas/power.ts';
import type { AuditLog } from '../../platform/audit/audit-log.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import { ServiceError } from '../../platform/errors.ts';
import { scheduleHold, type MeterLocator, type RelayControl } from '../control/relay-control.ts';
import { basisOf, PolicyProposals, type PolicyVersion, type VersionStatus } from './proposals.ts';
import { phaseAt, type Phase } from './schedule-time.ts';
import { scheduleTargets, type CampusMeter } from './targets.ts';

/**
 * Carries out the approved schedules through relay control. Each schedule's meters get the
 * schedule's own hold (`schedule:<id>`) at lights-out and have it released at power-on; relay
 * control closes a relay only when no other hold (credit, a trip, a person's cut-off) remains.
 *
 * It acts on edges, remembered in the database: at each lights-out or power-on, every meter has
 * one order to carry out (`schedule_orders`), retried on each tick until done (a request already
 * open on the meter, a refused restore), and never repeated once done. So a person who restores a
 * room during lights-out (two people) is not overruled until the next night, and a crash at any
 * step is repaired on the next tick: the holds say what was already done.
 *
 * A schedule whose current text is not approved acts on nothing: no request is made at all.
 */

export const SCHEDULE_ACTOR = 'system:schedules';

export interface ScheduleRunnerDeps {
  db: BackofficeDb;
  audit: AuditLog;
  control: RelayControl;
  proposals: PolicyProposals;
  schedules: readonly ScheduleConfig[];
  meters: readonly CampusMeter[];
  locate: MeterLocator;
  timezone: string;
  clock: Clock;
  logger: Logger;
}

export interface ScheduleView {
  schedule: ScheduleConfig;
  version: PolicyVersion;
  sha256: string;
  status: VersionStatus;
  phase: Phase;
  skipped: { meter: string; why: string }[];
}

export interface TickOutcome {
  schedule: string;
  status: VersionStatus['state'];
  want: Phase['want'];
  /** Meters whose order was carried out on this tick. */
  applied: string[];
  /** Meters whose order is still to do, and why not yet. */
  waiting: { meter: string; error: string }[];
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS schedule_orders (
  schedule_id TEXT NOT NULL, meter TEXT NOT NULL,
  want TEXT NOT NULL CHECK (want IN ('open', 'close')),
  since INTEGER NOT NULL,
  done INTEGER NOT NULL DEFAULT 0,
  request_id INTEGER, last_error TEXT,
  PRIMARY KEY (schedule_id, meter)
);
`;

interface OrderRow {
  want: 'open' | 'close';
  since: number;
  done: number;
  last_error: string | null;
}

export class ScheduleRunner {
  private readonly log: Logger;

  constructor(private readonly d: ScheduleRunnerDeps) {
    d.db.exec(SCHEMA);
    this.log = d.logger.child({ component: 'schedules' });
  }

  /** The version of a schedule the campus file holds now: its text, meters and hold. */
  version(schedule: ScheduleConfig): { version: PolicyVersion; skipped: ScheduleView['skipped'] } {
    const t = scheduleTargets(schedule, this.d.meters, this.d.locate);
    return {
      version: {
        subject: `schedule:${schedule.id}`,
        body: schedule,
        meters: t.meters,
        holds: [scheduleHold(schedule.id)],
      },
      skipped: t.skipped,
    };
  }

  schedule(id: string): ScheduleConfig | undefined {
    return this.d.schedules.find((s) => s.id === id);
  }

  views(): ScheduleView[] {
    const now = this.d.clock();
    return this.d.schedules.map((schedule) => {
      const { version, skipped } = this.version(schedule);
      return {
        schedule,
        version,
        sha256: basisOf(version).split('@')[1]!,
        status: this.d.proposals.status(version),
        phase: phaseAt(schedule, now, this.d.timezone),
        skipped,
      };
    });
  }

  /** One pass: every approved schedule's due orders. One meter's refusal does not stop the others. */
  async tick(): Promise<TickOutcome[]> {
    const out: TickOutcome[] = [];
    for (const schedule of this.d.schedules) {
      try {
        out.push(await this.tickSchedule(schedule));
      } catch (err) {
        this.log.error({ err, schedule: schedule.id }, 'schedule pass failed');
      }
    }
    return out;
  }

  private async tickSchedule(schedule: ScheduleConfig): Promise<TickOutcome> {
    const { version } = this.version(schedule);
    const status = this.d.proposals.status(version);
    const phase = phaseAt(schedule, this.d.clock(), this.d.timezone);
    const outcome: TickOutcome = {
      schedule: schedule.id,
      status: status.state,
      want: phase.want,
      applied: [],
      waiting: [],
    };
    if (status.state !== 'approved') return outcome;
    const basis = basisOf(version);
    for (const meter of version.meters) {
      const order = this.order(schedule.id, meter, phase);
      if (order.done) continue;
      try {
        const requestId = await this.carryOut(schedule, meter, order.want, basis, phase);
        this.d.db
          .prepare(
            `UPDATE schedule_orders SET done = 1, request_id = ?, last_error = NULL WHERE schedule_id = ? AND meter = ?`,
          )
          .run(requestId, schedule.id, meter);
        outcome.applied.push(meter);
      } catch (err) {
        const error = err instanceof ServiceError ? `${err.code}: ${err.message}` : String(err);
        if (error !== order.last_error) {
          this.log.warn({ schedule: schedule.id, meter, want: order.want, error }, 'schedule order waits');
          this.d.db
            .prepare(`UPDATE schedule_orders SET last_error = ? WHERE schedule_id = ? AND meter = ?`)
            .run(error, schedule.id, meter);
        }
        outcome.waiting.push({ meter, error });
      }
    }
    return outcome;
  }

  /** The meter's order for the current phase: a new one when the phase began after the last. */
  private order(scheduleId: string, meter: string, phase: Phase): OrderRow {
    const row = this.d.db
      .prepare(
        'SELECT want, since, done, last_error FROM schedule_orders WHERE schedule_id = ? AND meter = ?',
      )
      .get(scheduleId, meter) as OrderRow | undefined;
    if (row && row.want === phase.want && row.since >= phase.since) return row;
    this.d.db
      .prepare(
        `INSERT INTO schedule_orders (schedule_id, meter, want, since, done) VALUES (?, ?, ?, ?, 0)
         ON CONFLICT (schedule_id, meter) DO UPDATE SET want = excluded.want, since = excluded.since,
           done = 0, request_id = NULL, last_error = NULL`,
      )
      .run(scheduleId, meter, phase.want, phase.since);
    return { want: phase.want, since: phase.since, done: 0, last_error: null };
  }

  /**
   * Adds or releases the schedule's hold through relay control (approved by the schedule's
   * standing approval, or refused). Nothing is asked when the hold already is as wanted.
   */
  private async carryOut(
    schedule: ScheduleConfig,
    meter: string,
    want: 'open' | 'close',
    basis: string,
    phase: Phase,
  ): Promise<number | null> {
    const hold = scheduleHold(schedule.id);
    const has = this.d.control.holds(meter).some((h) => h.hold === hold);
    if ((want === 'open') === has) return null;
    const req = await this.d.control.requestFromPolicy({
      meter,
      action: want,
      hold,
      by: SCHEDULE_ACTOR,
      basis,
      requireGrant: true,
      reason:
        want === 'open'
          ? `schedule ${schedule.id}: lights-out at ${schedule.off} (night of ${phase.night})`
          : `schedule ${schedule.id}: power on at ${schedule.on}`,
    });
    return req.id;
  }
}
