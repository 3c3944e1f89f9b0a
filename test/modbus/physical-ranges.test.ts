import { describe, expect, it } from 'vitest';
import { decodePoll } from '../../adapters/modbus/decode.ts';
import { ModbusError } from '../../adapters/modbus/errors.ts';
import { PHYSICAL_RANGES } from '../../adapters/modbus/physical-ranges.ts';
import { planReads } from '../../adapters/modbus/planner.ts';
import { encodeValue } from '../../adapters/modbus/values.ts';
import { ProfileSchema } from '../../config/schemas/profile.ts';
import { QUANTITIES } from '../../config/schemas/quantities.ts';

/**
 * Issue 26 item 6: finite but impossible values (1e38 kWh, a 32-bit register at 2³²−1, −5 kWh of
 * energy, 5.9e-39 V) were published as good. Each is now withheld and the reading is uncertain,
 * flagged with the quantity; nothing else in the poll is lost.
 */
const profile = ProfileSchema.parse({
  model: 'range test',
  manufacturer: 'test',
  kind: 'electricity',
  source: 'unit test',
  points: [
    { quantity: 'energy_import_kwh', fc: 4, address: 0, type: 'f32', unit: 'kWh' },
    { quantity: 'voltage_v', fc: 4, address: 2, type: 'f32', unit: 'V' },
    { quantity: 'energy_export_kwh', fc: 4, address: 4, type: 'u32', scale: 0.01, unit: 'kWh' },
    { quantity: 'power_kw', fc: 4, address: 6, type: 'f32', unit: 'kW', range: { min: -20, max: 20 } },
  ],
});
const blocks = planReads(profile);

function poll(energy: number, volts: number, exportRaw: number, kw: number) {
  const regs = [
    ...encodeValue(energy, 'f32'),
    ...encodeValue(volts, 'f32'),
    ...encodeValue(exportRaw, 'u32'),
    ...encodeValue(kw, 'f32'),
  ];
  return decodePoll(profile, blocks, [regs], { device: 'd', meter: 'M1' });
}

describe('physical ranges', () => {
  it('has a range for every quantity', () => {
    expect(Object.keys(PHYSICAL_RANGES).sort()).toEqual(Object.keys(QUANTITIES).sort());
  });

  it('publishes plausible values as they are', () => {
    expect(poll(1234.5, 230, 12_345, 3.5)).toEqual({
      values: { energy_import_kwh: 1234.5, voltage_v: 230, energy_export_kwh: 123.45, power_kw: 3.5 },
    });
  });

  it.each([
    ['1e38 kWh', [1e38, 230, 100, 1], 'energy_import_kwh'],
    ['−5 kWh of energy', [-5, 230, 100, 1], 'energy_import_kwh'],
    ['a 5.9e-39 V denormal', [100, 5.9e-39, 100, 1], 'voltage_v'],
    ['a 32-bit register at 2³²−1', [100, 230, 2 ** 32 - 1, 1], 'energy_export_kwh'],
    ["outside the point's own range (25 kW on a 20 kW meter)", [100, 230, 100, 25], 'power_kw'],
  ] as const)('withholds %s and marks the reading uncertain', (_name, [e, v, x, p], quantity) => {
    const out = poll(e, v, x, p);
    expect(out.quality).toBe('uncertain');
    expect(out.flags).toEqual([`OUT_OF_RANGE_${quantity}`]);
    expect(out.values).not.toHaveProperty(quantity);
    expect(Object.keys(out.values)).toHaveLength(3);
  });

  it('fails the poll when nothing plausible is left', () => {
    expect(() => poll(-1, 5.9e-39, 2 ** 32 - 1, 1e9)).toThrow(ModbusError);
    try {
      poll(-1, 5.9e-39, 2 ** 32 - 1, 1e9);
    } catch (err) {
      expect((err as ModbusError).code).toBe('MODBUS_BAD_VALUE');
      expect((err as ModbusError).message).toMatch(/energy_import_kwh = -1/);
    }
  });

  it('refuses a profile range whose min is not below its max', () => {
    expect(() =>
      ProfileSchema.parse({
        ...profile,
        points: [{ quantity: 'pf', fc: 4, address: 0, type: 'f32', unit: '1', range: { min: 1, max: -1 } }],
      }),
    ).toThrow(/min must be below max/);
  });
});
