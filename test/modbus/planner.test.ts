import { describe, expect, it } from 'vitest';
import { ProfileSchema, type Profile } from '../../config/schemas/profile.ts';
import { planOnePerValue, planReads, registersRead } from '../../adapters/modbus/planner.ts';

type PointIn = { quantity: string; fc?: 3 | 4; address: number; type?: string; unit?: string };

function profile(points: PointIn[], extra: Record<string, unknown> = {}): Profile {
  return ProfileSchema.parse({
    model: 'test',
    manufacturer: 'test',
    kind: 'electricity',
    source: 'test',
    points: points.map((p) => ({ fc: 3, type: 'f32', unit: unitFor(p.quantity), ...p })),
    ...extra,
  });
}
function unitFor(q: string): string {
  if (q.startsWith('voltage')) return 'V';
  if (q.startsWith('current')) return 'A';
  if (q.startsWith('power')) return 'kW';
  if (q.startsWith('energy') || q === 'heat_kwh') return 'kWh';
  return '1';
}
const shape = (p: Profile) => planReads(p).map((b) => [b.fc, b.address, b.count]);

describe('planReads', () => {
  it('merges contiguous registers into one read', () => {
    const p = profile([
      { quantity: 'voltage_v', address: 10 },
      { quantity: 'current_a', address: 12 },
      { quantity: 'power_kw', address: 14 },
    ]);
    expect(shape(p)).toEqual([[3, 10, 6]]);
  });

  it('reads across a gap only up to maxGapRegisters', () => {
    const pts = [
      { quantity: 'voltage_v', address: 0 },
      { quantity: 'current_a', address: 6 }, // gap of 4 registers (2..5)
    ];
    expect(shape(profile(pts, { maxGapRegisters: 3 }))).toEqual([
      [3, 0, 2],
      [3, 6, 2],
    ]);
    expect(shape(profile(pts, { maxGapRegisters: 4 }))).toEqual([[3, 0, 8]]);
  });

  it('never exceeds maxRegistersPerRead, even when the gap would allow merging', () => {
    const p = profile(
      [
        { quantity: 'voltage_v', address: 0 },
        { quantity: 'current_a', address: 2 },
        { quantity: 'power_kw', address: 4 },
      ],
      { maxRegistersPerRead: 4, maxGapRegisters: 10 },
    );
    expect(shape(p)).toEqual([
      [3, 0, 4],
      [3, 4, 2],
    ]);
    for (const b of planReads(p)) expect(b.count).toBeLessThanOrEqual(4);
  });

  it('keeps function codes apart and sorts by fc, then address', () => {
    const p = profile(
      [
        { quantity: 'power_kw', fc: 4, address: 0 },
        { quantity: 'voltage_v', fc: 3, address: 100 },
        { quantity: 'current_a', fc: 3, address: 0 },
        { quantity: 'pf', fc: 4, address: 2 },
      ],
      { maxGapRegisters: 124 },
    );
    expect(shape(p)).toEqual([
      [3, 0, 102],
      [4, 0, 4],
    ]);
  });

  it('gives each item its offset in the block', () => {
    const p = profile(
      [
        { quantity: 'current_a', address: 20 },
        { quantity: 'voltage_v', address: 16 },
      ],
      { maxGapRegisters: 2 },
    );
    const [b] = planReads(p);
    expect(
      b!.items.map((i) => [i.kind, i.kind === 'point' ? i.point.quantity : '', i.offset, i.width]),
    ).toEqual([
      ['point', 'voltage_v', 0, 2],
      ['point', 'current_a', 4, 2],
    ]);
  });

  it('plans exponent and device-time registers with their points', () => {
    const p = ProfileSchema.parse({
      model: 't',
      manufacturer: 't',
      kind: 'heat',
      source: 't',
      maxGapRegisters: 2,
      points: [
        {
          quantity: 'heat_kwh',
          fc: 3,
          address: 0,
          type: 'i64',
          unit: 'Wh',
          exponent: { address: 6, type: 'i16' },
        },
      ],
      deviceTime: { fc: 3, address: 8, type: 'u32' },
    });
    const blocks = planReads(p);
    expect(blocks).toHaveLength(1);
    expect(blocks[0]!.items.map((i) => [i.kind, i.offset])).toEqual([
      ['point', 0],
      ['exponent', 6],
      ['deviceTime', 8],
    ]);
    expect(blocks[0]!.count).toBe(10);
  });

  it('handles overlapping points (two views of the same registers)', () => {
    const p = ProfileSchema.parse({
      model: 't',
      manufacturer: 't',
      kind: 'electricity',
      source: 't',
      points: [
        { quantity: 'energy_import_kwh', fc: 3, address: 0, type: 'u64', unit: 'Wh' },
        { quantity: 'energy_export_kwh', fc: 3, address: 2, type: 'u32', unit: 'Wh' },
      ],
    });
    expect(shape(p)).toEqual([[3, 0, 4]]);
  });

  it('is deterministic: the order of points in the file does not matter', () => {
    const pts: PointIn[] = [
      { quantity: 'voltage_v', address: 40 },
      { quantity: 'current_a', address: 0 },
      { quantity: 'power_kw', fc: 4, address: 7 },
      { quantity: 'pf', address: 44 },
    ];
    const a = planReads(profile(pts, { maxGapRegisters: 2 }));
    const b = planReads(profile([...pts].reverse(), { maxGapRegisters: 2 }));
    const strip = (bs: typeof a) => bs.map((x) => ({ ...x, items: x.items.map((i) => [i.kind, i.offset]) }));
    expect(strip(a)).toEqual(strip(b));
  });

  it('uses far fewer requests than one per value', () => {
    const pts = Array.from({ length: 10 }, (_, i) => ({
      quantity: [
        'voltage_v',
        'voltage_l2_v',
        'voltage_l3_v',
        'current_a',
        'current_l2_a',
        'current_l3_a',
        'power_kw',
        'pf',
        'energy_import_kwh',
        'energy_export_kwh',
      ][i]!,
      address: i * 2,
    }));
    const p = profile(pts);
    expect(planReads(p)).toHaveLength(1);
    expect(planOnePerValue(p)).toHaveLength(10);
    expect(registersRead(planReads(p))).toBe(20);
    for (const b of planOnePerValue(p)) expect(b.items).toHaveLength(1);
  });
});
