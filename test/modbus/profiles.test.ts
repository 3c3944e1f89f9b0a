import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILTIN_PROFILE_DIR, loadProfileFile, loadProfiles } from '../../config/profiles.ts';
import { REGISTER_WIDTH } from '../../config/schemas/profile.ts';
import { planReads } from '../../adapters/modbus/planner.ts';

const files = readdirSync(BUILTIN_PROFILE_DIR)
  .filter((f) => f.endsWith('.yaml'))
  .sort();
const profiles = [...loadProfiles()];

describe('built-in device profiles', () => {
  it('ships the expected models', () => {
    expect(profiles.map(([id]) => id)).toEqual([
      'chint-ddsu666',
      'chint-dtsu666',
      'eastron-sdm120',
      'eastron-sdm630',
      'generic-water-meter',
      'hiking-dds238-2',
      'mbus-heat-converter',
      'schneider-iem3000',
    ]);
  });

  it.each(files)('%s parses against ProfileSchema', (file) => {
    expect(() => loadProfileFile(join(BUILTIN_PROFILE_DIR, file))).not.toThrow();
  });

  it.each(profiles)('%s: every manual register number is address + manualBase', (_id, profile) => {
    for (const p of profile.points) {
      if (p.register !== undefined) expect(p.register, p.quantity).toBe(p.address + profile.manualBase);
    }
    if (profile.deviceTime?.register !== undefined) {
      expect(profile.deviceTime.register).toBe(profile.deviceTime.address + profile.manualBase);
    }
  });

  it('documents the manual register of every point of a vendor map', () => {
    for (const [id, profile] of profiles) {
      if (profile.manufacturer === 'generic') continue;
      for (const p of profile.points) expect(p.register, `${id} ${p.quantity}`).toBeDefined();
    }
  });

  it('checks 0- vs 1-based numbering with the manuals’ own examples', () => {
    const byId = new Map(profiles);
    const sdm630 = byId.get('eastron-sdm630')!;
    expect(sdm630.points.find((p) => p.quantity === 'voltage_v')).toMatchObject({
      address: 0,
      register: 30001,
    });
    const iem = byId.get('schneider-iem3000')!;
    expect(iem.points.find((p) => p.quantity === 'current_a')).toMatchObject({
      address: 2999,
      register: 3000,
    });
    expect(iem.points.find((p) => p.quantity === 'energy_import_kwh')).toMatchObject({
      address: 0x0c83,
      register: 3204,
    });
  });

  it('polls an SDM630 in at most 2 requests of at most 80 registers', () => {
    const blocks = planReads(new Map(profiles).get('eastron-sdm630')!);
    expect(blocks.length).toBeLessThanOrEqual(2);
    for (const b of blocks) expect(b.count).toBeLessThanOrEqual(80);
  });

  it.each(profiles)(
    '%s: every block fits maxRegistersPerRead and every point is covered exactly',
    (_id, profile) => {
      const blocks = planReads(profile);
      for (const b of blocks) {
        expect(b.count).toBeLessThanOrEqual(profile.maxRegistersPerRead);
        expect(b.count).toBeLessThanOrEqual(125);
      }
      profile.points.forEach((p, i) => {
        const hits = blocks.flatMap((b) =>
          b.items.filter((it) => it.kind === 'point' && it.pointIndex === i).map((it) => ({ b, it })),
        );
        expect(hits, p.quantity).toHaveLength(1);
        const { b, it } = hits[0]!;
        expect(b.fc).toBe(p.fc);
        expect(b.address + it.offset).toBe(p.address);
        expect(it.width).toBe(REGISTER_WIDTH[p.type]);
        expect(it.offset + it.width).toBeLessThanOrEqual(b.count);
      });
    },
  );

  it('the relay of the DDS238-2 is written with FC16 and read back as relay_closed', () => {
    const dds = new Map(profiles).get('hiking-dds238-2')!;
    expect(dds.relay).toEqual({ address: 0x1a, writeFc: 16, closedValue: 1, openValue: 0 });
    expect(dds.points.find((p) => p.quantity === 'relay_closed')?.address).toBe(0x1a);
  });

  it('the heat converter reads the device time from the first block', () => {
    const heat = new Map(profiles).get('mbus-heat-converter')!;
    expect(heat.deviceTime).toMatchObject({ address: 8, type: 'u32', epoch: 'unix-s' });
    expect(heat.points.find((p) => p.quantity === 'heat_kwh')).toMatchObject({
      unit: 'Wh',
      exponent: { address: 6 },
    });
  });
});
