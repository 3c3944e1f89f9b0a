import { describe, expect, it } from 'vitest';
import { validateCampus } from '../../config/campus.ts';
import { ConfigError } from '../../config/errors.ts';
import { loadFieldProfiles } from '../../config/field-profiles.ts';
import { Dlt645ProfileSchema } from '../../adapters/dlt645/profile.ts';
import { Cjt188ProfileSchema } from '../../adapters/cjt188/profile.ts';
import { campusMeterLocator } from '../../services/operations/control/relay-types.ts';

/** A campus with one DL/T 645 line, patched per case. */
function campus(bus: Record<string, unknown>, meters: Record<string, unknown>[]) {
  return {
    campus: { name: 't' },
    sites: [
      {
        id: 's',
        gateways: [
          {
            id: 'g',
            buses: [
              {
                id: 'b1',
                type: 'modbus-rtu',
                path: '/dev/ttyX',
                baudRate: 2400,
                parity: 'even',
                ...bus,
                meters,
              },
            ],
          },
        ],
      },
    ],
  };
}
const meter = (over: Record<string, unknown> = {}) => ({
  id: 'm1',
  kind: 'electricity',
  profile: 'dlt645-single-phase-prepaid',
  unitId: 1,
  address: '000012345678',
  ...over,
});
function problems(raw: unknown): string[] {
  try {
    validateCampus(raw, { file: 'campus.yaml', dir: '/tmp' });
  } catch (e) {
    if (e instanceof ConfigError) return e.message.split('\n').slice(1);
    throw e;
  }
  return [];
}

describe('DL/T 645 and CJ/T 188 in the campus file', () => {
  it('the built-in profiles parse: dorm prepaid with relay, three-phase, cold water with valve, heat', () => {
    const p = loadFieldProfiles();
    expect([...p.keys()].sort()).toEqual([
      'cjt188-cold-water-valve',
      'cjt188-heat',
      'dlt645-single-phase-prepaid',
      'dlt645-three-phase',
    ]);
    const heat = p.get('cjt188-heat')!;
    expect(
      heat.protocol === 'cjt188' &&
        heat.layout.flatMap((f) => ('quantity' in f && f.quantity ? [f.quantity] : [])),
    ).toEqual(['heat_kwh', 'flow_m3h', 'volume_m3', 'supply_c', 'return_c']);
  });

  it('accepts a valid line and loads its profile', () => {
    expect(problems(campus({ protocol: 'dlt645' }, [meter()]))).toEqual([]);
  });

  it.each([
    ['no address', { protocol: 'dlt645' }, [meter({ address: undefined })], /needs its address: 12 digits/],
    [
      'a CJ/T 188 address on a DL/T 645 line',
      { protocol: 'dlt645' },
      [meter({ address: '00000012345678' })],
      /needs its address/,
    ],
    [
      'two meters, one address',
      { protocol: 'dlt645' },
      [meter(), meter({ id: 'm2', unitId: 2 })],
      /address 000012345678 is already meter m1/,
    ],
    ['a DL/T 645 profile on a Modbus bus', {}, [meter()], /is a dlt645 meter; bus b1 speaks Modbus/],
    [
      'a CJ/T 188 profile on a DL/T 645 line',
      { protocol: 'dlt645' },
      [meter({ kind: 'water', profile: 'cjt188-cold-water-valve' })],
      /no DL\/T 645-2007 profile "cjt188-cold-water-valve"/,
    ],
    [
      'time sync over a utility-owned clock',
      { protocol: 'dlt645', timeSync: {} },
      [meter({ clockOwner: 'utility' })],
      /would set the clock of meter m1 that the utility owns/,
    ],
    [
      'time sync on a CJ/T 188 line',
      { protocol: 'cjt188', timeSync: {} },
      [meter({ kind: 'water', profile: 'cjt188-cold-water-valve', address: '00000012345678' })],
      /timeSync is a DL\/T 645 broadcast/,
    ],
    [
      'an unknown clock zone',
      { protocol: 'dlt645', clockZone: 'Mars/Olympus' },
      [meter()],
      /unknown time zone "Mars\/Olympus"/,
    ],
  ])('refuses %s, naming the place', (_what, bus, meters, message) => {
    const found = problems(campus(bus, meters));
    expect(found.join('\n')).toMatch(message);
  });

  it('a profile with a unit that does not fit its quantity, or relay_closed as a point, is refused', () => {
    const base = { protocol: 'dlt645', model: 'x', manufacturer: 'y', kind: 'electricity', source: 'z' };
    expect(
      Dlt645ProfileSchema.safeParse({
        ...base,
        points: [{ quantity: 'energy_import_kwh', di: '00010000', bytes: 4, decimals: 2, unit: 'V' }],
      }).success,
    ).toBe(false);
    expect(
      Dlt645ProfileSchema.safeParse({
        ...base,
        points: [{ quantity: 'relay_closed', di: '04000503', bytes: 2, decimals: 0, unit: '1' }],
      }).success,
    ).toBe(false);
    expect(
      Cjt188ProfileSchema.safeParse({
        protocol: 'cjt188',
        model: 'x',
        manufacturer: 'y',
        kind: 'water',
        source: 'z',
        meterType: 0x10,
        layout: [{ type: 'bcd', bytes: 4, decimals: 2, unitCode: true, quantity: 'volume_m3' }],
        valve: {},
      }).error?.issues[0]?.message,
    ).toMatch(/a valve needs a status field/);
  });

  it('the back office offers cut-off for a DL/T 645 relay and a CJ/T 188 valve, not for a meter without either', () => {
    const loaded = validateCampus(
      campus({ protocol: 'dlt645' }, [
        meter(),
        meter({ id: 'm2', unitId: 2, address: '000012345679', profile: 'dlt645-three-phase' }),
      ]),
      { file: 'campus.yaml', dir: '/tmp' },
    );
    const locate = campusMeterLocator(loaded);
    expect(locate('m1')?.hasRelay).toBe(true);
    expect(locate('m2')?.hasRelay).toBe(false);
    const water = validateCampus(
      campus({ protocol: 'cjt188' }, [
        meter({ kind: 'water', profile: 'cjt188-cold-water-valve', address: '00000012345678' }),
      ]),
      { file: 'campus.yaml', dir: '/tmp' },
    );
    expect(campusMeterLocator(water)('m1')?.hasRelay).toBe(true);
  });
});
