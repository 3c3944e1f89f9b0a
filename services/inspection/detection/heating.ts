import { z } from 'zod';
import { zoneOffset } from '../../metering/consumption/zone.ts';
import {
  heatingOnset,
  restoredLevel,
  type HeatingOnset,
  type OnsetRow,
  type RestoredLevel,
} from './heating-onset.ts';
import { firstDayAtLeast, PeerDays } from './heating-peers.ts';
import type {
  DetectionInput,
  ScoringDetector,
  Finding,
  HeatingRegistration,
  MeterData,
  Sample,
  Score,
  WeatherSample,
} from './types.ts';

/**
 * Heating used without paying for it (DOMAIN.md "Heating start/stop", REFERENCE.md):
 *
 * (a) A unit registered as stopped whose heat meter shows space heating: flow above the meter's
 *     start flow with a supply−return ΔT beyond what hot water alone explains, sustained for hours;
 *     or more heat in a local day than a domestic-hot-water allowance.
 * (b) Electric heaters: a customer's daily kWh regressed on heating degree days
 *     (kWh = a + b·HDD + c·weekend); a recent HDD slope that jumps against the meter's own earlier
 *     slope (or, without history, its peers under the same parent meter) is flagged, with the fit
 *     quality (CV(RMSE), ASHRAE Guideline 14 style) as evidence; and the night base load against
 *     the night's degree-hours over the last months, scanned for the day a new response to the
 *     cold began (heating-onset.ts), for a heater left on since weeks ago. Whichever is surer.
 */

const H = 3_600_000;
/** Placebo windows of the weather statistic start this many days before the recent period… */
const PLACEBO_GAP_DAYS = 63;
/** …back to this many days (a year of past heating weather), every PLACEBO_STEP_DAYS. */
const PLACEBO_HISTORY_DAYS = 420;
const PLACEBO_STEP_DAYS = 10;
/** Past onset scans end every 28 days from PLACEBO_GAP_DAYS back to this. */
const PLACEBO_SCAN_DAYS = 250;
/** Fewer past scans with a result than this: the scan's statistic is taken as it is. */
const PLACEBO_MIN_SCANS = 3;
/**
 * What the best of a scan's onsets reaches by chance alone (RMS, no heater, an even building):
 * past scans wider than this widen the judgement.
 */
const ONSET_NULL_RMS = 3.5;
/**
 * Where the best onset of a scan of a building without a heater falls, after its past spread
 * (centre and spread of that statistic over the tuning half's innocent meters: 1.1 and 2.1).
 */
const ONSET_NULL_MEAN = 1;
const ONSET_NULL_SD = 2;
/**
 * Whole days of the recent period a meter needs to be judged: a day or two lost to a communication
 * gap must not leave a meter unjudged for a fortnight (one missing day did, before).
 */
const MIN_RECENT_SHARE = 0.75;
const minRecentDays = (c: { recentDays: number }) => Math.ceil(MIN_RECENT_SHARE * c.recentDays);
/** Fewer past heating windows than this: the statistic is taken as it is. */
const PLACEBO_MIN_WINDOWS = 6;
/** A past window with less mean HDD than this (K) had no heating weather to speak of. */
const PLACEBO_MIN_HDD = 2;
/** Days of a meter's history its heating onset scan learns its own response to the cold over. */
const SCAN_HISTORY_DAYS = 180;
/**
 * A stretch of lower use ending at the heating onset counts (restoredLevel) from this statistic of
 * its level down: a theft's or a stopped register's weeks, not the wander of an honest night load.
 */
const RESTORED_DROP_Z = -12;
/** Earliest heating onset the scan considers (days before the last). */
const SCAN_ONSET_DAYS = 90;
const DAY = 86_400_000;

export const HeatingConfigSchema = z
  .object({
    stopped: z
      .object({
        enabled: z.boolean().default(true),
        minFlowM3h: z.number().nonnegative().default(0.05).describe("Flow above the meter's start flow"),
        minDeltaK: z.number().nonnegative().default(5).describe('Supply − return ΔT of space heating'),
        minDurationMs: z
          .number()
          .int()
          .positive()
          .default(2 * H)
          .describe('Heating-like samples sustained this long'),
        dhwAllowanceKwhPerDay: z
          .number()
          .nonnegative()
          .default(10)
          .describe('Heat a stopped unit may use in a local day for hot water'),
      })
      .strict()
      .prefault({}),
    degreeDay: z
      .object({
        enabled: z.boolean().default(true),
        baseC: z.number().default(15.5).describe('Heating degree days below this daily mean'),
        recentDays: z.number().int().min(5).default(14).describe('The recent period whose slope is judged'),
        minBaselineDays: z.number().int().min(5).default(14).describe('Earlier days needed for a baseline'),
        minAfterDays: z
          .number()
          .int()
          .min(3)
          .default(7)
          .describe('Fewest days after a heating onset for it to be judged'),
        baselineDays: z.number().int().min(7).default(56).describe('Days of own history before the gap'),
        gapDays: z
          .number()
          .int()
          .nonnegative()
          .default(14)
          .describe('Days left out between the baseline and the recent period'),
        minZ: z
          .number()
          .positive()
          .default(4)
          .describe('Recent extra use ∝ HDD, in baseline residual spreads'),
        onsetMinZ: z
          .number()
          .positive()
          .default(9)
          .describe('The night base load onset scan alone alerts from this statistic (best of many onsets)'),
        nightMinZ: z
          .number()
          .positive()
          .default(3.5)
          .describe(
            "The night base load's recent response to the cold and its onset scan, pooled, alert from this",
          ),
        minShare: z
          .number()
          .nonnegative()
          .default(0.03)
          .describe('…and at least this share of its consumption'),
        minHddSpreadK: z
          .number()
          .nonnegative()
          .default(1.5)
          .describe('Standard deviation of HDD in the recent period'),
        accountPattern: z.string().default('.').describe('Electricity meters whose account matches'),
        nightHours: z
          .tuple([z.number().int().min(0).max(23), z.number().int().min(1).max(24)])
          .default([1, 5])
          .describe('Local hours [from, to) of the night base load'),
      })
      .strict()
      .prefault({}),
  })
  .strict();
export type HeatingConfig = z.infer<typeof HeatingConfigSchema>;
export type HeatingConfigInput = z.input<typeof HeatingConfigSchema>;

/**
 * Local day and hour of instants in one zone; the zone's offset is taken at the start of each hour.
 * A UTC day whose first and last hours have the same offset has it all day (no zone changes its
 * offset twice in a day), so Intl is asked twice a day, not every hour of years of readings.
 */
export function localCalendar(timezone: string): (ts: number) => { day: number; hour: number } {
  const offsets = new Map<number, number>();
  const wholeDays = new Map<number, number | null>();
  return (ts) => {
    const bucket = Math.floor(ts / H);
    const utcDay = Math.floor(bucket / 24);
    let whole = wholeDays.get(utcDay);
    if (whole === undefined) {
      const first = zoneOffset(utcDay * DAY, timezone);
      whole = first === zoneOffset(utcDay * DAY + 23 * H, timezone) ? first : null;
      wholeDays.set(utcDay, whole);
    }
    let off = whole ?? offsets.get(bucket);
    if (off === undefined) {
      off = zoneOffset(bucket * H, timezone);
      offsets.set(bucket, off);
    }
    const local = ts + off;
    return { day: Math.floor(local / DAY), hour: Math.floor((local % DAY) / H) };
  };
}

const round = (x: number, digits = 3): number => Number(x.toFixed(digits));

function medianStep(ts: readonly number[]): number {
  const d: number[] = [];
  for (let i = 1; i < ts.length; i++) d.push(ts[i]! - ts[i - 1]!);
  if (d.length === 0) return 0;
  d.sort((a, b) => a - b);
  return d[d.length >> 1]!;
}

// ── (a) heat used while registered stopped ──

interface HeatPoint {
  ts: number;
  flow: number;
  deltaK: number;
}

function heatPoints(m: MeterData, from: number, to: number): HeatPoint[] {
  const supply = new Map((m.series.supply_c ?? []).map((s) => [s.ts, s.value]));
  const ret = new Map((m.series.return_c ?? []).map((s) => [s.ts, s.value]));
  const out: HeatPoint[] = [];
  for (const s of m.series.flow_m3h ?? []) {
    if (s.ts < from || s.ts >= to) continue;
    const sc = supply.get(s.ts);
    const rc = ret.get(s.ts);
    if (sc === undefined || rc === undefined) continue;
    out.push({ ts: s.ts, flow: s.value, deltaK: sc - rc });
  }
  return out;
}

/** Energy per local day from a cumulative register, inside [from, to). Decreases are left out. */
function dailyDeltas(
  register: readonly Sample[],
  from: number,
  to: number,
  calendar: (ts: number) => { day: number; hour: number },
  maxGapMs: number,
): Map<number, number> {
  const out = new Map<number, number>();
  for (let i = 1; i < register.length; i++) {
    const a = register[i - 1]!;
    const b = register[i]!;
    if (a.ts < from || b.ts > to || b.ts - a.ts > maxGapMs) continue;
    const delta = b.value - a.value;
    if (delta < 0) continue;
    const { day } = calendar(a.ts);
    out.set(day, (out.get(day) ?? 0) + delta);
  }
  return out;
}

/** Merged stopped windows per heat meter, clipped to the input's range. */
function stoppedWindows(
  input: DetectionInput,
): Map<string, { reg: HeatingRegistration; from: number; to: number }[]> {
  const out = new Map<string, { reg: HeatingRegistration; from: number; to: number }[]>();
  for (const reg of input.heating ?? []) {
    if (reg.state !== 'stopped') continue;
    const from = Math.max(reg.from, input.from);
    const to = Math.min(reg.to ?? Infinity, input.to);
    if (to <= from) continue;
    const list = out.get(reg.meter) ?? [];
    list.push({ reg, from, to });
    out.set(reg.meter, list);
  }
  // A later "on" registration ends a stop where the desk recorded no end: the latest record wins.
  for (const reg of input.heating ?? []) {
    if (reg.state !== 'on') continue;
    for (const w of out.get(reg.meter) ?? []) {
      if (reg.from > w.reg.from && reg.from < w.to) w.to = Math.max(w.from, reg.from);
    }
  }
  return out;
}

function stoppedFinding(
  m: MeterData,
  windows: { reg: HeatingRegistration; from: number; to: number }[],
  c: HeatingConfig['stopped'],
  timezone: string,
): { finding?: Finding; score: Score } {
  const calendar = localCalendar(timezone);
  let best: HeatPoint[] = [];
  let bestMs = 0;
  let firstRun: number | undefined;
  let maxDay = 0;
  let maxDayAt: number | undefined;
  let firstDay: number | undefined;
  for (const w of windows) {
    const pts = heatPoints(m, w.from, w.to);
    const step = medianStep(pts.map((p) => p.ts));
    let run: HeatPoint[] = [];
    const close = () => {
      if (run.length === 0) return;
      const ms = run[run.length - 1]!.ts - run[0]!.ts + step;
      if (ms >= c.minDurationMs && firstRun === undefined) firstRun = run[0]!.ts;
      if (ms > bestMs) {
        bestMs = ms;
        best = run;
      }
      run = [];
    };
    for (const p of pts) {
      if (p.flow >= c.minFlowM3h && p.deltaK >= c.minDeltaK) run.push(p);
      else close();
    }
    close();
    const registerStep = medianStep(m.register.map((s) => s.ts));
    const days = dailyDeltas(m.register, w.from, w.to, calendar, Math.max(3 * registerStep, H));
    for (const [day, kwh] of [...days].sort((a, b) => a[0] - b[0])) {
      if (kwh > maxDay) {
        maxDay = kwh;
        maxDayAt = day;
      }
      if (kwh > c.dhwAllowanceKwhPerDay && firstDay === undefined) firstDay = day;
    }
  }
  const sustained = bestMs >= c.minDurationMs;
  const overAllowance = maxDay > c.dhwAllowanceKwhPerDay;
  const score = round(
    Math.max(bestMs / c.minDurationMs, c.dhwAllowanceKwhPerDay > 0 ? maxDay / c.dhwAllowanceKwhPerDay : 0),
  );
  const reg = windows[0]!.reg;
  const hours = bestMs / H;
  const meanFlow = best.length ? best.reduce((s, p) => s + p.flow, 0) / best.length : 0;
  const meanDelta = best.length ? best.reduce((s, p) => s + p.deltaK, 0) / best.length : 0;
  if (!sustained && !overAllowance) {
    return {
      score: {
        id: m.meter,
        kind: 'meter',
        score,
        alert: false,
        reason: `registered stopped; longest heating-like run ${hours.toFixed(1)} h, most heat in a day ${maxDay.toFixed(1)} kWh (hot water at most)`,
      },
    };
  }
  const reasons: string[] = [];
  if (sustained)
    reasons.push(
      `flow ${meanFlow.toFixed(2)} m³/h with ΔT ${meanDelta.toFixed(1)} K for ${hours.toFixed(1)} h`,
    );
  if (overAllowance)
    reasons.push(`${maxDay.toFixed(1)} kWh of heat in a day (allowance ${c.dhwAllowanceKwhPerDay} kWh)`);
  const reason = `heating used while registered stopped: ${reasons.join('; ')}`;
  const dayStart = (day: number) => day * DAY - zoneOffset(day * DAY, timezone);
  const since = Math.min(
    firstRun ?? Infinity,
    firstDay !== undefined ? Math.max(windows[0]!.from, dayStart(firstDay)) : Infinity,
  );
  const every = Math.max(1, Math.ceil(best.length / 200));
  const sampled = best.filter((_, i) => i % every === 0);
  const finding: Finding = {
    type: 'unauthorized-heating',
    key: `unauthorized-heating:${m.meter}`,
    severity: sustained && overAllowance ? 'high' : 'medium',
    meter: m.meter,
    score,
    since,
    reason,
    evidence: {
      from: best[0]?.ts ?? windows[0]!.from,
      to: best[best.length - 1]?.ts ?? windows[windows.length - 1]!.to,
      figures: {
        longestRunHours: round(hours, 2),
        meanFlowM3h: round(meanFlow),
        meanDeltaK: round(meanDelta, 2),
        maxDayKwh: round(maxDay, 2),
        ...(maxDayAt !== undefined
          ? { maxDayLocal: new Date(maxDayAt * DAY).toISOString().slice(0, 10) }
          : {}),
        dhwAllowanceKwh: c.dhwAllowanceKwhPerDay,
        registeredStoppedFrom: new Date(reg.from).toISOString(),
        ...(reg.workOrder ? { workOrder: reg.workOrder } : {}),
        ...(reg.confirmedBy ? { confirmedBy: reg.confirmedBy.join('; ') } : {}),
      },
      series: [
        { meter: m.meter, quantity: 'flow_m3h', points: sampled.map((p) => [p.ts, p.flow]) },
        { meter: m.meter, quantity: 'delta_t_k', points: sampled.map((p) => [p.ts, round(p.deltaK, 2)]) },
      ],
    },
  };
  return { finding, score: { id: m.meter, kind: 'meter', score, alert: true, reason } };
}

// ── (b) electric heating by degree days ──

export interface DegreeDayFit {
  /** kWh per day at 0 HDD on a weekday. */
  intercept: number;
  /** kWh per heating degree day. */
  slope: number;
  /** Standard error of the slope. */
  slopeSe: number;
  /** CV(RMSE) of the fit, in percent. */
  cvRmse: number;
  days: number;
  hddSpread: number;
}

/** Ordinary least squares of y on [1, x, w] (w dropped when constant); null if singular. */
export function fitDegreeDays(
  rows: readonly { hdd: number; weekend: boolean; kwh: number }[],
): DegreeDayFit | null {
  const n = rows.length;
  if (n < 4) return null;
  const useW = rows.some((r) => r.weekend) && rows.some((r) => !r.weekend);
  const X = rows.map((r) => (useW ? [1, r.hdd, r.weekend ? 1 : 0] : [1, r.hdd]));
  const k = X[0]!.length;
  const A = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  const b = new Array<number>(k).fill(0);
  rows.forEach((r, i) => {
    const x = X[i]!;
    for (let p = 0; p < k; p++) {
      b[p]! += x[p]! * r.kwh;
      for (let q = 0; q < k; q++) A[p]![q]! += x[p]! * x[q]!;
    }
  });
  const inv = invert(A);
  if (!inv) return null;
  const beta = inv.map((row) => row.reduce((s, v, q) => s + v * b[q]!, 0));
  let sse = 0;
  let mean = 0;
  rows.forEach((r, i) => {
    const fit = X[i]!.reduce((s, v, q) => s + v * beta[q]!, 0);
    sse += (r.kwh - fit) ** 2;
    mean += r.kwh / n;
  });
  const dof = Math.max(1, n - k);
  const sigma2 = sse / dof;
  const hddMean = rows.reduce((s, r) => s + r.hdd, 0) / n;
  const hddSpread = Math.sqrt(rows.reduce((s, r) => s + (r.hdd - hddMean) ** 2, 0) / n);
  return {
    intercept: beta[0]!,
    slope: beta[1]!,
    slopeSe: Math.sqrt(Math.max(0, sigma2 * inv[1]![1]!)),
    cvRmse: mean > 0 ? (100 * Math.sqrt(sse / dof)) / mean : Infinity,
    days: n,
    hddSpread,
  };
}

function invert(m: number[][]): number[][] | null {
  const n = m.length;
  const a = m.map((row, i) => [...row, ...Array.from({ length: n }, (_, j) => (i === j ? 1 : 0))]);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(a[r]![col]!) > Math.abs(a[pivot]![col]!)) pivot = r;
    if (Math.abs(a[pivot]![col]!) < 1e-9) return null;
    [a[col], a[pivot]] = [a[pivot]!, a[col]!];
    const p = a[col]![col]!;
    for (let j = 0; j < 2 * n; j++) a[col]![j]! /= p;
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const f = a[r]![col]!;
      for (let j = 0; j < 2 * n; j++) a[r]![j]! -= f * a[col]![j]!;
    }
  }
  return a.map((row) => row.slice(n));
}

/** Daily mean outdoor temperature per local day with at least `minSamples` samples. */
function dailyWeather(
  weather: readonly WeatherSample[],
  calendar: (ts: number) => { day: number; hour: number },
): Map<number, number> {
  const acc = new Map<number, { sum: number; n: number }>();
  for (const w of weather) {
    const { day } = calendar(w.ts);
    const a = acc.get(day) ?? { sum: 0, n: 0 };
    a.sum += w.outdoorC;
    a.n++;
    acc.set(day, a);
  }
  const out = new Map<number, number>();
  for (const [day, a] of acc) if (a.n >= 4) out.set(day, a.sum / a.n);
  return out;
}

/** Per local day, the mean over its hourly samples of max(0, base − T): the cold a thermostat sees. */
function dailyDegreeHours(
  weather: readonly WeatherSample[],
  calendar: (ts: number) => { day: number; hour: number },
  baseC: number,
  hours: readonly [number, number] = [0, 24],
): Map<number, number> {
  const acc = new Map<number, { sum: number; n: number }>();
  for (const w of weather) {
    const { day, hour } = calendar(w.ts);
    if (hour < hours[0] || hour >= hours[1]) continue;
    const a = acc.get(day) ?? { sum: 0, n: 0 };
    a.sum += Math.max(0, baseC - w.outdoorC);
    a.n++;
    acc.set(day, a);
  }
  const out = new Map<number, number>();
  for (const [day, a] of acc) if (a.n >= 4) out.set(day, a.sum / a.n);
  return out;
}

interface MeterDays {
  meter: MeterData;
  rows: { day: number; hdd: number; weekend: boolean; kwh: number; nightKw: number }[];
}

function meterDays(
  m: MeterData,
  temps: Map<number, number>,
  baseC: number,
  nightHours: readonly [number, number],
  calendar: (ts: number) => { day: number; hour: number },
): MeterDays {
  const reg = m.register;
  const step = medianStep(reg.map((s) => s.ts));
  const maxGap = Math.max(3 * step, H);
  const days = new Map<number, { kwh: number; covered: number; night: number; nightMs: number }>();
  for (let i = 1; i < reg.length; i++) {
    const a = reg[i - 1]!;
    const b = reg[i]!;
    const delta = b.value - a.value;
    if (b.ts - a.ts > maxGap || delta < 0) continue;
    const { day, hour } = calendar(a.ts);
    const d = days.get(day) ?? { kwh: 0, covered: 0, night: 0, nightMs: 0 };
    d.kwh += delta;
    d.covered += b.ts - a.ts;
    if (hour >= nightHours[0] && hour < nightHours[1]) {
      d.night += delta;
      d.nightMs += b.ts - a.ts;
    }
    days.set(day, d);
  }
  const rows: MeterDays['rows'] = [];
  for (const [day, d] of [...days].sort((x, y) => x[0] - y[0])) {
    const t = temps.get(day);
    if (t === undefined || d.covered < 0.9 * DAY) continue;
    const weekday = (((day + 4) % 7) + 7) % 7;
    rows.push({
      day,
      hdd: Math.max(0, baseC - t),
      weekend: weekday === 0 || weekday === 6,
      kwh: (d.kwh * DAY) / d.covered,
      nightKw: d.nightMs > 0 ? d.night / (d.nightMs / H) : 0,
    });
  }
  return { meter: m, rows };
}

/** Least squares of y on the columns of X; null if singular. */
function ols(X: readonly number[][], y: readonly number[]): number[] | null {
  const k = X[0]?.length ?? 0;
  if (X.length <= k) return null;
  const A = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  const b = new Array<number>(k).fill(0);
  X.forEach((x, i) => {
    for (let p = 0; p < k; p++) {
      b[p]! += x[p]! * y[i]!;
      for (let q = 0; q < k; q++) A[p]![q]! += x[p]! * x[q]!;
    }
  });
  const inv = invert(A);
  return inv && inv.map((row) => row.reduce((s, v, q) => s + v * b[q]!, 0));
}

function medianOf(xs: number[]): number {
  if (xs.length === 0) return Number.NaN;
  // A typed array sorts numbers without a comparator call per pair (called per meter per window).
  const a = Float64Array.from(xs).sort();
  const h = a.length >> 1;
  return a.length % 2 ? a[h]! : (a[h - 1]! + a[h]!) / 2;
}

/**
 * The meter's own temperature response, learned over its history: daily kWh = a + b·HDD + c·weekend
 * (+ a level of its own for last year's days), fitted on the days before a gap before the recent
 * period and on the same season a year earlier. Its relative residuals ((kWh − fit) / its mean
 * day), less the peers' median residual of the same day (term, vacations, a cold snap everybody
 * answers), are projected on the recent days' HDD: a heater adds energy in proportion to the cold.
 * The projection in units of the baseline residuals' own spread is the score's statistic, so a
 * large building and a small room are judged alike.
 */
interface WeatherJudgement {
  md: MeterDays;
  recentRows: MeterDays['rows'];
  baseRows: MeterDays['rows'];
  /** Peer-adjusted relative residual per day (recent and baseline days). */
  rel: Map<number, number>;
  scale: number;
  fit: number[];
  lastYearFrom: number;
}

function judgeAgainstWeather(
  md: MeterDays,
  recentFrom: number,
  c: HeatingConfig['degreeDay'],
  recentTo = Infinity,
): WeatherJudgement | null {
  // The rows are in day order: each period is a slice found by bisection (a meter is judged over
  // dozens of past windows, and filtering its whole history for each made most of the cost).
  const rows = md.rows;
  const at = (day: number) => firstDayAtLeast(rows, day);
  const recentStart = at(recentFrom);
  const recentRows = rows.slice(recentStart, recentTo === Infinity ? rows.length : at(recentTo));
  // A heater bought a few weeks ago must not sit in the baseline: leave a gap if history allows.
  const gap = Math.max(0, Math.min(c.gapDays, recentStart - c.minBaselineDays));
  const baseEnd = recentFrom - gap;
  const lastYearFrom = recentFrom - 365 - c.baselineDays;
  const lastYearTo = recentFrom - 365 + c.recentDays + c.baselineDays;
  const baseRows = unionOfSlices(
    rows,
    [at(baseEnd - c.baselineDays), at(baseEnd)],
    [at(lastYearFrom), at(lastYearTo)],
  );
  if (baseRows.length < c.minBaselineDays || recentRows.length < minRecentDays(c)) return null;
  const hasLastYear = baseRows.some((r) => r.day < baseEnd - c.baselineDays);
  const hasWeekend = baseRows.some((r) => r.weekend) && baseRows.some((r) => !r.weekend);
  const hasCold = baseRows.some((r) => r.hdd > 0) && baseRows.some((r) => r.hdd !== baseRows[0]!.hdd);
  const isLast = (r: MeterDays['rows'][number]) => r.day < baseEnd - c.baselineDays;
  const k = 1 + (hasCold ? 1 : 0) + (hasWeekend ? 1 : 0) + (hasLastYear ? 1 : 0);
  /** The regressors of a row: 1, (HDD), (weekend), (last year), into `into`. */
  const x = (r: MeterDays['rows'][number], into: number[]): number[] => {
    let q = 0;
    into[q++] = 1;
    if (hasCold) into[q++] = r.hdd;
    if (hasWeekend) into[q++] = r.weekend ? 1 : 0;
    if (hasLastYear) into[q++] = isLast(r) ? 1 : 0;
    return into;
  };
  const fit = ols(
    baseRows.map((r) => x(r, new Array<number>(k))),
    baseRows.map((r) => r.kwh),
  );
  if (!fit) return null;
  const scale = Math.max(1e-6, baseRows.reduce((s, r) => s + r.kwh, 0) / baseRows.length);
  const rel = new Map<number, number>();
  const row = new Array<number>(k);
  for (const list of [baseRows, recentRows])
    for (const r of list) {
      x(r, row);
      let f = 0;
      for (let q = 0; q < k; q++) f += row[q]! * fit[q]!;
      rel.set(r.day, (r.kwh - f) / scale);
    }
  return { md, recentRows, baseRows, rel, scale, fit, lastYearFrom };
}

/** The rows of two index ranges [from, to), in row order, each row once (as a filter on either). */
function unionOfSlices<T>(rows: readonly T[], a: [number, number], b: [number, number]): T[] {
  const [x, y] = a[0] <= b[0] ? [a, b] : [b, a];
  if (x[1] <= x[0]) return rows.slice(y[0], Math.max(y[0], y[1]));
  if (y[1] <= y[0]) return rows.slice(x[0], x[1]);
  if (x[1] >= y[0]) return rows.slice(x[0], Math.max(x[1], y[1]));
  return [...rows.slice(x[0], x[1]), ...rows.slice(y[0], y[1])];
}

/**
 * The median of a meter's peers' residuals on a day (0 when fewer than three have one), given the
 * meter's own residual that day (left out of its group's values).
 */
type PeerMedian = (day: number, own: number) => number;

/**
 * Per window of judgements (meter → judgement), each meter's peers: its siblings under the same
 * parent meter when at least three, else every other judged meter. Each group's days are sorted
 * once per window, not once per meter (heating-peers.ts).
 */
function peerMedians(): (at: Map<string, WeatherJudgement>, m: MeterData) => PeerMedian {
  interface Groups {
    byParent: Map<string | undefined, { ids: Set<string>; days?: PeerDays; members: WeatherJudgement[] }>;
    all?: PeerDays;
  }
  const cache = new WeakMap<Map<string, WeatherJudgement>, Groups>();
  return (at, m) => {
    let g = cache.get(at);
    if (!g) {
      g = { byParent: new Map() };
      for (const j of at.values()) {
        const p = j.md.meter.parent;
        const group = g.byParent.get(p) ?? g.byParent.set(p, { ids: new Set(), members: [] }).get(p)!;
        group.ids.add(j.md.meter.meter);
        group.members.push(j);
      }
      cache.set(at, g);
    }
    const siblings = g.byParent.get(m.parent);
    const inSiblings = siblings?.ids.has(m.meter) ?? false;
    let days: PeerDays;
    let member: boolean;
    if (siblings && siblings.members.length - (inSiblings ? 1 : 0) >= 3) {
      days = siblings.days ??= new PeerDays(siblings.members.map((j) => j.rel));
      member = inSiblings;
    } else {
      days = g.all ??= new PeerDays([...at.values()].map((j) => j.rel));
      member = at.has(m.meter);
    }
    return (day, own) => days.medianWithout(day, member ? own : undefined, 3, 0);
  };
}

/** How far the statistic wandered over the building's own past (≥ 1), from how many windows. */
interface Past {
  spread: number;
  windows: number;
}

/**
 * The recent days' peer-adjusted relative residuals projected on their HDD (a heater adds energy in
 * proportion to the cold), in units of the baseline residuals' spread; undefined without HDD.
 */
function weatherStatistic(
  j: WeatherJudgement,
  peerMedian: PeerMedian,
): { z: number; share: number; meanHdd: number } | undefined {
  const adj = (day: number) => {
    const own = j.rel.get(day)!;
    return own - peerMedian(day, own);
  };
  const baseAdj = j.baseRows.map((r) => adj(r.day));
  const mid = medianOf(baseAdj);
  // The spread of few days is itself uncertain, and so is the fit: widened for short histories.
  const sigma =
    Math.max(0.01, 1.4826 * medianOf(baseAdj.map((v) => Math.abs(v - mid)))) *
    Math.sqrt(1 + 10 / baseAdj.length);
  let shh = 0;
  let srh = 0;
  let sh = 0;
  for (const r of j.recentRows) {
    shh += r.hdd * r.hdd;
    srh += (adj(r.day) - mid) * r.hdd;
    sh += r.hdd;
  }
  if (shh === 0) return undefined;
  const beta = srh / shh;
  const n = Math.max(1, j.recentRows.length);
  // Neighbouring days share weather and habits: half as many independent days.
  return {
    z: (beta * Math.sqrt(shh)) / (sigma * Math.SQRT2),
    share: (beta * sh) / n,
    meanHdd: sh / n,
  };
}

function electricHeating(
  input: DetectionInput,
  c: HeatingConfig['degreeDay'],
): { findings: Finding[]; scores: Score[] } {
  const findings: Finding[] = [];
  const scores: Score[] = [];
  if (!c.enabled || !input.weather || input.weather.length === 0) return { findings, scores };
  const calendar = localCalendar(input.timezone);
  const temps = dailyWeather(input.weather, calendar);
  const hasChild = new Set<string>();
  for (const m of input.meters.values()) if (m.parent) hasChild.add(m.parent);
  const pattern = new RegExp(c.accountPattern);
  // The heating desk's registrations and the campus file's heat meters name each unit's
  // electricity meter: those units are judged even without an account. A unit registered as
  // heated electrically (the registration's meter is its electricity meter, heating on) pays for
  // it and is left out from its registration on, while it lasts; judged on data before it.
  const registered = new Map<string, HeatingRegistration[]>();
  for (const reg of input.heating ?? [])
    if (reg.electricityMeter)
      registered.set(reg.electricityMeter, [...(registered.get(reg.electricityMeter) ?? []), reg]);
  const electricOn = (id: string) =>
    (registered.get(id) ?? []).some(
      (r) => r.state === 'on' && r.meter === id && r.from < input.to && (r.to ?? Infinity) >= input.to,
    );
  const candidates = [...input.meters.values()].filter(
    (m) =>
      m.kind === 'electricity' &&
      !hasChild.has(m.meter) &&
      !electricOn(m.meter) &&
      ((m.account !== undefined && pattern.test(m.account)) ||
        registered.has(m.meter) ||
        (m.heatMeters?.length ?? 0) > 0),
  );
  const all = candidates.map((m) => meterDays(m, temps, c.baseC, c.nightHours, calendar));
  const lastDay = Math.max(-Infinity, ...all.map((md) => md.rows.at(-1)?.day ?? -Infinity));
  const recentFrom = lastDay - c.recentDays + 1;
  // The night base load: a building's own night use is its steadiest part (no occupants, plant on
  // timers), and the nights are the coldest hours, so a heater on a thermostat shows there most.
  const dayHeat = dailyDegreeHours(input.weather, calendar, c.baseC);
  const nights = all.map((md) => ({ ...md, rows: md.rows.map((r) => ({ ...r, kwh: r.nightKw })) }));
  const nightHeat = dailyDegreeHours(input.weather, calendar, c.baseC, c.nightHours);
  const onsets = scanOnsets(nights, nightHeat, lastDay, c, true);
  // The scan's best statistic over the building's own past, where today's heater cannot be: a
  // building whose nights answered the cold anew every few weeks before (frost protection, plant
  // on a schedule) is judged against that habit, not against chance.
  const pastScans: Map<string, HeatingOnset & { scale: number }>[] = [];
  for (let back = PLACEBO_GAP_DAYS; back <= PLACEBO_SCAN_DAYS; back += 28)
    pastScans.push(scanOnsets(nights, nightHeat, lastDay - back, c));
  const onsetSpread = (id: string): Past => {
    const zs = pastScans.map((p) => p.get(id)?.z).filter((v): v is number => v !== undefined);
    if (zs.length < PLACEBO_MIN_SCANS) return { spread: 1, windows: zs.length };
    const rms = Math.sqrt(zs.reduce((t, v) => t + Math.max(0, v) ** 2, 0) / zs.length);
    return { spread: Math.max(1, rms / ONSET_NULL_RMS), windows: zs.length };
  };
  const daily = calibratedWeather(all, recentFrom, c);
  const judged = daily.judged;
  const placeboSpread = daily.placeboSpread;
  const peersOf = daily.peersOf;
  // The same judgement of the night base load against the nights' degree-hours.
  const night = calibratedWeather(
    nights.flatMap((md) => {
      const rows = md.rows.flatMap((r) => {
        const h = nightHeat.get(r.day);
        return h === undefined ? [] : [{ ...r, hdd: h }];
      });
      return [{ ...md, rows }];
    }),
    recentFrom,
    c,
  );
  const recentFits = new Map(
    all.map((md) => {
      const rows = md.rows.filter((r) => r.day >= recentFrom);
      return [md.meter.meter, rows.length >= minRecentDays(c) ? fitDegreeDays(rows) : null] as const;
    }),
  );
  const peerMedianSlope = (m: MeterData): number | undefined => {
    const slopes = all
      .filter(
        (md) => md.meter.meter !== m.meter && md.meter.parent === m.parent && recentFits.get(md.meter.meter),
      )
      .map((md) => recentFits.get(md.meter.meter)!.slope / Math.max(1e-6, meanKwh(md.rows)));
    return slopes.length >= 3 ? medianOf(slopes) : undefined;
  };
  const dayStart = (day: number) => day * DAY - zoneOffset(day * DAY, input.timezone);

  for (const md of all) {
    const m = md.meter;
    const recent = recentFits.get(m.meter) ?? null;
    const j = judged.get(m.meter);
    if (!recent) {
      scores.push({
        id: m.meter,
        kind: 'meter',
        score: 0,
        alert: false,
        reason: 'too few whole days for a degree-day fit',
      });
      continue;
    }
    let z: number;
    let share: number;
    let refName: string;
    let refSlope: number;
    let past: Past = { spread: 1, windows: 0 };
    if (j) {
      const w = weatherStatistic(j, peersOf(judged, m));
      if (!w) {
        scores.push({
          id: m.meter,
          kind: 'meter',
          score: 0,
          alert: false,
          reason: 'no heating degree days in the recent period: nothing to judge',
        });
        continue;
      }
      // The same statistic over the building's own past heating weeks, where no heater of today
      // can be: its spread there is how far this building's use wanders with the weather anyway
      // (a lecture hall's term, a lab's experiments, a plant room on frost protection). Judged in
      // units of that spread where it is wider than chance alone.
      past = placeboSpread(m, w.meanHdd);
      z = w.z / past.spread;
      share = w.share;
      refName = 'its own earlier slope';
      refSlope = j.fit.length > 1 && j.baseRows.some((r) => r.hdd > 0) ? j.fit[1]! : 0;
    } else {
      // No history of its own: its recent slope, relative to its size, against its peers'.
      const peer = peerMedianSlope(m);
      if (peer === undefined || recent.hddSpread < c.minHddSpreadK) {
        scores.push({
          id: m.meter,
          kind: 'meter',
          score: 0,
          alert: false,
          reason:
            peer === undefined
              ? 'no earlier slope and too few peers to compare the degree-day slope with'
              : `no history and recent weather too even to judge (HDD spread ${recent.hddSpread.toFixed(1)} K)`,
        });
        continue;
      }
      const mean = meanKwh(md.rows);
      const rel = recent.slope / Math.max(1e-6, mean);
      const meanHdd = md.rows.reduce((s, r) => s + r.hdd, 0) / md.rows.length;
      share = (rel - peer) * meanHdd;
      z = recent.slopeSe > 0 ? (recent.slope - peer * mean) / recent.slopeSe : 0;
      refName = 'the median of its peers';
      refSlope = peer * mean;
    }
    // The night base load, where a heater left on shows most: its response to the nights' cold over
    // the recent days against its own past (the same judgement as above, on nights), and the onset
    // scan's best new response over its last months, for a heater left on however long ago it
    // came. Each is calibrated by the building's own past windows; the two are pooled (Stouffer)
    // as two views of one heater, so a heater each sees a little of is found where neither alone
    // would be. The daily judgement above finds one used by day (a student's heater in the
    // afternoon); the scan alone, one whose onset stands out on its own. Whichever is surest, in
    // units of each one's own alert level.
    // Use back after a stretch of registering less (a meter mended, a theft given up) steps up
    // like a heater switched on: where a stretch of lower use ending at the onset is surely there,
    // the onset's response is the one left beyond returning to the level before that stretch.
    const scanned = onsets.get(m.meter);
    const back = scanned?.restored;
    const restored = back && back.dropZ <= RESTORED_DROP_Z && back.z < scanned.z ? back : undefined;
    const found =
      scanned && restored
        ? {
            ...scanned,
            z: restored.z,
            g: restored.g,
            share: scanned.g !== 0 ? (scanned.share * restored.g) / scanned.g : 0,
          }
        : scanned;
    const foundPast = found && onsetSpread(m.meter);
    const on0 = found && { ...found, z: found.z / foundPast!.spread };
    const nightJ = night.judged.get(m.meter);
    const nightW = nightJ && weatherStatistic(nightJ, night.peersOf(night.judged, m));
    const nightPast = nightW && night.placeboSpread(m, nightW.meanHdd);
    const pooled = pooledNight(nightW && nightW.z / nightPast!.spread, on0?.z);
    // After a stretch of lower use, the recent days' baselines (the weeks before) hold that stretch:
    // only the restated onset judges the meter.
    const route = [
      { name: 'daily' as const, r: restored ? -Infinity : z / c.minZ },
      { name: 'onset' as const, r: on0 ? on0.z / c.onsetMinZ : -Infinity },
      { name: 'night' as const, r: pooled !== undefined && !restored ? pooled / c.nightMinZ : -Infinity },
    ].reduce((x, y) => (y.r > x.r ? y : x)).name;
    // The onset's day, share and draw where the scan found a new response; else the recent nights'.
    const on =
      route === 'onset' || (route === 'night' && on0 && on0.g > 0)
        ? on0
        : route === 'night'
          ? nightOnset(nightW!, nightJ!, lastDay - c.recentDays + 1)
          : undefined;
    let minZ = c.minZ;
    let since = recentFrom;
    if (route !== 'daily') {
      z = route === 'night' ? pooled! : on0!.z;
      share = on!.share;
      since = on!.day;
      minZ = route === 'night' ? c.nightMinZ : c.onsetMinZ;
      past = route === 'night' && nightPast ? nightPast : (foundPast ?? past);
      refName = `its own night base load's response to the cold before ${new Date(dayStart(on!.day)).toISOString().slice(0, 10)}`;
      if (restored && route === 'onset')
        refName +=
          `, once its ${on!.day - restored.from} days of ${(100 * Math.abs(restored.drop)).toFixed(0)} % lower use from ` +
          `${new Date(dayStart(restored.from)).toISOString().slice(0, 10)} are left out (use back to its level before them, not a new response: a meter that registered less?)`;
    }
    // The scan alone takes the best of many onsets, and real buildings' nights answer the cold in
    // ways of their own (frost protection, a plant room): it alerts from a higher statistic.
    const alert = z >= minZ && share >= c.minShare;
    const score = round(Math.max(0, (0.5 * z) / minZ));
    // A meter that is not alerted may use less than predicted: said so, not as "-0.7 % more".
    const reason =
      `${(100 * Math.abs(share)).toFixed(1)} % ${share < 0 ? 'less' : 'more'} ${on ? 'night load' : 'electricity'} in proportion to the cold over the last ${lastDay - since + 1} days ` +
      `than ${refName} predicts (z ${z.toFixed(1)})`;
    scores.push({
      id: m.meter,
      kind: 'meter',
      score,
      alert,
      reason: alert ? `electric heating: ${reason}` : reason,
    });
    if (!alert) continue;
    const recentRows = md.rows.filter((r) => r.day >= since);
    // A heater on a thermostat draws by the hourly cold all day: g · mean night kW per K of cold.
    const extraKwh = on
      ? recentRows.reduce((t, r) => t + on.g * on.scale * 24 * (dayHeat.get(r.day) ?? 0), 0)
      : share * (j?.scale ?? meanKwh(md.rows)) * recentRows.length;
    const regs = registered.get(m.meter) ?? [];
    const stopped = regs.find((r) => r.state === 'stopped');
    findings.push({
      type: 'illegal-load',
      key: `electric-heating:${m.meter}`,
      severity: share >= 0.15 || stopped ? 'high' : 'medium',
      meter: m.meter,
      score,
      since: dayStart(recentRows[0]!.day),
      reason: `electricity rises with cold weather beyond its history (electric heating?): ${reason}; about ${extraKwh.toFixed(0)} kWh`,
      evidence: {
        from: dayStart(recentRows[0]!.day),
        to: dayStart(recentRows[recentRows.length - 1]!.day + 1),
        model: on
          ? route === 'night'
            ? "night base load against the nights' degree-hours, from the meter's own history (the weeks before and last year's same season), pooled with its onset scan (a + b·degree-hours + c·weekend + g·degree-hours since the onset), peer-adjusted"
            : "night base load = a + b·degree-hours + c·weekend + g·degree-hours since the onset, over the meter's last months, peer-adjusted"
          : j
            ? "daily kWh = a + b·HDD + c·weekend from the meter's own history (the weeks before and last year's same season), peer-adjusted"
            : "the recent degree-day slope of its peers, scaled to the meter's size",
        seen: round(
          recentRows.reduce((t, r) => t + r.kwh, 0),
          1,
        ),
        expected: round(recentRows.reduce((t, r) => t + r.kwh, 0) - extraKwh, 1),
        unit: 'kWh',
        figures: {
          model: on
            ? route === 'night'
              ? 'night base load vs degree-hours, own history and onset scan pooled, peer-adjusted'
              : 'night base load vs degree-hours, onset scan, peer-adjusted'
            : j
              ? 'daily kWh = a + b·HDD + c·weekend, own history and last year, peer-adjusted'
              : 'degree-day slope vs peers',
          ...(on ? { onsetNightShare: round(on.share), nightKwPerK: round(on.g * on.scale, 4) } : {}),
          // The two night statistics behind a pooled judgement, each after its own past spread.
          ...(route === 'night'
            ? {
                ...(nightW ? { nightZ: round(nightW.z / nightPast!.spread, 2) } : {}),
                ...(on0 ? { onsetZ: round(on0.z, 2), onsetPastSpread: round(foundPast!.spread, 2) } : {}),
              }
            : {}),
          recentSlopeKwhPerK: round(recent.slope),
          referenceSlopeKwhPerK: round(refSlope),
          reference: refName,
          z: round(z, 2),
          // The statistic divided by how far it wandered over the building's own past winters.
          pastSpread: round(past.spread, 2),
          pastWindows: past.windows,
          extraShare: round(share),
          extraKwh: round(extraKwh, 1),
          ...(j ? { baselineDays: j.baseRows.length, baselineCvRmsePct: round(cvRmse(j), 1) } : {}),
          recentHddSpreadK: round(recent.hddSpread, 2),
          ...(regs.length > 0
            ? { heatingRegistration: regs.map((r) => `${r.meter} ${r.state}`).join('; ') }
            : {}),
        },
        series: [
          {
            meter: m.meter,
            quantity: 'daily_kwh_vs_hdd',
            points: md.rows.slice(-120).map((r) => [round(r.hdd, 2), round(r.kwh, 3)]),
          },
        ],
      },
    });
  }
  return { findings, scores };
}

/**
 * The night statistics pooled (Stouffer): the recent nights' response to the cold (already in
 * units of its spread over the building's past) and the onset scan's best statistic, centred and
 * scaled by where the best of a scan's many onsets falls by chance (ONSET_NULL_MEAN, _SD). One
 * missing counts as no evidence (0), so a meter is not judged surer for having less data.
 */
function pooledNight(nightZ: number | undefined, onsetZ: number | undefined): number | undefined {
  if (nightZ === undefined && onsetZ === undefined) return undefined;
  const onset = onsetZ === undefined ? 0 : (onsetZ - ONSET_NULL_MEAN) / ONSET_NULL_SD;
  return ((nightZ ?? 0) + onset) / Math.SQRT2;
}

/** The recent nights' response as an onset at the recent period's start (its day, share and draw). */
function nightOnset(
  w: { share: number; meanHdd: number },
  j: WeatherJudgement,
  from: number,
): HeatingOnset & { scale: number } {
  return {
    day: from,
    g: w.meanHdd > 0 ? w.share / w.meanHdd : 0,
    z: 0,
    share: w.share,
    days: j.recentRows.length,
    scale: j.scale,
  };
}

/**
 * Each meter's recent days judged against the weather (judgeAgainstWeather), and the same
 * statistic over past windows as long as the recent one, every PLACEBO_STEP_DAYS from
 * PLACEBO_GAP_DAYS back (so a heater that came with the recent weeks is in none of them), each
 * judged exactly as the recent one: how far the building's statistic wanders anyway.
 */
function calibratedWeather(
  all: readonly MeterDays[],
  recentFrom: number,
  c: HeatingConfig['degreeDay'],
): {
  judged: Map<string, WeatherJudgement>;
  peersOf: ReturnType<typeof peerMedians>;
  placeboSpread: (m: MeterData, recentHdd: number) => Past;
} {
  const judged = new Map<string, WeatherJudgement>();
  for (const md of all) {
    const j = judgeAgainstWeather(md, recentFrom, c);
    if (j) judged.set(md.meter.meter, j);
  }
  // Peers' medians once per window and group: a campus of thousands of rooms judged over dozens
  // of past windows must not sort every meter's peers for every meter.
  const peersOf = peerMedians();
  const placebo: Map<string, WeatherJudgement>[] = [];
  for (let back = PLACEBO_GAP_DAYS; back <= PLACEBO_HISTORY_DAYS; back += PLACEBO_STEP_DAYS) {
    const at = new Map<string, WeatherJudgement>();
    for (const md of all) {
      const pj = judgeAgainstWeather(md, recentFrom - back, c, recentFrom - back + c.recentDays);
      if (pj) at.set(md.meter.meter, pj);
    }
    placebo.push(at);
  }
  /** RMS of the meter's statistic over its past heating windows, at least 1 (chance alone). */
  const placeboSpread = (m: MeterData, recentHdd: number): Past => {
    const zs: number[] = [];
    for (const at of placebo) {
      const pj = at.get(m.meter);
      const w = pj && weatherStatistic(pj, peersOf(at, m));
      // Only weeks with heating weather like the recent ones say how the statistic wanders then.
      if (w && w.meanHdd >= Math.max(PLACEBO_MIN_HDD, 0.5 * recentHdd)) zs.push(w.z);
    }
    if (zs.length < PLACEBO_MIN_WINDOWS) return { spread: 1, windows: zs.length };
    return {
      spread: Math.max(1, Math.sqrt(zs.reduce((t, v) => t + v * v, 0) / zs.length)),
      windows: zs.length,
    };
  };
  return { judged, peersOf, placeboSpread };
}

/**
 * Each meter's heating onset scan (heating-onset.ts) over its last SCAN_HISTORY_DAYS days: its
 * daily energy (here: its night base load) in units of its mean, less the median of its peers' (siblings under the same
 * parent when at least three, else all judged meters), against the day's degree-hours.
 */
function scanOnsets(
  all: readonly MeterDays[],
  degreeHours: Map<number, number>,
  lastDay: number,
  c: HeatingConfig['degreeDay'],
  /** Also fit a stretch of lower use ending at an onset above chance (restoredLevel): today's scan. */
  restore = false,
): Map<string, HeatingOnset & { scale: number; restored?: RestoredLevel }> {
  const from = lastDay - SCAN_HISTORY_DAYS;
  const rel = new Map<string, Map<number, number>>();
  const scales = new Map<string, number>();
  for (const md of all) {
    const rows = md.rows.filter((r) => r.day > from && r.day <= lastDay);
    const scale = meanKwh(rows);
    if (rows.length < 30 || !(scale > 0)) continue;
    scales.set(md.meter.meter, scale);
    rel.set(md.meter.meter, new Map(rows.map((r) => [r.day, r.kwh / scale - 1])));
  }
  const out = new Map<string, HeatingOnset & { scale: number; restored?: RestoredLevel }>();
  // Each group's days sorted once (heating-peers.ts), the meter's own value left out when read.
  const byParent = new Map<string | undefined, MeterDays[]>();
  for (const md of all)
    if (rel.has(md.meter.meter)) {
      const p = md.meter.parent;
      (byParent.get(p) ?? byParent.set(p, []).get(p)!).push(md);
    }
  const groupDays = new Map<string | undefined, PeerDays>();
  let allDays: PeerDays | undefined;
  for (const md of all) {
    const own = rel.get(md.meter.meter);
    if (!own) continue;
    const siblings = byParent.get(md.meter.parent)!;
    let peers: PeerDays;
    if (siblings.length - 1 >= 3) {
      peers =
        groupDays.get(md.meter.parent) ??
        groupDays
          .set(md.meter.parent, new PeerDays(siblings.map((p) => rel.get(p.meter.meter)!)))
          .get(md.meter.parent)!;
    } else peers = allDays ??= new PeerDays(rel.values());
    const rows: OnsetRow[] = [];
    for (const r of md.rows) {
      const y = own.get(r.day);
      const h = degreeHours.get(r.day);
      if (y === undefined || h === undefined) continue;
      rows.push({ day: r.day, y: y - peers.medianWithout(r.day, y, 3, 0), h, weekend: r.weekend });
    }
    const on = heatingOnset(rows, {
      maxOnsetDays: SCAN_ONSET_DAYS,
      minAfterDays: c.minAfterDays,
      minBeforeDays: c.minBaselineDays,
    });
    if (!on) continue;
    const restored =
      restore && on.z > ONSET_NULL_MEAN + ONSET_NULL_SD
        ? restoredLevel(rows, on.day, { minBeforeDays: c.minBaselineDays })
        : undefined;
    out.set(md.meter.meter, { ...on, scale: scales.get(md.meter.meter)!, ...(restored ? { restored } : {}) });
  }
  return out;
}

function meanKwh(rows: MeterDays['rows']): number {
  return rows.length > 0 ? rows.reduce((s, r) => s + r.kwh, 0) / rows.length : 0;
}

/** CV(RMSE) of the baseline fit, in percent (ASHRAE Guideline 14 style). */
function cvRmse(j: WeatherJudgement): number {
  let sse = 0;
  for (const r of j.baseRows) sse += (j.rel.get(r.day)! * j.scale) ** 2;
  return (100 * Math.sqrt(sse / Math.max(1, j.baseRows.length - j.fit.length))) / j.scale;
}

export function heatingDetector(config: HeatingConfigInput = {}): ScoringDetector {
  const c = HeatingConfigSchema.parse(config);
  return {
    name: 'heating',
    run(input: DetectionInput) {
      const findings: Finding[] = [];
      const scores: Score[] = [];
      const stopped: ReturnType<typeof stoppedWindows> = c.stopped.enabled
        ? stoppedWindows(input)
        : new Map();
      for (const [meter, windows] of stopped) {
        const m = input.meters.get(meter);
        if (!m) continue;
        const r = stoppedFinding(m, windows, c.stopped, input.timezone);
        if (r.finding) findings.push(r.finding);
        scores.push(r.score);
      }
      for (const reg of c.stopped.enabled ? (input.heating ?? []) : []) {
        if (reg.state === 'on' && !stopped.has(reg.meter) && input.meters.has(reg.meter)) {
          stopped.set(reg.meter, []);
          scores.push({
            id: reg.meter,
            kind: 'meter',
            score: 0,
            alert: false,
            reason: 'heating registered on',
          });
        }
      }
      const electric = electricHeating(input, c.degreeDay);
      return { findings: [...findings, ...electric.findings], scores: [...scores, ...electric.scores] };
    },
  };
}
