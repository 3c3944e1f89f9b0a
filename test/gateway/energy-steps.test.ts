import { describe, expect, it } from 'vitest';
import { decreaseFlag, EnergySteps, stepFlag } from '../../gateway/energy-steps.ts';
import type { PollResult } from '../../gateway/types.ts';

const MIN = 60_000;
const at = (ts: number, values: Record<string, number>): PollResult => ({ ts, values });
const flagsOf = (r: PollResult) => ('error' in r ? [] : (r.flags ?? []));
const qualityOf = (r: PollResult) => ('error' in r ? 'error' : (r.quality ?? 'good'));

describe('EnergySteps', () => {
  it('passes a register that moves as a 10 kW supply can, and flags a rise beyond it', () => {
    const steps = new EnergySteps({ maxPowerKw: 10, rolloverAt: () => undefined });
    expect(qualityOf(steps.judge(at(0, { energy_import_kwh: 100 })))).toBe('good');
    // 10 kW for 15 min = 2.5 kWh; 1.5 × 2.5 + 1 = 4.75 is the bound.
    expect(qualityOf(steps.judge(at(15 * MIN, { energy_import_kwh: 104.7 })))).toBe('good');
    const jump = steps.judge(at(30 * MIN, { energy_import_kwh: 1e6 }));
    expect(qualityOf(jump)).toBe('uncertain');
    expect(flagsOf(jump)).toEqual([stepFlag('energy_import_kwh')]);
    // Values are kept for VEE to judge; the next reading is measured from this one.
    expect('values' in jump && jump.values.energy_import_kwh).toBe(1e6);
    expect(qualityOf(steps.judge(at(45 * MIN, { energy_import_kwh: 1e6 + 1 })))).toBe('good');
  });

  it('flags a register running backwards once, and not a wrap through the rollover value', () => {
    const steps = new EnergySteps({ rolloverAt: (q) => (q === 'volume_m3' ? 4_294_967.296 : undefined) });
    steps.judge(at(0, { energy_import_kwh: 500, volume_m3: 4_294_967.2 }));
    const r = steps.judge(at(MIN, { energy_import_kwh: 499, volume_m3: 0.05 }));
    expect(flagsOf(r)).toEqual([decreaseFlag('energy_import_kwh')]);
    expect(qualityOf(steps.judge(at(2 * MIN, { energy_import_kwh: 499.1, volume_m3: 0.06 })))).toBe('good');
  });

  it('judges nothing without a previous reading, and nothing of error readings', () => {
    const steps = new EnergySteps({ maxPowerKw: 1, rolloverAt: () => undefined });
    const error: PollResult = { ts: 0, error: { code: 'MODBUS_TIMEOUT', message: 'x' } };
    expect(steps.judge(error)).toBe(error);
    expect(qualityOf(steps.judge(at(0, { energy_import_kwh: 1e9 })))).toBe('good');
  });

  it('a clock stepped back bounds no rise, and a long outage allows what the hours allow', () => {
    const steps = new EnergySteps({ maxPowerKw: 10, rolloverAt: () => undefined });
    steps.judge(at(10 * 60 * MIN, { energy_import_kwh: 0 }));
    expect(flagsOf(steps.judge(at(9 * 60 * MIN, { energy_import_kwh: 50 })))).toEqual([]);
    expect(flagsOf(steps.judge(at(33 * 60 * MIN, { energy_import_kwh: 400 })))).toEqual([]);
    expect(flagsOf(steps.judge(at(34 * 60 * MIN, { energy_import_kwh: 430 })))).toEqual([
      stepFlag('energy_import_kwh'),
    ]);
  });
});
