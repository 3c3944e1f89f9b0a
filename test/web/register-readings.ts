import type { StoredReading } from '../../services/metering/storage.ts';

const QUARTER = 15 * 60_000;

/** Register readings every quarter hour from `from` to `to` (both included); `perQuarter(t)` is consumed in the quarter starting at t. Site east, gateway gw-e1. */
export function registers(
  meter: string,
  kind: 'electricity' | 'water',
  from: number,
  to: number,
  perQuarter: (start: number) => number,
  seq0: number,
): StoredReading[] {
  const quantity = kind === 'electricity' ? 'energy_import_kwh' : 'volume_m3';
  const out: StoredReading[] = [];
  let value = 1000;
  let seq = seq0;
  for (let ts = from; ts <= to; ts += QUARTER) {
    out.push({
      meter,
      ts,
      seq: seq++,
      quality: 'good',
      values: { [quantity]: value },
      site: 'east',
      gateway: 'gw-e1',
      kind,
    });
    value += perQuarter(ts);
  }
  return out;
}
