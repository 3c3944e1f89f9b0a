import type { Quantity } from '../../config/schemas/quantities.ts';
import type { Reading } from '../../config/schemas/reading.ts';

/**
 * The one storage interface every service uses. Two adapters implement it: InfluxDB 1.x
 * (adapters/influx/, production) and SQLite (adapters/sqlite/, the zero-setup default); both
 * pass the same contract suite (test/storage/contract.ts).
 *
 * Time is always UTC milliseconds. Raw readings are never overwritten or deleted by a write:
 * writing a reading that is already stored (same meter and seq) changes nothing, which is what
 * makes redelivery and gateway replay harmless.
 */

export type MeterKind = 'electricity' | 'water' | 'heat';

/** A published reading plus where it came from (from its topic) and what kind of meter made it. */
export interface StoredReading extends Reading {
  site: string;
  gateway: string;
  kind: MeterKind;
}

export interface SeriesPoint {
  meter: string;
  ts: number;
  value: number;
}

export interface SeriesQuery {
  meters: readonly string[];
  quantity: Quantity;
  /** Inclusive. */
  from: number;
  /** Exclusive. */
  to: number;
}

export interface ReadingWriter {
  /**
   * Stores the readings durably before resolving; idempotent per (meter, seq). Rejects if the
   * store cannot take them (the caller keeps them and retries: ingest does not acknowledge the
   * MQTT message until this resolves).
   */
  writeReadings(readings: readonly StoredReading[]): Promise<void>;
}

/**
 * What ingest asks a store to find holes in the gateways' numbering (end-to-end acknowledgement,
 * config/schemas/replay.ts). Both stores answer it from what they hold, so it stays right with
 * several ingest instances sharing the stream and across ingest restarts.
 */
export interface SeqIndex {
  /** Each meter's highest stored seq. */
  seqMarks(): Promise<Map<string, number>>;
  /** The sub-ranges (inclusive) of from..to with no stored reading of the meter, ascending. */
  missingSeqs(meter: string, from: number, to: number): Promise<[number, number][]>;
}

/** Folds ascending stored seqs into the missing runs of from..to. */
export function missingRuns(stored: Iterable<number>, from: number, to: number): [number, number][] {
  const out: [number, number][] = [];
  let next = from;
  for (const seq of stored) {
    if (seq < next) continue;
    if (seq > to) break;
    if (seq > next) out.push([next, seq - 1]);
    next = seq + 1;
  }
  if (next <= to) out.push([next, to]);
  return out;
}

export interface ReadingStore extends ReadingWriter {
  /** The newest reading of each meter (all meters when `meters` is omitted), good or error. */
  latest(meters?: readonly string[]): Promise<StoredReading[]>;
  /** Good values of one quantity for the meters in [from, to), ordered by meter then time. */
  series(query: SeriesQuery): Promise<SeriesPoint[]>;
  /**
   * Every stored reading of one meter with ts in [from, to): good, uncertain and error, with all
   * its fields (seq, quality, values, deviceTs, flags, error), ordered by ts then seq.
   *
   * Arrival order is not kept by either adapter (SQLite's table is WITHOUT ROWID, clustered by
   * (meter, ts, seq); InfluxDB orders by time). `seq` is the gateway's order of the meter's polls
   * and survives gateway restarts, so a consumer that needs arrival order, e.g. VEE's out-of-order
   * rule, sorts by seq (as screenReadings does).
   *
   * `site`, `gateway` and `kind`: SQLite keeps them per meter, not per reading, and returns the
   * meter's current ones; InfluxDB returns each reading's own (its tags). A meter that moved to
   * another gateway may have one reading under both topics in InfluxDB: it is returned once.
   */
  readings(meter: string, from: number, to: number): Promise<StoredReading[]>;
  /**
   * The 15-minute roll-ups of a cumulative register (kept for ever, where raw readings go after
   * `rawDays`): per meter and UTC-aligned 15-minute slot with `start` in [from, to), the register's
   * last good value in the slot, ordered by meter then start. Optional: a store without roll-ups
   * (test doubles) leaves consumption to raw readings only.
   */
  registerSlots?(query: RegisterSlotQuery): Promise<RegisterSlot[]>;
  close(): Promise<void>;
}

/** Width of the roll-ups' slots, UTC-aligned (both stores). */
export const SLOT_MS = 15 * 60_000;

export interface RegisterSlotQuery {
  meters: readonly string[];
  quantity: CumulativeQuantity;
  /** Inclusive, on slot starts. */
  from: number;
  /** Exclusive, on slot starts. */
  to: number;
}

export interface RegisterSlot {
  meter: string;
  /** The slot's start; the value was read at some instant in [start, start + SLOT_MS). */
  start: number;
  /** The register's last good value in the slot. */
  value: number;
  /** Readings that came in the slot, whatever their quality (good, uncertain, error): the meter's polls. */
  readings: number;
}

/**
 * Raw readings something still needs, which retention must keep whatever its age: every reading of
 * `meter` (of every meter when absent) with ts ≥ `from`. The back office lists them from billing
 * (a period not yet closed), VEE (a day not yet validated) and ingest (a gap still being filled).
 */
export interface RetentionHold {
  reason: 'billing-period-open' | 'day-unvalidated' | 'gap-open' | (string & {});
  meter?: string;
  from: number;
}

export interface RetentionPolicy {
  /** The time retention is applied at (UTC ms); a parameter, so a test can fix it. */
  now: number;
  /** Raw readings older than this many days go, unless held; roll-ups stay for ever. */
  rawDays: number;
  holds: readonly RetentionHold[];
}

/** The earliest ts retention must keep for a meter: the age limit, or an earlier hold on it. */
export function keepFrom(policy: RetentionPolicy, meter: string): number {
  let from = policy.now - policy.rawDays * 86_400_000;
  for (const h of policy.holds)
    if ((h.meter === undefined || h.meter === meter) && h.from < from) from = h.from;
  return from;
}

/**
 * Registers and states whose roll-up is their last good value (a state is a state, not a rate);
 * every other quantity rolls up to the mean of its good values. Both stores' roll-ups follow it
 * (test/storage/rollups-agree.test.ts holds them to an independent definition).
 */
export const ROLLUP_LAST_QUANTITIES: ReadonlySet<Quantity> = new Set<Quantity>([
  'energy_import_kwh',
  'energy_export_kwh',
  'volume_m3',
  'heat_kwh',
  'relay_closed',
  'breaker_closed',
]);

/** A roll-up of one meter over a 15-minute slot or a campus day, as both stores give it. */
export interface RollupPoint {
  meter: string;
  start: number;
  /** Every reading that came in the slot (day), whatever its quality: the meter's polls. */
  readings: number;
  /** Last good value of registers and relay/breaker state, mean of good instantaneous values. */
  values: Partial<Record<Quantity, number>>;
  /** Highest good power_kw. */
  powerKwMax?: number;
}

/** Consumption steps. Days and months follow the campus time zone. */
export type Step = '15m' | '1h' | '1d' | '1mo';

/** The cumulative quantities consumption can be computed from. */
export type CumulativeQuantity = Extract<
  Quantity,
  'energy_import_kwh' | 'energy_export_kwh' | 'volume_m3' | 'heat_kwh'
>;

/**
 * One physical meter's time under a meter id. A meter id's register history is split at every
 * replacement: readings are attributed to the installation in force at their timestamp.
 */
export interface Installation {
  meter: string;
  /** The physical device (serial number); informational. */
  serial: string;
  installedAt: number;
  /** Absent while installed. */
  removedAt?: number;
  /** Register values the installer read at installation and at removal, where known. */
  startRegister?: number;
  endRegister?: number;
  /**
   * The register wraps to zero after reaching this value (e.g. 999999.99 kWh for an 8-digit
   * counter with two decimals). A decrease is a rollover only if the register's max is known.
   */
  rolloverAt?: number;
}

export interface IntervalQuery {
  meters: readonly string[];
  quantity: CumulativeQuantity;
  from: number;
  to: number;
  step: Step;
  /** IANA zone for day and month boundaries, e.g. Asia/Shanghai. */
  timezone: string;
  installations?: readonly Installation[];
}

export interface IntervalConsumption {
  meter: string;
  start: number;
  end: number;
  /** Consumption in the quantity's unit; null when it cannot be computed (a gap, never a zero). */
  value: number | null;
  status: 'ok' | 'gap' | 'rollover' | 'replacement' | 'decrease';
}
