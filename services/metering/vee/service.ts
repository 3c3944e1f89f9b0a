import type { Reading } from '../../../config/schemas/reading.ts';
import type { AuditLog } from '../../platform/audit/audit-log.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import type { Actor } from '../../platform/auth/roles.ts';
import { floorToStep, stepBoundaries } from '../consumption/zone.ts';
import { intervalConsumption, ROLLOVER_PLAUSIBLE_FRACTION } from '../consumption/consumption.ts';
import {
  SLOT_MS,
  type CumulativeQuantity,
  type Installation,
  type MeterKind,
  type ReadingStore,
  type RegisterSlot,
} from '../storage.ts';
import { thresholdsFor, type VeeConfig } from './config.ts';
import { editInterval, type EditInput, type EditResult } from './edit.ts';
import { veeFail } from './errors.ts';
import { estimateRuns } from './estimate.ts';
import { MeterExchanges } from './exchanges.ts';
import {
  dayFlags,
  lastAtOrBefore,
  type RawReading,
  rejectSingleBadReadings,
  type Screened,
  screenReadings,
  validateIntervals,
} from './rules.ts';
import type { Correction, ValidatedInterval, ValidatedSource, VeeFlag } from './types.ts';
import { VeeStore, type VersionContent } from './vee-store.ts';

/**
 * The VEE service billing reads from (ValidatedSource). Asked for [from, to), it validates and
 * estimates the meter's 15-min intervals on demand from the raw readings, records the results as
 * versions (a new version only where something changed, so asking twice adds nothing) and answers
 * with the current versions. Daily intervals are the sum of the day's current 15-min versions,
 * with the day's own checks (completeness, Σ intervals vs the register difference).
 *
 * Only intervals that have ended (end ≤ now) are validated and returned.
 */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const STEP = 15 * MINUTE;
/** 15-minute intervals pinned per transaction (about 20–50 ms of writing). */
const PIN_CHUNK = 5000;

/** The register each kind is billed by (and the one VEE validates). */
export const REGISTER_OF_KIND: Record<MeterKind, readonly CumulativeQuantity[]> = {
  electricity: ['energy_import_kwh', 'energy_export_kwh'],
  water: ['volume_m3'],
  heat: ['heat_kwh'],
};

/**
 * Raw readings with everything a reading carries (seq, deviceTs, flags, quality). The
 * ReadingStore interface only offers good values by time; without this source the timestamp rules
 * see only what series() returns (no seq order, no device clock).
 */
export interface RawReadingSource {
  /** Every reading of the meter with ts in [from, to), any quality. */
  readings(meter: string, from: number, to: number): Promise<readonly Reading[]>;
}

export interface VeeDeps {
  store: ReadingStore;
  raw?: RawReadingSource;
  db: BackofficeDb;
  audit: AuditLog;
  config: VeeConfig;
  /** IANA zone for local 15-min and day boundaries and like-days. */
  timezone: string;
  /** The meter's kind; by default the kind its latest reading came with. */
  kindOf?: (meter: string) => MeterKind | undefined | Promise<MeterKind | undefined>;
  /**
   * The meter's installations (replacements, and the register's rolloverAt for `quantity`); none
   * means one open-ended installation whose register never wraps.
   */
  installations?: (
    meter: string,
    quantity: CumulativeQuantity,
  ) => readonly Installation[] | Promise<readonly Installation[]>;
  clock?: Clock;
}

export interface IntervalsQuery {
  meter: string;
  quantity: CumulativeQuantity;
  from: number;
  to: number;
  step: '15m' | '1d';
}

interface Computed {
  results: VersionContent[];
  trusted: { ts: number; value: number }[];
  installations: readonly Installation[];
  kind: MeterKind;
  /** The meter's first 15-minute boundary with readings (meterSince); -Infinity: before the window. */
  since: number;
  /**
   * The end of the meter's raw readings retention deleted (retiredSlots): intervals before it are
   * not re-validated (their recorded versions stand, the rest come from the roll-ups). -Infinity: none.
   */
  retiredTo: number;
}

function worstSource(parts: readonly ValidatedInterval[]): ValidatedInterval['source'] {
  if (parts.some((p) => p.source === 'edited')) return 'edited';
  if (parts.some((p) => p.source === 'estimated')) return 'estimated';
  return 'actual';
}

/** A day's 15-min flags, one per rule and severity: how many intervals, and the first reason. */
function summariseFlags(parts: readonly ValidatedInterval[]): VeeFlag[] {
  const groups = new Map<string, { flag: VeeFlag; n: number }>();
  for (const p of parts) {
    const seen = new Set<string>();
    for (const f of p.flags) {
      const k = `${f.rule}/${f.severity}`;
      if (seen.has(k)) continue;
      seen.add(k);
      const g = groups.get(k);
      if (g) g.n++;
      else groups.set(k, { flag: f, n: 1 });
    }
  }
  return [...groups.values()].map(({ flag, n }) => ({
    rule: flag.rule,
    severity: flag.severity,
    reason: `${n} of ${parts.length} intervals, first: ${flag.reason}`,
  }));
}

function rawRetiredFlag(retiredTo: number, what: string): VeeFlag {
  return {
    rule: 'raw-retired',
    severity: 'info',
    reason: `raw readings before ${new Date(retiredTo).toISOString()} are past retention: ${what}; not re-validated, never estimated`,
  };
}

/** A day past raw retention: how many of its intervals are versions validated before, how many roll-ups. */
function retiredDayFlag(retiredTo: number, parts: readonly ValidatedInterval[]): VeeFlag {
  const rolled = parts.filter((p) => p.version === 0).length;
  const pinned = [...new Set(parts.map((p) => p.billedIn).filter((b): b is string => b !== undefined))];
  const what = [
    `${parts.length - rolled} of ${parts.length} intervals as validated before${pinned.length ? ` (billed in ${pinned.join(', ')})` : ''}`,
    `${rolled} from the 15-minute roll-ups`,
  ].join(', ');
  return rawRetiredFlag(retiredTo, what);
}

function noMeterYetFlag(since: number): VeeFlag {
  return {
    rule: 'no-meter-yet',
    severity: 'info',
    reason: Number.isFinite(since)
      ? `the meter's first reading is at ${new Date(since).toISOString()}: nothing before it is validated, estimated or billed`
      : 'the meter has no reading yet: nothing is validated, estimated or billed',
  };
}

/** A day before the meter's first reading: no value (a gap, never 0 and never an estimate). */
function noMeterYet(q: IntervalsQuery, start: number, end: number, since: number): ValidatedInterval {
  return {
    ...{ meter: q.meter, quantity: q.quantity, start, end, value: null, source: 'actual' },
    flags: [noMeterYetFlag(since)],
    version: 0,
  };
}

/** The timestamp rules, then single bad readings left out: the readings VEE computes with. */
function screenTrusted(
  raw: readonly RawReading[],
  th: ReturnType<typeof thresholdsFor>,
  now: number,
  installations: readonly Installation[],
  meter: string,
): Screened {
  const timed = screenReadings(raw, th, now);
  const single = rejectSingleBadReadings(timed.trusted, installations, meter);
  return { trusted: single.trusted, findings: [...timed.findings, ...single.findings] };
}

export class Vee implements ValidatedSource {
  readonly versions: VeeStore;
  /** Post-paid meter exchanges and resets, recorded by a clerk and approved by a supervisor. */
  readonly exchanges: MeterExchanges;
  private readonly clock: Clock;

  constructor(private readonly deps: VeeDeps) {
    this.versions = new VeeStore(deps.db);
    this.clock = deps.clock ?? Date.now;
    this.exchanges = new MeterExchanges({ db: deps.db, audit: deps.audit, clock: this.clock });
  }

  private async kindOf(meter: string): Promise<MeterKind> {
    const kind = (await this.deps.kindOf?.(meter)) ?? (await this.deps.store.latest([meter]))[0]?.kind;
    if (!kind) veeFail('VEE_UNKNOWN_METER', `meter ${meter}: no readings and no configured kind`);
    return kind;
  }

  private async rawReadings(
    meter: string,
    quantity: CumulativeQuantity,
    from: number,
    to: number,
  ): Promise<RawReading[]> {
    if (this.deps.raw) {
      // Readings stamped in the future are fetched too, so the future-timestamp rule can see them.
      const rs = await this.deps.raw.readings(meter, from, Math.max(to, this.clock() + 366 * DAY));
      return rs.map((r) => ({
        ts: r.ts,
        seq: r.seq,
        quality: r.quality,
        ...(r.values[quantity] !== undefined ? { value: r.values[quantity] } : {}),
        ...(r.deviceTs !== undefined ? { deviceTs: r.deviceTs } : {}),
        ...(r.flags ? { flags: r.flags } : {}),
      }));
    }
    const points = await this.deps.store.series({ meters: [meter], quantity, from, to });
    return points.map((p, i) => ({ ts: p.ts, seq: i, quality: 'good' as const, value: p.value }));
  }

  /** Validates and estimates the 15-min intervals of [from, to) that have ended; nothing is stored. */
  private async compute(
    meter: string,
    quantity: CumulativeQuantity,
    from: number,
    to: number,
  ): Promise<Computed> {
    const { config, timezone } = this.deps;
    const kind = await this.kindOf(meter);
    if (!REGISTER_OF_KIND[kind].includes(quantity)) {
      veeFail('VEE_INVALID_QUERY', `meter ${meter} is a ${kind} meter; ${quantity} is not its register`);
    }
    const th = thresholdsFor(config, meter, kind);
    const est = config.estimation;
    const now = this.clock();
    const installations = (await this.deps.installations?.(meter, quantity)) ?? [];
    const lastEnded = floorToStep(now, '15m', timezone);
    const calcTo = Math.min(to + est.searchMarginMs, lastEnded);
    const lookBack = est.searchMarginMs + Math.max(th.historyDays, 7 * est.likeDayWeeks + 1) * DAY + HOUR;
    const asked = floorToStep(from, '15m', timezone);
    if (!(calcTo > asked))
      return { results: [], trusted: [], installations, kind, since: -Infinity, retiredTo: -Infinity };

    const raw = await this.rawReadings(meter, quantity, asked - lookBack, calcTo + HOUR + 1);
    const { retired, retiredTo } = await this.retiredSlots(meter, quantity, raw, asked - lookBack, calcTo);
    // Nothing is validated, estimated or recorded before the meter's first reading (see meterSince),
    // nor where retention deleted the raw readings: re-validating there would find only silence.
    const since = await this.meterSince(meter, quantity, raw, retired, asked, asked - lookBack);
    const first = Math.max(asked, since, retiredTo);
    if (!(calcTo > first)) return { results: [], trusted: [], installations, kind, since, retiredTo };
    const calcFrom = first - est.searchMarginMs;
    const histFrom = calcFrom - Math.max(th.historyDays, 7 * est.likeDayWeeks + 1) * DAY;
    const fetchFrom = histFrom - HOUR;
    const fetchTo = calcTo + HOUR + 1;
    const screened = screenTrusted(raw, th, now, installations, meter);
    const relay =
      kind === 'electricity'
        ? await this.deps.store.series({
            meters: [meter],
            quantity: 'relay_closed',
            from: fetchFrom - 31 * DAY,
            to: fetchTo,
          })
        : [];
    const exportRegister =
      kind === 'electricity' && quantity === 'energy_import_kwh' && !th.bidirectional
        ? await this.deps.store.series({
            meters: [meter],
            quantity: 'energy_export_kwh',
            from: fetchFrom,
            to: fetchTo,
          })
        : [];
    const data = {
      meter,
      kind,
      quantity,
      timezone,
      th,
      trusted: screened.trusted,
      findings: screened.findings,
      installations,
      relay: relay.map((p) => ({ ts: p.ts, value: p.value })),
      exportRegister: exportRegister.map((p) => ({ ts: p.ts, value: p.value })),
    };
    const { intervals, history } = validateIntervals(data, histFrom, calcTo);
    const wantedTo = Math.min(to, lastEnded);
    estimateRuns(
      { meter, kind, timezone, th, est, trusted: screened.trusted, installations, history },
      intervals,
      first,
      wantedTo,
    );
    const results: VersionContent[] = intervals
      .filter((c) => c.start >= first && c.start < wantedTo && c.end <= lastEnded)
      .map((c) => ({
        start: c.start,
        end: c.end,
        value: c.value,
        source: c.source,
        ...(c.method !== undefined ? { method: c.method } : {}),
        ...(c.note !== undefined ? { note: c.note } : {}),
        flags: c.flags,
      }));
    return { results, trusted: screened.trusted, installations, kind, since, retiredTo };
  }

  /**
   * The meter's 15-minute roll-ups in [from, to) whose raw readings retention deleted. Retention
   * deletes a meter's oldest raw readings first and keeps their roll-ups, and roll-ups are made only
   * from raw readings, so a whole slot with a roll-up before the first raw reading left is one whose
   * readings were there and are gone (never a meter that was silent, nor one not installed yet). The
   * store's own raw readings decide, not only VEE's raw source: a reading the source has not been
   * given yet (a gateway's outbox) is not a retired one. `retiredTo`: the first 15-minute boundary
   * at or after the first raw reading left (the interval it falls in needs the retired reading
   * before it, so it is the roll-ups' too); -Infinity when nothing is retired.
   */
  private async retiredSlots(
    meter: string,
    quantity: CumulativeQuantity,
    raw: readonly RawReading[],
    from: number,
    to: number,
  ): Promise<{ retired: RegisterSlot[]; retiredTo: number }> {
    const none = { retired: [], retiredTo: -Infinity };
    const { store } = this.deps;
    if (!store.registerSlots) return none;
    let earliest = Infinity;
    for (const r of raw) if (r.ts < earliest) earliest = r.ts;
    const slotFrom = Math.floor(from / SLOT_MS) * SLOT_MS;
    const until = Math.min(earliest, to);
    // A meter read from the start of the window, as nearly every one is, costs no query.
    if (!(until >= slotFrom + SLOT_MS)) return none;
    const slots = await store.registerSlots({ meters: [meter], quantity, from: slotFrom, to: until });
    if (slots.length === 0) return none;
    const kept = await store.readings(meter, slots[0]!.start, until);
    const limit = Math.min(until, kept[0]?.ts ?? Infinity);
    const retired = slots.filter((s) => s.start + SLOT_MS <= limit);
    if (retired.length === 0) return none;
    return { retired, retiredTo: Math.ceil(limit / SLOT_MS) * SLOT_MS };
  }

  /**
   * Consumption of the retired 15-minute intervals of [from, to) from the roll-ups (as interval
   * consumption computes it once raw readings are gone): actual where the register was read, null
   * (a gap) where it was not: never an estimate, never a zero. Nothing is recorded: they are not
   * validated versions, and a day recorded before retention keeps its own.
   */
  private async retiredIntervals(
    q: Pick<IntervalsQuery, 'meter' | 'quantity'>,
    from: number,
    to: number,
    computed: Computed,
  ): Promise<ValidatedInterval[]> {
    if (!(to > from)) return [];
    const ivs = await intervalConsumption(this.deps.store, {
      meters: [q.meter],
      quantity: q.quantity,
      from,
      to,
      step: '15m',
      timezone: this.deps.timezone,
      ...(computed.installations.length > 0 ? { installations: computed.installations } : {}),
    });
    const flag = rawRetiredFlag(computed.retiredTo, 'consumption from the 15-minute roll-ups');
    return ivs
      .filter((iv) => iv.start >= computed.since && iv.end <= to)
      .map((iv) => ({
        ...{ meter: q.meter, quantity: q.quantity, start: iv.start, end: iv.end },
        value: iv.status === 'decrease' || iv.value === null ? null : iv.value,
        source: 'actual' as const,
        flags: [flag],
        version: 0,
      }));
  }

  /** The recorded versions of [from, to), with roll-up intervals where retired ones have none. */
  private withRetired(
    recorded: ValidatedInterval[],
    retired: readonly ValidatedInterval[],
    from: number,
    to: number,
  ): ValidatedInterval[] {
    if (retired.length === 0) return recorded;
    const have = new Set(recorded.map((p) => p.start));
    const fill = retired.filter((r) => r.start >= from && r.start < to && !have.has(r.start));
    return fill.length === 0 ? recorded : [...recorded, ...fill].sort((a, b) => a.start - b.start);
  }

  /**
   * The first 15-minute boundary at or after the meter's first reading, or -Infinity when the meter
   * read before `asked` (the usual case: nothing changes). A utility's VEE starts a meter at its
   * installation: an interval before it has no consumption to validate, and an estimate there
   * would bill a customer for a time the meter did not exist. With no reading in the fetched window
   * before `asked`, earlier time is searched backwards, in windows doubling from 32 days, for any
   * raw reading or 15-minute roll-up (which outlive retention): one found means the meter existed
   * and was silent, and VEE treats the window as it always did. A reading that comes in late and
   * earlier (a gateway's outbox replayed) moves the start back at the next computation; nothing is
   * remembered between computations. +Infinity: no reading in the window nor before it.
   */
  private async meterSince(
    meter: string,
    quantity: CumulativeQuantity,
    raw: readonly RawReading[],
    retired: readonly RegisterSlot[],
    asked: number,
    fetchedFrom: number,
  ): Promise<number> {
    let earliest = Infinity;
    for (const r of raw) if (r.ts < earliest) earliest = r.ts;
    // A retired slot is a reading that was there (placed in its slot as interval consumption does).
    const r0 = retired[0];
    if (r0)
      earliest = Math.min(earliest, r0.start + SLOT_MS - Math.floor(SLOT_MS / Math.max(1, r0.readings)));
    if (earliest < asked) return -Infinity;
    for (let hi = fetchedFrom, span = 32 * DAY; hi > 0; hi -= span, span *= 2) {
      if (await this.readAnythingIn(meter, quantity, Math.max(0, hi - span), hi)) return -Infinity;
    }
    if (earliest === Infinity) return Infinity;
    const floor = floorToStep(earliest, '15m', this.deps.timezone);
    return floor === earliest ? floor : floor + STEP;
  }

  private async readAnythingIn(
    meter: string,
    quantity: CumulativeQuantity,
    from: number,
    to: number,
  ): Promise<boolean> {
    const { store, raw } = this.deps;
    const readings = raw
      ? await raw.readings(meter, from, to)
      : await store.series({ meters: [meter], quantity, from, to });
    if (readings.length > 0) return true;
    const slots = store.registerSlots
      ? await store.registerSlots({ meters: [meter], quantity, from, to })
      : [];
    return slots.length > 0;
  }

  /** Validates, estimates and records [from, to); returns the computation for the daily checks. */
  private async refresh(
    meter: string,
    quantity: CumulativeQuantity,
    from: number,
    to: number,
  ): Promise<Computed> {
    const computed = await this.compute(meter, quantity, from, to);
    this.versions.record(meter, quantity, computed.results, this.clock());
    return computed;
  }

  async intervals(q: IntervalsQuery): Promise<ValidatedInterval[]> {
    if (!Number.isFinite(q.from) || !Number.isFinite(q.to) || !(q.to > q.from)) {
      veeFail('VEE_INVALID_QUERY', `window [${q.from}, ${q.to}) is empty or not finite`);
    }
    const { timezone } = this.deps;
    if (q.step === '15m') {
      const computed = await this.refresh(q.meter, q.quantity, q.from, q.to);
      const first = floorToStep(q.from, '15m', timezone);
      const retiredTo = Math.min(computed.retiredTo, q.to, floorToStep(this.clock(), '15m', timezone));
      const retired = await this.retiredIntervals(q, first, retiredTo, computed);
      return this.withRetired(this.versions.current(q.meter, q.quantity, first, q.to), retired, first, q.to);
    }
    const days = stepBoundaries(q.from, q.to, '1d', timezone);
    if (days.length < 2) return [];
    const computed = await this.refresh(q.meter, q.quantity, days[0]!, days[days.length - 1]!);
    const { retiredTo } = computed;
    const retired = await this.retiredIntervals(
      q,
      days[0]!,
      Math.min(retiredTo, days[days.length - 1]!, floorToStep(this.clock(), '15m', timezone)),
      computed,
    );
    const th = thresholdsFor(this.deps.config, q.meter, computed.kind);
    const now = this.clock();
    const out: ValidatedInterval[] = [];
    for (let i = 1; i < days.length; i++) {
      const start = days[i - 1]!;
      const end = days[i]!;
      if (end > now) break;
      const since = computed.since;
      if (
        end <= since &&
        !this.versions.current(q.meter, q.quantity, start, end).some((p) => p.value !== null)
      ) {
        out.push(noMeterYet(q, start, end, since));
        continue;
      }
      // The day the meter began counts from its first reading (intervals before it were never
      // recorded, or recorded as gaps by an earlier release).
      const parts = this.withRetired(
        this.versions.current(q.meter, q.quantity, start, end),
        retired,
        start,
        end,
      ).filter((p) => p.start >= since || p.value !== null);
      const pastRetention = start < retiredTo;
      const expected = stepBoundaries(Math.max(start, since), end - 1, '15m', timezone).length - 1;
      const complete = parts.length === expected && parts.every((p) => p.value !== null);
      const sum = complete ? parts.reduce((a, p) => a + p.value!, 0) : null;
      const methods = [...new Set(parts.map((p) => p.method).filter((m): m is string => m !== undefined))];
      const editors = [...new Set(parts.map((p) => p.editedBy).filter((m): m is string => m !== undefined))];
      const billed = [...new Set(parts.map((p) => p.billedIn))];
      const partSum = (source: ValidatedInterval['source']) =>
        Math.round(parts.reduce((a, p) => a + (p.source === source ? (p.value ?? 0) : 0), 0) * 1e6) / 1e6;
      out.push({
        meter: q.meter,
        quantity: q.quantity,
        start,
        end,
        value: sum === null ? null : Math.round(sum * 1e6) / 1e6,
        source: worstSource(parts),
        ...(sum === null ? {} : { estimatedValue: partSum('estimated'), editedValue: partSum('edited') }),
        ...(methods.length ? { method: methods.sort().join('+') } : {}),
        flags: [
          ...(since > start ? [noMeterYetFlag(since)] : []),
          ...(pastRetention ? [retiredDayFlag(retiredTo, parts)] : []),
          ...summariseFlags(parts).filter((f) => f.rule !== 'raw-retired'),
          // The day's own checks count and difference its raw readings: past retention there are none.
          ...(pastRetention
            ? []
            : dayFlags({
                meter: q.meter,
                quantity: q.quantity,
                timezone,
                th,
                trusted: computed.trusted,
                installations: computed.installations,
                start,
                end,
                sum,
              })),
        ],
        version: Math.max(0, ...parts.map((p) => p.version)),
        ...(billed.length === 1 && billed[0] !== undefined ? { billedIn: billed[0] } : {}),
        ...(editors.length ? { editedBy: editors.join(',') } : {}),
      });
    }
    return out;
  }

  /**
   * The register at `ts`: interpolated between trusted readings at most 1 h apart around it (not
   * estimated); otherwise the last trusted reading before it plus the current validated 15-min
   * values since (estimated). Null when there is no reading before `ts` in the past 31 days.
   */
  async registerAt(
    meter: string,
    quantity: CumulativeQuantity,
    ts: number,
  ): Promise<{ value: number; estimated: boolean } | null> {
    const kind = await this.kindOf(meter);
    const th = thresholdsFor(this.deps.config, meter, kind);
    const installations = (await this.deps.installations?.(meter, quantity)) ?? [];
    const raw = await this.rawReadings(meter, quantity, ts - 31 * DAY, ts + HOUR + 1);
    const trusted = screenTrusted(raw, th, this.clock(), installations, meter).trusted;
    const inst = installations.find(
      (i) => i.meter === meter && i.installedAt <= ts && ts < (i.removedAt ?? Infinity),
    );
    const own = trusted.filter(
      (p) => !inst || (p.ts >= inst.installedAt && p.ts < (inst.removedAt ?? Infinity)),
    );
    const before = lastAtOrBefore(own, ts);
    if (!before) return null;
    if (before.ts === ts) return { value: before.value, estimated: false };
    const after = own.find((p) => p.ts > ts);
    const wrap = (v: number) =>
      inst?.rolloverAt !== undefined && v >= inst.rolloverAt ? v - inst.rolloverAt : v;
    if (after && after.ts - before.ts <= HOUR) {
      let next = after.value;
      if (next < before.value && inst?.rolloverAt !== undefined) {
        const through = next + inst.rolloverAt - before.value;
        if (through >= 0 && through <= ROLLOVER_PLAUSIBLE_FRACTION * inst.rolloverAt) next += inst.rolloverAt;
      }
      if (next >= before.value) {
        return {
          value: wrap(before.value + ((next - before.value) * (ts - before.ts)) / (after.ts - before.ts)),
          estimated: false,
        };
      }
    }
    // From the last reading on, add the validated intervals (prorated at both ends).
    const parts = await this.intervals({ meter, quantity, from: before.ts, to: ts, step: '15m' });
    let value = before.value;
    for (const p of parts) {
      const ms = Math.max(0, Math.min(p.end, ts) - Math.max(p.start, before.ts));
      if (ms === 0) continue;
      if (p.value === null) return null;
      value += (p.value * ms) / (p.end - p.start);
    }
    const covered = parts.length > 0 && parts[parts.length - 1]!.end >= ts && parts[0]!.start <= before.ts;
    return covered ? { value: wrap(value), estimated: true } : null;
  }

  /**
   * Pins the versions a bill run used: a 15-min interval pins its version; a daily interval pins
   * the day's current 15-min versions, refused (VEE_STALE_PIN) if they changed since it was read.
   */
  async pin(billRun: string, intervals: readonly ValidatedInterval[]): Promise<void> {
    const at = this.clock();
    // In transactions of a few thousand intervals, meter by meter: a month of a campus is a
    // million pins, and one transaction that long would hold every other writer of the database
    // (the back office, when the run is on its own thread) for seconds. A run that fails half-way
    // leaves pins naming no recorded run, which bill-run.ts already allows for.
    const byMeter = new Map<string, ValidatedInterval[]>();
    for (const i of intervals) {
      const list = byMeter.get(i.meter);
      if (list) list.push(i);
      else byMeter.set(i.meter, [i]);
    }
    let chunk: ValidatedInterval[] = [];
    let size = 0;
    for (const list of byMeter.values()) {
      chunk.push(...list);
      size += list.reduce((n, i) => n + Math.max(1, Math.round((i.end - i.start) / STEP)), 0);
      if (size >= PIN_CHUNK) {
        this.pinChunk(billRun, chunk, at);
        chunk = [];
        size = 0;
        // Other work of this thread between chunks (the API, when the run is in-process).
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    if (chunk.length > 0) this.pinChunk(billRun, chunk, at);
  }

  private pinChunk(billRun: string, intervals: readonly ValidatedInterval[], at: number): void {
    this.deps.db.transaction(() => {
      let pinned = 0;
      for (const i of intervals) {
        const key = { meter: i.meter, quantity: i.quantity, start: i.start };
        if (i.end - i.start === STEP) {
          if (!this.versions.exists(key, i.version)) {
            veeFail(
              'VEE_STALE_PIN',
              `${i.meter} ${new Date(i.start).toISOString()} has no version ${i.version}`,
            );
          }
          this.versions.pin(key, i.version, billRun, at);
          pinned++;
          continue;
        }
        const parts = this.versions.current(i.meter, i.quantity, i.start, i.end);
        const sum = parts.every((p) => p.value !== null) ? parts.reduce((a, p) => a + p.value!, 0) : null;
        const same =
          Math.max(0, ...parts.map((p) => p.version)) === i.version &&
          (sum === null ? i.value === null : i.value !== null && Math.abs(sum - i.value) < 1e-6);
        if (!same && i.flags.some((f) => f.rule === 'raw-retired')) {
          // Its roll-up intervals are not versions: billing them would pin a day VEE never validated.
          veeFail(
            'VEE_RAW_RETIRED',
            `${i.meter} day ${new Date(i.start).toISOString()} is past raw retention and was never validated: nothing to pin`,
          );
        }
        if (!same) {
          veeFail(
            'VEE_STALE_PIN',
            `${i.meter} day ${new Date(i.start).toISOString()} changed since it was read`,
          );
        }
        for (const p of parts) this.versions.pin({ ...key, start: p.start }, p.version, billRun, at);
        pinned += parts.length;
      }
      this.deps.audit.append({
        actor: 'system:vee',
        action: 'vee.pin',
        subject: `bill-run:${billRun}`,
        after: { intervals: pinned, meters: [...new Set(intervals.map((i) => i.meter))].sort() },
      });
    })();
  }

  /**
   * What changed in [from, to) since it was billed (see ValidatedSource.corrections): the span is
   * re-validated first, so a reset or exchange recorded since, or a late read, shows as a version.
   */
  async corrections(
    meter: string,
    quantity: CumulativeQuantity,
    from: number,
    to: number,
  ): Promise<Correction> {
    await this.refresh(meter, quantity, from, to);
    const current = this.versions.current(meter, quantity, from, to);
    const newest = new Map<number, ValidatedInterval>();
    for (const p of this.versions.pending(meter, quantity, from, to)) {
      if ((newest.get(p.start)?.version ?? 0) < p.version) newest.set(p.start, p);
    }
    const changed = [...newest.values()].sort((a, b) => a.start - b.start);
    if (changed.length === 0) return { changed, days: [], reasons: [] };
    const reasons = new Set<string>();
    for (const c of changed) {
      const was = current.find((i) => i.start === c.start);
      if (c.source === 'edited')
        reasons.add(`edited by ${c.editedBy ?? '?'} (${c.method ?? 'no reason code'})`);
      else if (c.source === 'actual' && was?.source === 'estimated')
        reasons.add('actual reading replaces estimate');
      else if (c.flags.some((f) => f.rule === 'meter-replaced'))
        reasons.add('meter reset or exchange recorded');
      else reasons.add(`re-validated (${c.source}${c.method ? `, ${c.method}` : ''})`);
    }
    const days = stepBoundaries(from, to - 1, '1d', this.deps.timezone);
    const out: Correction['days'] = [];
    for (let i = 1; i < days.length; i++) {
      const start = days[i - 1]!;
      const end = days[i]!;
      const parts = current
        .filter((p) => p.start >= start && p.start < end)
        .map((p) => newest.get(p.start) ?? p);
      const value = parts.some((p) => p.value === null)
        ? null
        : Math.round(parts.reduce((a, p) => a + p.value!, 0) * 1e6) / 1e6;
      out.push({ start, end, value });
    }
    return { changed, days: out, reasons: [...reasons] };
  }

  /** Versions that arrived after billing (late reads, re-estimates, edits), waiting for a bill run. */
  pendingCorrections(
    meter: string,
    quantity: CumulativeQuantity,
    from: number,
    to: number,
  ): ValidatedInterval[] {
    return this.versions.pending(meter, quantity, from, to);
  }

  /** Every version of one 15-min interval, oldest first. */
  history(meter: string, quantity: CumulativeQuantity, start: number): ValidatedInterval[] {
    return this.versions.versions({ meter, quantity, start });
  }

  /** A supervisor's correction of one 15-min interval (see edit.ts). */
  edit(actor: Actor, input: EditInput): EditResult {
    return editInterval(
      { db: this.deps.db, store: this.versions, audit: this.deps.audit, clock: this.clock },
      actor,
      input,
    );
  }
}
