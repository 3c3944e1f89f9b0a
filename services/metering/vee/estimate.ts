import { ROLLOVER_PLAUSIBLE_FRACTION } from '../consumption/consumption.ts';
import { localTimeToUtc, wallClock } from '../consumption/zone.ts';
import type { Installation, MeterKind } from '../storage.ts';
import type { Estimation, Thresholds } from './config.ts';
import {
  type Candidate,
  type DayHistory,
  firstAtOrAfter,
  lastAtOrBefore,
  needsEstimate,
  spikeFlag,
  type TsValue,
} from './rules.ts';

/**
 * Estimation of the intervals validation rejected (gaps, register decreases, spikes, readings
 * out of order), always from the register first:
 *
 * - A rejected run is filled between the trusted readings around it (and, for a gap, the trusted
 *   readings inside it; a rejected value's own readings are not trusted). Between two readings at
 *   most `shortGapMaxMs` apart the register is interpolated linearly ('linear').
 * - Between readings further apart, the consumption between them is spread over the like-day
 *   profile (the mean of the same local time on the same weekday of the past `likeDayWeeks`
 *   weeks, measured values only) and scaled so the estimates add up to the register difference
 *   ('like-day', scaled).
 * - Where no closing (or opening) register is known yet, e.g. a meter silent up to now, the
 *   like-day profile is used at its own level ('like-day', unscaled).
 * - Every estimate is re-validated with the spike rules; a run whose register-based estimate still
 *   fails (a register that jumped and stayed) is estimated again from like-days unscaled, so the
 *   day's sum check then shows the difference to the register.
 * - With no like-day data either, a long gap whose ends are known falls back to linear, and one
 *   whose end is unknown stays null.
 */

const STEP = 15 * 60_000;

export interface EstimateInput {
  meter: string;
  kind: MeterKind;
  timezone: string;
  th: Thresholds;
  est: Estimation;
  trusted: readonly TsValue[];
  installations: readonly Installation[];
  history: { dayOf: (start: number) => number; history: Map<number, DayHistory> };
}

const fmt = (v: number): string => String(Math.round(v * 10_000) / 10_000);
const iso = (ts: number): string => new Date(ts).toISOString().replace(':00.000Z', 'Z');

function installationOf(
  installations: readonly Installation[],
  meter: string,
  ts: number,
): Installation | undefined {
  return installations.find(
    (i) => i.meter === meter && i.installedAt <= ts && ts < (i.removedAt ?? Infinity),
  );
}

interface Estimate {
  value: number;
  method: 'linear' | 'like-day';
  note: string;
}

class LikeDays {
  private readonly usable = new Map<number, number>();
  private readonly cache = new Map<number, number | undefined>();
  constructor(
    candidates: readonly Candidate[],
    private readonly tz: string,
    private readonly weeks: number,
  ) {
    for (const c of candidates) {
      const plain = c.status === 'ok' || c.status === 'rollover';
      if (c.value !== null && plain && c.source === 'actual' && !c.flags.some((f) => f.severity === 'fail')) {
        this.usable.set(c.start, c.value);
      }
    }
  }

  /** The mean of the same local time on the same weekday over the past weeks, or undefined. */
  shape(start: number): number | undefined {
    if (this.cache.has(start)) return this.cache.get(start);
    const w = wallClock(start, this.tz);
    const values: number[] = [];
    for (let k = 1; k <= this.weeks; k++) {
      const t = localTimeToUtc(this.tz, w.year, w.month, w.day - 7 * k, w.hour, w.minute);
      const v = this.usable.get(t);
      if (v !== undefined) values.push(v);
    }
    const out = values.length ? values.reduce((a, b) => a + b, 0) / values.length : undefined;
    this.cache.set(start, out);
    return out;
  }
}

/** The 15-min interval starts overlapping [a, b). */
function slots(a: number, b: number, grid: number): number[] {
  const out: number[] = [];
  for (let t = grid + Math.floor((a - grid) / STEP) * STEP; t < b; t += STEP) out.push(t);
  return out;
}

const overlap = (s: number, a: number, b: number): number =>
  Math.max(0, Math.min(s + STEP, b) - Math.max(s, a));

/**
 * Estimates every rejected run of `candidates` that overlaps [from, to), in place: value, source,
 * method and note, keeping the flags that rejected it and adding any the estimate itself fails.
 */
export function estimateRuns(input: EstimateInput, candidates: Candidate[], from: number, to: number): void {
  const likeDays = new LikeDays(candidates, input.timezone, input.est.likeDayWeeks);
  let k = 0;
  while (k < candidates.length) {
    if (!needsEstimate(candidates[k]!)) {
      k++;
      continue;
    }
    let e = k;
    while (
      e + 1 < candidates.length &&
      needsEstimate(candidates[e + 1]!) &&
      candidates[e + 1]!.start === candidates[e]!.end
    )
      e++;
    const run = candidates.slice(k, e + 1);
    k = e + 1;
    if (run[run.length - 1]!.end <= from || run[0]!.start >= to) continue;
    estimateRun(input, run, likeDays);
  }
}

function estimateRun(input: EstimateInput, run: Candidate[], likeDays: LikeDays): void {
  const s = run[0]!.start;
  const e = run[run.length - 1]!.end;
  const gapOnly = run.every((c) => c.flags.every((f) => f.severity !== 'fail' || f.rule === 'gap'));
  let result = fillRun(input, run, likeDays, s, e, gapOnly, false);
  let failed = revalidate(input, run, result);
  if (failed && [...result.values()].some((x) => x && (x.method === 'linear' || x.note.includes('scaled')))) {
    const unscaled = fillRun(input, run, likeDays, s, e, gapOnly, true);
    if ([...unscaled.values()].every((x) => x !== null)) {
      result = unscaled;
      failed = revalidate(input, run, result);
    }
  }
  // A measured run whose estimates all fail too (no like-days to fall back on) keeps its measured
  // values and flags: an estimate that is as wrong as the reading would only hide it.
  if (failed && run.every((c) => c.value !== null)) return;
  for (const c of run) {
    const est = result.get(c.start);
    if (!est) continue;
    c.value = est.value;
    c.source = 'estimated';
    c.method = est.method;
    c.note = est.note;
    const flag = spikeFlag(
      est.value,
      c.start,
      c.end,
      input.kind,
      input.th,
      input.history.history.get(input.history.dayOf(c.start)),
      'estimate ',
    );
    if (flag) c.flags.push(flag);
  }
}

function revalidate(
  input: EstimateInput,
  run: readonly Candidate[],
  result: Map<number, Estimate | null>,
): boolean {
  return run.some((c) => {
    const est = result.get(c.start);
    if (!est) return false;
    const hist = input.history.history.get(input.history.dayOf(c.start));
    return spikeFlag(est.value, c.start, c.end, input.kind, input.th, hist) !== undefined;
  });
}

function fillRun(
  input: EstimateInput,
  run: readonly Candidate[],
  likeDays: LikeDays,
  s: number,
  e: number,
  gapOnly: boolean,
  forceUnscaled: boolean,
): Map<number, Estimate | null> {
  const { trusted } = input;
  const acc = new Map<
    number,
    { value: number; method: Estimate['method']; notes: string[]; covered: number } | null
  >(run.map((c) => [c.start, { value: 0, method: 'linear', notes: [], covered: 0 }]));
  const add = (start: number, value: number, ms: number, method: Estimate['method'], note: string) => {
    const a = acc.get(start);
    if (!a) return;
    a.value += value;
    a.covered += ms;
    // The method that covers most of the interval names it.
    if (ms * 2 >= STEP || a.notes.length === 0) a.method = method;
    if (!a.notes.includes(note)) a.notes.push(note);
  };
  const unscaled = (a: number, b: number, why: string) => {
    for (const t of slots(a, b, s)) {
      const ms = overlap(t, a, b);
      if (ms === 0 || !acc.has(t)) continue;
      const shape = likeDays.shape(t);
      if (shape === undefined) acc.set(t, null);
      else
        add(
          t,
          (shape * ms) / STEP,
          ms,
          'like-day',
          `like-day (${input.est.likeDayWeeks} weeks), not scaled: ${why}`,
        );
    }
  };

  const before = lastAtOrBefore(trusted, s);
  const after = firstAtOrAfter(trusted, e);
  const inside = gapOnly ? trusted.filter((p) => p.ts > s && p.ts < e) : [];
  const pts = [...(before ? [before] : []), ...inside, ...(after ? [after] : [])];

  if (forceUnscaled) {
    unscaled(s, e, 'the register-based estimate failed validation');
  } else {
    if (pts.length === 0) unscaled(s, e, 'no trusted reading around the gap');
    else {
      if (!before) unscaled(s, pts[0]!.ts, 'no opening register');
      if (!after) unscaled(pts[pts.length - 1]!.ts, e, 'no closing register yet');
    }
    for (let i = 1; i < pts.length && !forceUnscaled; i++) {
      const p = pts[i - 1]!;
      const q = pts[i]!;
      if (q.ts <= s || p.ts >= e) continue;
      const instP = installationOf(input.installations, input.meter, p.ts);
      const instQ = installationOf(input.installations, input.meter, q.ts);
      let delta = q.value - p.value;
      if (delta < 0 && instP === instQ && instP?.rolloverAt !== undefined) {
        const through = delta + instP.rolloverAt;
        if (through >= 0 && through <= ROLLOVER_PLAUSIBLE_FRACTION * instP.rolloverAt) delta = through;
      }
      if (instP !== instQ || delta < 0) {
        unscaled(
          p.ts,
          q.ts,
          instP !== instQ ? 'a meter exchange lies between the readings' : 'the register went down',
        );
        continue;
      }
      const span = q.ts - p.ts;
      const between = `between ${iso(p.ts)} (${fmt(p.value)}) and ${iso(q.ts)} (${fmt(q.value)})`;
      const linear = () => {
        for (const t of slots(Math.max(p.ts, s), Math.min(q.ts, e), s)) {
          const ms = overlap(t, p.ts, q.ts);
          if (ms > 0) add(t, (delta * ms) / span, ms, 'linear', `register interpolated linearly ${between}`);
        }
      };
      if (span <= input.est.shortGapMaxMs) {
        linear();
        continue;
      }
      // Like-day shape over the whole segment, scaled to its register difference.
      const segment = slots(p.ts, q.ts, s).map((t) => ({
        t,
        ms: overlap(t, p.ts, q.ts),
        shape: likeDays.shape(t),
      }));
      const known = segment.filter((x) => x.shape !== undefined);
      if (known.length === 0) {
        linear();
        continue;
      }
      const meanShape = known.reduce((a, x) => a + x.shape!, 0) / known.length;
      const weights = segment.map((x) => ({ ...x, w: ((x.shape ?? meanShape) * x.ms) / STEP }));
      const total = weights.reduce((a, x) => a + x.w, 0);
      if (!(total > 0)) {
        linear();
        continue;
      }
      const factor = delta / total;
      for (const x of weights) {
        if (x.t < s || x.t >= e) continue;
        add(
          x.t,
          x.w * factor,
          x.ms,
          'like-day',
          `like-day (${input.est.likeDayWeeks} weeks) scaled ×${fmt(factor)} to the register ${between}`,
        );
      }
    }
  }
  const out = new Map<number, Estimate | null>();
  for (const [t, a] of acc) {
    out.set(
      t,
      a && a.covered >= STEP - 1 ? { value: a.value, method: a.method, note: a.notes.join('; ') } : null,
    );
  }
  return out;
}
