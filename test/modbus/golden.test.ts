import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILTIN_PROFILE_DIR, loadProfileFile } from '../../config/profiles.ts';
import { ProfileSchema, type Profile } from '../../config/schemas/profile.ts';
import { decodePoll } from '../../adapters/modbus/decode.ts';
import { ModbusError } from '../../adapters/modbus/errors.ts';
import { planReads, type ReadBlock } from '../../adapters/modbus/planner.ts';

/**
 * Golden decoding cases, one folder each: test/golden/<profile-id>/<case>/ with
 * - registers.json: { blocks: [{ fc, address, registers: [number | "0xABCD", ...] }] }
 * - expected.json: { values: {...}, deviceTs? } or { error: "MODBUS_..." }
 * - profile-patch.json (optional): { wordOrder?, byteOrder? } applied to every point, for
 *   meters configured (or shipped) with another word order.
 * Registers the golden blocks do not cover are gap registers and read as 0; a planned item whose
 * registers are missing fails the case.
 */
const GOLDEN = join(import.meta.dirname, '..', 'golden');

interface GoldenBlock {
  fc: number;
  address: number;
  registers: (number | string)[];
}
interface Expected {
  values?: Record<string, number>;
  deviceTs?: number;
  error?: string;
}

const readJson = <T>(file: string): T => JSON.parse(readFileSync(file, 'utf8')) as T;

function word(w: number | string): number {
  const n = typeof w === 'string' ? Number.parseInt(w, 16) : w;
  if (!Number.isInteger(n) || n < 0 || n > 0xffff) throw new Error(`bad register word ${w}`);
  return n;
}

function withPatch(profile: Profile, dir: string): Profile {
  const file = join(dir, 'profile-patch.json');
  if (!existsSync(file)) return profile;
  const patch = readJson<Record<string, string>>(file);
  return ProfileSchema.parse({ ...profile, points: profile.points.map((p) => ({ ...p, ...patch })) });
}

function slice(blocks: readonly ReadBlock[], golden: GoldenBlock[]): number[][] {
  const regs = new Map<string, number>();
  for (const g of golden) g.registers.forEach((w, i) => regs.set(`${g.fc}:${g.address + i}`, word(w)));
  return blocks.map((b) => {
    for (const item of b.items) {
      for (let i = 0; i < item.width; i++) {
        const key = `${b.fc}:${b.address + item.offset + i}`;
        if (!regs.has(key)) throw new Error(`golden registers lack ${key} needed by a ${item.kind}`);
      }
    }
    return Array.from({ length: b.count }, (_, i) => regs.get(`${b.fc}:${b.address + i}`) ?? 0);
  });
}

const cases = readdirSync(GOLDEN)
  .sort()
  // Only folders named after a Modbus profile: test/golden/ also holds other suites' cases
  // (DL/T 645 and CJ/T 188 frames, billing quarters), each read by its own test.
  .filter((id) => existsSync(join(BUILTIN_PROFILE_DIR, `${id}.yaml`)))
  .flatMap((profileId) =>
    readdirSync(join(GOLDEN, profileId))
      .sort()
      .map((name) => ({ profileId, name, dir: join(GOLDEN, profileId, name) })),
  );

describe('golden decoding cases', () => {
  it('has at least one case per built-in profile', () => {
    const profiles = readdirSync(BUILTIN_PROFILE_DIR)
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => f.replace(/\.yaml$/, ''));
    for (const id of profiles)
      expect(
        cases.some((c) => c.profileId === id),
        id,
      ).toBe(true);
  });

  it.each(cases)('$profileId/$name', ({ profileId, dir }) => {
    const profile = withPatch(loadProfileFile(join(BUILTIN_PROFILE_DIR, `${profileId}.yaml`)), dir);
    const golden = readJson<{ blocks: GoldenBlock[] }>(join(dir, 'registers.json'));
    const expected = readJson<Expected>(join(dir, 'expected.json'));
    const blocks = planReads(profile);
    const registers = slice(blocks, golden.blocks);

    if (expected.error) {
      let thrown: unknown;
      try {
        decodePoll(profile, blocks, registers, { device: 'golden', meter: profileId });
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toBeInstanceOf(ModbusError);
      expect((thrown as ModbusError).code).toBe(expected.error);
      return;
    }

    const out = decodePoll(profile, blocks, registers);
    expect(Object.keys(out.values).sort()).toEqual(Object.keys(expected.values ?? {}).sort());
    for (const [q, v] of Object.entries(expected.values ?? {})) {
      const got = out.values[q as keyof typeof out.values]!;
      // float32 carries ~7 significant digits.
      expect(Math.abs(got - v), `${q}: got ${got}, expected ${v}`).toBeLessThanOrEqual(
        Math.max(1e-9, Math.abs(v) * 1e-6),
      );
    }
    expect(out.deviceTs).toBe(expected.deviceTs);
  });
});
