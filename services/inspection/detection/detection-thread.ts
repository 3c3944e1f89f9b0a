import type { ResourceLimits, Worker } from 'node:worker_threads';
import { siblingUrl, spawnWorker } from '../../platform/threads/one-shot.ts';
import type { Logger } from 'pino';
import type { DetectionResult } from './types.ts';
import type { RunRequest, WorkerReply, WorkerSetup } from './worker.ts';

/**
 * The main thread's side of the detection worker (worker.ts): starts the thread, sends it each run
 * and waits for its findings, and restarts it when it dies. A crash (an uncaught error, running out
 * of its memory limit, a setup that fails) is logged with its error, counted, and followed by a new
 * thread after a backoff (1 s doubling to 60 s by default, back to the start after a run that
 * succeeds), so that a detection bug never takes down the process that polls or stores, and a
 * thread that dies at once is not restarted in a tight loop. The run waiting on a dead thread fails
 * with the reason; the next run goes to the new thread, which primes itself afresh.
 */

export interface DetectionThreadOptions {
  setup: Omit<WorkerSetup, 'detectors'> & { detectors?: string };
  logger: Logger;
  /** First restart delay after a crash (default 1 s); doubled at each crash in a row. */
  restartMinMs?: number;
  /** Longest restart delay (default 60 s). */
  restartMaxMs?: number;
  /** V8 heap limits of the thread: a run that outgrows them ends the thread, not the process. */
  resourceLimits?: ResourceLimits;
}

export interface DetectionThreadStats {
  /** Threads that ended without being asked to. */
  crashes: number;
  /** Threads started, the first included. */
  starts: number;
  /** Whether a thread is up now (false while waiting to restart). */
  up: boolean;
  lastCrash?: { at: number; message: string };
}

export const CAMPUS_DETECTORS = siblingUrl(import.meta.url, 'campus-detectors').href;

const WORKER = siblingUrl(import.meta.url, 'worker');

interface Pending {
  resolve: (r: DetectionResult) => void;
  reject: (e: Error) => void;
}

export class DetectionThread {
  private worker: Worker | undefined;
  private ready: Promise<void> | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private waiting = 0;
  private delay: number;
  private restartTimer: ReturnType<typeof setTimeout> | undefined;
  private restartAt = 0;
  private stopped = false;
  private readonly counts: DetectionThreadStats = { crashes: 0, starts: 0, up: false };
  private readonly log: Logger;
  private readonly setup: WorkerSetup;

  constructor(private readonly options: DetectionThreadOptions) {
    this.log = options.logger.child({ component: 'detection-thread' });
    this.delay = options.restartMinMs ?? 1000;
    this.setup = { ...options.setup, detectors: options.setup.detectors ?? CAMPUS_DETECTORS };
    this.start();
  }

  /** One run in the thread; rejects with the run's error, or when the thread dies or is restarting. */
  async evaluate(request: Omit<RunRequest, 'type' | 'id'>): Promise<DetectionResult> {
    if (this.stopped) throw new Error('the detection thread is stopped');
    if (!this.worker || !this.ready) {
      const inSec = Math.max(0, Math.ceil((this.restartAt - Date.now()) / 1000));
      throw new Error(`the detection thread is restarting after a crash (in ${inSec} s)`);
    }
    const worker = this.worker;
    // Idle, the thread keeps no process alive; a run being waited for does, like any I/O.
    this.waiting++;
    worker.ref();
    let r: DetectionResult;
    try {
      await this.ready.catch((err: unknown) => {
        throw new Error(`the detection thread died before it was ready: ${(err as Error).message}`);
      });
      const id = this.nextId++;
      const result = new Promise<DetectionResult>((resolve, reject) =>
        this.pending.set(id, { resolve, reject }),
      );
      worker.postMessage({ type: 'run', id, ...request } satisfies RunRequest);
      r = await result;
    } finally {
      if (--this.waiting === 0) worker.unref();
    }
    // A thread that ran a whole run is healthy again: the next crash waits the shortest delay.
    this.delay = this.options.restartMinMs ?? 1000;
    return r;
  }

  stats(): DetectionThreadStats {
    return { ...this.counts, up: this.worker !== undefined };
  }

  /** Ends the thread (a run in it is abandoned and fails) and starts no other. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const w = this.worker;
    this.worker = undefined;
    this.failAll(new Error('the detection thread was stopped'));
    await w?.terminate();
  }

  private start(): void {
    this.restartTimer = undefined;
    if (this.stopped) return;
    const worker = spawnWorker(WORKER, { detectionWorker: this.setup }, this.options.resourceLimits);
    this.counts.starts++;
    this.worker = worker;
    // The worker must never be what keeps a stopping process alive: stop() ends it.
    worker.unref();
    let crash: Error | undefined;
    let markReady: () => void = () => undefined;
    let notReady: (e: Error) => void = () => undefined;
    this.ready = new Promise<void>((resolve, reject) => ((markReady = resolve), (notReady = reject)));
    this.ready.catch(() => undefined);
    worker.on('message', (m: WorkerReply) => {
      if (m.type === 'ready') return markReady();
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.type === 'result') p.resolve(m.result);
      else p.reject(Object.assign(new Error(m.error.message), m.error.stack ? { stack: m.error.stack } : {}));
    });
    worker.on('error', (err) => (crash = err));
    worker.on('exit', (code) => {
      notReady(crash ?? new Error(`the detection thread exited with code ${code} before it was ready`));
      if (this.worker !== worker) return; // stopped on purpose
      this.worker = undefined;
      this.ready = undefined;
      const reason = crash ?? new Error(`the detection thread exited with code ${code}`);
      this.counts.crashes++;
      this.counts.lastCrash = { at: Date.now(), message: reason.message };
      this.failAll(new Error(`the detection thread died: ${reason.message}`));
      this.restartAt = Date.now() + this.delay;
      this.log.error(
        { err: reason, crashes: this.counts.crashes, restartInMs: this.delay },
        'detection thread died; restarting it after a pause',
      );
      this.restartTimer = setTimeout(() => this.start(), this.delay);
      // The pause must not keep a stopping process alive.
      this.restartTimer.unref();
      this.delay = Math.min(this.delay * 2, this.options.restartMaxMs ?? 60_000);
    });
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
