import type { LoadedCampus } from '../../../config/campus.ts';
import {
  createDetector,
  feedNew,
  inferStep,
  withDetectors,
  type DetectionConfig,
  type IncrementalDetector,
} from './engine.ts';
import { zoneOffset } from '../../metering/consumption/zone.ts';
import { campusMeters, inputFromStore } from './input.ts';
import { startDetection, type DetectionOptions, type RunningDetection } from './service.ts';
import type { DetectionInput, DetectionResult, Detector } from './types.ts';

/**
 * Live detection on the incremental engine: the detector is primed once from the store (the
 * engine's retained history, default 63 days) and then takes only the instants that arrived since
 * its last run; each run evaluates what changed (EvaluationCache) instead of re-running the batch
 * engine over two days. Extra detectors (illegal loads, heating) still see the last `windowMs` of
 * readings, which the service reads for them and from which the new instants are taken; daily
 * detectors (electric heating, which needs months of a building's response to the cold) run once
 * a local day over a longer history and their result is merged into each run.
 *
 * Instants are taken up to two steps before the newest reading, so a meter whose reading comes a
 * little late is not taken as a gap; each instant is pushed once (the mark moves as it is pushed,
 * before the evaluation, so a failed evaluation does not push it again). A restart primes afresh.
 */

export interface LiveDetectionDeps extends Omit<DetectionOptions, 'detect' | 'prepare'> {
  /** The detectors run beside the engine over the last windowMs (illegal loads, heating). */
  detectors: readonly Detector[];
  config?: DetectionConfig;
  /** History read once to prime the detector (default 63 days, the engine's retention). */
  primeMs?: number;
  /**
   * Detectors that judge months, not the window (electric heating against the building's own
   * response to the cold): run once a local day over `dailyHistoryMs` read from the store, their
   * result kept and merged into every run of that day.
   */
  dailyDetectors?: readonly Detector[];
  /** History the daily detectors read (default 200 days). */
  dailyHistoryMs?: number;
}

/** Readings may arrive this many steps late (store-and-forward, polling order). */
const LATE_STEPS = 2;

export interface Live {
  detector: IncrementalDetector;
  step: number;
  /** Last instant pushed (UTC ms). */
  last: number;
}

export function createLiveDetection(deps: LiveDetectionDeps): RunningDetection {
  const evaluator = createLiveEvaluator(deps);
  return startDetection({ ...deps, prepare: evaluator.prepare, detect: evaluator.detect });
}

/** What the live engine needs to judge the readings, without the alerts or the timer (worker.ts). */
export type LiveEvaluatorDeps = Pick<
  LiveDetectionDeps,
  'store' | 'campus' | 'detectors' | 'config' | 'primeMs' | 'dailyDetectors' | 'dailyHistoryMs'
> &
  Pick<DetectionOptions, 'heating' | 'weather' | 'roles'>;

/**
 * The live engine's state and its two steps, `prepare(now)` (prime once, the daily detectors once
 * a local day) and `detect(input)`: the same on the main thread (createLiveDetection) and in the
 * detection worker thread (worker.ts), which runs them on a store handle of its own.
 */
export function createLiveEvaluator(deps: LiveEvaluatorDeps): {
  prepare: (now: number) => Promise<void>;
  detect: (input: DetectionInput) => DetectionResult;
} {
  let live: Live | undefined;
  const primeMs = deps.primeMs ?? 63 * 86_400_000;
  const dailyMs = deps.dailyHistoryMs ?? 200 * DAY;
  let daily: { day: number; detectors: Detector[] } | undefined;
  return {
    prepare: async (now) => {
      if (!live) {
        const input = await inputFromStore(deps.store, deps.campus, { from: now - primeMs, to: now });
        live = prime(deps.campus, input, deps.config);
      }
      const day = localDay(now, deps.campus.config.campus.timezone);
      if (deps.dailyDetectors?.length && daily?.day !== day) {
        const from = now - dailyMs;
        const input = await inputFromStore(deps.store, deps.campus, {
          from,
          to: now,
          ...(deps.heating ? { heating: await deps.heating() } : {}),
          ...(deps.weather ? { weather: await deps.weather(from, now) } : {}),
          ...(deps.roles ? { roles: deps.roles } : {}),
        });
        // Each daily detector's result, kept for the day as a detector that returns it.
        daily = {
          day,
          detectors: deps.dailyDetectors.map((d) => {
            const r = d.run(input);
            return { name: d.name, run: () => r };
          }),
        };
      }
    },
    detect: (input) => {
      if (!live) throw new Error('live detection used before it was primed');
      return run(live, input, [...deps.detectors, ...(daily?.detectors ?? [])]);
    },
  };
}

const DAY = 86_400_000;

/** The local calendar day of an instant (days since the epoch in the campus zone). */
function localDay(ts: number, timezone: string): number {
  return Math.floor((ts + zoneOffset(ts, timezone)) / DAY);
}

/** A detector for the campus meters with the primed history pushed in. */
export function prime(campus: LoadedCampus, input: DetectionInput, config?: DetectionConfig): Live {
  const specs = campusMeters(campus).map((m) => ({
    id: m.meter,
    kind: m.kind,
    ...(m.parent === undefined ? {} : { parent: m.parent }),
  }));
  const step = inferStep(input.meters.values());
  const detector = createDetector(specs, { step, timezone: input.timezone, start: input.from }, config);
  const last = feedNew(
    detector,
    { ...input, to: input.to - LATE_STEPS * step },
    step,
    Math.ceil(input.from / step) * step - step,
  );
  return { detector, step, last };
}

/** The new instants of `input` into the detector, its result, and the extra detectors over `input`. */
export function run(live: Live, input: DetectionInput, detectors: readonly Detector[]): DetectionResult {
  live.last = feedNew(
    live.detector,
    { ...input, to: input.to - LATE_STEPS * live.step },
    live.step,
    live.last,
  );
  return withDetectors(live.detector.result(), input, detectors);
}
