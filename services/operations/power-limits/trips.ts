import type { AuditLog } from '../../platform/audit/audit-log.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import type { TripCause } from './limits.ts';

/**
 * The trips of rooms over their power limit or with an illegal load, kept in the database so that
 * the daily count of automatic restores survives a restart (a trip storm cannot restart its count
 * by crashing the back office).
 *
 * tripped → restored (automatically, after the delay, while fewer than K restores happened that
 * local day) or → manual (the K-th was used: people restore it, two of them) → closed once they
 * did; a person's restore before the delay also ends it (`closed`).
 */

export type TripState = 'tripped' | 'restored' | 'manual' | 'closed';

export interface Trip {
  id: number;
  meter: string;
  cause: TripCause;
  trippedAt: number;
  /** The local date (campus zone) of the trip, YYYY-MM-DD: the day its restore counts against. */
  day: string;
  restoreDue: number;
  state: TripState;
  openRequest: number;
  closeRequest: number | null;
  /** What tripped it: the kW and limit, or the detector's evidence. */
  evidence: unknown;
  endedAt: number | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS power_trips (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  meter TEXT NOT NULL,
  cause TEXT NOT NULL CHECK (cause IN ('power-limit', 'illegal-load')),
  tripped_at INTEGER NOT NULL, day TEXT NOT NULL, restore_due INTEGER NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('tripped', 'restored', 'manual', 'closed')),
  open_request INTEGER NOT NULL, close_request INTEGER,
  evidence TEXT NOT NULL, ended_at INTEGER
);
CREATE INDEX IF NOT EXISTS power_trips_open ON power_trips (state, restore_due);
CREATE INDEX IF NOT EXISTS power_trips_meter ON power_trips (meter, cause, day);
`;

interface Row {
  id: number;
  meter: string;
  cause: TripCause;
  tripped_at: number;
  day: string;
  restore_due: number;
  state: TripState;
  open_request: number;
  close_request: number | null;
  evidence: string;
  ended_at: number | null;
}

const toTrip = (r: Row): Trip => ({
  id: r.id,
  meter: r.meter,
  cause: r.cause,
  trippedAt: r.tripped_at,
  day: r.day,
  restoreDue: r.restore_due,
  state: r.state,
  openRequest: r.open_request,
  closeRequest: r.close_request,
  evidence: JSON.parse(r.evidence) as unknown,
  endedAt: r.ended_at,
});

export const TRIPS_ACTOR = 'system:power-limits';

export class Trips {
  constructor(
    private readonly db: BackofficeDb,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
  ) {
    db.exec(SCHEMA);
  }

  record(input: Omit<Trip, 'id' | 'state' | 'closeRequest' | 'endedAt'>): Trip {
    return this.db.transaction(() => {
      const id = Number(
        this.db
          .prepare(
            `INSERT INTO power_trips (meter, cause, tripped_at, day, restore_due, state, open_request, evidence)
             VALUES (?, ?, ?, ?, ?, 'tripped', ?, ?)`,
          )
          .run(
            input.meter,
            input.cause,
            input.trippedAt,
            input.day,
            input.restoreDue,
            input.openRequest,
            JSON.stringify(input.evidence),
          ).lastInsertRowid,
      );
      this.audit.append({
        actor: TRIPS_ACTOR,
        action: `${input.cause}.trip`,
        subject: `meter:${input.meter}`,
        after: {
          trip: id,
          request: input.openRequest,
          restoreDue: input.restoreDue,
          evidence: input.evidence,
        },
      });
      return this.get(id);
    })();
  }

  /** Ends a trip (inside or outside a transaction), audited. */
  end(trip: Trip, state: Exclude<TripState, 'tripped'>, closeRequest: number | null, reason: string): void {
    this.db.transaction(() => {
      this.db
        .prepare(
          `UPDATE power_trips SET state = ?, close_request = ?, ended_at = ? WHERE id = ? AND state IN ('tripped', 'manual')`,
        )
        .run(state, closeRequest, this.clock(), trip.id);
      this.audit.append({
        actor: TRIPS_ACTOR,
        action: `${trip.cause}.${state === 'restored' ? 'auto-restore' : state === 'manual' ? 'manual-restore-needed' : 'closed'}`,
        subject: `meter:${trip.meter}`,
        before: { trip: trip.id, state: trip.state },
        after: { trip: trip.id, state, ...(closeRequest !== null ? { request: closeRequest } : {}) },
        reason,
      });
    })();
  }

  get(id: number): Trip {
    return toTrip(this.db.prepare('SELECT * FROM power_trips WHERE id = ?').get(id) as Row);
  }

  /** Trips still open (tripped), by meter. */
  open(): Trip[] {
    return (
      this.db.prepare(`SELECT * FROM power_trips WHERE state = 'tripped' ORDER BY id`).all() as Row[]
    ).map(toTrip);
  }

  /** Trips waiting for people to restore them. */
  manual(): Trip[] {
    return (
      this.db.prepare(`SELECT * FROM power_trips WHERE state = 'manual' ORDER BY id`).all() as Row[]
    ).map(toTrip);
  }

  openFor(meter: string, cause: TripCause): Trip | undefined {
    const r = this.db
      .prepare(`SELECT * FROM power_trips WHERE meter = ? AND cause = ? AND state = 'tripped'`)
      .get(meter, cause) as Row | undefined;
    return r ? toTrip(r) : undefined;
  }

  /** The newest trip of a meter for a cause, whatever its state. */
  latest(meter: string, cause: TripCause): Trip | undefined {
    const r = this.db
      .prepare(`SELECT * FROM power_trips WHERE meter = ? AND cause = ? ORDER BY id DESC LIMIT 1`)
      .get(meter, cause) as Row | undefined;
    return r ? toTrip(r) : undefined;
  }

  /** Automatic restores of a meter and cause on a local day. */
  autoRestores(meter: string, cause: TripCause, day: string): number {
    return (
      this.db
        .prepare(
          `SELECT COUNT(*) AS n FROM power_trips WHERE meter = ? AND cause = ? AND day = ? AND state = 'restored'`,
        )
        .get(meter, cause, day) as { n: number }
    ).n;
  }

  recent(limit = 200): Trip[] {
    return (this.db.prepare('SELECT * FROM power_trips ORDER BY id DESC LIMIT ?').all(limit) as Row[]).map(
      toTrip,
    );
  }
}
