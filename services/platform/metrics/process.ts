import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { MetricFamily } from './exposition.ts';
import { timerFamilies } from '../timers.ts';

/**
 * How late the event loop ran over the last one to two minutes. A process that polls meters or
 * stores readings must not stall: a lag of seconds is a poll missed and a broker keep-alive at
 * risk. node:perf_hooks' monitorEventLoopDelay times a libuv timer every RESOLUTION_MS; each
 * sample is that interval plus how late it fired, so the interval is taken off. A single stall is
 * one sample however long it lasts: it shows in `max` (quantile 1), and in p99.9 only when the
 * loop stalls often, which is why the soak (npm run bench:soak) reads both.
 *
 * The window moves on a timer (the last one to two minutes), not on scrapes: two Prometheus
 * servers scraping the same process both see the same figures. One pair of monitors per process,
 * started when it starts serving metrics (startEventLoopMonitor; at the latest by the first
 * scrape); their timer is unref'd, so it never keeps a process alive.
 */
const RESOLUTION_MS = 10;
const WINDOW_MS = 60_000;

export const LAG_QUANTILES = ['0.5', '0.99', '0.999', '1'] as const;

/**
 * Two monitors, reset in turn every WINDOW_MS; the figures come from the one reset longer ago, which
 * has seen between one and two windows. (A histogram of the event loop cannot be merged into
 * another, or one monitor and a copy of the previous minute would do.)
 */
export class LagWindow {
  private readonly monitors: IntervalHistogram[] = [0, 1].map(() => {
    const m = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    m.enable();
    return m;
  });
  /** The monitor reset next: the one reset longer ago, i.e. the one with the longer view. */
  private older = 0;

  private readonly timer: ReturnType<typeof setInterval>;

  constructor(windowMs = WINDOW_MS) {
    this.timer = setInterval(() => {
      this.monitors[this.older]!.reset();
      this.older = 1 - this.older;
    }, windowMs);
    this.timer.unref();
  }

  /** Stops measuring (tests; the process's own window runs as long as the process). */
  close(): void {
    clearInterval(this.timer);
    for (const m of this.monitors) m.disable();
  }

  /** Seconds late at each of LAG_QUANTILES, over the window. */
  quantiles(): Record<(typeof LAG_QUANTILES)[number], number> {
    const h = this.monitors[this.older]!;
    const late = (ns: number) => (h.count === 0 ? 0 : Math.max(0, ns / 1e6 - RESOLUTION_MS) / 1000);
    return {
      '0.5': late(h.percentile(50)),
      '0.99': late(h.percentile(99)),
      '0.999': late(h.percentile(99.9)),
      '1': late(h.max),
    };
  }
}

let lag: LagWindow | undefined;

/** Starts measuring now (idempotent): a stall before the first scrape is seen too. */
export function startEventLoopMonitor(): void {
  lag ??= new LagWindow();
}

/** The current figures (tests read them directly too). */
export function eventLoopLag(): Record<(typeof LAG_QUANTILES)[number], number> {
  lag ??= new LagWindow();
  return lag.quantiles();
}

function eventLoopLagFamilies(labels: Record<string, string>): MetricFamily[] {
  const q = eventLoopLag();
  return [
    {
      name: 'campus_energy_event_loop_lag_seconds',
      type: 'gauge',
      help: 'How late the event loop ran over the last 1 to 2 minutes (quantiles 0.5, 0.99, 0.999 and 1 = the longest stall); at most 0.1 expected',
      samples: LAG_QUANTILES.map((quantile) => ({ labels: { ...labels, quantile }, value: q[quantile] })),
    },
  ];
}

/**
 * The few process figures every campus-energy process exports (memory, uptime, event-loop lag, and
 * its timed jobs' runs and failures).
 */
export function processFamilies(component: string): MetricFamily[] {
  const mem = process.memoryUsage();
  const labels = { component };
  return [
    {
      name: 'campus_energy_process_resident_memory_bytes',
      type: 'gauge',
      help: 'Resident set size of the process',
      samples: [{ labels, value: mem.rss }],
    },
    {
      name: 'campus_energy_process_heap_used_bytes',
      type: 'gauge',
      help: 'V8 heap in use',
      samples: [{ labels, value: mem.heapUsed }],
    },
    {
      name: 'campus_energy_process_uptime_seconds',
      type: 'gauge',
      help: 'Seconds since the process started',
      samples: [{ labels, value: Math.round(process.uptime()) }],
    },
    ...eventLoopLagFamilies(labels),
    ...timerFamilies(labels),
  ];
}
