import { parentPort, workerData } from 'node:worker_threads';
import type { LoadedCampus } from '../../../config/campus.ts';
import type { CampusConfig } from '../../../config/schemas/campus.ts';
import { openStore } from '../../metering/open-store.ts';
import type { ReadingStore } from '../../metering/storage.ts';
import type { DetectorSet } from './campus-detectors.ts';
import { inputFromStore } from './input.ts';
import { createLiveEvaluator } from './live.ts';
import type { DetectionConfig } from './engine.ts';
import type { DetectionResult, HeatingRegistration, WeatherSample } from './types.ts';
import { pino } from 'pino';

/**
 * The detection worker thread's host. Detection reads days to months of readings and judges them
 * for seconds at a time; on the thread that polls meters, stores readings or serves the API that
 * froze everything (issue 26 item 7: 2–3.6 s about every minute). Here it runs on a thread of its
 * own, with a connection of its own on the store, which it only reads; only the findings go back, and the main
 * thread keeps what must stay single-writer: the alert store, MQTT, relay requests.
 *
 * The protocol is three messages: the main thread sends `run` (with the heating registrations and
 * weather in force, which live on the main thread), the worker answers `result` or `failed`
 * (a run's error: the thread goes on). A crash of the thread is seen by the main thread's
 * DetectionThread (detection-thread.ts), which restarts it.
 */

/** What a worker is started with (workerData). */
export interface WorkerSetup {
  /** The campus as far as detection needs it (its meters, zone, store); cloned into the thread. */
  campus: { file: string; config: CampusConfig; dataDir: string };
  /** The URL of a module exporting `detectorSet(): DetectorSet` (campus-detectors.ts). */
  detectors: string;
  windowMs: number;
  primeMs?: number;
  dailyHistoryMs?: number;
  config?: DetectionConfig;
}

export interface RunRequest {
  type: 'run';
  id: number;
  now: number;
  heating?: readonly HeatingRegistration[];
  /** Covering [now − max(window, daily history), now) when the campus has a weather source. */
  weather?: readonly WeatherSample[];
  roles?: readonly [string, string][];
}

export type WorkerReply =
  | { type: 'ready' }
  | { type: 'result'; id: number; result: DetectionResult }
  | { type: 'failed'; id: number; error: { message: string; stack?: string } };

/**
 * The store the worker reads, through a connection of its own: the campus's InfluxDB through a
 * client of its own, or a second connection on the SQLite file (WAL lets it read beside the
 * writer without blocking it). The worker only reads; the process's ingest or back office stays
 * the writer. (A connection SQLite itself keeps read-only needs an option of the SQLite adapter.)
 */
function openReaderStore(campus: LoadedCampus): Promise<ReadingStore> {
  return openStore(campus, pino({ level: 'silent' }));
}

async function host(setup: WorkerSetup): Promise<void> {
  const port = parentPort!;
  const campus: LoadedCampus = { ...setup.campus, profiles: new Map(), fieldProfiles: new Map() };
  const store = await openReaderStore(campus);
  const { detectorSet } = (await import(setup.detectors)) as { detectorSet: () => DetectorSet };
  const set = detectorSet();
  // What the current run was sent; the evaluator asks for it through these functions.
  let current: RunRequest | undefined;
  const roles = () => (current?.roles ? new Map(current.roles) : undefined);
  const evaluator = createLiveEvaluator({
    store,
    campus,
    detectors: set.detectors,
    dailyDetectors: set.dailyDetectors,
    ...(setup.config ? { config: setup.config } : {}),
    ...(setup.primeMs ? { primeMs: setup.primeMs } : {}),
    ...(setup.dailyHistoryMs ? { dailyHistoryMs: setup.dailyHistoryMs } : {}),
    heating: () => current?.heating ?? [],
    weather: (from, to) => (current?.weather ?? []).filter((w) => w.ts >= from && w.ts < to),
  });
  const evaluate = async (req: RunRequest): Promise<DetectionResult> => {
    current = req;
    await evaluator.prepare(req.now);
    const from = req.now - setup.windowMs;
    const r = roles();
    const input = await inputFromStore(store, campus, {
      from,
      to: req.now,
      ...(req.heating ? { heating: req.heating } : {}),
      ...(req.weather ? { weather: req.weather.filter((w) => w.ts >= from && w.ts < req.now) } : {}),
      ...(r ? { roles: r } : {}),
    });
    return evaluator.detect(input);
  };
  // One run at a time, in the order asked (the main thread never overlaps runs anyway).
  let queue = Promise.resolve();
  port.on('message', (req: RunRequest) => {
    if (req.type !== 'run') return;
    queue = queue.then(() =>
      evaluate(req).then(
        (result) => port.postMessage({ type: 'result', id: req.id, result } satisfies WorkerReply),
        (err: unknown) => {
          const e = err instanceof Error ? err : new Error(String(err));
          port.postMessage({
            type: 'failed',
            id: req.id,
            error: { message: e.message, ...(e.stack ? { stack: e.stack } : {}) },
          } satisfies WorkerReply);
        },
      ),
    );
  });
  port.postMessage({ type: 'ready' } satisfies WorkerReply);
}

// Started as a worker by DetectionThread: workerData carries the setup. Imported anywhere else
// (a type import, a test), the module does nothing.
const setup = (workerData as { detectionWorker?: WorkerSetup } | null)?.detectionWorker;
if (parentPort && setup) {
  // A setup that fails (a store it cannot open, a detector module that fails to load) ends the thread with its error:
  // the main thread logs it and tries again later, as after any crash.
  void host(setup).catch((err: unknown) => {
    throw err;
  });
}
