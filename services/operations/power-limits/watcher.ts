import type { Logger } from 'pino';
import type { PowerLimitsConfig } from '../../../config/schemas/power.ts';
import type { Clock } from '../../platform/db.ts';
import { ServiceError } from '../../platform/errors.ts';
import type { ReadingStore } from '../../metering/storage.ts';
import { wallClock } from '../../metering/consumption/zone.ts';
import type { RelayControl } from '../control/relay-control.ts';
import { basisOf, type PolicyProposals, type VersionStatus } from '../schedules/proposals.ts';
import { limitFor, limitsVersion, restoreRule, type TripCause } from './limits.ts';
import { TRIPS_ACTOR, Trips, type Trip } from './trips.ts';

/**
 * Power limits per room, watched in the back office on the live readings (the store ingest
 * writes), and carried out through relay control like every other cut-off.
 *
 * Why here and not in the gateway or the meter: a trip is a cut-off, and a cut-off needs an
 * approval on record, a signed command and an audit entry — all of which live in the back office.
 * Meters' own limit registers differ per vendor and cannot count restores per day or tell a
 * restore from a second person's; the gateway holds no approvals. The price is latency: a trip
 * comes at most one poll interval plus one check after the limit was crossed for `overFor`, which
 * suits dorm limits (a heater left on), not protection against a short circuit (the breaker's job).
 *
 * Over the limit means every reading since the first one over it was over it, for at least
 * `overFor` by the meters' timestamps; one reading at or under the limit ends the episode. The
 * episode is kept in memory (a restart measures again); trips and their daily restore count are in
 * the database (trips.ts). Illegal-load findings trip through the same path (`tripIllegalLoad`).
 *
 * Nothing happens unless a supervisor approved the campus file's current limits (proposals.ts).
 */

export interface PowerLimitWatcherDeps {
  config: PowerLimitsConfig;
  control: RelayControl;
  proposals: PolicyProposals;
  trips: Trips;
  store: ReadingStore;
  /** Every relay meter of the campus: the scope of the approval. */
  relayMeters: readonly string[];
  /** The customer type of the room a meter supplies (its verified account), if any. */
  customerTypeOf: (meter: string) => string | undefined;
  timezone: string;
  clock: Clock;
  logger: Logger;
}

export interface LimitTickOutcome {
  status: VersionStatus['state'];
  tripped: string[];
  restored: string[];
  manual: string[];
  waiting: { meter: string; error: string }[];
}

const message = (err: unknown) => (err instanceof ServiceError ? `${err.code}: ${err.message}` : String(err));

export class PowerLimitWatcher {
  private readonly log: Logger;
  /** Per meter: the timestamp of the first reading of the current over-limit run. */
  private readonly overSince = new Map<string, number>();
  private readonly lastSeen = new Map<string, number>();

  constructor(private readonly d: PowerLimitWatcherDeps) {
    this.log = d.logger.child({ component: 'power-limits' });
  }

  version() {
    return limitsVersion(this.d.config, this.d.relayMeters);
  }

  status(): VersionStatus {
    return this.d.proposals.status(this.version());
  }

  private day(t: number): string {
    const w = wallClock(t, this.d.timezone);
    return `${w.year}-${String(w.month).padStart(2, '0')}-${String(w.day).padStart(2, '0')}`;
  }

  /** One pass: compare the latest readings, then restore what is due. */
  async tick(): Promise<LimitTickOutcome> {
    const status = this.status();
    const out: LimitTickOutcome = {
      status: status.state,
      tripped: [],
      restored: [],
      manual: [],
      waiting: [],
    };
    if (status.state !== 'approved') return out;
    await this.compare(out);
    await this.restoreDue(out);
    return out;
  }

  /**
   * An illegal (resistive) load found by detection: trips the room like a power limit, restored
   * by the illegal-load rule. A room already tripped for it is left alone.
   */
  async tripIllegalLoad(meter: string, evidence: unknown): Promise<Trip | null> {
    if (this.status().state !== 'approved') return null;
    return this.trip(
      meter,
      'illegal-load',
      evidence,
      `illegal load: ${JSON.stringify(evidence).slice(0, 200)}`,
    );
  }

  private async compare(out: LimitTickOutcome): Promise<void> {
    const limited = this.d.relayMeters.filter((m) => limitFor(this.d.config, m, this.d.customerTypeOf(m)));
    if (limited.length === 0) return;
    const readings = await this.d.store.latest(limited);
    for (const r of readings) {
      const limit = limitFor(this.d.config, r.meter, this.d.customerTypeOf(r.meter))!;
      const kw = r.values.power_kw;
      if (r.quality !== 'good' || kw === undefined || this.lastSeen.get(r.meter) === r.ts) continue;
      this.lastSeen.set(r.meter, r.ts);
      if (kw <= limit.kw) {
        this.overSince.delete(r.meter);
        continue;
      }
      const since = this.overSince.get(r.meter) ?? r.ts;
      this.overSince.set(r.meter, since);
      if (r.ts - since < limit.overFor) continue;
      try {
        const trip = await this.trip(
          r.meter,
          'power-limit',
          { kw, limitKw: limit.kw, overSince: since, readingAt: r.ts, overForMs: r.ts - since },
          `power ${kw} kW over the limit of ${limit.kw} kW for ${Math.round((r.ts - since) / 1000)} s`,
        );
        if (trip) out.tripped.push(r.meter);
        this.overSince.delete(r.meter);
      } catch (err) {
        out.waiting.push({ meter: r.meter, error: message(err) });
        this.log.warn({ meter: r.meter, err: message(err) }, 'power-limit trip not made');
      }
    }
  }

  private async trip(
    meter: string,
    cause: TripCause,
    evidence: unknown,
    reason: string,
  ): Promise<Trip | null> {
    if (this.d.trips.openFor(meter, cause)) return null;
    const limit = limitFor(this.d.config, meter, this.d.customerTypeOf(meter));
    const rule = restoreRule(this.d.config, cause, limit);
    const now = this.d.clock();
    const req = await this.d.control.requestFromPolicy({
      meter,
      action: 'open',
      hold: cause,
      by: TRIPS_ACTOR,
      basis: basisOf(this.version()),
      requireGrant: true,
      reason,
    });
    return this.d.trips.record({
      meter,
      cause,
      trippedAt: now,
      day: this.day(now),
      restoreDue: now + rule.restoreAfterMs,
      openRequest: req.id,
      evidence,
    });
  }

  /**
   * A trip whose hold is on record but whose trip is not (the process stopped between the two):
   * recorded now, its restore counted from when the hold was added, so it is restored as usual.
   */
  private adoptOrphans(): void {
    for (const h of this.d.control.allHolds()) {
      if (h.hold !== 'power-limit' && h.hold !== 'illegal-load') continue;
      if (this.d.trips.latest(h.meter, h.hold)?.openRequest === h.requestId) continue;
      const limit = limitFor(this.d.config, h.meter, this.d.customerTypeOf(h.meter));
      const rule = restoreRule(this.d.config, h.hold, limit);
      this.d.trips.record({
        meter: h.meter,
        cause: h.hold,
        trippedAt: h.since,
        day: this.day(h.since),
        restoreDue: h.since + rule.restoreAfterMs,
        openRequest: h.requestId,
        evidence: { recovered: 'the relay was held open for this cause with no trip on record' },
      });
    }
  }

  private async restoreDue(out: LimitTickOutcome): Promise<void> {
    this.adoptOrphans();
    for (const trip of this.d.trips.manual())
      if (!this.d.control.holds(trip.meter).some((h) => h.hold === trip.cause))
        this.d.trips.end(trip, 'closed', null, `${trip.cause} released by a restore two people approved`);
    const now = this.d.clock();
    for (const trip of this.d.trips.open()) {
      // Someone (two people) restored it already: the reason is gone, the trip is over.
      if (!this.d.control.holds(trip.meter).some((h) => h.hold === trip.cause)) {
        this.d.trips.end(trip, 'closed', null, `${trip.cause} released by a person's restore`);
        continue;
      }
      if (trip.restoreDue > now) continue;
      const limit = limitFor(this.d.config, trip.meter, this.d.customerTypeOf(trip.meter));
      const rule = restoreRule(this.d.config, trip.cause, limit);
      const used = this.d.trips.autoRestores(trip.meter, trip.cause, trip.day);
      if (used >= rule.maxAutoRestoresPerDay) {
        this.d.trips.end(
          trip,
          'manual',
          null,
          `${used} automatic restores on ${trip.day} (at most ${rule.maxAutoRestoresPerDay}): a restore request, approved by a second person, is needed`,
        );
        out.manual.push(trip.meter);
        continue;
      }
      try {
        const req = await this.d.control.requestFromPolicy({
          meter: trip.meter,
          action: 'close',
          hold: trip.cause,
          by: TRIPS_ACTOR,
          basis: basisOf(this.version()),
          requireGrant: true,
          reason: `automatic restore ${used + 1} of ${rule.maxAutoRestoresPerDay} on ${trip.day} after a ${trip.cause} trip`,
        });
        this.d.trips.end(
          trip,
          'restored',
          req.id,
          `automatic restore ${used + 1} of ${rule.maxAutoRestoresPerDay}`,
        );
        out.restored.push(trip.meter);
      } catch (err) {
        out.waiting.push({ meter: trip.meter, error: message(err) });
      }
    }
  }
}
