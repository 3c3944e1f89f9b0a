import type { MetricFamily } from './metrics/exposition.ts';

/**
 * Work that a process repeats on a timer (the audit head's publish, notice retries, the prepaid
 * policy pass, retention, relay time-outs …). A callback that throws from a timer, or a promise
 * it drops that rejects, ends a Node process: last session the relay time-out sweep, waiting out
 * a busy write lock, did that to the demo. Every such job therefore goes through `everyInterval`,
 * which
 * - never starts a run while the previous one is still going (a slow pass is not joined by a
 *   second one that would, say, raise the same relay request twice); the tick is counted as
 *   skipped and the job runs at the next tick after it finished;
 * - catches what a run throws or rejects, logs it with the job's name and counts it, and runs the
 *   job again at the next tick;
 * - never keeps the process alive (the timer is unref'd) and can be stopped, waiting for a run
 *   under way so that the database it writes is not closed beneath it;
 * - gives up on a run that has not settled after its run timeout (a broker that never acks, a
 *   promise nobody resolves): without that, one hung run skipped every later tick of the job for
 *   ever and nothing said so. The run is logged as an error by name, counted, shown in /metrics as
 *   hanging until it settles (logged then too), and the next tick runs the job again.
 */

/** The part of a pino logger a job's failures are written to. */
export interface JobLogger {
  error(obj: object, msg: string): void;
}

export interface RepeatingJob {
  /** Runs the job now, or, if a run is under way, waits for that one; never rejects. */
  runNow(): Promise<void>;
  /** No further runs; resolves once a run under way has finished. */
  stop(): Promise<void>;
}

export interface EveryIntervalOptions {
  /** The first run's delay (default `ms`): retention's first run comes minutes after start. */
  firstAfterMs?: number;
  /**
   * How long a run may go before it is given up on (default: the interval, and at least ten
   * minutes: a slow pass is not a hung one).
   */
  runTimeoutMs?: number;
}

const MIN_RUN_TIMEOUT_MS = 10 * 60_000;

interface JobCounts {
  runs: number;
  failures: number;
  skipped: number;
  timeouts: number;
  /** Runs given up on that have not settled since. */
  hanging: number;
}

/**
 * Counts per job name for this process. Timers are a property of the process, as its event-loop
 * lag is: the process's /metrics shows them, whichever part started the job.
 */
const counts = new Map<string, JobCounts>();

function countsOf(name: string): JobCounts {
  let c = counts.get(name);
  if (!c) counts.set(name, (c = { runs: 0, failures: 0, skipped: 0, timeouts: 0, hanging: 0 }));
  return c;
}

export function everyInterval(
  name: string,
  ms: number,
  fn: () => unknown,
  logger: JobLogger,
  o: EveryIntervalOptions = {},
): RepeatingJob {
  if (!(ms > 0) || !Number.isFinite(ms))
    throw new Error(`timer ${name}: interval ${ms} ms is not a positive number`);
  const runTimeoutMs = o.runTimeoutMs ?? Math.max(ms, MIN_RUN_TIMEOUT_MS);
  if (!(runTimeoutMs > 0) || !Number.isFinite(runTimeoutMs))
    throw new Error(`timer ${name}: run timeout ${runTimeoutMs} ms is not a positive number`);
  const c = countsOf(name);
  let running: Promise<void> | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const failed = (err: unknown) => {
    c.failures++;
    logger.error({ err, job: name }, `${name} failed; it runs again at its next tick`);
  };
  const runOnce = async () => {
    c.runs++;
    const started = Date.now();
    let run: Promise<unknown>;
    try {
      run = Promise.resolve(fn());
    } catch (err) {
      return failed(err);
    }
    let given: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      given = setTimeout(() => resolve('timeout'), runTimeoutMs);
      given.unref();
    });
    try {
      if ((await Promise.race([run, timeout])) !== 'timeout') return;
    } catch (err) {
      return failed(err);
    } finally {
      clearTimeout(given);
    }
    c.timeouts++;
    c.hanging++;
    logger.error(
      { job: name, runTimeoutMs, since: started },
      `${name} has not finished after ${runTimeoutMs / 1000} s: given up on; its next tick runs it again`,
    );
    const late = (err?: unknown) => {
      c.hanging--;
      logger.error(
        { job: name, ...(err === undefined ? {} : { err }) },
        `${name}: a run finished ${err === undefined ? 'late' : 'late, failing,'} ${Date.now() - started} ms after it started, after it was given up on`,
      );
    };
    run.then(() => late(), late);
  };
  const runNow = () =>
    (running ??= runOnce().finally(() => {
      running = undefined;
    }));
  const arm = (delay: number) => {
    if (stopped) return;
    timer = setTimeout(() => {
      if (running) c.skipped++;
      else void runNow();
      arm(ms);
    }, delay);
    timer.unref();
  };
  arm(o.firstAfterMs ?? ms);

  return {
    runNow: () => (stopped ? (running ?? Promise.resolve()) : runNow()),
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}

/** This process's timed jobs for /metrics: runs, failures and ticks skipped while a run went on. */
export function timerFamilies(labels: Readonly<Record<string, string>> = {}): MetricFamily[] {
  // A process that started no timed job shows none of these families.
  if (counts.size === 0) return [];
  const family = (key: keyof JobCounts, name: string, help: string): MetricFamily => ({
    name,
    help,
    type: 'counter',
    samples: [...counts].map(([job, c]) => ({ labels: { ...labels, job }, value: c[key] })),
  });
  return [
    family('runs', 'campus_energy_timer_runs_total', 'Runs of a job the process repeats on a timer'),
    family('failures', 'campus_energy_timer_failures_total', 'Runs of a timed job that threw or rejected'),
    family(
      'timeouts',
      'campus_energy_timer_timeouts_total',
      'Runs of a timed job given up on after its run timeout',
    ),
    {
      name: 'campus_energy_timer_hanging_runs',
      help: 'Runs of a timed job given up on that have not settled since (a hung job)',
      type: 'gauge',
      samples: [...counts].map(([job, c]) => ({ labels: { ...labels, job }, value: c.hanging })),
    },
    family(
      'skipped',
      'campus_energy_timer_skipped_total',
      'Ticks of a timed job skipped because its previous run had not finished',
    ),
  ];
}
