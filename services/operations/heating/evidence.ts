import type { ReadingStore } from '../../metering/storage.ts';

/**
 * What a stopped unit's heat meter says about the time since its valve was locked (REFERENCE.md
 * "Unauthorized heating": flow above the meter's start flow, energy still counted). A locked valve
 * shows neither; the more of both, the more a spot check is worth.
 */

export interface HeatEvidence {
  /** Energy counted since the lock (or over the window), kWh; null without two register readings. */
  energyKwh: number | null;
  /** Share of flow readings above the start flow, 0–1; null without flow readings. */
  flowShare: number | null;
  /** The draw weight: 1 for a silent meter, up to 1 + 100 + 20. */
  weight: number;
}

/** Flow at or below this is the meter's noise, not water moving through the unit (m³/h). */
export const START_FLOW_M3H = 0.01;

export function evidenceWeight(energyKwh: number | null, flowShare: number | null): number {
  const energy = Math.min(100, Math.max(0, Math.floor(energyKwh ?? 0)));
  return 1 + energy + Math.round(20 * Math.min(1, Math.max(0, flowShare ?? 0)));
}

export async function heatEvidence(
  store: ReadingStore,
  meters: readonly string[],
  windows: ReadonlyMap<string, { from: number; to: number }>,
): Promise<Map<string, HeatEvidence>> {
  const out = new Map<string, HeatEvidence>();
  for (const meter of meters) {
    const w = windows.get(meter)!;
    const [energy, flow] = await Promise.all([
      store.series({ meters: [meter], quantity: 'heat_kwh', from: w.from, to: w.to }),
      store.series({ meters: [meter], quantity: 'flow_m3h', from: w.from, to: w.to }),
    ]);
    const energyKwh = energy.length >= 2 ? Math.max(0, energy.at(-1)!.value - energy[0]!.value) : null;
    const flowShare =
      flow.length > 0 ? flow.filter((p) => p.value > START_FLOW_M3H).length / flow.length : null;
    out.set(meter, { energyKwh, flowShare, weight: evidenceWeight(energyKwh, flowShare) });
  }
  return out;
}
