import type { StoredReading } from '../../metering/storage.ts';
import type { Utility } from './downstream.ts';

/**
 * Did supply really stop and come back, and when? Judged from the readings of the outage's own
 * node (a building or a feeder always draws something while supplied). A reading is "off" when the
 * meter did not answer (an error reading: an electricity meter downstream of the cut has no power
 * itself) or its register has not risen since the last good reading (a water or heat meter keeps
 * answering on its battery; an electricity meter upstream of the breaker that was opened keeps
 * answering too). A run of off readings lasting at least MIN_OFF_MS is a supply gap; any good
 * reading whose register rose ends it (a meter that answers again after a dead spell is powered).
 *
 * Bounds: the cut happened between the last on reading and the first off one, the restore between
 * the last off one and the first on one. The later bound of each is reported, so a late start or
 * an overrun is overstated by at most one poll interval, never hidden.
 */

export const REGISTER: Record<Utility, 'energy_import_kwh' | 'volume_m3' | 'heat_kwh'> = {
  electricity: 'energy_import_kwh',
  water: 'volume_m3',
  heat: 'heat_kwh',
};

/** Shorter flat runs are a building's quiet minute at the register's resolution, not a cut. */
export const MIN_OFF_MS = 10 * 60_000;
/** How far off the planned times the readings may be before the notice is recorded as missed. */
export const TOLERANCE_MS = 10 * 60_000;

export interface SupplyGap {
  /** First reading with the register flat: the cut was at or before it. */
  stoppedAt: number;
  /** First reading with the register rising again, or null if it has not yet. */
  restoredAt: number | null;
}

/** The first supply gap of at least MIN_OFF_MS that ends after `notBefore`, in one meter's readings. */
export function supplyGap(
  readings: readonly StoredReading[],
  utility: Utility,
  notBefore: number,
): SupplyGap | null {
  const q = REGISTER[utility];
  const sorted = [...readings].sort((a, b) => a.ts - b.ts || a.seq - b.seq);
  let last: number | undefined;
  let runStart: number | null = null;
  let runEnd = 0;
  for (const r of sorted) {
    const v = r.quality === 'good' ? r.values[q] : undefined;
    // Up to the first good value nothing is known about the register.
    if (last === undefined) {
      last = v;
      continue;
    }
    const on = v !== undefined && v > last;
    if (v !== undefined) last = v;
    if (!on) {
      runStart ??= r.ts;
      runEnd = r.ts;
      continue;
    }
    if (runStart !== null && r.ts - runStart >= MIN_OFF_MS && r.ts > notBefore) {
      return { stoppedAt: runStart, restoredAt: r.ts };
    }
    runStart = null;
  }
  if (runStart !== null && runEnd - runStart >= MIN_OFF_MS) return { stoppedAt: runStart, restoredAt: null };
  return null;
}

export type OutageVerdict =
  | 'as-planned'
  | 'started-late'
  | 'started-early'
  | 'overran'
  | 'supply-not-stopped'
  | 'not-restored'
  | 'no-readings';

export interface Observation {
  /** The meters judged (the node's own, or a group's meters). */
  meters: string[];
  supplyStopped: boolean;
  stoppedAt: number | null;
  restoredAt: number | null;
  /** > 0: the cut came this much after the planned start. */
  startedLateMs: number;
  /** > 0: supply came back this much after the planned end. */
  overranMs: number;
  /** Every verdict that applies, 'as-planned' alone when none does. */
  verdicts: OutageVerdict[];
}

/**
 * The observation of one outage from its judged meters' readings. With several meters (a group
 * node) supply counts as stopped only if it stopped at every one, and as back when the last one is.
 */
export function observe(
  window: { startsAt: number; endsAt: number; utility: Utility },
  readingsByMeter: ReadonlyMap<string, readonly StoredReading[]>,
): Observation {
  const meters = [...readingsByMeter.keys()];
  const base = { meters, startedLateMs: 0, overranMs: 0 };
  if ([...readingsByMeter.values()].every((rs) => rs.length === 0)) {
    return { ...base, supplyStopped: false, stoppedAt: null, restoredAt: null, verdicts: ['no-readings'] };
  }
  // A gap that ended long before the window is someone else's; one that began long after is too.
  const notBefore = window.startsAt - 2 * TOLERANCE_MS;
  const gaps = [...readingsByMeter.values()].map((rs) => supplyGap(rs, window.utility, notBefore));
  const inWindow = gaps.map((g) => (g && g.stoppedAt <= window.endsAt ? g : null));
  if (inWindow.some((g) => g === null)) {
    return {
      ...base,
      supplyStopped: false,
      stoppedAt: null,
      restoredAt: null,
      verdicts: ['supply-not-stopped'],
    };
  }
  const got = inWindow as SupplyGap[];
  const stoppedAt = Math.max(...got.map((g) => g.stoppedAt));
  const restoredAt = got.some((g) => g.restoredAt === null)
    ? null
    : Math.max(...got.map((g) => g.restoredAt!));
  const verdicts: OutageVerdict[] = [];
  const late = stoppedAt - window.startsAt;
  if (late > TOLERANCE_MS) verdicts.push('started-late');
  if (late < -TOLERANCE_MS) verdicts.push('started-early');
  const over = restoredAt === null ? null : restoredAt - window.endsAt;
  if (over === null) verdicts.push('not-restored');
  else if (over > TOLERANCE_MS) verdicts.push('overran');
  return {
    meters,
    supplyStopped: true,
    stoppedAt,
    restoredAt,
    startedLateMs: Math.max(0, late),
    overranMs: over === null ? 0 : Math.max(0, over),
    verdicts: verdicts.length > 0 ? verdicts : ['as-planned'],
  };
}
