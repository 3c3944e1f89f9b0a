import { computeIntervals, MAX_INTERPOLATION_SPAN } from '../consumption/consumption.ts';
import { floorToStep, nextBoundary } from '../consumption/zone.ts';
import { indexAfter, indexAtOrAfter } from '../sorted-points.ts';
import type { CumulativeQuantity, Installation, IntervalConsumption, MeterKind } from '../storage.ts';
import type { Thresholds } from './config.ts';
import type { VeeFlag, VeeRule } from './types.ts';

/**
 * The validation rules, as pure functions of one meter's data: raw readings are screened (clock
 * and timestamp rules), the trusted ones give 15-min consumption through services/metering/consumption/consumption.ts
 * (boundary interpolation, rollover, replacement), and each interval is then checked. Nothing here
 * changes or drops raw data: an excluded reading is only left out of the computation, and says so
 * in a flag.
 */

const MINUTE = 60_000;
const STEP_MS = 15 * MINUTE;

/** One raw reading of the meter as VEE needs it: the register value (absent if the reading had none). */
export interface RawReading {
  ts: number;
  seq: number;
  quality: 'good' | 'uncertain' | 'error';
  value?: number;
  deviceTs?: number;
  flags?: readonly string[];
}

export interface TsValue {
  ts: number;
  value: number;
}

/** Rules whose `fail` makes the interval's measured value unusable: VEE substitutes an estimate. */
export const ESTIMATING_RULES: ReadonlySet<VeeRule> = new Set<VeeRule>([
  'gap',
  'register-decrease',
  'running-backwards',
  'spike',
  'timestamp-out-of-order',
  'timestamp-duplicate',
]);

/** A remark on one reading, attached to the interval that holds its timestamp. */
export interface ReadingFinding extends VeeFlag {
  ts: number;
}

export interface Screened {
  /** Good register readings VEE computes with, by ts. */
  trusted: TsValue[];
  findings: ReadingFinding[];
}

const iso = (ts: number): string => new Date(ts).toISOString().replace('.000Z', 'Z');
const fmt = (v: number): string => String(Math.round(v * 10_000) / 10_000);

/**
 * Timestamp rules on raw readings in arrival (seq) order: a reading stamped in the future, one that
 * steps back in time, or two with one ts and different registers are left out of the computation;
 * a same-value duplicate is kept once; a device clock off is only remarked on (VEE times readings
 * by the gateway's ts, not the device's).
 */
export function screenReadings(readings: readonly RawReading[], th: Thresholds, now: number): Screened {
  const bySeq = [...readings].sort((a, b) => a.seq - b.seq);
  const findings: ReadingFinding[] = [];
  const excluded = new Set<RawReading>();
  let maxTs = -Infinity;
  let prev: RawReading | undefined;
  const seen = new Map<number, number>();
  for (const r of bySeq) {
    if (r.ts > now + th.futureToleranceMs) {
      excluded.add(r);
      // Attached where it arrived: after its predecessor in seq order.
      findings.push({
        ts: prev?.ts ?? r.ts,
        rule: 'timestamp-future',
        severity: 'info',
        reason: `reading seq ${r.seq} is stamped ${iso(r.ts)}, ${fmt((r.ts - now) / MINUTE)} min after now; left out`,
      });
      continue;
    }
    const same = seen.get(r.ts);
    const redelivered =
      same !== undefined && r.value !== undefined && Math.abs(same - r.value) <= th.duplicateValueTolerance;
    if (r.value !== undefined && same === undefined) seen.set(r.ts, r.value);
    // A redelivered reading (same ts, same register) is a duplicate, not a clock step back.
    if (r.ts < maxTs && !redelivered) {
      excluded.add(r);
      findings.push({
        ts: r.ts,
        rule: 'timestamp-out-of-order',
        severity: 'fail',
        reason: `reading seq ${r.seq} at ${iso(r.ts)} is ${fmt((maxTs - r.ts) / MINUTE)} min before an earlier reading (${iso(maxTs)}); left out`,
      });
    } else {
      maxTs = r.ts;
    }
    prev = r;
    if (r.flags?.includes('DEVICE_CLOCK_INVALID')) {
      findings.push({
        ts: r.ts,
        rule: 'device-clock',
        severity: 'info',
        reason: `reading seq ${r.seq}: device clock invalid (DEVICE_CLOCK_INVALID${r.deviceTs !== undefined ? `, deviceTs ${iso(r.deviceTs)}` : ''})`,
      });
    } else if (r.deviceTs !== undefined && Math.abs(r.deviceTs - r.ts) > th.deviceClockMaxSkewMs) {
      findings.push({
        ts: r.ts,
        rule: 'device-clock',
        severity: 'info',
        reason: `reading seq ${r.seq}: device clock ${fmt((r.deviceTs - r.ts) / 1000)} s off the gateway clock (limit ${fmt(th.deviceClockMaxSkewMs / 1000)} s)`,
      });
    }
  }
  const good = bySeq.filter((r) => !excluded.has(r) && r.quality === 'good' && r.value !== undefined);
  const byTs = new Map<number, RawReading[]>();
  for (const r of good) byTs.set(r.ts, [...(byTs.get(r.ts) ?? []), r]);
  const trusted: TsValue[] = [];
  for (const [ts, same] of byTs) {
    const first = same[0]!;
    if (same.length === 1) {
      trusted.push({ ts, value: first.value! });
      continue;
    }
    const values = same.map((r) => r.value!);
    const spread = Math.max(...values) - Math.min(...values);
    const seqs = same.map((r) => r.seq).join(', ');
    if (spread <= th.duplicateValueTolerance) {
      trusted.push({ ts, value: first.value! });
      findings.push({
        ts,
        rule: 'timestamp-duplicate',
        severity: 'info',
        reason: `readings seq ${seqs} share ts ${iso(ts)} with the same register; counted once`,
      });
    } else {
      findings.push({
        ts,
        rule: 'timestamp-duplicate',
        severity: 'fail',
        reason: `readings seq ${seqs} share ts ${iso(ts)} with registers ${values.map(fmt).join(' vs ')}; both left out`,
      });
    }
  }
  trusted.sort((a, b) => a.ts - b.ts);
  return { trusted, findings };
}

/** Which installation of `meter` a reading at `ts` belongs to (-1 before any, or with none recorded). */
function installationIndex(installations: readonly Installation[], meter: string, ts: number): number {
  const own = installations.filter((i) => i.meter === meter);
  if (own.length === 0) return 0;
  return own.findIndex((i) => i.installedAt <= ts && ts < (i.removedAt ?? Infinity));
}

/**
 * a, b, c, d where b is above c but c is not below a: either b jumped or c dipped. The one further
 * from the straight line between a and d is the bad one (the other then lies on it).
 */
function dipIsLikelier(a: TsValue, b: TsValue, c: TsValue, d: TsValue | undefined): boolean {
  if (!d || d.value < b.value) return false;
  const line = (p: TsValue) => a.value + ((d.value - a.value) * (p.ts - a.ts)) / (d.ts - a.ts);
  return Math.abs(c.value - line(c)) > Math.abs(b.value - line(b));
}

/**
 * A single bad reading: one register value out of line with its two neighbours of the same
 * installation while they agree with each other, i.e. below the reading before it while the one
 * after is back at or above that (a dip), or above the reading after it while that one is at or
 * above the reading before (a jump). A register cannot do that, so the reading is left out and the
 * intervals around it are computed across it from its neighbours: the energy of the dip's rebound
 * is then counted once, never twice. A fall that the next reading confirms is not a bad reading
 * (a wrap, an exchange or a real decrease, judged by the interval rules); the newest reading has
 * no next one yet and is judged when it arrives.
 */
export function rejectSingleBadReadings(
  trusted: readonly TsValue[],
  installations: readonly Installation[],
  meter: string,
): Screened {
  const kept: { p: TsValue; inst: number }[] = [];
  const findings: ReadingFinding[] = [];
  const inst = trusted.map((p) => installationIndex(installations, meter, p.ts));
  for (let k = 0; k < trusted.length; k++) {
    const b = trusted[k]!;
    const here = inst[k]!;
    const keep = () => kept.push({ p: b, inst: here });
    const before = kept[kept.length - 1];
    const c = trusted[k + 1];
    if (!before || !c || before.inst !== here || inst[k + 1] !== here) {
      keep();
      continue;
    }
    const a = before.p;
    // The neighbours must themselves be in line (the reading before a not above it, the one after
    // c not below it), otherwise this is one of several bad readings or a real decrease.
    const beforeA = kept[kept.length - 2];
    const afterC = trusted[k + 2];
    const steady =
      (!beforeA || beforeA.inst !== here || beforeA.p.value <= a.value) &&
      (!afterC || inst[k + 2] !== here || afterC.value >= c.value);
    if (steady) {
      const dip = b.value < a.value && c.value >= a.value;
      const jump = b.value > c.value && c.value >= a.value && !dipIsLikelier(a, b, c, afterC);
      if (dip || jump) {
        findings.push({
          ts: b.ts,
          rule: 'bad-reading',
          severity: 'info',
          reason: `the register at ${iso(b.ts)} (${fmt(b.value)}) is ${dip ? 'below' : 'above'} both neighbours (${fmt(a.value)} at ${iso(a.ts)}, ${fmt(c.value)} at ${iso(c.ts)}): one bad reading, left out; the intervals are computed across it`,
        });
        continue;
      }
    }
    keep();
  }
  return { trusted: kept.map((k) => k.p), findings };
}

/** One 15-min interval under validation. */
export interface Candidate {
  start: number;
  end: number;
  value: number | null;
  status: IntervalConsumption['status'];
  flags: VeeFlag[];
  source: 'actual' | 'estimated';
  method?: string;
  note?: string;
}

export interface MeterData {
  meter: string;
  kind: MeterKind;
  quantity: CumulativeQuantity;
  timezone: string;
  th: Thresholds;
  trusted: readonly TsValue[];
  findings: readonly ReadingFinding[];
  installations: readonly Installation[];
  /** relay_closed samples (1 closed, 0 cut off), by ts. */
  relay: readonly TsValue[];
  /** energy_export_kwh register (only for an import register of a consumption-only meter). */
  exportRegister: readonly TsValue[];
}

/** The most the meter can physically pass in `ms`, or undefined when its rating is not configured. */
export function physicalLimit(
  kind: MeterKind,
  th: Thresholds,
  ms: number,
): { limit: number; why: string } | undefined {
  const hours = ms / 3_600_000;
  if (kind === 'electricity' && th.maxCurrentA !== undefined) {
    const kw = (th.phases * th.voltageV * th.maxCurrentA) / 1000;
    return {
      limit: kw * hours,
      why: `${th.phases} × ${th.voltageV} V × ${th.maxCurrentA} A = ${fmt(kw)} kW`,
    };
  }
  if (kind === 'water' && th.pipeDiameterMm !== undefined) {
    const d = th.pipeDiameterMm / 1000;
    const m3h = ((Math.PI * d * d) / 4) * th.maxVelocityMs * 3600;
    return {
      limit: m3h * hours,
      why: `DN${th.pipeDiameterMm} at ${th.maxVelocityMs} m/s = ${fmt(m3h)} m³/h`,
    };
  }
  if (kind === 'heat' && th.maxHeatPowerKw !== undefined) {
    return { limit: th.maxHeatPowerKw * hours, why: `${th.maxHeatPowerKw} kW` };
  }
  return undefined;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[idx]!;
}

/** Per local day start: the history figures the day's intervals are judged against. */
export interface DayHistory {
  count: number;
  p95: number;
  nonZeroShare: number;
}

/** Start of each interval's local day, and each day's history (the historyDays before it). */
export function dayHistories(
  intervals: readonly Candidate[],
  kind: MeterKind,
  th: Thresholds,
  timezone: string,
): { dayOf: (start: number) => number; history: Map<number, DayHistory> } {
  const dayStarts = new Map<number, number>();
  const days: number[] = [];
  let dayStart = -Infinity;
  let dayEnd = -Infinity;
  for (const c of intervals) {
    if (c.start >= dayEnd) {
      dayStart = floorToStep(c.start, '1d', timezone);
      dayEnd = nextBoundary(dayStart, '1d', timezone);
      days.push(dayStart);
    }
    dayStarts.set(c.start, dayStart);
  }
  const usable = intervals.filter((c) => basicUsable(c, kind, th));
  const history = new Map<number, DayHistory>();
  for (const day of days) {
    const from = day - th.historyDays * 86_400_000;
    const values = usable.filter((c) => c.start >= from && c.end <= day).map((c) => c.value!);
    values.sort((a, b) => a - b);
    history.set(day, {
      count: values.length,
      p95: percentile(values, 0.95),
      nonZeroShare: values.length ? values.filter((v) => v > 0).length / values.length : 0,
    });
  }
  return { dayOf: (start) => dayStarts.get(start) ?? floorToStep(start, '1d', timezone), history };
}

/** A measured value fit for history (percentiles, like-days): plain, and physically possible. */
function basicUsable(c: Candidate, kind: MeterKind, th: Thresholds): boolean {
  if (c.value === null || (c.status !== 'ok' && c.status !== 'rollover')) return false;
  const limit = physicalLimit(kind, th, c.end - c.start);
  return !limit || c.value <= limit.limit;
}

/** Spike checks on one value (measured or estimated): the physical limit, then the meter's own history. */
export function spikeFlag(
  value: number,
  start: number,
  end: number,
  kind: MeterKind,
  th: Thresholds,
  hist: DayHistory | undefined,
  what = '',
): VeeFlag | undefined {
  const limit = physicalLimit(kind, th, end - start);
  if (limit && value > limit.limit) {
    return {
      rule: 'spike',
      severity: 'fail',
      reason: `${what}${fmt(value)} in ${fmt((end - start) / MINUTE)} min is above the physical limit ${fmt(limit.limit)} (${limit.why})`,
    };
  }
  if (
    hist &&
    hist.count >= th.minHistoryIntervals &&
    value > th.spikeMinValue &&
    value > th.spikeFactor * hist.p95
  ) {
    return {
      rule: 'spike',
      severity: 'fail',
      reason: `${what}${fmt(value)} is above ${th.spikeFactor} × the 95th percentile (${fmt(hist.p95)}) of the past ${th.historyDays} days`,
    };
  }
  return undefined;
}

function lastAtOrBefore(points: readonly TsValue[], t: number): TsValue | undefined {
  return points[indexAfter(points, t) - 1];
}

function firstAtOrAfter(points: readonly TsValue[], t: number): TsValue | undefined {
  return points[indexAtOrAfter(points, t)];
}

export { firstAtOrAfter, lastAtOrBefore };

function installationAt(installations: readonly Installation[], meter: string, ts: number) {
  return installations.find(
    (i) => i.meter === meter && i.installedAt <= ts && ts < (i.removedAt ?? Infinity),
  );
}

/**
 * Why an interval's register went down and stayed down (single bad readings are already left out):
 * a reset or an unrecorded exchange (a large fall), or a meter running backwards.
 */
function decreaseFlag(d: MeterData, c: Candidate): VeeFlag {
  const pts = d.trusted;
  const from = lastAtOrBefore(pts, c.start)?.ts ?? c.start;
  const to = firstAtOrAfter(pts, c.end)?.ts ?? c.end;
  const inRange = pts.filter((p) => p.ts >= from && p.ts <= to);
  for (let k = 1; k < inRange.length; k++) {
    const p = inRange[k - 1]!;
    const q = inRange[k]!;
    if (q.value >= p.value) continue;
    const inst = installationAt(d.installations, d.meter, q.ts);
    const wrapNote =
      inst?.rolloverAt !== undefined
        ? ` (not a plausible wrap at ${fmt(inst.rolloverAt)})`
        : ' (no rolloverAt recorded)';
    if (q.value < p.value * (1 - d.th.resetDropFraction)) {
      return {
        rule: 'register-decrease',
        severity: 'fail',
        reason: `register fell from ${fmt(p.value)} to ${fmt(q.value)} at ${iso(q.ts)}${wrapNote}: a reset or a meter exchange without an installation record`,
      };
    }
    return {
      rule: 'running-backwards',
      severity: 'fail',
      reason: `register went back ${fmt(p.value - q.value)} (from ${fmt(p.value)} to ${fmt(q.value)}) at ${iso(q.ts)}`,
    };
  }
  return { rule: 'register-decrease', severity: 'fail', reason: 'register decreased inside the interval' };
}

function statusFlag(d: MeterData, c: Candidate): VeeFlag | undefined {
  switch (c.status) {
    case 'gap': {
      const before = lastAtOrBefore(d.trusted, c.start);
      const after = firstAtOrAfter(d.trusted, c.end);
      return {
        rule: 'gap',
        severity: 'fail',
        reason: `no register value at the interval's start or end (trusted readings around it: ${before ? iso(before.ts) : 'none'} and ${after ? iso(after.ts) : 'none yet'}, interpolated across at most ${MAX_INTERPOLATION_SPAN['15m'] / MINUTE} min)`,
      };
    }
    case 'decrease':
      return decreaseFlag(d, c);
    case 'rollover': {
      const inst =
        installationAt(d.installations, d.meter, c.start) ??
        installationAt(d.installations, d.meter, c.end - 1);
      return {
        rule: 'rollover',
        severity: 'info',
        reason: `register wrapped past its maximum ${fmt(inst?.rolloverAt ?? NaN)}`,
      };
    }
    case 'replacement': {
      const own = d.installations.filter(
        (i) => i.meter === d.meter && i.installedAt < c.end && (i.removedAt ?? Infinity) > c.start,
      );
      const desc = own
        .map(
          (i) =>
            `${i.serial} [${iso(i.installedAt)}${i.removedAt !== undefined ? ` – ${iso(i.removedAt)}` : ''}]`,
        )
        .join(' → ');
      return { rule: 'meter-replaced', severity: 'info', reason: `meter exchanged in the interval: ${desc}` };
    }
    default:
      return undefined;
  }
}

/** When the relay opened, if it is open at any time in [start, end): the start of that open period. */
function relayOpen(relay: readonly TsValue[], start: number, end: number): number | undefined {
  const atStart = lastAtOrBefore(relay, start);
  let k =
    atStart && atStart.value === 0
      ? relay.indexOf(atStart)
      : relay.findIndex((r) => r.ts >= start && r.ts < end && r.value === 0);
  if (k < 0) return undefined;
  while (k > 0 && relay[k - 1]!.value === 0) k--;
  return relay[k]!.ts;
}

function runs(
  candidates: readonly Candidate[],
  same: (a: Candidate, b: Candidate) => boolean,
  member: (c: Candidate) => boolean,
) {
  const out: Candidate[][] = [];
  let cur: Candidate[] = [];
  for (const c of candidates) {
    const last = cur[cur.length - 1];
    if (member(c) && (!last || (last.end === c.start && same(last, c)))) {
      cur.push(c);
      continue;
    }
    if (cur.length) out.push(cur);
    cur = member(c) ? [c] : [];
  }
  if (cur.length) out.push(cur);
  return out;
}

/**
 * The 15-min intervals of [from, to) (local boundaries) with every interval rule applied. Each
 * candidate keeps its measured value; whether it must be estimated is `needsEstimate`.
 */
export function validateIntervals(
  d: MeterData,
  from: number,
  to: number,
): { intervals: Candidate[]; history: ReturnType<typeof dayHistories> } {
  const query = {
    meters: [d.meter],
    quantity: d.quantity,
    from,
    to,
    step: '15m' as const,
    timezone: d.timezone,
    installations: d.installations,
  };
  const computed = computeIntervals(
    d.trusted.map((p) => ({ meter: d.meter, ...p })),
    query,
  );
  const intervals: Candidate[] = computed.map((c) => ({
    start: c.start,
    end: c.end,
    value: c.value,
    status: c.status,
    flags: [],
    source: 'actual',
  }));
  const history = dayHistories(intervals, d.kind, d.th, d.timezone);

  let fi = 0;
  const findings = [...d.findings].sort((a, b) => a.ts - b.ts);
  for (const c of intervals) {
    while (fi < findings.length && findings[fi]!.ts < c.start) fi++;
    for (let k = fi; k < findings.length && findings[k]!.ts < c.end; k++) {
      const { ts: _ts, ...flag } = findings[k]!;
      c.flags.push(flag);
    }
    const sf = statusFlag(d, c);
    if (sf) c.flags.push(sf);
    if (c.value !== null) {
      const spike = spikeFlag(
        c.value,
        c.start,
        c.end,
        d.kind,
        d.th,
        history.history.get(history.dayOf(c.start)),
      );
      if (spike) c.flags.push(spike);
    }
  }

  // Zero consumption: a relay cut-off explains it (info); otherwise a long run on a normally active meter fails.
  for (const run of runs(
    intervals,
    () => true,
    (c) => c.value === 0,
  )) {
    const ms = run[run.length - 1]!.end - run[0]!.start;
    for (const c of run) {
      const open = relayOpen(d.relay, c.start, c.end);
      if (open !== undefined) {
        c.flags.push({
          rule: 'zero-consumption',
          severity: 'info',
          reason: `no consumption while the relay is open (cut off since ${iso(open)}): not a fault`,
        });
        continue;
      }
      const hist = history.history.get(history.dayOf(c.start));
      const active =
        hist !== undefined && hist.count >= d.th.minHistoryIntervals && hist.nonZeroShare >= d.th.activeShare;
      if (active && ms >= d.th.zeroRunMinMs) {
        c.flags.push({
          rule: 'zero-consumption',
          severity: 'fail',
          reason: `no consumption for ${fmt(ms / MINUTE)} min on a normally active meter (${fmt(hist.nonZeroShare * 100)} % of past intervals non-zero), relay closed`,
        });
      }
    }
  }

  // Flat line: the same non-zero value interval after interval.
  for (const run of runs(
    intervals,
    (a, b) => Math.abs(a.value! - b.value!) <= 1e-9,
    (c) => c.value !== null && c.value > 0 && c.status === 'ok',
  )) {
    if (run.length < d.th.flatRunMin) continue;
    for (const c of run) {
      c.flags.push({
        rule: 'flat-line',
        severity: 'fail',
        reason: `${run.length} intervals in a row of exactly ${fmt(c.value!)} (limit ${d.th.flatRunMin})`,
      });
    }
  }

  // Reverse energy on a consumption-only meter's import register.
  if (
    d.kind === 'electricity' &&
    d.quantity === 'energy_import_kwh' &&
    !d.th.bidirectional &&
    d.exportRegister.length > 0
  ) {
    const exports = computeIntervals(
      d.exportRegister.map((p) => ({ meter: d.meter, ...p })),
      { ...query, quantity: 'energy_export_kwh' },
    );
    const byStart = new Map(exports.map((e) => [e.start, e]));
    for (const c of intervals) {
      const e = byStart.get(c.start);
      if (e?.value != null && e.value > d.th.reverseMinDelta) {
        c.flags.push({
          rule: 'reverse-energy',
          severity: 'fail',
          reason: `energy_export_kwh rose ${fmt(e.value)} on a consumption-only meter (limit ${fmt(d.th.reverseMinDelta)})`,
        });
      }
    }
  }
  return { intervals, history };
}

export function needsEstimate(c: Candidate): boolean {
  return c.flags.some((f) => f.severity === 'fail' && ESTIMATING_RULES.has(f.rule));
}

/** The points in [start, end) and `extra` more on each side, from points sorted by time (as trusted readings are). */
export function around(
  points: readonly TsValue[],
  start: number,
  end: number,
  extra: number,
): readonly TsValue[] {
  const from = Math.max(0, indexAtOrAfter(points, start) - extra);
  const to = Math.min(points.length, indexAtOrAfter(points, end) + extra);
  return points.slice(from, to);
}

/** Daily checks on a day's current 15-min values: completeness of readings, and Σ intervals vs the register. */
export function dayFlags(args: {
  meter: string;
  quantity: CumulativeQuantity;
  timezone: string;
  th: Thresholds;
  trusted: readonly TsValue[];
  installations: readonly Installation[];
  start: number;
  end: number;
  sum: number | null;
}): VeeFlag[] {
  const { th, start, end } = args;
  const flags: VeeFlag[] = [];
  const expected = Math.round((end - start) / th.expectedReadingIntervalMs);
  // The day's readings and two on each side (what the register difference over the day is
  // interpolated from), found by bisection: VEE asks this for every day of a year, and reading
  // the whole year's readings for each day cost 40 % of a yearly bill run or report.
  const near = around(args.trusted, start, end, 2);
  const found = new Set(near.filter((p) => p.ts >= start && p.ts < end).map((p) => p.ts)).size;
  if (expected > 0 && found / expected < th.minCompleteness) {
    flags.push({
      rule: 'gap',
      severity: 'info',
      reason: `completeness ${fmt((found / expected) * 100)} % (${found} of ${expected} expected readings) is below ${fmt(th.minCompleteness * 100)} %`,
    });
  }
  const [day] = computeIntervals(
    near.map((p) => ({ meter: args.meter, ...p })),
    {
      meters: [args.meter],
      quantity: args.quantity,
      from: start,
      to: start + 1,
      step: '1d',
      timezone: args.timezone,
      installations: args.installations,
    },
  );
  if (args.sum !== null && day?.value != null) {
    const diff = args.sum - day.value;
    const tol = Math.max(th.sumAbsTolerance, th.sumRelTolerance * Math.abs(day.value));
    if (Math.abs(diff) > tol) {
      flags.push({
        rule: 'sum-check',
        severity: 'fail',
        reason: `Σ 15-min intervals ${fmt(args.sum)} differs from the register difference ${fmt(day.value)} over the day by ${fmt(diff)} (tolerance ${fmt(tol)})`,
      });
    }
  }
  return flags;
}

export { STEP_MS };
