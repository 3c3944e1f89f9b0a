import type { MetricFamily } from './exposition.ts';

/**
 * How late the event loop ran since the previous scrape. A process that polls meters or stores
 * readings must not stall: a lag of seconds is a poll missed and a broker keep-alive at risk.
 * A timer every SAMPLE_MS measures how late it fires; one sampler per process, started by the
 * first scrape, unref'd so it never keeps a process alive, and emptied by each scrape, so every
 * figure covers the time between two scrapes. (node:perf_hooks' monitorEventLoopDelay reported a
 * 300 ms stall as 20 ms in the test runner's processes, so the sampler is our own.)
 */
const SAMPLE_MS = 20;
/** Samples kept between scrapes: 20 minutes at 50 a second; older ones are dropped first. */
const MAX_SAMPLES = 60_000;
let lags: number[] | undefined;

function startSampler(): number[] {
  const samples: number[] = [];
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    samples.push(Math.max(0, now - last - SAMPLE_MS));
    if (samples.length > MAX_SAMPLES) samples.splice(0, samples.length - MAX_SAMPLES);
    last = now;
  }, SAMPLE_MS);
  timer.unref();
  return samples;
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

function eventLoopLagFamilies(labels: Record<string, string>): MetricFamily[] {
  lags ??= startSampler();
  const sorted = lags.splice(0).sort((x, y) => x - y);
  return [
    {
      name: 'campus_energy_event_loop_lag_seconds',
      type: 'gauge',
      help: 'How late the event loop ran since the previous scrape (p50, p99, p99.9 and max)',
      samples: (['0.5', '0.99', '0.999', '1'] as const).map((q) => ({
        labels: { ...labels, quantile: q },
        value: quantile(sorted, Number(q)) / 1000,
      })),
    },
  ];
}

/** The few process figures every campus-energy process exports (memory, uptime, event-loop lag). */
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
  ];
}
