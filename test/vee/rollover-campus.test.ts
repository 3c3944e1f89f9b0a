import { describe, expect, it } from 'vitest';
import { SqliteStore } from '../../adapters/sqlite/store.ts';
import { validateCampus } from '../../config/campus.ts';
import { ProfileSchema } from '../../config/schemas/profile.ts';
import { AuditLog } from '../../services/platform/audit/audit-log.ts';
import { openBackofficeDb } from '../../services/platform/db.ts';
import { campusVee, registerRollovers } from '../../services/metering/vee/campus.ts';
import type { StoredReading } from '../../services/metering/storage.ts';

/**
 * Where a register wraps comes from the meter's profile (a number, or the integer register's
 * width) and can be overridden per meter in the campus file; campusVee hands it to VEE, so a wrap
 * is billed through and a meter without one is never silently taken to wrap.
 */

function campus(overrides: { waterRollover?: number } = {}) {
  return validateCampus(
    {
      campus: { name: 'Test', timezone: 'Asia/Shanghai' },
      sites: [
        {
          id: 'east',
          gateways: [
            {
              id: 'gw',
              buses: [
                {
                  id: 'bus',
                  type: 'modbus-tcp',
                  host: '127.0.0.1',
                  meters: [
                    {
                      id: 'W-1',
                      kind: 'water',
                      profile: 'generic-water-meter',
                      unitId: 1,
                      ...(overrides.waterRollover !== undefined
                        ? { rolloverAt: overrides.waterRollover }
                        : {}),
                    },
                    { id: 'E-1', kind: 'electricity', profile: 'eastron-sdm120', unitId: 2 },
                    {
                      id: 'E-2',
                      kind: 'electricity',
                      profile: 'eastron-sdm120',
                      unitId: 3,
                      rolloverAt: 100000,
                    },
                  ],
                },
              ],
            },
          ],
        },
      ],
    },
    { file: 'test.yaml', dir: '.' },
  );
}

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 2, 9, 16); // 2026-03-10 00:00 in Shanghai

function readings(meter: string, kind: StoredReading['kind'], values: number[]): StoredReading[] {
  const q = kind === 'water' ? 'volume_m3' : 'energy_import_kwh';
  return values.map((v, i) => ({
    meter,
    ts: T0 + i * 15 * 60_000,
    seq: i + 1,
    quality: 'good',
    values: { [q]: v },
    site: 'east',
    gateway: 'gw',
    kind,
  }));
}

/** 97 readings over one local day, rising by a varying step, wrapping at `modulus` after the 36th. */
function wrapping(start: number, modulus: number): number[] {
  const out: number[] = [];
  let v = start;
  for (let i = 0; i <= 96; i++) {
    out.push(Math.round((v % modulus) * 1000) / 1000);
    v += 0.1 + (i % 5) * 0.01;
  }
  return out;
}

describe('register rollover from the profile and the campus file', () => {
  it('takes the width of a u32 litre register, a per-meter override, and nothing where neither says', () => {
    const r = registerRollovers(campus());
    expect(r('W-1', 'volume_m3')).toBe(4294967.296);
    expect(r('E-1', 'energy_import_kwh')).toBeUndefined();
    expect(r('E-2', 'energy_import_kwh')).toBe(100000);
    expect(registerRollovers(campus({ waterRollover: 1e6 }))('W-1', 'volume_m3')).toBe(1e6);
    expect(r('NOPE', 'volume_m3')).toBeUndefined();
  });

  it("refuses 'register' on a register that has no integer width", () => {
    const parsed = ProfileSchema.safeParse({
      model: 'm',
      manufacturer: 'x',
      kind: 'electricity',
      source: 's',
      points: [
        {
          quantity: 'energy_import_kwh',
          fc: 4,
          address: 0,
          type: 'f32',
          unit: 'kWh',
          rolloverAt: 'register',
        },
      ],
    });
    expect(parsed.success).toBe(false);
    expect(JSON.stringify(parsed.error?.issues)).toContain(
      "rolloverAt 'register' needs an unsigned integer register",
    );
  });

  it('bills a wrap of the profile register through, and flags a fall on a meter with no maximum as a decrease', async () => {
    const store = SqliteStore.open({ path: ':memory:' });
    const water = wrapping(4294967.296 - 36 * 0.12 + 0.05, 4294967.296);
    const elec = wrapping(99996, 1e9); // E-1 never wraps: the same shape, then a fall to 2
    const fallen = elec.map((v, i) => (i > 40 ? Math.round((v - 99990) * 1000) / 1000 : v));
    await store.writeReadings([
      ...readings('W-1', 'water', water),
      ...readings('E-1', 'electricity', fallen),
    ]);
    const db = openBackofficeDb(':memory:');
    const now = T0 + 30 * HOUR;
    const vee = campusVee({
      campus: campus(),
      store,
      db,
      audit: new AuditLog(db, () => now),
      clock: () => now,
    });
    try {
      const [day] = await vee.intervals({
        meter: 'W-1',
        quantity: 'volume_m3',
        from: T0,
        to: T0 + 24 * HOUR,
        step: '1d',
      });
      // Σ of the steps a different way: 96 steps of 0.1 + (i mod 5) × 0.01.
      let expected = 0;
      for (let i = 0; i < 96; i++) expected += 0.1 + (i % 5) * 0.01;
      expect(day!.value).toBeCloseTo(expected, 3);
      expect(day!.flags.map((f) => `${f.rule}/${f.severity}`)).toEqual(['rollover/info']);
      const [e] = await vee.intervals({
        meter: 'E-1',
        quantity: 'energy_import_kwh',
        from: T0,
        to: T0 + 24 * HOUR,
        step: '1d',
      });
      expect(e!.flags.map((f) => f.rule)).toContain('register-decrease');
      expect(e!.flags.map((f) => f.rule)).not.toContain('rollover');
    } finally {
      await store.close();
      db.close();
    }
  });
});
