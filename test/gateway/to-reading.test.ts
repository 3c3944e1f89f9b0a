import { describe, expect, it } from 'vitest';
import { ReadingSchema } from '../../config/schemas/reading.ts';
import { toReading } from '../../gateway/poll-batcher.ts';

const NOW = Date.UTC(2026, 10, 27, 12, 0);

describe('a poll result as a published reading', () => {
  it('keeps a plausible device clock without remark', () => {
    const r = toReading('M1', 4, { ts: NOW, values: { energy_import_kwh: 1 }, deviceTs: NOW - 90_000 });
    expect(r).toEqual({
      meter: 'M1',
      ts: NOW,
      seq: 4,
      quality: 'good',
      values: { energy_import_kwh: 1 },
      deviceTs: NOW - 90_000,
    });
  });

  it.each([
    ['reset to 2000-01-01', Date.UTC(2000, 0, 1)],
    ['reset to the epoch', 0],
    ['two days ahead', NOW + 2 * 86_400_000],
    ['a week behind', NOW - 7 * 86_400_000],
  ])('flags a device clock %s, keeping what it said', (_, deviceTs) => {
    const r = toReading('M1', 1, { ts: NOW, values: { power_kw: 2 }, deviceTs });
    expect(r.deviceTs).toBe(deviceTs);
    expect(r.ts).toBe(NOW);
    expect(r.flags).toEqual(['DEVICE_CLOCK_INVALID']);
    expect(ReadingSchema.safeParse(r).success).toBe(true);
  });

  it('carries uncertain quality with its flags, and adds the clock flag after them', () => {
    const r = toReading('F1', 2, {
      ts: NOW,
      values: { power_kw: 5 },
      quality: 'uncertain',
      flags: ['OPCUA_UNCERTAIN', 'UncertainLastUsableValue'],
      deviceTs: Date.UTC(2000, 0, 1),
    });
    expect(r.quality).toBe('uncertain');
    expect(r.flags).toEqual(['OPCUA_UNCERTAIN', 'UncertainLastUsableValue', 'DEVICE_CLOCK_INVALID']);
    expect(ReadingSchema.safeParse(r).success).toBe(true);
  });

  it('the schema refuses an uncertain reading that does not say why', () => {
    const r = { meter: 'F1', ts: NOW, seq: 1, quality: 'uncertain', values: { power_kw: 1 } };
    const parsed = ReadingSchema.safeParse(r);
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.message).toMatch(/uncertain reading must say why/);
  });
});
