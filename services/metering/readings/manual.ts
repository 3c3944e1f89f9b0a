import type { AuditLog } from '../../platform/audit/audit-log.ts';
import { assertCan, assertDistinctPeople } from '../../platform/auth/duties.ts';
import { authFail } from '../../platform/auth/errors.ts';
import { incompatibleRoles, type Actor } from '../../platform/auth/roles.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import type { CumulativeQuantity } from '../storage.ts';
import type { ValidatedSource } from '../vee/types.ts';
import { readingsError } from './errors.ts';

/**
 * Manual meter readings (DOMAIN.md "Readings and billing" 1): meters that are not connected are
 * read by hand on routes, always by two readers drawn at random from the reader pool and rotated.
 * Each reader enters their own reading under their own login. The two readings of a meter must
 * agree within a tolerance, and each must agree with the automatic register at that time where
 * there is one; otherwise an inspection alert ('manual-reading-mismatch') is raised with the
 * figures as evidence.
 *
 * Rules:
 * - Readers are drawn by the system (`system:manual-readings`), never picked by a person, with an
 *   injectable random source. Rotation: the draw avoids anyone who read the route in its previous
 *   round; if the pool is too small for that, it only avoids repeating the previous pair; with a
 *   pool of exactly two, the pair repeats, and the round says so (`rotation`).
 * - The two readers are two different people (assertDistinctPeople), at the draw and again when
 *   the second reading of a meter is entered.
 * - A reader never records payments: a user holding both roles is refused at role assignment
 *   (services/platform/auth/users.ts) and again here, in case such an actor reaches this service.
 * - A difference is beyond tolerance when it exceeds max(absolute, relative × |value|).
 * - Readings and alerts are written with their audit entries in one transaction; alert listeners
 *   (the hook for the inspectors' alert store) are called inside it, so what they write commits
 *   or rolls back with the reading.
 */

export const READINGS_ACTOR = 'system:manual-readings';
export const MANUAL_READING_ALERT = 'manual-reading-mismatch' as const;

export interface ReadingRoute {
  id: string;
  name?: string;
  meters: readonly { meter: string; quantity: CumulativeQuantity }[];
}

export interface Tolerance {
  /** In the register's unit (kWh, m³). */
  absolute: number;
  /** Share of the value read. */
  relative: number;
}

export interface Round {
  id: number;
  route: string;
  dueAt: number;
  readers: [string, string];
  rotation: 'full' | 'pair-only' | 'none';
  drawnAt: number;
}

export interface ManualReading {
  round: number;
  meter: string;
  quantity: CumulativeQuantity;
  reader: string;
  value: number;
  readAt: number;
  enteredAt: number;
  /** The automatic register at readAt, where the store had one. */
  automatic: number | null;
}

export interface ManualReadingAlert {
  id: number;
  type: typeof MANUAL_READING_ALERT;
  kind: 'readers-disagree' | 'differs-from-automatic';
  round: number;
  route: string;
  meter: string;
  createdAt: number;
  reason: string;
  evidence: {
    readings: { reader: string; value: number; readAt: number }[];
    automatic: number | null;
    difference: number;
    allowed: number;
  };
}

/** Called in the transaction of each new alert: the hook for an inspectors' alert store. */
export type AlertListener = (alert: ManualReadingAlert) => void;

export interface ManualReadingsOptions {
  db: BackofficeDb;
  audit: AuditLog;
  routes: readonly ReadingRoute[];
  /** The automatic register at a time: VEE's `registerAt` (or any store that answers it). */
  automatic: Pick<ValidatedSource, 'registerAt'>;
  /** Uniform in [0, 1); Math.random unless given (tests pass a seeded one). */
  random?: () => number;
  clock?: Clock;
  tolerance?: Tolerance;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS manual_reading_rounds (
  id INTEGER PRIMARY KEY,
  route TEXT NOT NULL,
  due_at INTEGER NOT NULL,
  reader_a TEXT NOT NULL,
  reader_b TEXT NOT NULL,
  rotation TEXT NOT NULL,
  drawn_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS manual_reading_rounds_route ON manual_reading_rounds (route, id);
CREATE TABLE IF NOT EXISTS manual_readings (
  round_id INTEGER NOT NULL REFERENCES manual_reading_rounds (id),
  meter TEXT NOT NULL,
  quantity TEXT NOT NULL,
  reader TEXT NOT NULL,
  value REAL NOT NULL,
  read_at INTEGER NOT NULL,
  entered_at INTEGER NOT NULL,
  automatic REAL,
  PRIMARY KEY (round_id, meter, reader)
);
CREATE TABLE IF NOT EXISTS manual_reading_alerts (
  id INTEGER PRIMARY KEY,
  type TEXT NOT NULL,
  kind TEXT NOT NULL,
  round_id INTEGER NOT NULL,
  route TEXT NOT NULL,
  meter TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  reason TEXT NOT NULL,
  evidence TEXT NOT NULL
);
`;

interface RoundRow {
  id: number;
  route: string;
  due_at: number;
  reader_a: string;
  reader_b: string;
  rotation: Round['rotation'];
  drawn_at: number;
}
interface ReadingRow {
  round_id: number;
  meter: string;
  quantity: CumulativeQuantity;
  reader: string;
  value: number;
  read_at: number;
  entered_at: number;
  automatic: number | null;
}
interface AlertRow {
  id: number;
  kind: ManualReadingAlert['kind'];
  round_id: number;
  route: string;
  meter: string;
  created_at: number;
  reason: string;
  evidence: string;
}

const toRound = (r: RoundRow): Round => ({
  id: r.id,
  route: r.route,
  dueAt: r.due_at,
  readers: [r.reader_a, r.reader_b],
  rotation: r.rotation,
  drawnAt: r.drawn_at,
});
const toReading = (r: ReadingRow): ManualReading => ({
  round: r.round_id,
  meter: r.meter,
  quantity: r.quantity,
  reader: r.reader,
  value: r.value,
  readAt: r.read_at,
  enteredAt: r.entered_at,
  automatic: r.automatic,
});
const toAlert = (r: AlertRow): ManualReadingAlert => ({
  id: r.id,
  type: MANUAL_READING_ALERT,
  kind: r.kind,
  round: r.round_id,
  route: r.route,
  meter: r.meter,
  createdAt: r.created_at,
  reason: r.reason,
  evidence: JSON.parse(r.evidence) as ManualReadingAlert['evidence'],
});

const norm = (name: string) => name.trim().toLowerCase();

export class ManualReadings {
  private readonly db: BackofficeDb;
  private readonly audit: AuditLog;
  private readonly routes: Map<string, ReadingRoute>;
  private readonly automatic: Pick<ValidatedSource, 'registerAt'>;
  private readonly random: () => number;
  private readonly clock: Clock;
  private readonly tolerance: Tolerance;
  private readonly listeners = new Set<AlertListener>();

  constructor(o: ManualReadingsOptions) {
    this.db = o.db;
    this.audit = o.audit;
    this.routes = new Map(o.routes.map((r) => [r.id, r]));
    this.automatic = o.automatic;
    this.random = o.random ?? Math.random;
    this.clock = o.clock ?? Date.now;
    this.tolerance = o.tolerance ?? { absolute: 1, relative: 0.001 };
    this.db.exec(SCHEMA);
  }

  /** Adds a listener called for each new alert inside its transaction; returns the unsubscribe. */
  onAlert(listener: AlertListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private route(id: string): ReadingRoute {
    const r = this.routes.get(id);
    if (!r) readingsError('UNKNOWN_ROUTE', `no reading route ${id}`);
    return r;
  }

  /**
   * Draws two readers for the next round of `route` from `pool` (user names of the readers on
   * duty), at random and rotated, and records the round with its audit entry.
   */
  drawRound(input: { route: string; dueAt: number; pool: readonly string[] }): Round {
    this.route(input.route);
    const people = [...new Map(input.pool.map((p) => [norm(p), p.trim()])).values()].filter((p) => p !== '');
    if (people.length < 2)
      readingsError(
        'POOL_TOO_SMALL',
        `route ${input.route}: a round needs two readers; the pool has ${people.length}`,
      );
    return this.db.transaction(() => {
      const last = this.db
        .prepare('SELECT * FROM manual_reading_rounds WHERE route = ? ORDER BY id DESC LIMIT 1')
        .get(input.route) as RoundRow | undefined;
      const previous = last ? [norm(last.reader_a), norm(last.reader_b)] : [];
      const pairs: [string, string][] = [];
      for (let i = 0; i < people.length; i++)
        for (let j = i + 1; j < people.length; j++) pairs.push([people[i]!, people[j]!]);
      const samePair = (p: [string, string]) =>
        previous.length === 2 && previous.includes(norm(p[0])) && previous.includes(norm(p[1]));
      const fresh = pairs.filter((p) => !previous.includes(norm(p[0])) && !previous.includes(norm(p[1])));
      const notSame = pairs.filter((p) => !samePair(p));
      const [candidates, rotation]: [[string, string][], Round['rotation']] =
        fresh.length > 0 ? [fresh, 'full'] : notSame.length > 0 ? [notSame, 'pair-only'] : [pairs, 'none'];
      const pick =
        candidates[Math.min(candidates.length - 1, Math.floor(this.random() * candidates.length))]!;
      // Which of the two is "A" is drawn as well, so that order says nothing.
      const readers: [string, string] = this.random() < 0.5 ? [pick[0], pick[1]] : [pick[1], pick[0]];
      assertDistinctPeople(readers[0], readers[1], 'a manual reading round');
      const now = this.clock();
      const info = this.db
        .prepare(
          'INSERT INTO manual_reading_rounds (route, due_at, reader_a, reader_b, rotation, drawn_at) VALUES (?, ?, ?, ?, ?, ?)',
        )
        .run(input.route, input.dueAt, readers[0], readers[1], rotation, now);
      const id = Number(info.lastInsertRowid);
      this.audit.append({
        actor: READINGS_ACTOR,
        action: 'readings.round-draw',
        subject: `reading-round:${id}`,
        after: { route: input.route, dueAt: input.dueAt, readers, rotation, pool: people },
      });
      return { id, route: input.route, dueAt: input.dueAt, readers, rotation, drawnAt: now };
    })();
  }

  round(id: number): Round {
    const r = this.db.prepare('SELECT * FROM manual_reading_rounds WHERE id = ?').get(id) as
      RoundRow | undefined;
    if (!r) readingsError('ROUND_NOT_FOUND', `no reading round ${id}`);
    return toRound(r);
  }

  /**
   * The rounds a reader is drawn for that are not past due by more than a day, with the meters to
   * read and whether this reader has entered each yet — never the other reader's values, so the
   * two readings stay independent.
   */
  roundsFor(
    reader: string,
    now: number,
  ): { round: Round; meters: { meter: string; quantity: CumulativeQuantity; entered: boolean }[] }[] {
    const rows = this.db
      .prepare(
        'SELECT * FROM manual_reading_rounds WHERE (reader_a = ? OR reader_b = ?) AND due_at >= ? ORDER BY due_at, id',
      )
      .all(reader, reader, now - 86_400_000) as RoundRow[];
    return rows.map((row) => {
      const round = toRound(row);
      const mine = new Set(
        this.readings(round.id)
          .filter((r) => r.reader === reader)
          .map((r) => r.meter),
      );
      const meters = (this.routes.get(round.route)?.meters ?? []).map((m) => ({
        ...m,
        entered: mine.has(m.meter),
      }));
      return { round, meters };
    });
  }

  /** The configured routes (supervisors draw rounds on them). */
  routeList(): ReadingRoute[] {
    return [...this.routes.values()];
  }

  readings(round: number): ManualReading[] {
    return (
      this.db
        .prepare('SELECT * FROM manual_readings WHERE round_id = ? ORDER BY meter, entered_at')
        .all(round) as ReadingRow[]
    ).map(toReading);
  }

  alerts(filter: { round?: number; meter?: string } = {}): ManualReadingAlert[] {
    const rows = this.db
      .prepare(
        `SELECT * FROM manual_reading_alerts WHERE (? IS NULL OR round_id = ?) AND (? IS NULL OR meter = ?) ORDER BY id`,
      )
      .all(
        filter.round ?? null,
        filter.round ?? null,
        filter.meter ?? null,
        filter.meter ?? null,
      ) as AlertRow[];
    return rows.map(toAlert);
  }

  private allowed(value: number): number {
    return Math.max(this.tolerance.absolute, this.tolerance.relative * Math.abs(value));
  }

  /**
   * A reader enters their reading of one meter of their round. Returns the reading and the alerts
   * it raised (none, or one per disagreement).
   */
  async enter(
    actor: Actor,
    input: { round: number; meter: string; value: number; readAt: number },
  ): Promise<{ reading: ManualReading; alerts: ManualReadingAlert[] }> {
    assertCan(actor, 'readings.enter-manual', 'enter a manual meter reading');
    if (actor.kind !== 'user')
      authFail('PERSON_REQUIRED', `${actor.id} is not a person; a reader enters readings`);
    const clash = incompatibleRoles(actor.roles);
    if (clash) authFail('INCOMPATIBLE_DUTIES', `${actor.id} holds ${clash}`);
    if (!Number.isFinite(input.value) || input.value < 0)
      readingsError('INVALID_READING', `register value ${input.value} is not a finite non-negative number`);
    if (!Number.isSafeInteger(input.readAt) || input.readAt <= 0)
      readingsError('INVALID_READING', `readAt ${input.readAt} is not a time in UTC ms`);
    const round = this.round(input.round);
    const route = this.route(round.route);
    const onRoute = route.meters.find((m) => m.meter === input.meter);
    if (!onRoute) readingsError('UNKNOWN_METER', `meter ${input.meter} is not on route ${route.id}`);
    if (!round.readers.some((r) => norm(r) === norm(actor.id)))
      readingsError(
        'NOT_ASSIGNED',
        `${actor.id} is not a reader of round ${round.id} (${round.readers.join(', ')})`,
      );
    const auto = await this.automatic.registerAt(input.meter, onRoute.quantity, input.readAt);

    const raised: ManualReadingAlert[] = [];
    const reading = this.db.transaction(() => {
      const existing = (
        this.db
          .prepare('SELECT * FROM manual_readings WHERE round_id = ? AND meter = ?')
          .all(round.id, input.meter) as ReadingRow[]
      ).map(toReading);
      if (existing.some((r) => norm(r.reader) === norm(actor.id)))
        readingsError('ALREADY_ENTERED', `${actor.id} already read ${input.meter} in round ${round.id}`);
      for (const other of existing) assertDistinctPeople(other.reader, actor, 'the two readings of a meter');
      const now = this.clock();
      const reading: ManualReading = {
        round: round.id,
        meter: input.meter,
        quantity: onRoute.quantity,
        reader: actor.id,
        value: input.value,
        readAt: input.readAt,
        enteredAt: now,
        automatic: auto?.value ?? null,
      };
      this.db
        .prepare(
          `INSERT INTO manual_readings (round_id, meter, quantity, reader, value, read_at, entered_at, automatic)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          round.id,
          input.meter,
          onRoute.quantity,
          actor.id,
          input.value,
          input.readAt,
          now,
          reading.automatic,
        );
      this.audit.append({
        actor: actor.id,
        action: 'readings.manual-enter',
        subject: `meter:${input.meter}`,
        after: { round: round.id, value: input.value, readAt: input.readAt, automatic: reading.automatic },
      });
      const evidenceOf = (rs: ManualReading[], difference: number, allowed: number) => ({
        readings: rs.map((r) => ({ reader: r.reader, value: r.value, readAt: r.readAt })),
        automatic: reading.automatic,
        difference,
        allowed,
      });
      if (reading.automatic !== null) {
        const difference = reading.value - reading.automatic;
        const allowed = this.allowed(reading.automatic);
        if (Math.abs(difference) > allowed) {
          raised.push(
            this.raise(
              round,
              input.meter,
              'differs-from-automatic',
              evidenceOf([reading], difference, allowed),
              `${actor.id} read ${reading.value} on ${input.meter}; the automatic register then was ${reading.automatic} (difference ${difference}, allowed ${allowed})`,
            ),
          );
        }
      }
      const other = existing[0];
      if (other) {
        const difference = reading.value - other.value;
        const allowed = this.allowed(Math.max(reading.value, other.value));
        if (Math.abs(difference) > allowed) {
          raised.push(
            this.raise(
              round,
              input.meter,
              'readers-disagree',
              evidenceOf([other, reading], difference, allowed),
              `${other.reader} read ${other.value} and ${actor.id} read ${reading.value} on ${input.meter} (difference ${difference}, allowed ${allowed})`,
            ),
          );
        }
      }
      return reading;
    })();
    return { reading, alerts: raised };
  }

  private raise(
    round: Round,
    meter: string,
    kind: ManualReadingAlert['kind'],
    evidence: ManualReadingAlert['evidence'],
    reason: string,
  ): ManualReadingAlert {
    const now = this.clock();
    const info = this.db
      .prepare(
        `INSERT INTO manual_reading_alerts (type, kind, round_id, route, meter, created_at, reason, evidence)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(MANUAL_READING_ALERT, kind, round.id, round.route, meter, now, reason, JSON.stringify(evidence));
    const alert: ManualReadingAlert = {
      id: Number(info.lastInsertRowid),
      type: MANUAL_READING_ALERT,
      kind,
      round: round.id,
      route: round.route,
      meter,
      createdAt: now,
      reason,
      evidence,
    };
    this.audit.append({
      actor: READINGS_ACTOR,
      action: 'readings.alert',
      subject: `manual-reading-alert:${alert.id}`,
      after: { type: alert.type, kind, round: round.id, meter, evidence },
      reason,
    });
    for (const l of this.listeners) l(alert);
    return alert;
  }
}
