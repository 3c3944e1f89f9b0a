import { parseScenario, type Scenario, type ScenarioInput, type ScenarioNodeInput } from './schema.ts';

/**
 * The demo scenario: two sites (East, West), each with a substation (incomer, two transformers,
 * four feeders) read over OPC UA; dorm buildings whose floors are RS-485 lines of room meters; a
 * teaching building and a canteen; staff households with electricity, water and heat meters; a
 * water master meter per site. About 370 meters. Injected: a bypassed household meter, a tap on a
 * dorm feeder, an illegal heater in a dorm room, heating used while registered stopped, a meter
 * running backwards, a stopped room meter, and a room cut off by its relay. Names are invented.
 */

export interface DemoScenarioOptions {
  /** Default 2026-11-30 00:00 local time (a Monday in the heating season). */
  start?: number | string;
  seed?: number;
  floors?: number;
  roomsPerFloor?: number;
  households?: number;
}

const SITES = [
  { id: 'east', S: 'E', name: 'East campus', dorms: ['E1', 'E2'] },
  { id: 'west', S: 'W', name: 'West campus', dorms: ['W1', 'W2'] },
] as const;

export function demoScenarioInput(opts: DemoScenarioOptions = {}): ScenarioInput {
  const floors = opts.floors ?? 3;
  const roomsPerFloor = opts.roomsPerFloor ?? 20;
  const households = opts.households ?? 16;
  const nodes: ScenarioNodeInput[] = [];
  const sites: ScenarioInput['sites'] = [];

  for (const site of SITES) {
    const { S } = site;
    const sub = `${site.id}-sub1`;
    const mains = `${site.id}-mains`;
    const residential = `${site.id}-residential`;
    const buses: { id: string; type?: 'modbus-tcp' | 'rtu-over-tcp'; name?: string }[] = [
      { id: mains, type: 'modbus-tcp', name: 'Building mains and water' },
      { id: residential, type: 'rtu-over-tcp', name: 'Staff residential line' },
    ];
    sites.push({
      id: site.id,
      name: site.name,
      substations: [{ id: sub, name: `${site.name} substation 1` }],
      buses,
    });
    const e = (n: Omit<ScenarioNodeInput, 'site' | 'utility'>): void => {
      nodes.push({ site: site.id, utility: 'electricity', ...n });
    };
    const element = (id: string, element: string) => ({
      via: 'opcua' as const,
      id,
      substation: sub,
      element,
    });
    const modbus = (id: string, profile: string, bus: string, unitId: number, account?: string) => ({
      via: 'modbus' as const,
      id,
      profile,
      bus,
      unitId,
      ...(account ? { account } : {}),
    });

    // Substation: incomer (the utility's supply point), busbar, transformers, feeders.
    const supply = `E-${S}-SUPPLY`;
    const busbar = `${S}-SUB1`;
    e({
      id: supply,
      kind: 'supply',
      name: `${site.name} 10 kV supply`,
      meter: element(`E-${S}-SUB1-IN`, 'incomer'),
    });
    e({ id: busbar, kind: 'substation', parent: supply, name: `${site.name} substation 1 busbar` });
    e({
      id: `${S}-T1`,
      kind: 'transformer',
      parent: busbar,
      meter: element(`E-${S}-T1`, 'T1'),
      loss: { ratedKva: 160, noLoadKw: 0.3, loadLossKw: 2.3 },
    });
    e({
      id: `${S}-T2`,
      kind: 'transformer',
      parent: busbar,
      meter: element(`E-${S}-T2`, 'T2'),
      loss: { ratedKva: 250, noLoadKw: 0.45, loadLossKw: 3.2 },
    });
    const feeder = (f: string, t: string, ratedKva: number, name: string) =>
      e({
        id: `${S}-${f}`,
        kind: 'feeder',
        parent: `${S}-${t}`,
        name,
        meter: element(`E-${S}-${f}`, f),
        loss: { ratedKva, loadLossKw: ratedKva * 0.03 },
      });
    feeder('F1', 'T1', 90, `Dorm ${site.dorms[0]}`);
    feeder('F2', 'T1', 90, `Dorm ${site.dorms[1]}`);
    feeder('F3', 'T2', 180, 'Teaching building');
    feeder('F4', 'T2', 90, 'Canteen and staff residential area');

    // Dorms: building main on the mains bus, one RS-485 line per floor.
    site.dorms.forEach((d, di) => {
      e({
        id: d,
        kind: 'building',
        role: 'dorm',
        parent: `${S}-F${di + 1}`,
        name: `Dorm ${d}`,
        meter: modbus(`E-${d}-MAIN`, 'eastron-sdm630', mains, 10 + di),
      });
      for (let f = 1; f <= floors; f++) {
        const line = `${d}-line${f}`;
        buses.push({ id: line, type: 'rtu-over-tcp', name: `Dorm ${d} floor ${f}` });
        e({ id: `${d}-F${f}`, kind: 'floor', parent: d, name: `Dorm ${d} floor ${f}` });
        for (let r = 1; r <= roomsPerFloor; r++) {
          const room = `${d}-${f}${String(r).padStart(2, '0')}`;
          e({
            id: room,
            kind: 'unit',
            role: 'dorm-room',
            parent: `${d}-F${f}`,
            load: 'dorm-room',
            // Most rooms have the prepaid relay meter; older floors still have SDM120s.
            meter: modbus(
              `E-${room}`,
              r % 4 === 0 ? 'eastron-sdm120' : 'hiking-dds238-2',
              line,
              r,
              `ROOM-${room}`,
            ),
          });
        }
      }
    });
    e({
      id: `${S}-TEACH`,
      kind: 'building',
      role: 'teaching',
      parent: `${S}-F3`,
      name: 'Teaching building',
      load: 'office',
      scale: 40,
      meter: modbus(`E-${S}-TEACH-MAIN`, 'chint-dtsu666', mains, 20),
    });
    e({
      id: `${S}-CANTEEN`,
      kind: 'building',
      role: 'canteen',
      parent: `${S}-F4`,
      name: 'Canteen',
      load: 'business',
      scale: 3,
      meter: modbus(`E-${S}-CANTEEN`, 'chint-dtsu666', mains, 21, `BIZ-${S}-CANTEEN`),
    });
    e({
      id: `${S}-STAFF`,
      kind: 'building',
      role: 'residential',
      parent: `${S}-F4`,
      name: 'Staff residential area',
      meter: modbus(`E-${S}-STAFF-MAIN`, 'eastron-sdm630', mains, 22),
    });

    // Water: master meter with leakage, dorm buildings, teaching, staff area and its households.
    const w = (n: Omit<ScenarioNodeInput, 'site' | 'utility'>): void => {
      nodes.push({ site: site.id, utility: 'water', ...n });
    };
    w({
      id: `W-${S}-MASTER`,
      kind: 'supply',
      leakShare: 0.03,
      meter: modbus(`W-${S}-MASTER`, 'generic-water-meter', mains, 30),
    });
    site.dorms.forEach((d, di) =>
      w({
        id: `W-${d}`,
        kind: 'building',
        role: 'dorm',
        parent: `W-${S}-MASTER`,
        load: 'dorm-room',
        scale: floors * roomsPerFloor * 0.5,
        meter: modbus(`W-${d}`, 'generic-water-meter', mains, 31 + di),
      }),
    );
    w({
      id: `W-${S}-TEACH`,
      kind: 'building',
      role: 'teaching',
      parent: `W-${S}-MASTER`,
      load: 'office',
      scale: 8,
      meter: modbus(`W-${S}-TEACH`, 'generic-water-meter', mains, 33),
    });
    w({
      id: `W-${S}-STAFF`,
      kind: 'building',
      role: 'residential',
      parent: `W-${S}-MASTER`,
      leakShare: 0.01,
      meter: modbus(`W-${S}-STAFF`, 'generic-water-meter', mains, 34),
    });

    for (let h = 1; h <= households; h++) {
      const unit = `${S}-H${String(h).padStart(2, '0')}`;
      const account = `HH-${unit}`;
      e({
        id: unit,
        kind: 'unit',
        role: 'staff-household',
        parent: `${S}-STAFF`,
        load: 'staff-household',
        meter: modbus(`E-${unit}`, 'chint-ddsu666', residential, h, account),
      });
      w({
        id: `W-${unit}`,
        kind: 'unit',
        role: 'staff-household',
        parent: `W-${S}-STAFF`,
        load: 'staff-household',
        meter: modbus(`W-${unit}`, 'generic-water-meter', residential, 150 + h, account),
      });
      nodes.push({
        id: `H-${unit}`,
        site: site.id,
        utility: 'heat',
        kind: 'unit',
        role: 'staff-household',
        load: 'staff-household',
        meter: modbus(`H-${unit}`, 'mbus-heat-converter', residential, 100 + h, account),
        // Two households applied to stop heating for the season.
        heatingStopped: h === 3 || h === 9 ? [{ from: '2026-11-01T00:00:00+08:00' }] : [],
      });
    }
  }

  // Injections name rooms that exist however small the demo is built (--rooms).
  const room = (dorm: string, floor: number, r: number) =>
    `${dorm}-${Math.min(floor, floors)}${String(Math.min(r, roomsPerFloor)).padStart(2, '0')}`;
  const household = (site: string, h: number) =>
    `${site}-H${String(Math.min(h, households)).padStart(2, '0')}`;
  // The electricity of room E1-205 is cut by its prepaid relay for a day (no credit).
  const cut = nodes.find((n) => n.id === room('E1', 2, 5))!;
  cut.cut = [{ from: '+1d', to: '+2d' }];

  return {
    name: 'Demo University (invented)',
    seed: opts.seed ?? 20261130,
    start: opts.start ?? '2026-11-30T00:00:00+08:00',
    utcOffsetMinutes: 480,
    timezone: 'Asia/Shanghai',
    sites,
    nodes,
    injections: [
      {
        type: 'bypass',
        node: household('W', 5),
        factor: 0.3,
        from: '+1d',
        to: '+5d',
        note: 'household meter bypassed',
      },
      {
        type: 'tap',
        node: 'E-F2',
        kw: 4,
        from: '+2d12h',
        to: '+4d12h',
        note: 'illegal tap on the dorm E2 feeder',
      },
      {
        type: 'heater',
        node: room('E1', 1, 12),
        kw: 1.5,
        from: '+3d18h',
        to: '+3d23h',
        note: 'resistive heater',
      },
      {
        type: 'heater',
        node: room('E1', 1, 12),
        kw: 1.5,
        from: '+4d19h',
        to: '+4d23h30m',
        note: 'resistive heater',
      },
      {
        type: 'heating-while-stopped',
        node: `H-${household('E', 3)}`,
        from: '+2d',
        to: '+4d',
        note: 'valve reopened',
      },
      { type: 'meter-backwards', node: 'W-CANTEEN', from: '+5d', to: '+5d12h', note: 'reversed wiring' },
      { type: 'meter-stopped', node: room('W2', 2, 14), from: '+4d', to: '+6d', note: 'stopped register' },
    ],
  };
}

export function demoScenario(opts: DemoScenarioOptions = {}): Scenario {
  return parseScenario(demoScenarioInput(opts), 'demo scenario');
}
