import { describe, expect, it } from 'vitest';
import { decodeValue } from '../../adapters/modbus/values.ts';
import { loadProfiles } from '../../config/profiles.ts';
import type { Profile } from '../../config/schemas/profile.ts';
import { unitFactor } from '../../config/schemas/quantities.ts';
import {
  SimMeter,
  WATER_KWH_PER_M3K,
  simulatedExponent,
  type SimMeterOptions,
} from '../../simulators/meters/sim-meter.ts';
import { LoadProfileNameSchema } from '../../simulators/meters/load-profiles.ts';
import {
  decodePoints,
  heatConverterLike,
  manualClock,
  relayMeterLike,
  sdm630Like,
  span,
  waterLike,
} from './fixtures.ts';

const HOUR = 3_600_000;

function meter(profile: Profile, clock: () => number, extra: Partial<SimMeterOptions> = {}): SimMeter {
  return new SimMeter({ id: 'm', profile, load: 'dorm-room', seed: 7, unitId: 1, clock, ...extra });
}

/** Reads registers straight from the meter, as the servers do. */
function read(m: SimMeter, fc: 3 | 4, address: number, quantity: number): number[] | number {
  const out = Buffer.alloc(quantity * 2);
  const code = m.readRegisters(fc, address, quantity, out, 0);
  if (code !== 0) return code;
  return Array.from({ length: quantity }, (_, i) => out.readUInt16BE(i * 2));
}

function decodeAll(m: SimMeter) {
  const out = {};
  for (const fc of [3, 4] as const) {
    if (!m.profile.points.some((p) => p.fc === fc)) continue;
    const { address, count } = span(m.profile, fc);
    const regs: number[] = [];
    for (let a = address; a < address + count; a += m.profile.maxRegistersPerRead) {
      const r = read(m, fc, a, Math.min(m.profile.maxRegistersPerRead, address + count - a));
      if (typeof r === 'number') throw new Error(`exception ${r}`);
      regs.push(...r);
    }
    Object.assign(out, decodePoints(m.profile, fc, address, regs));
  }
  return out;
}

describe('SimMeter physics', () => {
  it('is deterministic for a seed, however often it is read', () => {
    const c1 = manualClock();
    const c2 = manualClock();
    const a = meter(sdm630Like, c1.now, { load: 'office' });
    const b = meter(sdm630Like, c2.now, { load: 'office' });
    for (let i = 0; i < 24 * 60; i++) {
      c1.advance(60_000);
      a.state();
    }
    c2.advance(24 * HOUR);
    expect(b.state().energyImportKwh).toBeCloseTo(a.state().energyImportKwh, 9);
    expect(b.values()).toEqual(a.values());
    const other = meter(sdm630Like, c2.now, { load: 'office', seed: 8 });
    expect(other.values().voltage_v).not.toBe(b.values().voltage_v);
  });

  it('integrates energy over time and follows day and night', () => {
    const clock = manualClock(Date.UTC(2026, 10, 25, 0, 0)); // a Wednesday
    const m = meter(sdm630Like, clock.now, { load: 'office' });
    const e0 = m.state().energyImportKwh;
    let night = 0;
    let day = 0;
    for (let h = 0; h < 24; h++) {
      const before = m.state().energyImportKwh;
      clock.advance(HOUR);
      const used = m.state().energyImportKwh - before;
      if (h < 5) night += used / 5;
      if (h >= 9 && h < 12) day += used / 3;
    }
    expect(m.state().energyImportKwh - e0).toBeGreaterThan(10);
    expect(day).toBeGreaterThan(3 * night);
  });

  it('runs simulated time faster with a speed factor', () => {
    const clock = manualClock();
    const m = meter(sdm630Like, clock.now, { speed: 3600 });
    const t0 = m.now();
    clock.advance(1000);
    expect(m.now() - t0).toBe(HOUR);
  });

  it('gives realistic electrical values: 230 V, I = P/(V·PF) per phase', () => {
    const clock = manualClock();
    for (const load of LoadProfileNameSchema.options) {
      const m = meter(sdm630Like, clock.now, { load });
      expect(m.phases).toBe(3);
      const s = m.state();
      expect(s.voltageV).toBeGreaterThan(220);
      expect(s.voltageV).toBeLessThan(240);
      expect(s.pf).toBeGreaterThan(0.8);
      expect(s.pf).toBeLessThanOrEqual(1);
      const p = (s.voltageV * s.currentA + s.voltageL2V * s.currentL2A + s.voltageL3V * s.currentL3A) * s.pf;
      expect(p / 1000).toBeCloseTo(s.powerKw, 9);
    }
    const single = meter(relayMeterLike, clock.now).state();
    expect(single.voltageL2V).toBe(0);
    expect((single.voltageV * single.currentA * single.pf) / 1000).toBeCloseTo(single.powerKw, 9);
  });

  it('computes heat energy as flow × ΔT × 1.163 kWh/(m³·K)', () => {
    const clock = manualClock(Date.UTC(2026, 0, 10, 8, 0)); // heating season, minute boundary
    const m = meter(heatConverterLike, clock.now, { load: 'office' });
    const s0 = m.state();
    expect(s0.flowM3h).toBeGreaterThan(0);
    expect(s0.supplyC - s0.returnC).toBeGreaterThan(3);
    clock.advance(30_000);
    const s1 = m.state();
    const expected = s0.flowM3h * (s0.supplyC - s0.returnC) * WATER_KWH_PER_M3K * (30_000 / HOUR);
    expect(s1.heatKwh - s0.heatKwh).toBeCloseTo(expected, 9);
    expect(s1.volumeM3 - s0.volumeM3).toBeCloseTo(s0.flowM3h / 120, 9);
  });

  it('has no heating flow in summer', () => {
    const clock = manualClock(Date.UTC(2026, 6, 1, 10, 0));
    const m = meter(heatConverterLike, clock.now);
    const h0 = m.state().heatKwh;
    clock.advance(24 * HOUR);
    expect(m.state().heatKwh).toBe(h0);
  });

  it('models water use as intermittent flow', () => {
    const clock = manualClock(Date.UTC(2026, 10, 25, 0, 0));
    const m = meter(waterLike, clock.now, { load: 'staff-household' });
    const v0 = m.state().volumeM3;
    let zero = 0;
    let flowing = 0;
    for (let i = 0; i < 24 * 60; i++) {
      clock.advance(60_000);
      if (m.state().flowM3h === 0) zero++;
      else flowing++;
    }
    expect(zero).toBeGreaterThan(0);
    expect(flowing).toBeGreaterThan(0);
    expect(m.state().volumeM3 - v0).toBeGreaterThan(0.05);
    expect(m.state().volumeM3 - v0).toBeLessThan(5);
  });

  it('rejects a kind that does not match the profile and a bad unit id', () => {
    expect(() => meter(waterLike, Date.now, { kind: 'heat' })).toThrow(/kind heat/);
    expect(() => meter(waterLike, Date.now, { unitId: 248 })).toThrow(/unit id/);
  });
});

describe('SimMeter registers', () => {
  it('encodes points per profile: scale, unit, integer types, floats', () => {
    const clock = manualClock();
    for (const profile of [sdm630Like, relayMeterLike, waterLike]) {
      const m = meter(profile, clock.now);
      const truth = m.values();
      const got = decodeAll(m) as Record<string, number>;
      for (const p of profile.points) {
        const lsb =
          p.type === 'f32'
            ? Math.abs(truth[p.quantity]!) * 1e-6 + 1e-9
            : p.scale * unitFactor(p.unit, p.quantity)!;
        expect(
          Math.abs(got[p.quantity]! - truth[p.quantity]!),
          `${profile.model} ${p.quantity}`,
        ).toBeLessThanOrEqual(lsb);
      }
    }
  });

  it('writes an exponent register and the device time', () => {
    const clock = manualClock(Date.UTC(2026, 0, 10, 8, 0, 30));
    const m = meter(heatConverterLike, clock.now);
    const regs = read(m, 3, 0, 47) as number[];
    expect(decodeValue(regs, 6, 'i16')).toBe(-2);
    expect(decodeValue(regs, 8, 'u32')).toBe(Math.floor(clock.now() / 1000));
    const got = decodePoints(heatConverterLike, 3, 0, regs);
    expect(got.supply_c).toBeCloseTo(m.values().supply_c!, 1);
    expect(got.heat_kwh).toBeCloseTo(m.values().heat_kwh!, 4);
    m.setClockSkew(-3600_000);
    expect(decodeValue(read(m, 3, 8, 2) as number[], 0, 'u32')).toBe(Math.floor(clock.now() / 1000) - 3600);
  });

  it('reads unmapped registers inside the mapped span as 0 and refuses outside it', () => {
    const m = meter(sdm630Like, Date.now);
    expect(read(m, 4, 0x0c, 4)).toEqual([0, 0, 0, 0]);
    expect(read(m, 4, 0x4a, 3)).toBe(2); // runs past 0x004B
    expect(read(m, 4, 0x100, 1)).toBe(2);
    expect(read(m, 3, 0, 2)).toBe(2); // no holding registers mapped
    expect(read(m, 4, 0, 81)).toBe(3); // more than maxRegistersPerRead
  });

  it('switches the relay with its write function only, and stops energy while open', () => {
    const clock = manualClock();
    const m = meter(relayMeterLike, clock.now, { load: 'business' });
    const write = (fc: 6 | 16, address: number, v: number) => {
      const b = Buffer.alloc(2);
      b.writeUInt16BE(v);
      return m.writeRegisters(fc, address, b, 0, 1);
    };
    expect(write(6, 0x1a, 0)).toBe(1);
    expect(write(16, 0x1b, 0)).toBe(2);
    expect(write(16, 0x1a, 5)).toBe(3);
    expect(m.relayClosed).toBe(true);
    expect(write(16, 0x1a, 0)).toBe(0);
    expect(m.relayClosed).toBe(false);
    const e = m.state().energyImportKwh;
    clock.advance(HOUR);
    expect(m.state()).toMatchObject({ powerKw: 0, currentA: 0, energyImportKwh: e });
    expect(m.values().relay_closed).toBe(0);
    expect(decodeValue(read(m, 3, 0x1a, 1) as number[], 0, 'u16')).toBe(0);
    expect(write(16, 0x1a, 1)).toBe(0);
    clock.advance(HOUR);
    expect(m.state().energyImportKwh).toBeGreaterThan(e);
    expect(meter(sdm630Like, clock.now).writeRegisters(16, 0, Buffer.alloc(2), 0, 1)).toBe(1);
  });
});

describe('the profiles in config/profiles', () => {
  const profiles = [...loadProfiles()];
  it.skipIf(profiles.length === 0)('are all served and decode to the simulated values', () => {
    const clock = manualClock(Date.UTC(2026, 0, 12, 10, 0));
    for (const [name, profile] of profiles) {
      const m = new SimMeter({ id: name, profile, load: 'office', seed: 3, unitId: 1, clock: clock.now });
      const truth = m.values();
      const got = decodeAll(m) as Record<string, number>;
      for (const p of profile.points) {
        const lsb = p.type.startsWith('f')
          ? Math.abs(truth[p.quantity]!) * 1e-6 + 1e-9
          : Math.abs(p.scale * unitFactor(p.unit, p.quantity)! * 10 ** simulatedExponent(p));
        expect(Math.abs(got[p.quantity]! - truth[p.quantity]!), `${name} ${p.quantity}`).toBeLessThanOrEqual(
          lsb + 1e-9,
        );
      }
      if (profile.deviceTime) expect(m.deviceTime()).toBe(clock.now());
    }
  });
});
