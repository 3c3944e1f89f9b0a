import type { Logger } from 'pino';
import type { LoadedCampus } from '../../../config/campus.ts';
import type { Clock } from '../../platform/db.ts';
import type { ReadingStore } from '../../metering/storage.ts';
import type { ControlMqtt } from '../../operations/control/mqtt.ts';
import type { RelayControl } from '../../operations/control/relay-control.ts';
import type { AlertStore } from '../../inspection/detection/alerts.ts';
import { detectorSet } from '../../inspection/detection/campus-detectors.ts';
import { DetectionThread, type DetectionThreadStats } from '../../inspection/detection/detection-thread.ts';
import { IllegalLoadTripPolicy, type TripPolicyInput } from '../../inspection/detection/illegal-load.ts';
import { createLiveDetection } from '../../inspection/detection/live.ts';
import {
  startDetection,
  type DetectionOptions,
  type RunningDetection,
} from '../../inspection/detection/service.ts';
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
  /**
   * Runs the reading and judging in a worker thread with its own read-only handle on the campus's
   * store (the one `openStore` opens), so that the event loop that polls, stores or serves never
   * waits for it; the alerts are still synced and published here. Needs the back office's store
   * to be the campus's (the demo, `campus-energy backoffice`); off by default for a store given in
   * memory. `true`, or the thread's settings.
   */
  inWorker?:
    | boolean
    | {
        /** The thread's heap limit in MB: a run that outgrows it ends the thread, not the process. */
        maxHeapMb?: number;
        restartMinMs?: number;
        restartMaxMs?: number;
        /** A module exporting `detectorSet()` instead of the campus's (tests: a detector that crashes). */
        detectorsModule?: string;
      };
}

/** Detection as the back office runs it, with the worker thread's figures when it has one. */
export interface BackofficeDetection extends RunningDetection {
  thread?: () => DetectionThreadStats;
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
export function createDetection(deps: DetectionDeps): BackofficeDetection {
  const { settings: d, campus } = deps;
  const log = deps.logger.child({ component: 'detection' });
  const trip = d.trip?.autoTrip
    ? new IllegalLoadTripPolicy({ timezone: campus.config.campus.timezone, ...d.trip })
    : undefined;
  const common = {
    store: deps.store,
    campus,
    alerts: deps.alerts,
    publish: async (topic: string, payload: string, opts: Parameters<DetectionOptions['publish']>[2]) => {
      await deps.link.client.publishAsync(topic, payload, opts);
    },
    intervalMs: d.intervalMs ?? 300_000,
    windowMs: d.windowMs ?? 2 * 86_400_000,
    clock: deps.clock,
    ...(d.heating ? { heating: d.heating } : {}),
    ...(d.weather ? { weather: d.weather } : {}),
    ...(deps.explained ? { explained: deps.explained } : {}),
    onError: (err: Error, where: 'run' | 'publish') =>
      log.warn({ err, where }, 'detection run failed; the next run tries again'),
    ...(trip && deps.illegalLoadTrip
      ? { onRun: tripThrough(deps.illegalLoadTrip, log) }
      : trip
        ? { onRun: tripRequests(trip, deps.control, log) }
        : {}),
  };
  if (d.inWorker) return inWorker(deps, common, d.inWorker === true ? {} : d.inWorker);
  // The incremental engine on the live readings (primed once, then only what arrived since).
  return createLiveDetection({ ...common, ...detectorSet() });
}

/** Daily detectors read this much history (live.ts's default), so the weather sent covers it. */
const DAILY_HISTORY_MS = 200 * 86_400_000;

/**
 * The same live detection with its reading and judging in a DetectionThread: each run sends the
 * heating registrations and weather in force and gets the findings back; syncing the alert store,
 * publishing and tripping stay on this thread (their single writer).
 */
function inWorker(
  deps: DetectionDeps,
  common: Omit<DetectionOptions, 'detect' | 'evaluate'>,
  w: Exclude<DetectionSettings['inWorker'], boolean | undefined>,
): BackofficeDetection {
  const thread = new DetectionThread({
    setup: {
      campus: { file: deps.campus.file, config: deps.campus.config, dataDir: deps.campus.dataDir },
      windowMs: common.windowMs,
      dailyHistoryMs: DAILY_HISTORY_MS,
      ...(w.detectorsModule ? { detectors: w.detectorsModule } : {}),
    },
    logger: deps.logger,
    ...(w.maxHeapMb ? { resourceLimits: { maxOldGenerationSizeMb: w.maxHeapMb } } : {}),
    ...(w.restartMinMs !== undefined ? { restartMinMs: w.restartMinMs } : {}),
    ...(w.restartMaxMs !== undefined ? { restartMaxMs: w.restartMaxMs } : {}),
  });
  const detection = startDetection({
    ...common,
    evaluate: async (now) => {
      const from = now - Math.max(common.windowMs, DAILY_HISTORY_MS);
      return thread.evaluate({
        now,
        ...(common.heating ? { heating: [...(await common.heating())] } : {}),
        ...(common.weather ? { weather: [...(await common.weather(from, now))] } : {}),
        ...(common.roles ? { roles: [...common.roles] } : {}),
      });
    },
  });
  return {
    runOnce: () => detection.runOnce(),
    // The thread first: a run in it is abandoned at once instead of being waited for.
    stop: async () => {
      await thread.stop();
      await detection.stop();
    },
    thread: () => thread.stats(),
  };
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
