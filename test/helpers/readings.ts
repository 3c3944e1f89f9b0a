import type { Reading } from '../../config/schemas/reading.ts';
import { readingTopic } from '../../config/schemas/reading.ts';
import type { OutboxItem } from '../../gateway/outbox/outbox.ts';

/** An outbox item for a good reading of `meter`, as the gateway would append it. */
export function readingItem(meter: string, ts = Date.now(), site = 'test', gateway = 'gw1'): OutboxItem {
  return {
    meter,
    topic: readingTopic(site, gateway, meter),
    build: (seq: number): Reading => ({
      meter,
      ts,
      seq,
      quality: 'good',
      values: { energy_import_kwh: 1000 + seq / 100, power_kw: 3.2, voltage_v: 230.1 },
    }),
  };
}

/** Per meter, the seqs in arrival order. */
export function seqsByMeter(readings: readonly Reading[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const r of readings) {
    const list = out.get(r.meter) ?? [];
    list.push(r.seq);
    out.set(r.meter, list);
  }
  return out;
}

export function range(from: number, toInclusive: number): number[] {
  return Array.from({ length: toInclusive - from + 1 }, (_, i) => from + i);
}

export async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
