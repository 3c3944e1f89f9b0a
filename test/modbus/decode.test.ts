import { describe, expect, it } from 'vitest';
import { ProfileSchema } from '../../config/schemas/profile.ts';
import { decodePoll } from '../../adapters/modbus/decode.ts';
import { ModbusError } from '../../adapters/modbus/errors.ts';
import { planReads } from '../../adapters/modbus/planner.ts';
import { encodeValue } from '../../adapters/modbus/values.ts';

const base = { model: 't', manufacturer: 't', kind: 'electricity', source: 't' } as const;

function thrown(fn: () => unknown): ModbusError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ModbusError) return e;
    throw e;
  }
  throw new Error('did not throw');
}

describe('decodePoll', () => {
  it('applies scale and unit conversion to canonical units', () => {
    const p = ProfileSchema.parse({
      ...base,
      points: [
        { quantity: 'power_kw', fc: 3, address: 0, type: 'i16', unit: 'W', scale: 10 },
        { quantity: 'current_a', fc: 3, address: 1, type: 'u16', unit: 'mA' },
      ],
    });
    const out = decodePoll(p, planReads(p), [[...encodeValue(-250, 'i16'), 1500]]);
    expect(out).toEqual({ values: { power_kw: -2.5, current_a: 1.5 } });
  });

  it('fails the poll with MODBUS_BAD_VALUE on Infinity, naming device and meter', () => {
    const p = ProfileSchema.parse({
      ...base,
      points: [{ quantity: 'voltage_v', fc: 4, address: 0, type: 'f32', unit: 'V' }],
    });
    const e = thrown(() => decodePoll(p, planReads(p), [[0x7f80, 0x0000]], { device: 'bus-a', meter: 'm1' }));
    expect(e.code).toBe('MODBUS_BAD_VALUE');
    expect(e.message).toContain('bus-a');
    expect(e.message).toContain('m1');
  });

  it('rejects a block with the wrong number of registers as garbage', () => {
    const p = ProfileSchema.parse({
      ...base,
      points: [{ quantity: 'voltage_v', fc: 4, address: 0, type: 'f32', unit: 'V' }],
    });
    expect(thrown(() => decodePoll(p, planReads(p), [[0x4366]])).code).toBe('MODBUS_GARBAGE');
  });

  it('maps relay states and rejects unknown ones', () => {
    const p = ProfileSchema.parse({
      ...base,
      points: [{ quantity: 'relay_closed', fc: 3, address: 0x1a, type: 'u16', unit: '1' }],
      relay: { address: 0x1a, writeFc: 16, closedValue: 0x00ff, openValue: 0 },
    });
    const blocks = planReads(p);
    expect(decodePoll(p, blocks, [[0x00ff]]).values).toEqual({ relay_closed: 1 });
    expect(decodePoll(p, blocks, [[0]]).values).toEqual({ relay_closed: 0 });
    expect(thrown(() => decodePoll(p, blocks, [[7]])).code).toBe('MODBUS_BAD_VALUE');
  });

  it('leaves deviceTs out when the converter has not read the meter yet', () => {
    const p = ProfileSchema.parse({
      ...base,
      kind: 'heat',
      points: [{ quantity: 'heat_kwh', fc: 3, address: 0, type: 'u32', unit: 'kWh' }],
      deviceTime: { fc: 3, address: 2, type: 'u32' },
    });
    const blocks = planReads(p);
    expect(decodePoll(p, blocks, [[0, 5, 0, 0]])).toEqual({ values: { heat_kwh: 5 } });
    expect(decodePoll(p, blocks, [[0, 5, ...encodeValue(1_700_000_000, 'u32')]]).deviceTs).toBe(
      1_700_000_000_000,
    );
  });
});
