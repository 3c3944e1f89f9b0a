import ModbusSerial from 'modbus-serial';
import { decodeValue } from '../../adapters/modbus/values.ts';
import { ProfileSchema, REGISTER_WIDTH, type Profile } from '../../config/schemas/profile.ts';
import { unitFactor, type Quantity } from '../../config/schemas/quantities.ts';

// modbus-serial is CommonJS: under NodeNext its class is the default export's `default`.
export const ModbusRTU = ModbusSerial.default;
export type ModbusClient = InstanceType<typeof ModbusRTU>;

/** Small profiles in the shape of the real ones, so these tests do not depend on config/profiles. */
export const sdm630Like: Profile = ProfileSchema.parse({
  model: 'SDM630-like',
  manufacturer: 'test',
  kind: 'electricity',
  source: 'test fixture',
  manualBase: 30001,
  maxRegistersPerRead: 80,
  points: [
    { quantity: 'voltage_v', fc: 4, address: 0x0000, type: 'f32', unit: 'V' },
    { quantity: 'voltage_l2_v', fc: 4, address: 0x0002, type: 'f32', unit: 'V' },
    { quantity: 'voltage_l3_v', fc: 4, address: 0x0004, type: 'f32', unit: 'V' },
    { quantity: 'current_a', fc: 4, address: 0x0006, type: 'f32', unit: 'A' },
    { quantity: 'current_l2_a', fc: 4, address: 0x0008, type: 'f32', unit: 'A' },
    { quantity: 'current_l3_a', fc: 4, address: 0x000a, type: 'f32', unit: 'A' },
    { quantity: 'power_kw', fc: 4, address: 0x0034, type: 'f32', unit: 'W' },
    { quantity: 'pf', fc: 4, address: 0x003e, type: 'f32', unit: '1' },
    { quantity: 'energy_import_kwh', fc: 4, address: 0x0048, type: 'f32', unit: 'kWh' },
    { quantity: 'energy_export_kwh', fc: 4, address: 0x004a, type: 'f32', unit: 'kWh' },
  ],
});

export const relayMeterLike: Profile = ProfileSchema.parse({
  model: 'DDS238-like',
  manufacturer: 'test',
  kind: 'electricity',
  source: 'test fixture',
  points: [
    { quantity: 'energy_import_kwh', fc: 3, address: 0x000a, type: 'u32', scale: 0.01, unit: 'kWh' },
    { quantity: 'voltage_v', fc: 3, address: 0x000c, type: 'u16', scale: 0.1, unit: 'V' },
    { quantity: 'current_a', fc: 3, address: 0x000d, type: 'u16', scale: 0.01, unit: 'A' },
    { quantity: 'power_kw', fc: 3, address: 0x000e, type: 'i16', unit: 'W' },
    { quantity: 'pf', fc: 3, address: 0x0010, type: 'u16', scale: 0.001, unit: '1' },
    { quantity: 'relay_closed', fc: 3, address: 0x001a, type: 'u16', unit: '1' },
  ],
  relay: { address: 0x1a, writeFc: 16, closedValue: 1, openValue: 0 },
});

export const heatConverterLike: Profile = ProfileSchema.parse({
  model: 'M-Bus heat converter-like',
  manufacturer: 'test',
  kind: 'heat',
  source: 'test fixture',
  points: [
    {
      quantity: 'heat_kwh',
      fc: 3,
      address: 0,
      type: 'i64',
      unit: 'Wh',
      exponent: { address: 6, type: 'i16' },
    },
    {
      quantity: 'volume_m3',
      fc: 3,
      address: 10,
      type: 'i64',
      unit: 'm3',
      exponent: { address: 16, type: 'i16' },
    },
    {
      quantity: 'flow_m3h',
      fc: 3,
      address: 20,
      type: 'i64',
      unit: 'm3/h',
      exponent: { address: 26, type: 'i16' },
    },
    {
      quantity: 'supply_c',
      fc: 3,
      address: 30,
      type: 'i64',
      unit: 'degC',
      exponent: { address: 36, type: 'i16' },
    },
    {
      quantity: 'return_c',
      fc: 3,
      address: 40,
      type: 'i64',
      unit: 'degC',
      exponent: { address: 46, type: 'i16' },
    },
  ],
  deviceTime: { fc: 3, address: 8, type: 'u32', epoch: 'unix-s' },
});

export const waterLike: Profile = ProfileSchema.parse({
  model: 'water-like',
  manufacturer: 'test',
  kind: 'water',
  source: 'test fixture',
  points: [
    { quantity: 'volume_m3', fc: 3, address: 0, type: 'u32', unit: 'L' },
    { quantity: 'flow_m3h', fc: 3, address: 2, type: 'u32', scale: 0.001, unit: 'm3/h' },
  ],
});

/** A clock tests move by hand. */
export function manualClock(start = Date.UTC(2026, 10, 27, 12, 0, 0)): {
  now: () => number;
  advance: (ms: number) => void;
} {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

/** The span of registers covering every point (and exponent/time register) of one FC. */
export function span(profile: Profile, fc: 3 | 4): { address: number; count: number } {
  let lo = Infinity;
  let hi = -Infinity;
  const add = (a: number, w: number): void => {
    lo = Math.min(lo, a);
    hi = Math.max(hi, a + w - 1);
  };
  for (const p of profile.points) {
    if (p.fc !== fc) continue;
    add(p.address, REGISTER_WIDTH[p.type]);
    if (p.exponent) add(p.exponent.address, 1);
  }
  if (profile.deviceTime?.fc === fc) add(profile.deviceTime.address, REGISTER_WIDTH[profile.deviceTime.type]);
  return { address: lo, count: hi - lo + 1 };
}

/** Decodes every point of `fc` from registers read at `base`, as a gateway would. */
export function decodePoints(
  profile: Profile,
  fc: 3 | 4,
  base: number,
  regs: readonly number[],
): Partial<Record<Quantity, number>> {
  const out: Partial<Record<Quantity, number>> = {};
  for (const p of profile.points) {
    if (p.fc !== fc) continue;
    let v = decodeValue(regs, p.address - base, p.type, p.wordOrder, p.byteOrder) * p.scale;
    if (p.exponent) v *= 10 ** decodeValue(regs, p.exponent.address - base, p.exponent.type);
    out[p.quantity] = v * unitFactor(p.unit, p.quantity)!;
  }
  return out;
}

/** Reads every mapped span of a profile in requests of at most `max` registers. */
export async function readAll(
  client: ModbusClient,
  profile: Profile,
): Promise<Partial<Record<Quantity, number>>> {
  const out: Partial<Record<Quantity, number>> = {};
  for (const fc of [3, 4] as const) {
    if (!profile.points.some((p) => p.fc === fc)) continue;
    const { address, count } = span(profile, fc);
    const regs: number[] = [];
    for (let a = address; a < address + count; a += profile.maxRegistersPerRead) {
      const n = Math.min(profile.maxRegistersPerRead, address + count - a);
      const r = fc === 3 ? await client.readHoldingRegisters(a, n) : await client.readInputRegisters(a, n);
      regs.push(...r.data);
    }
    Object.assign(out, decodePoints(profile, fc, address, regs));
  }
  return out;
}

export async function tcpClient(
  port: number,
  kind: 'tcp' | 'tcp-rtu-buffered' | 'telnet',
  unitId = 1,
  timeoutMs = 500,
) {
  const client = new ModbusRTU();
  if (kind === 'tcp') await client.connectTCP('127.0.0.1', { port });
  else if (kind === 'tcp-rtu-buffered') await client.connectTcpRTUBuffered('127.0.0.1', { port });
  else await client.connectTelnet('127.0.0.1', { port });
  client.setID(unitId);
  client.setTimeout(timeoutMs);
  return client;
}

export function closeClient(client: ModbusClient): Promise<void> {
  return new Promise((resolve) => {
    if (!client.isOpen) return resolve();
    client.close(() => resolve());
  });
}
