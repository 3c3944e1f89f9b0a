import type { LoadedCampus } from '../../../config/campus.ts';
import {
  createDetector,
  feedNew,
  inferStep,
  withDetectors,
  type DetectionConfig,
  type IncrementalDetector,
} from './engine.ts';
import { campusMeters, inputFromStore } from './input.ts';
import { startDetection, type DetectionOptions, type RunningDetection } from './service.ts';
import type { DetectionInput, DetectionResult, Detector } from './types.ts';

/**
 * Live detection on the incremental engine: the detector is primed once from the store (the
 * engine's retained history, default 63 days) and then takes only the instants that arrived since
 * its last run; each run evaluates what changed (EvaluationCache) instead of re-running the batch
 * engine over two days. Extra detectors (illegal loads, heating) still see the last `windowMs` of
 * readings, which the service reads for them and from which the new instants are taken.
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
  let live: Live | undefined;
  const primeMs = deps.primeMs ?? 63 * 86_400_000;
  return startDetection({
    ...deps,
    prepare: async (now) => {
      if (live) return;
      const input = await inputFromStore(deps.store, deps.campus, { from: now - primeMs, to: now });
      live = prime(deps.campus, input, deps.config);
    },
    detect: (input) => {
      if (!live) throw new Error('live detection used before it was primed');
      return run(live, input, deps.detectors);
    },
  });
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
