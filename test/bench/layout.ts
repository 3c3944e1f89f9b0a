import { loadProfiles } from '../../config/profiles.ts';
import type { Profile } from '../../config/schemas/profile.ts';
import type { FarmSpec } from '../../simulators/farm.ts';
import { seedOf } from '../../simulators/from-campus.ts';
import { PROFILE_MIX } from '../helpers/field.ts';

/**
 * A bench field described compactly, so that the farm child and the bench (or the gateway child)
 * build the same meters from the same few bytes of JSON: concentrator i gets `meters` meters with
 * unit ids 1..n and profiles taken round-robin from PROFILE_MIX across the whole field.
 */
export type BenchTransport = 'modbus-tcp' | 'rtu-over-tcp';
export interface BenchConcentrator {
  transport: BenchTransport;
  meters: number;
}
export type BenchLayout = BenchConcentrator[];

export interface BenchMeter {
  id: string;
  unitId: number;
  profileId: string;
  profile: Profile;
}

export interface BenchBus {
  id: string;
  transport: BenchTransport;
  meters: BenchMeter[];
}

/** `n` concentrators alternating Modbus TCP and RTU-over-TCP, `meters` each. */
export function mixedLayout(n: number, meters: number): BenchLayout {
  return Array.from({ length: n }, (_, i) => ({
    transport: i % 2 === 0 ? ('modbus-tcp' as const) : ('rtu-over-tcp' as const),
    meters,
  }));
}

export function busesOf(layout: BenchLayout): BenchBus[] {
  const profiles = loadProfiles();
  let n = 0;
  return layout.map((c, ci) => ({
    id: `c${ci + 1}`,
    transport: c.transport,
    meters: Array.from({ length: c.meters }, (_, mi) => {
      const profileId = PROFILE_MIX[n++ % PROFILE_MIX.length]!;
      const profile = profiles.get(profileId);
      if (!profile) throw new Error(`no profile ${profileId}`);
      return { id: `M-${ci + 1}-${mi + 1}`, unitId: mi + 1, profileId, profile };
    }),
  }));
}

export function farmSpecOf(layout: BenchLayout): FarmSpec {
  return {
    concentrators: busesOf(layout).map((b) => ({
      id: b.id,
      transport: b.transport,
      port: 0,
      meters: b.meters.map((m, mi) => ({
        id: m.id,
        unitId: m.unitId,
        profile: m.profile,
        kind: m.profile.kind,
        load: mi % 2 ? ('dorm-room' as const) : ('office' as const),
        seed: seedOf(m.id),
      })),
    })),
  };
}

export interface CampusOptions {
  gatewayId: string;
  ports: readonly number[];
  pollInterval: number;
  dataDir: string;
  timeout?: number;
  outbox?: { replayRatePerSec?: number; maxInFlight?: number };
  healthInterval?: string;
}

/** The campus (plain data, for validateCampus) of one gateway polling every bus of the layout. */
export function campusOf(layout: BenchLayout, opts: CampusOptions): Record<string, unknown> {
  const buses = busesOf(layout);
  if (opts.ports.length !== buses.length) {
    throw new Error(`layout has ${buses.length} buses but ${opts.ports.length} ports were given`);
  }
  return {
    campus: { name: 'Bench campus' },
    dataDir: opts.dataDir,
    sites: [
      {
        id: 'bench',
        gateways: [
          {
            id: opts.gatewayId,
            ...(opts.healthInterval ? { healthInterval: opts.healthInterval } : {}),
            ...(opts.outbox ? { outbox: opts.outbox } : {}),
            buses: buses.map((b, i) => ({
              id: b.id,
              type: b.transport,
              host: '127.0.0.1',
              port: opts.ports[i]!,
              timeout: opts.timeout ?? 1000,
              meters: b.meters.map((m) => ({
                id: m.id,
                kind: m.profile.kind,
                profile: m.profileId,
                unitId: m.unitId,
                pollInterval: opts.pollInterval,
              })),
            })),
          },
        ],
      },
    ],
  };
}

/** An outbox that never caps publishing: the gateway benches measure polling and delivery flat out. */
export const BENCH_OUTBOX = { replayRatePerSec: 1_000_000, maxInFlight: 1_000 };

/** The campus of one gateway polling every bus of the layout as fast as it answers (1 ms interval). */
export function flatOutCampus(
  layout: BenchLayout,
  o: { gatewayId: string; ports: readonly number[]; dataDir: string },
): Record<string, unknown> {
  return campusOf(layout, { ...o, pollInterval: 1, timeout: 1000, outbox: BENCH_OUTBOX });
}
