import type { ReadingWriter, StoredReading } from '../../services/metering/storage.ts';
import { parseScenario, type Scenario, type ScenarioInput } from '../../simulators/scenario/schema.ts';

/** A ReadingWriter that keeps every reading in memory. */
export function memoryWriter(): ReadingWriter & { readings: StoredReading[] } {
  const readings: StoredReading[] = [];
  return {
    readings,
    writeReadings: async (batch) => {
      for (const r of batch) readings.push(r);
    },
  };
}

/** Readings per meter, in seq order. */
export function byMeter(readings: readonly StoredReading[]): Map<string, StoredReading[]> {
  const out = new Map<string, StoredReading[]>();
  for (const r of readings) {
    const list = out.get(r.meter) ?? [];
    list.push(r);
    out.set(r.meter, list);
  }
  for (const list of out.values()) list.sort((a, b) => a.seq - b.seq);
  return out;
}

export const DAY = 86_400_000;
export const HOUR = 3_600_000;

/**
 * A small campus: a substation (incomer, transformer, feeder) over OPC UA, a building with three
 * rooms on one RS-485 line, a water master with two units and one heat meter.
 */
export function smallScenarioInput(extra: Partial<ScenarioInput> = {}): ScenarioInput {
  const modbus = (id: string, profile: string, bus: string, unitId: number) => ({
    via: 'modbus' as const,
    id,
    profile,
    bus,
    unitId,
  });
  const opcua = (id: string, element: string) => ({ via: 'opcua' as const, id, substation: 'sub1', element });
  return {
    name: 'small',
    seed: 7,
    start: '2026-12-01T00:00:00+08:00',
    sites: [
      {
        id: 'main',
        substations: [{ id: 'sub1' }],
        buses: [
          { id: 'mains', type: 'modbus-tcp' },
          { id: 'line1', type: 'rtu-over-tcp' },
        ],
      },
    ],
    nodes: [
      { id: 'supply', site: 'main', utility: 'electricity', kind: 'supply', meter: opcua('E-IN', 'incomer') },
      {
        id: 'T1',
        site: 'main',
        utility: 'electricity',
        kind: 'transformer',
        parent: 'supply',
        meter: opcua('E-T1', 'T1'),
        loss: { ratedKva: 10, noLoadKw: 0.05, loadLossKw: 0.2 },
      },
      {
        id: 'F1',
        site: 'main',
        utility: 'electricity',
        kind: 'feeder',
        parent: 'T1',
        meter: opcua('E-F1', 'F1'),
        loss: { ratedKva: 8, loadLossKw: 0.25 },
      },
      {
        id: 'B1',
        site: 'main',
        utility: 'electricity',
        kind: 'building',
        parent: 'F1',
        meter: modbus('E-B1', 'eastron-sdm630', 'mains', 1),
      },
      ...[1, 2, 3].map((r) => ({
        id: `R${r}`,
        site: 'main',
        utility: 'electricity' as const,
        kind: 'unit' as const,
        parent: 'B1',
        load: 'dorm-room' as const,
        meter: modbus(`E-R${r}`, r === 3 ? 'eastron-sdm120' : 'hiking-dds238-2', 'line1', r),
      })),
      {
        id: 'WM',
        site: 'main',
        utility: 'water',
        kind: 'supply',
        leakShare: 0.02,
        meter: modbus('W-M', 'generic-water-meter', 'mains', 2),
      },
      ...[1, 2].map((u) => ({
        id: `WU${u}`,
        site: 'main',
        utility: 'water' as const,
        kind: 'unit' as const,
        parent: 'WM',
        load: 'staff-household' as const,
        meter: modbus(`W-U${u}`, 'generic-water-meter', 'line1', 10 + u),
      })),
      {
        id: 'HU1',
        site: 'main',
        utility: 'heat',
        kind: 'unit',
        load: 'staff-household',
        meter: modbus('H-U1', 'mbus-heat-converter', 'line1', 20),
      },
    ],
    ...extra,
  };
}

export function smallScenario(extra: Partial<ScenarioInput> = {}): Scenario {
  return parseScenario(smallScenarioInput(extra), 'small scenario');
}
