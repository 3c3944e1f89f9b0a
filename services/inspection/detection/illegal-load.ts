import { z } from 'zod';
import type { RelayAction } from '../../operations/control/commands.ts';
import { zoneOffset } from '../../metering/consumption/zone.ts';
import type { DetectionInput, ScoringDetector, Evidence, Finding, MeterData, Score } from './types.ts';

/**
 * Illegal high-power (resistive) appliances in dorm rooms, the way meter firmware finds them
 * (REFERENCE.md): a heater draws current in phase with the voltage, so the load it adds has an
 * incremental power factor ΔP/ΔS close to 1, where switch-mode supplies and motors do not. A step
 * counts when the power rises by at least `minStepKw` between two samples and, against the load
 * just before, `required` of the next `window` samples still show the step with an incremental
 * power factor of at least `minIncrementalPf`. Steps whose size lies in an allow-listed band (water
 * dispensers) are reported in the meter's score but never alerted.
 */

const BandSchema = z
  .object({
    name: z.string().min(1),
    minKw: z.number().nonnegative(),
    maxKw: z.number().positive(),
  })
  .strict()
  .refine((b) => b.maxKw > b.minKw, 'maxKw must be above minKw');

export const IllegalLoadConfigSchema = z
  .object({
    minStepKw: z.number().positive().default(0.8).describe('Smallest power step (kW) that counts'),
    minIncrementalPf: z
      .number()
      .min(0)
      .max(1)
      .default(0.95)
      .describe('ΔP/ΔS of the added load at or above which it is resistive'),
    window: z.number().int().min(2).max(60).default(7).describe('Samples looked at from the step on'),
    required: z.number().int().min(1).default(5).describe('Samples of the window that must count'),
    baseSamples: z
      .number()
      .int()
      .min(1)
      .max(10)
      .default(3)
      .describe('Samples before the step whose mean is the load it is compared with'),
    allow: z
      .array(BandSchema)
      .default([{ name: 'water dispenser', minKw: 0.4, maxKw: 0.6 }])
      .describe('Resistive appliances that are allowed in rooms: steps of this size are not alerted'),
    roles: z.array(z.string()).default(['dorm-room']).describe('Meters with one of these roles are checked'),
    accountPattern: z
      .string()
      .default('^ROOM-')
      .describe('…and so are meters whose account matches this regular expression'),
    highKw: z.number().positive().default(1.5).describe('A step at least this large is high severity'),
  })
  .strict()
  .refine((c) => c.required <= c.window, 'required must not exceed window');
export type IllegalLoadConfig = z.infer<typeof IllegalLoadConfigSchema>;
export type IllegalLoadConfigInput = z.input<typeof IllegalLoadConfigSchema>;

/** One resistive step found in a room's samples. */
export interface ResistiveStep {
  meter: string;
  /** Time of the first sample with the step. */
  at: number;
  /** Time of the first sample after it where the load is gone; absent if still on at the end. */
  until?: number;
  deltaPKw: number;
  deltaSKva: number;
  incrementalPf: number;
  /** Samples of the window that counted, and the window size. */
  counted: number;
  window: number;
  /** The allow-listed band the step lies in, if any. */
  allowed?: string;
  /** The samples looked at: the base before the step and the window. */
  points: { ts: number; powerKw: number; pf: number }[];
}

interface Point {
  ts: number;
  p: number;
  q: number;
  pf: number;
}

/** Active and reactive power per sample with both power and power factor. */
function points(m: MeterData): Point[] {
  const power = m.series.power_kw ?? [];
  const pfs = new Map<number, number>();
  for (const s of m.series.pf ?? []) pfs.set(s.ts, s.value);
  const out: Point[] = [];
  for (const s of power) {
    const pf = pfs.get(s.ts);
    if (pf === undefined || !(pf > 0) || pf > 1.0001) continue;
    const p = s.value;
    const c = Math.min(1, pf);
    // Meters give |PF| without the sign of Q; a load that adds reactive power raises |Q|.
    out.push({ ts: s.ts, p, q: (Math.abs(p) * Math.sqrt(1 - c * c)) / c, pf: c });
  }
  return out;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const k = s.length >> 1;
  return s.length % 2 ? s[k]! : (s[k - 1]! + s[k]!) / 2;
};

/** Every resistive step in one meter's samples (allow-listed ones included, marked). */
export function resistiveSteps(m: MeterData, config: IllegalLoadConfig): ResistiveStep[] {
  const pts = points(m);
  const out: ResistiveStep[] = [];
  const { minStepKw, minIncrementalPf, window, required, baseSamples } = config;
  let i = baseSamples;
  while (i + window <= pts.length) {
    if (pts[i]!.p - pts[i - 1]!.p < minStepKw) {
      i++;
      continue;
    }
    const base = pts.slice(i - baseSamples, i);
    const baseP = base.reduce((s, x) => s + x.p, 0) / base.length;
    const baseQ = base.reduce((s, x) => s + x.q, 0) / base.length;
    const dP: number[] = [];
    const dS: number[] = [];
    for (let j = i; j < i + window; j++) {
      const x = pts[j]!;
      const deltaP = x.p - baseP;
      const deltaS = Math.hypot(deltaP, x.q - baseQ);
      if (deltaP >= minStepKw && deltaP / deltaS >= minIncrementalPf) {
        dP.push(deltaP);
        dS.push(deltaS);
      }
    }
    if (dP.length < required) {
      i++;
      continue;
    }
    const deltaPKw = median(dP);
    const deltaSKva = median(dS);
    // The load is gone once the power is back within half a step of the base.
    let end = i + window;
    while (end < pts.length && pts[end]!.p - baseP >= deltaPKw / 2) end++;
    const allowed = config.allow.find((b) => deltaPKw >= b.minKw && deltaPKw <= b.maxKw)?.name;
    out.push({
      meter: m.meter,
      at: pts[i]!.ts,
      ...(end < pts.length ? { until: pts[end]!.ts } : {}),
      deltaPKw,
      deltaSKva,
      incrementalPf: deltaPKw / deltaSKva,
      counted: dP.length,
      window,
      ...(allowed ? { allowed } : {}),
      points: pts.slice(i - baseSamples, i + window).map((x) => ({ ts: x.ts, powerKw: x.p, pf: x.pf })),
    });
    i = Math.max(end, i + 1);
  }
  return out;
}

const round = (x: number, digits = 3): number => Number(x.toFixed(digits));

/** The meters the detector looks at: dorm rooms by role or account. */
export function isRoom(m: MeterData, config: IllegalLoadConfig): boolean {
  if (m.kind !== 'electricity') return false;
  if (m.role !== undefined && config.roles.includes(m.role)) return true;
  return m.account !== undefined && new RegExp(config.accountPattern).test(m.account);
}

function finding(meter: string, steps: ResistiveStep[], config: IllegalLoadConfig): Finding {
  const worst = steps.reduce((a, b) => (b.deltaPKw > a.deltaPKw ? b : a));
  const last = steps[steps.length - 1]!;
  const evidence: Evidence = {
    from: worst.points[0]!.ts,
    to: worst.points[worst.points.length - 1]!.ts,
    figures: {
      deltaPKw: round(worst.deltaPKw),
      deltaSKva: round(worst.deltaSKva),
      incrementalPf: round(worst.incrementalPf),
      window: `${worst.counted} of ${worst.window} samples`,
      stepAt: new Date(worst.at).toISOString(),
      ...(worst.until !== undefined ? { stepUntil: new Date(worst.until).toISOString() } : {}),
      steps: steps.length,
      lastStepAt: new Date(last.at).toISOString(),
    },
    series: [
      { meter, quantity: 'power_kw', points: worst.points.map((p) => [p.ts, p.powerKw]) },
      { meter, quantity: 'pf', points: worst.points.map((p) => [p.ts, p.pf]) },
    ],
  };
  return {
    type: 'illegal-load',
    key: `illegal-load:${meter}`,
    severity: worst.deltaPKw >= config.highKw || steps.length > 1 ? 'high' : 'medium',
    meter,
    score: round(worst.deltaPKw * (worst.counted / worst.window) * Math.min(3, steps.length)),
    since: steps[0]!.at,
    reason:
      `resistive load of ${worst.deltaPKw.toFixed(2)} kW (incremental PF ${worst.incrementalPf.toFixed(3)}, ` +
      `${worst.counted} of ${worst.window} samples)` +
      (steps.length > 1 ? `, ${steps.length} times in the window` : ''),
    evidence,
  };
}

export function illegalLoadDetector(config: IllegalLoadConfigInput = {}): ScoringDetector {
  const c = IllegalLoadConfigSchema.parse(config);
  return {
    name: 'illegal-load',
    run(input: DetectionInput) {
      const findings: Finding[] = [];
      const scores: Score[] = [];
      for (const m of input.meters.values()) {
        if (!isRoom(m, c)) continue;
        const steps = resistiveSteps(m, c);
        const alerted = steps.filter((s) => s.allowed === undefined);
        if (alerted.length > 0) {
          const f = finding(m.meter, alerted, c);
          findings.push(f);
          scores.push({ id: m.meter, kind: 'meter', score: f.score, alert: true, reason: f.reason });
        } else {
          const allowed = steps.find((s) => s.allowed !== undefined);
          scores.push({
            id: m.meter,
            kind: 'meter',
            score: 0,
            alert: false,
            reason: allowed
              ? `only allow-listed resistive steps (${allowed.allowed}, ${allowed.deltaPKw.toFixed(2)} kW)`
              : (m.series.power_kw?.length ?? 0) === 0 || (m.series.pf?.length ?? 0) === 0
                ? 'no power and power-factor samples'
                : 'no resistive step',
          });
        }
      }
      return { findings, scores };
    },
  };
}

// ── Automatic trip ──

export const TripPolicySchema = z
  .object({
    autoTrip: z.boolean().default(false).describe('Ask for a cut-off when an illegal load is found'),
    restoreAfterMs: z
      .number()
      .int()
      .positive()
      .default(300_000)
      .describe('Ask for an automatic restore this long after a trip'),
    maxAutoRestoresPerDay: z
      .number()
      .int()
      .min(0)
      .default(3)
      .describe('Automatic restores per meter and local day; after that an inspector restores by hand'),
    timezone: z.string().default('Asia/Shanghai').describe('Whose days the cap counts'),
  })
  .strict()
  .prefault({});
export type TripPolicyInput = z.input<typeof TripPolicySchema>;

/** What the caller hands to `RelayControl.requestFromPolicy`: never a relay write. */
export interface RelayActionRequest {
  meter: string;
  action: RelayAction;
  reason: string;
}

interface TripState {
  trippedAt: number;
  /** Step time of the finding that tripped it: a later step is a new offence. */
  stepAt: number;
  restored: boolean;
  day: number;
  restores: number;
}

/**
 * The automatic trip of REFERENCE.md, as requests: a new illegal-load finding asks to open the
 * room's relay; `restoreAfterMs` later it asks to close it again, at most `maxAutoRestoresPerDay`
 * times a meter and day, after which the room stays open until someone restores it by hand (the
 * request says so). State is in memory: after a restart the daily count starts again.
 */
export class IllegalLoadTripPolicy {
  private readonly policy: z.infer<typeof TripPolicySchema>;
  private readonly state = new Map<string, TripState>();

  constructor(policy: TripPolicyInput = {}) {
    this.policy = TripPolicySchema.parse(policy);
  }

  private day(t: number): number {
    return Math.floor((t + zoneOffset(t, this.policy.timezone)) / 86_400_000);
  }

  /** Requests due at `now` for these illegal-load findings (other types are ignored). */
  step(findings: readonly Finding[], now: number): RelayActionRequest[] {
    if (!this.policy.autoTrip) return [];
    const out: RelayActionRequest[] = [];
    const today = this.day(now);
    for (const f of findings) {
      if (f.type !== 'illegal-load' || !f.meter) continue;
      const lastStep = Date.parse(String(f.evidence.figures.lastStepAt ?? '')) || f.since;
      const s = this.state.get(f.meter);
      if (s && (!s.restored || lastStep <= s.stepAt)) continue;
      const restores = s && s.day === today ? s.restores : 0;
      this.state.set(f.meter, { trippedAt: now, stepAt: lastStep, restored: false, day: today, restores });
      out.push({ meter: f.meter, action: 'open', reason: `automatic trip: ${f.reason}` });
    }
    for (const [meter, s] of this.state) {
      if (s.restored || now - s.trippedAt < this.policy.restoreAfterMs) continue;
      if (s.day !== today) {
        s.day = today;
        s.restores = 0;
      }
      if (s.restores >= this.policy.maxAutoRestoresPerDay) continue;
      s.restores++;
      s.restored = true;
      out.push({
        meter,
        action: 'close',
        reason:
          `automatic restore ${s.restores} of ${this.policy.maxAutoRestoresPerDay} today after an illegal-load trip` +
          (s.restores === this.policy.maxAutoRestoresPerDay ? '; the next trip needs a manual restore' : ''),
      });
    }
    return out;
  }
}
