import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { validateCampus, type LoadedCampus } from '../../config/campus.ts';
import { loadProfiles } from '../../config/profiles.ts';
import type { Profile } from '../../config/schemas/profile.ts';
import { unitFactor, type Quantity } from '../../config/schemas/quantities.ts';
import type { Reading } from '../../config/schemas/reading.ts';
import { startFarm, type Farm, type FarmSpec } from '../../simulators/farm.ts';
import { seedOf } from '../../simulators/from-campus.ts';

export const PROFILE_MIX = [
  'eastron-sdm630',
  'eastron-sdm120',
  'chint-dtsu666',
  'chint-ddsu666',
  'schneider-iem3000',
  'hiking-dds238-2',
  'generic-water-meter',
  'mbus-heat-converter',
] as const;

export interface FieldOptions {
  concentrators: { transport: 'modbus-tcp' | 'rtu-over-tcp'; meters: number }[];
  pollInterval: number;
  timeout?: number;
  /** Frozen simulator clock: every poll of a meter returns the same values. */
  frozenAt?: number;
  breaker?: { failures: number; baseBackoff: number; maxBackoff: number };
}

export interface Field {
  farm: Farm;
  campus: LoadedCampus;
  /** The campus as plain data, e.g. to write a YAML file for a child process. */
  raw: Record<string, unknown>;
  dir: string;
  meterIds: string[];
  yaml(): string;
  stop(): Promise<void>;
}

/**
 * A simulated field: a farm of concentrators with mixed meter models, and the campus description
 * of one gateway (`gw1` on site `test`) that polls them.
 */
export async function startField(opts: FieldOptions): Promise<Field> {
  const profiles = loadProfiles();
  const dir = mkdtempSync(join(tmpdir(), 'campus-field-'));
  let n = 0;
  const spec: FarmSpec = {
    concentrators: opts.concentrators.map((c, ci) => ({
      id: `c${ci + 1}`,
      transport: c.transport,
      port: 0,
      meters: Array.from({ length: c.meters }, (_, mi) => {
        const profileId = PROFILE_MIX[n++ % PROFILE_MIX.length]!;
        const profile = profiles.get(profileId)!;
        const id = `M-${ci + 1}-${mi + 1}`;
        return {
          id,
          unitId: mi + 1,
          profile,
          kind: profile.kind,
          load: mi % 2 ? ('dorm-room' as const) : ('office' as const),
          seed: seedOf(id),
        };
      }),
    })),
  };
  if (opts.frozenAt !== undefined) {
    const t = opts.frozenAt;
    spec.clock = () => t;
  }
  const farm = await startFarm(spec);
  const raw = {
    campus: { name: 'Test campus' },
    dataDir: dir,
    sites: [
      {
        id: 'test',
        gateways: [
          {
            id: 'gw1',
            healthInterval: '2s',
            buses: spec.concentrators.map((c, ci) => ({
              id: c.id,
              type: c.transport,
              host: '127.0.0.1',
              port: farm.concentrators[ci]!.port,
              timeout: opts.timeout ?? 500,
              ...(opts.breaker ? { breaker: opts.breaker } : {}),
              meters: c.meters.map((m) => ({
                id: m.id,
                kind: m.profile.kind,
                profile: [...profiles].find(([, p]) => p === m.profile)![0],
                unitId: m.unitId,
                pollInterval: opts.pollInterval,
              })),
            })),
          },
        ],
      },
    ],
  };
  const campus = validateCampus(raw, { file: '(test field)', dir });
  return {
    farm,
    campus,
    raw,
    dir,
    meterIds: spec.concentrators.flatMap((c) => c.meters.map((m) => m.id)),
    yaml: () => stringify(raw),
    stop: () => farm.stop(),
  };
}

/**
 * Checks that a reading's values are what the simulated meter holds, to the resolution of its
 * registers: integers are scaled (and the simulator writes M-Bus values with two decimals), so a
 * value may differ from the physical one by half a least significant digit; floats by float32
 * rounding.
 */
export function valueMismatches(
  reading: Reading,
  expected: Partial<Record<Quantity, number>>,
  profile: Profile,
): string[] {
  const problems: string[] = [];
  for (const point of profile.points) {
    const got = reading.values[point.quantity];
    const want = expected[point.quantity];
    if (got === undefined || want === undefined) {
      problems.push(`${reading.meter} ${point.quantity}: got ${got}, want ${want}`);
      continue;
    }
    const float = point.type === 'f32' || point.type === 'f64';
    const lsb = float
      ? 0
      : Math.abs(point.scale * unitFactor(point.unit, point.quantity)! * (point.exponent ? 0.01 : 1));
    const tolerance = lsb / 2 + Math.abs(want) * 1e-6 + 1e-9;
    if (Math.abs(got - want) > tolerance) {
      problems.push(`${reading.meter} ${point.quantity}: got ${got}, want ${want} (±${tolerance})`);
    }
  }
  return problems;
}
