import type { z } from 'zod';
import { validateCampus } from '../../config/campus.ts';
import type { CampusSchema } from '../../config/schemas/campus.ts';
import { startFarm, type Farm } from '../farm.ts';
import { farmSpecFromCampus } from '../from-campus.ts';

type RawCampus = z.input<typeof CampusSchema>;
type RawGateway = NonNullable<RawCampus['sites'][number]['gateways']>[number];
type RawBus = NonNullable<RawGateway['buses']>[number];
type RawMeter = NonNullable<RawBus['meters']>[number];
type RawTcpLine = Extract<RawBus, { type: 'rtu-over-tcp' }>;

/** The environment variable the demo's DL/T 645 line reads its relay password from. */
export const DEMO_DLT645_PASSWORD_ENV = 'CAMPUS_DLT645_PASSWORD';
/** The simulated meters' password (level 02, 000000: as delivered); a real campus sets its own. */
export const DEMO_DLT645_PASSWORD = '02000000';

/**
 * A DL/T 645 room meter takes about two seconds to poll at 2400 baud, so a real line of 25 is read
 * once a minute; the demo's converters answer at socket speed, so its short line is read every
 * 30 s, as the demo's water and heat meters are.
 */
const MAX_ROOMS_ON_LINE = 25;

/**
 * The demo's meters on Chinese field protocols, behind transparent serial-to-Ethernet converters:
 * dorm E3, whose main (three-phase) and room meters (single-phase prepaid, with relays) speak
 * DL/T 645-2007, the campus owning their clocks so the line broadcasts the time daily; and a
 * CJ/T 188 line with E3's cold-water meter (with a valve) and its heat meter. Ports are filled in
 * by startDemoFieldLines.
 *
 * The farm serves them with each meter's own load profile, not from the scenario model, so they
 * stand outside the scenario's metering tree: linked under a scenario feeder, or rooms under the
 * main, they would show a loss that is only two simulations disagreeing.
 */
export function demoFieldBuses(o: { rooms: number; host: string }): RawTcpLine[] {
  const rooms = Math.max(1, Math.min(o.rooms, MAX_ROOMS_ON_LINE));
  const room = (r: number): RawMeter => {
    const id = `E3-1${String(r + 1).padStart(2, '0')}`;
    return {
      id: `E-${id}`,
      kind: 'electricity',
      profile: 'dlt645-single-phase-prepaid',
      unitId: r + 2,
      address: `00000300${String(101 + r).padStart(4, '0')}`,
      account: `ROOM-${id}`,
      name: `Dorm E3 room ${id.slice(3)}`,
      pollInterval: '30s',
      simulation: { load: 'dorm-room' },
    };
  };
  return [
    {
      id: 'E3-dlt645',
      type: 'rtu-over-tcp',
      protocol: 'dlt645',
      host: o.host,
      port: 1,
      timeout: '500ms',
      timeSync: { every: '24h' },
      control: { passwordEnv: DEMO_DLT645_PASSWORD_ENV, operator: '00000001' },
      meters: [
        {
          id: 'E-E3-MAIN',
          kind: 'electricity',
          profile: 'dlt645-three-phase',
          unitId: 1,
          address: '000003000001',
          name: 'Dorm E3 main',
          pollInterval: '30s',
          simulation: { load: 'dorm-room' },
        },
        ...Array.from({ length: rooms }, (_, r) => room(r)),
      ],
    },
    {
      id: 'E3-cjt188',
      type: 'rtu-over-tcp',
      protocol: 'cjt188',
      host: o.host,
      port: 1,
      timeout: '500ms',
      meters: [
        {
          id: 'W-E3',
          kind: 'water',
          profile: 'cjt188-cold-water-valve',
          unitId: 1,
          address: '00000000000301',
          name: 'Dorm E3 water',
          pollInterval: '30s',
        },
        {
          id: 'H-E3',
          kind: 'heat',
          profile: 'cjt188-heat',
          unitId: 2,
          address: '00000000000302',
          name: 'Dorm E3 heat',
          pollInterval: '30s',
        },
      ],
    },
  ];
}

/**
 * Adds demoFieldBuses to the first gateway of `raw` and serves them the way `campus-energy
 * simulate` does: the farm spec is read from the campus file (farmSpecFromCampus), each line on a
 * free port, whose number is then written into `raw`. Returns the running farm (stop it last).
 */
export async function startDemoFieldLines(
  raw: RawCampus,
  o: { rooms: number; host: string; dataDir: string; startTime?: number },
): Promise<{ farm: Farm; buses: readonly string[]; meters: number }> {
  const gateway = raw.sites[0]?.gateways?.[0];
  if (!gateway) throw new Error('the demo campus has no gateway for its DL/T 645 and CJ/T 188 lines');
  const buses = demoFieldBuses(o);
  gateway.buses = [...(gateway.buses ?? []), ...buses];
  const ids = new Set(buses.map((b) => b.id));
  const campus = validateCampus(raw, { file: '(demo campus)', dir: o.dataDir });
  const { spec } = farmSpecFromCampus(campus, { gateways: [gateway.id], portZero: true });
  const farm = await startFarm({
    concentrators: [],
    lines: (spec.lines ?? []).filter((l) => ids.has(l.id)),
    host: o.host,
    ...(o.startTime !== undefined ? { startTime: o.startTime } : {}),
  });
  for (const bus of buses) {
    const line = farm.lines.find((l) => l.id === bus.id);
    if (!line) throw new Error(`the farm did not start line ${bus.id}`);
    bus.port = line.port;
  }
  return { farm, buses: [...ids], meters: buses.reduce((n, b) => n + (b.meters?.length ?? 0), 0) };
}
