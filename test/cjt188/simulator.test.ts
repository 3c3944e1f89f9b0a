import { afterEach, describe, expect, it } from 'vitest';
import { CJT188_LINE_CODES } from '../../adapters/cjt188/errors.ts';
import { cjt188 } from '../../adapters/cjt188/protocol.ts';
import type { Cjt188Profile } from '../../adapters/cjt188/profile.ts';
import { openByteLine, type ByteLine } from '../../adapters/line/transport.ts';
import { loadFieldProfiles } from '../../config/field-profiles.ts';
import { Cjt188SimMeter, startCjt188Line } from '../../simulators/cjt188/meter.ts';
import type { LineServer } from '../../simulators/dlt645/line-server.ts';
import { failure } from '../dlt645/golden-harness.ts';

const profiles = loadFieldProfiles();
const water = profiles.get('cjt188-cold-water-valve') as Cjt188Profile;
const heat = profiles.get('cjt188-heat') as Cjt188Profile;
const FROZEN = Date.UTC(2026, 0, 15, 1, 0); // a January morning in Beijing: heating on
const ctx = { timeoutMs: 300, clockZone: 'Asia/Shanghai', device: 'wl-1' };

describe('CJ/T 188 simulator and adapter on a TCP converter line', () => {
  let server: LineServer | undefined;
  let line: ByteLine | undefined;
  afterEach(async () => {
    await line?.close();
    await server?.close();
    line = server = undefined;
  });
  async function open(meters: Cjt188SimMeter[]): Promise<ByteLine> {
    server = await startCjt188Line({ transport: { kind: 'tcp' }, meters });
    line = await openByteLine(
      { kind: 'tcp', host: server.host!, port: server.port! },
      { device: 'wl-1', codes: CJT188_LINE_CODES, resyncDelayMs: 20 },
    );
    return line;
  }

  it('reads water and heat meters; units converted from the codes the meter sends (litres, GJ)', async () => {
    const w = new Cjt188SimMeter({
      id: 'W',
      address: '00000000000201',
      profile: water,
      load: 'office',
      seed: 3,
      clock: () => FROZEN,
      unitCodes: { volume: 0x29 },
    });
    const h = new Cjt188SimMeter({
      id: 'H',
      address: '00000000000202',
      profile: heat,
      load: 'office',
      seed: 4,
      clock: () => FROZEN,
      unitCodes: { energy: 0x11 },
    });
    const l = await open([w, h]);
    const rw = await cjt188.poll(l, w.address, water, ctx);
    expect(rw.values.volume_m3).toBeCloseTo(w.values().volume_m3!, 4); // litres with 2 decimals
    expect(rw.values.relay_closed).toBe(1);
    expect(rw.deviceTs).toBe(FROZEN);
    const rh = await cjt188.poll(l, h.address, heat, ctx);
    const want = h.values();
    expect(rh.values.heat_kwh).toBeCloseTo(want.heat_kwh!, -1); // GJ with 2 decimals = 2.8 kWh steps
    expect(Math.abs(rh.values.heat_kwh! - want.heat_kwh!)).toBeLessThan(10 / 3.6 / 2 + 1e-9);
    for (const q of ['flow_m3h', 'volume_m3', 'supply_c', 'return_c'] as const)
      expect(rh.values[q]).toBeCloseTo(want[q]!, 1);
    expect(rh.values.supply_c!).toBeGreaterThan(rh.values.return_c!);
  });

  it.each([
    ['silence', 'CJT188_TIMEOUT'],
    ['checksum', 'CJT188_CHECKSUM'],
    ['wrong-address', 'CJT188_GARBAGE'],
    ['garbage', 'CJT188_GARBAGE'],
  ] as const)('fault %s → %s', async (fault, code) => {
    const w = new Cjt188SimMeter({
      id: 'W',
      address: '00000000000201',
      profile: water,
      load: 'office',
      seed: 3,
      clock: () => FROZEN,
    });
    const l = await open([w]);
    w.setFault({ type: fault });
    expect((await failure(cjt188.poll(l, w.address, water, ctx))).code).toBe(code);
  });

  it('closes and opens the valve, reading the state back; a refused command is CJT188_DENIED', async () => {
    const w = new Cjt188SimMeter({
      id: 'W',
      address: '00000000000201',
      profile: water,
      load: 'office',
      seed: 3,
      clock: () => FROZEN,
    });
    const l = await open([w]);
    const ctl = { ...ctx, now: FROZEN };
    expect(await cjt188.control!(l, w.address, water, 'open', ctl)).toBe('open');
    expect(w.valveOpen).toBe(false);
    expect((await cjt188.poll(l, w.address, water, ctx)).values.relay_closed).toBe(0);
    expect(await cjt188.control!(l, w.address, water, 'close', ctl)).toBe('closed');
    w.setFault({ type: 'denied-control' });
    expect((await failure(cjt188.control!(l, w.address, water, 'open', ctl))).code).toBe('CJT188_DENIED');
    expect(w.valveOpen).toBe(true);
  });

  it('a clock reset shows in deviceTs as the year 2000', async () => {
    const w = new Cjt188SimMeter({
      id: 'W',
      address: '00000000000201',
      profile: water,
      load: 'office',
      seed: 3,
      clock: () => FROZEN,
    });
    const l = await open([w]);
    w.setFault({ type: 'clock-reset' });
    expect((await cjt188.poll(l, w.address, water, ctx)).deviceTs).toBe(Date.UTC(1999, 11, 31, 16, 0));
  });
});
