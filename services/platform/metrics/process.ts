import type { MetricFamily } from './exposition.ts';

/** The few process figures every campus-energy process exports (resident memory, heap, uptime). */
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
  ];
}
