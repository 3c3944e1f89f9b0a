import type { Logger } from 'pino';
import type { LoadedCampus } from '../../../config/campus.ts';
import type { Clock } from '../../platform/db.ts';
import type { ReadingStore } from '../../metering/storage.ts';
import type { ControlMqtt } from '../../operations/control/mqtt.ts';
import type { RelayControl } from '../../operations/control/relay-control.ts';
import type { AlertStore } from '../../inspection/detection/alerts.ts';
import { heatingDetector } from '../../inspection/detection/heating.ts';
import {
  IllegalLoadTripPolicy,
  illegalLoadDetector,
  type TripPolicyInput,
} from '../../inspection/detection/illegal-load.ts';
import { createLiveDetection } from '../../inspection/detection/live.ts';
import type { DetectionOptions, RunningDetection } from '../../inspection/detection/service.ts';
import type { DetectionResult, HeatingRegistration } from '../../inspection/detection/types.ts';

/** The detection service's settings (BackofficeOptions.detection). */
export interface DetectionSettings {
  /** How often it runs (default 5 min). */
  intervalMs?: number;
  /** How much history each run reads (default 2 days). */
  windowMs?: number;
  /** Heating registrations in force, from the heating desk. */
  heating?: () => readonly HeatingRegistration[];
  /** Outdoor temperature for [from, to) (without it electric heating is not judged). */
  weather?: DetectionOptions['weather'];
  /**
   * Automatic trip of rooms with an illegal load (off unless `autoTrip: true`): requests
   * through relay control like the prepaid policy's, never a direct relay write; they wait
   * for a supervisor or a standing policy approval.
   */
  trip?: TripPolicyInput;
}

export interface DetectionDeps {
  campus: LoadedCampus;
  store: ReadingStore;
  alerts: AlertStore;
  control: RelayControl;
  link: ControlMqtt;
  clock: Clock;
  logger: Logger;
  settings: DetectionSettings;
  /**
   * With autoTrip: trips a room with an illegal load through the power-limit trips (durable
   * daily restore count, the illegal-load restore rule of the campus file, under the approved
   * limits) instead of the in-memory trip policy.
   */
  illegalLoadTrip?: (meter: string, evidence: unknown) => Promise<unknown>;
  /** Findings a planned outage explains raise no alert (parts/operations-desk.ts). */
  explained?: DetectionOptions['explained'];
}

/** Detection of illegal loads and heating used while registered stopped, publishing its alerts. */
export function createDetection(deps: DetectionDeps): RunningDetection {
  const { settings: d, campus } = deps;
  const log = deps.logger.child({ component: 'detection' });
  // Electric heating needs months of a building's response to the cold: judged once a day over
  // the store's history (live.ts dailyDetectors), not over each run's window.
  const detectors = [illegalLoadDetector(), heatingDetector({ degreeDay: { enabled: false } })];
  const dailyDetectors = [heatingDetector({ stopped: { enabled: false } })];
  const trip = d.trip?.autoTrip
    ? new IllegalLoadTripPolicy({ timezone: campus.config.campus.timezone, ...d.trip })
    : undefined;
  // The incremental engine on the live readings (primed once, then only what arrived since).
  return createLiveDetection({
    store: deps.store,
    campus,
    alerts: deps.alerts,
    detectors,
    dailyDetectors,
    publish: async (topic, payload, opts) => {
      await deps.link.client.publishAsync(topic, payload, opts);
    },
    intervalMs: d.intervalMs ?? 300_000,
    windowMs: d.windowMs ?? 2 * 86_400_000,
    clock: deps.clock,
    ...(d.heating ? { heating: d.heating } : {}),
    ...(d.weather ? { weather: d.weather } : {}),
    ...(deps.explained ? { explained: deps.explained } : {}),
    onError: (err, where) => log.warn({ err, where }, 'detection run failed; the next run tries again'),
    ...(trip && deps.illegalLoadTrip
      ? { onRun: tripThrough(deps.illegalLoadTrip, log) }
      : trip
        ? { onRun: tripRequests(trip, deps.control, log) }
        : {}),
  });
}

/** After each run, each illegal-load finding trips its room (a room already tripped is left alone). */
function tripThrough(illegalLoadTrip: (meter: string, evidence: unknown) => Promise<unknown>, log: Logger) {
  return async (result: DetectionResult): Promise<void> => {
    for (const f of result.findings) {
      if (f.type !== 'illegal-load' || !f.meter) continue;
      try {
        await illegalLoadTrip(f.meter, f.evidence);
      } catch (err) {
        log.warn({ err, meter: f.meter }, 'illegal-load trip refused');
      }
    }
  };
}

/** After each run, the trip policy's requests go to relay control, one refusal not stopping the others. */
function tripRequests(trip: IllegalLoadTripPolicy, control: RelayControl, log: Logger) {
  return async (result: DetectionResult, _sync: unknown, now: number): Promise<void> => {
    for (const r of trip.step(result.findings, now)) {
      try {
        await control.requestFromPolicy(r);
      } catch (err) {
        log.warn({ err, meter: r.meter, action: r.action }, 'automatic trip request refused');
      }
    }
  };
}
