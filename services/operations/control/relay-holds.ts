import type { AuditLog } from '../../platform/audit/audit-log.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import { controlError } from './errors.ts';

/**
 * Why a relay is to be open: each cause that opened it (the prepaid balance, a lights-out
 * schedule, a power-limit or illegal-load trip, a person's cut-off) is a hold on the meter, and a
 * restore closes the relay only when the last hold is gone. A room out of credit is therefore
 * never re-closed by the morning schedule, and a room an inspector cut stays cut until people
 * restore it, whatever the schedule says.
 *
 * Who releases what:
 * - an automatic restore (the prepaid policy, a schedule, a power-limit restore) releases exactly
 *   its own hold;
 * - a person's restore, approved by a second person, releases every hold except `credit`: money
 *   owed is only cleared by money (a top-up makes the prepaid policy release it).
 *
 * A hold is added when an open request is approved (the intent is on record even if the command
 * then fails) and removed when a restore naming it is approved; both are audited with the request.
 */

/** The fixed hold names; a schedule's hold is `schedule:<id>`. */
export const HOLD_KINDS = ['credit', 'power-limit', 'illegal-load', 'manual', 'policy'] as const;
export type FixedHold = (typeof HOLD_KINDS)[number];

/** Holds no person may release: they end when their cause ends. */
export const PERSON_CANNOT_RELEASE: ReadonlySet<string> = new Set(['credit']);

const SCHEDULE_HOLD = /^schedule:[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function isHold(value: string): boolean {
  return (HOLD_KINDS as readonly string[]).includes(value) || SCHEDULE_HOLD.test(value);
}

export function scheduleHold(scheduleId: string): string {
  return `schedule:${scheduleId}`;
}

export interface RelayHold {
  meter: string;
  hold: string;
  /** When it was added (UTC ms). */
  since: number;
  /** The relay request whose approval added it. */
  requestId: number;
}

export const HOLDS_SCHEMA = `
CREATE TABLE IF NOT EXISTS relay_holds (
  meter TEXT NOT NULL,
  hold TEXT NOT NULL,
  since INTEGER NOT NULL,
  request_id INTEGER NOT NULL REFERENCES relay_requests (id),
  PRIMARY KEY (meter, hold)
);
`;

export class RelayHolds {
  constructor(
    private readonly db: BackofficeDb,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
  ) {
    db.exec(HOLDS_SCHEMA);
  }

  /** The holds on a meter, oldest first. */
  of(meter: string): RelayHold[] {
    return (
      this.db.prepare('SELECT * FROM relay_holds WHERE meter = ? ORDER BY since, hold').all(meter) as {
        meter: string;
        hold: string;
        since: number;
        request_id: number;
      }[]
    ).map((r) => ({ meter: r.meter, hold: r.hold, since: r.since, requestId: r.request_id }));
  }

  /** Every hold, by meter then age (for the operators' view). */
  all(): RelayHold[] {
    return (
      this.db.prepare('SELECT * FROM relay_holds ORDER BY meter, since, hold').all() as {
        meter: string;
        hold: string;
        since: number;
        request_id: number;
      }[]
    ).map((r) => ({ meter: r.meter, hold: r.hold, since: r.since, requestId: r.request_id }));
  }

  /** Adds a hold (inside the caller's transaction); a hold already there keeps its first time. */
  add(meter: string, hold: string, requestId: number, actor: string): void {
    if (!isHold(hold)) controlError('BAD_INPUT', `unknown open reason "${hold}"`);
    const had = this.of(meter).map((h) => h.hold);
    if (had.includes(hold)) return;
    this.db
      .prepare('INSERT INTO relay_holds (meter, hold, since, request_id) VALUES (?, ?, ?, ?)')
      .run(meter, hold, this.clock(), requestId);
    this.audit.append({
      actor,
      action: 'relay.hold',
      subject: `meter:${meter}`,
      before: { holds: had },
      after: { holds: [...had, hold], request: requestId },
      reason: `open because of ${hold}`,
    });
  }

  /**
   * Removes the given holds (inside the caller's transaction) and returns those that remain: the
   * relay may be closed only when none does.
   */
  release(meter: string, holds: readonly string[], requestId: number, actor: string): string[] {
    const had = this.of(meter).map((h) => h.hold);
    const gone = had.filter((h) => holds.includes(h));
    const remain = had.filter((h) => !holds.includes(h));
    if (gone.length === 0) return remain;
    const del = this.db.prepare('DELETE FROM relay_holds WHERE meter = ? AND hold = ?');
    for (const h of gone) del.run(meter, h);
    this.audit.append({
      actor,
      action: 'relay.hold-release',
      subject: `meter:${meter}`,
      before: { holds: had },
      after: { holds: remain, request: requestId },
      reason: remain.length > 0 ? `still open because of ${remain.join(', ')}` : 'no reason left to be open',
    });
    return remain;
  }
}
