import { heatingDetector } from './heating.ts';
import { illegalLoadDetector } from './illegal-load.ts';
import type { Detector } from './types.ts';

/** The detectors a live detection runs beside the engine, and those it runs once a local day. */
export interface DetectorSet {
  detectors: Detector[];
  dailyDetectors: Detector[];
}

/**
 * The campus's detectors, built where they run: on the main thread, or in the detection worker
 * thread, which loads this module by its URL (a detector is code, and code does not cross a
 * thread boundary as a message). Electric heating needs months of a building's response to the
 * cold, so it is judged once a day over the store's history (live.ts dailyDetectors).
 */
export function detectorSet(): DetectorSet {
  return {
    detectors: [illegalLoadDetector(), heatingDetector({ degreeDay: { enabled: false } })],
    dailyDetectors: [heatingDetector({ stopped: { enabled: false } })],
  };
}
