import type { z } from 'zod';
import type { CampusSchema } from '../../config/schemas/campus.ts';

type RawCampus = z.input<typeof CampusSchema>;
type RawBus = NonNullable<NonNullable<RawCampus['sites'][number]['gateways']>[number]['buses']>[number];
type RawMeter = NonNullable<RawBus['meters']>[number];

export interface DemoCampusOptions {
  /** One TCP port per bus, in the order buses are generated; see `demoBusCount`. */
  ports: number[];
  dataDir: string;
  roomsPerFloorLine?: number;
  pollInterval?: string;
}

const SITES = [
  { id: 'east', name: 'East campus', dorms: ['E1', 'E2'], households: 12, chineseMeters: 'E3' },
  { id: 'west', name: 'West campus', dorms: ['W1', 'W2'], households: 12, chineseMeters: undefined },
];
/** Buses of a site's DL/T 645 dorm building and CJ/T 188 water and heat line. */
const CHINESE_METER_BUSES = 2;
const LINES_PER_DORM = 2;

/** How many buses (TCP ports) the demo campus has. */
export function demoBusCount(): number {
  return SITES.reduce(
    (n, s) => n + 1 + s.dorms.length * LINES_PER_DORM + 1 + (s.chineseMeters ? CHINESE_METER_BUSES : 0),
    0,
  );
}

/**
 * The demo campus: two sites, each with a substation, dorm buildings whose floors are RS-485
 * lines behind serial-to-Ethernet converters, staff households with heat meters, and water.
 * All names are invented. With the default 40 rooms per line it has a few hundred meters.
 */
export function demoCampus(opts: DemoCampusOptions): RawCampus {
  const rooms = opts.roomsPerFloorLine ?? 40;
  const poll = opts.pollInterval ?? '10s';
  const ports = [...opts.ports];
  const nextPort = () => {
    const p = ports.shift();
    if (p === undefined) throw new Error(`demo campus needs ${demoBusCount()} ports`);
    return p;
  };
  const electricity = (m: Omit<RawMeter, 'kind' | 'pollInterval'>): RawMeter => ({
    kind: 'electricity',
    pollInterval: poll,
    ...m,
  });

  return {
    campus: { name: 'Demo University (invented)', timezone: 'Asia/Shanghai' },
    dataDir: opts.dataDir,
    sites: SITES.map((site) => {
      const S = site.id[0]!.toUpperCase();
      const incomer = `E-${S}-SUB1-IN`;
      const buses: RawBus[] = [
        {
          id: `${site.id}-substation`,
          type: 'modbus-tcp',
          host: '127.0.0.1',
          port: nextPort(),
          meters: [
            electricity({
              id: incomer,
              profile: 'schneider-iem3000',
              unitId: 1,
              name: 'Substation 1 incomer',
              simulation: { load: 'office' },
            }),
            ...site.dorms.map((d, i) =>
              electricity({
                id: `E-${d}-MAIN`,
                profile: 'eastron-sdm630',
                unitId: 10 + i,
                parent: incomer,
                name: `Dorm ${d} main`,
                simulation: { load: 'dorm-room' },
              }),
            ),
            electricity({
              id: `E-${S}-TEACH-MAIN`,
              profile: 'chint-dtsu666',
              unitId: 20,
              parent: incomer,
              name: 'Teaching building',
              simulation: { load: 'office' },
            }),
            electricity({
              id: `E-${S}-CANTEEN`,
              profile: 'chint-dtsu666',
              unitId: 21,
              parent: incomer,
              account: `BIZ-${S}-CANTEEN`,
              simulation: { load: 'business' },
            }),
            electricity({
              id: `E-${S}-STAFF-MAIN`,
              profile: 'eastron-sdm630',
              unitId: 22,
              parent: incomer,
              name: 'Staff residential area',
              simulation: { load: 'staff-household' },
            }),
          ],
        },
      ];
      for (const d of site.dorms) {
        for (let line = 1; line <= LINES_PER_DORM; line++) {
          buses.push({
            id: `${d}-line${line}`,
            type: 'rtu-over-tcp',
            host: '127.0.0.1',
            port: nextPort(),
            timeout: '300ms',
            meters: Array.from({ length: rooms }, (_, r) => {
              const room = `${d}-${line}${String(r + 1).padStart(2, '0')}`;
              return electricity({
                id: `E-${room}`,
                // Most rooms have the prepaid relay meter; older floors still have SDM120s.
                profile: r % 4 === 3 ? 'eastron-sdm120' : 'hiking-dds238-2',
                unitId: r + 1,
                parent: `E-${d}-MAIN`,
                account: `ROOM-${room}`,
                simulation: { load: 'dorm-room' },
              });
            }),
          });
        }
      }
      const households: RawMeter[] = [];
      for (let h = 1; h <= site.households; h++) {
        const unit = `${S}-H${String(h).padStart(2, '0')}`;
        households.push(
          electricity({
            id: `E-${unit}`,
            profile: 'chint-ddsu666',
            unitId: h,
            parent: `E-${S}-STAFF-MAIN`,
            account: `HH-${unit}`,
            simulation: { load: 'staff-household' },
          }),
          {
            id: `H-${unit}`,
            kind: 'heat',
            profile: 'mbus-heat-converter',
            unitId: 100 + h,
            pollInterval: '30s',
            account: `HH-${unit}`,
          },
        );
      }
      households.push(
        {
          id: `W-${S}-MASTER`,
          kind: 'water',
          profile: 'generic-water-meter',
          unitId: 200,
          pollInterval: '30s',
        },
        ...site.dorms.map((d, i) => ({
          id: `W-${d}`,
          kind: 'water' as const,
          profile: 'generic-water-meter',
          unitId: 201 + i,
          pollInterval: '30s',
          parent: `W-${S}-MASTER`,
        })),
      );
      buses.push({
        id: `${site.id}-residential`,
        type: 'rtu-over-tcp',
        host: '127.0.0.1',
        port: nextPort(),
        timeout: '300ms',
        meters: households,
      });
      if (site.chineseMeters)
        buses.push(...chineseMeterBuses(site.chineseMeters, S, incomer, rooms, nextPort));
      return {
        id: site.id,
        name: site.name,
        gateways: [{ id: `gw-${site.id}`, healthInterval: '10s', buses }],
      };
    }),
  };
}

/**
 * A dorm building whose room meters speak DL/T 645-2007 (prepaid, with relays; the campus owns
 * their clocks, so the line broadcasts the time daily) behind a transparent converter, and a
 * CJ/T 188 line with the building's water meter (with a valve) and heat meter. A DL/T 645 poll
 * takes about two seconds at 2400 baud, so these rooms are polled once a minute, not every 10 s.
 */
function chineseMeterBuses(
  d: string,
  S: string,
  incomer: string,
  rooms: number,
  nextPort: () => number,
): RawBus[] {
  const roomsOnLine = Math.min(rooms, 25);
  return [
    {
      id: `${d}-dlt645`,
      type: 'rtu-over-tcp',
      protocol: 'dlt645',
      host: '127.0.0.1',
      port: nextPort(),
      timeout: '500ms',
      timeSync: { every: '24h' },
      control: { passwordEnv: 'CAMPUS_DLT645_PASSWORD', operator: '00000001' },
      meters: [
        {
          id: `E-${d}-MAIN`,
          kind: 'electricity',
          profile: 'dlt645-three-phase',
          unitId: 1,
          address: `0000${S === 'E' ? '01' : '02'}000000`,
          parent: incomer,
          name: `Dorm ${d} main`,
          pollInterval: '1m',
          simulation: { load: 'dorm-room' },
        },
        ...Array.from({ length: roomsOnLine }, (_, r): RawMeter => {
          const room = `${d}-1${String(r + 1).padStart(2, '0')}`;
          return {
            id: `E-${room}`,
            kind: 'electricity',
            profile: 'dlt645-single-phase-prepaid',
            unitId: r + 2,
            address: `0000${S === 'E' ? '01' : '02'}0001${String(r + 1).padStart(2, '0')}`,
            parent: `E-${d}-MAIN`,
            account: `ROOM-${room}`,
            pollInterval: '1m',
            simulation: { load: 'dorm-room' },
          };
        }),
      ],
    },
    {
      id: `${S.toLowerCase()}-cjt188`,
      type: 'rtu-over-tcp',
      protocol: 'cjt188',
      host: '127.0.0.1',
      port: nextPort(),
      timeout: '500ms',
      meters: [
        {
          id: `W-${d}`,
          kind: 'water',
          profile: 'cjt188-cold-water-valve',
          unitId: 1,
          address: '00000000000301',
          parent: `W-${S}-MASTER`,
          pollInterval: '30s',
        },
        {
          id: `H-${d}`,
          kind: 'heat',
          profile: 'cjt188-heat',
          unitId: 2,
          address: '00000000000302',
          pollInterval: '30s',
        },
      ],
    },
  ];
}
