import { afterEach, describe, expect, it } from 'vitest';
import { Dlt645Client } from '../../adapters/dlt645/client.ts';
import { DLT645_LINE_CODES } from '../../adapters/dlt645/errors.ts';
import { dlt645 } from '../../adapters/dlt645/protocol.ts';
import { Dlt645ProfileSchema, type Dlt645Profile } from '../../adapters/dlt645/profile.ts';
import { civilTimeOf } from '../../adapters/line/civil-time.ts';
import { loadFieldProfiles } from '../../config/field-profiles.ts';
import { failure, goldenCases, goldenMeter, type GoldenCase, type GoldenMeter } from './golden-harness.ts';

const profiles = loadFieldProfiles();
const cases = goldenCases('dlt645');

function profileOf(c: GoldenCase): Dlt645Profile {
  const p = profiles.get(c.profile as string);
  if (p?.protocol !== 'dlt645') throw new Error(`${c.name}: no DL/T 645 profile ${String(c.profile)}`);
  const patch = c.profilePatch as Partial<Dlt645Profile> | undefined;
  return patch ? Dlt645ProfileSchema.parse({ ...p, ...patch, relay: { ...p.relay, ...patch.relay } }) : p;
}

async function run(c: GoldenCase, meter: GoldenMeter): Promise<Record<string, unknown>> {
  const ctx = { timeoutMs: 500, clockZone: (c.clockZone as string) ?? 'Asia/Shanghai', device: 'golden' };
  const client = new Dlt645Client(meter.line);
  switch (c.op) {
    case 'poll': {
      const r = await dlt645.poll(meter.line, c.address as string, profileOf(c), ctx);
      return {
        values: r.values,
        ...(r.deviceTs !== undefined
          ? { deviceTs: new Date(r.deviceTs).toISOString().replace('.000', '') }
          : {}),
      };
    }
    case 'read':
      return { bytes: (await client.read(c.address as string, c.di as string, 500)).toString('hex') };
    case 'readAddress':
      return { address: await client.readAddress(500) };
    case 'broadcastTime':
      await client.broadcastTime(civilTimeOf(Date.parse(c.utc as string), ctx.clockZone), 500);
      return {};
    case 'control': {
      const observed = await dlt645.control!(
        meter.line,
        c.address as string,
        profileOf(c),
        c.action as 'open' | 'close',
        {
          ...ctx,
          now: Date.parse(c.now as string),
          auth: c.auth as { password: string; operator: string },
        },
      );
      return { observed };
    }
    default:
      throw new Error(`unknown op ${c.op}`);
  }
}

describe('DL/T 645-2007 golden frames (hand-computed), over a real socket', () => {
  let meter: GoldenMeter | undefined;
  afterEach(async () => {
    await meter?.close();
    meter = undefined;
  });

  it('has a case for every DI of the built-in profiles and every control command', () => {
    const requested = new Set(cases.flatMap((c) => c.exchanges.map((e) => e.request.replace(/\s+/g, ''))));
    for (const id of ['dlt645-single-phase-prepaid', 'dlt645-three-phase']) {
      const p = profiles.get(id) as Dlt645Profile;
      for (const pt of p.points) {
        const wire = Buffer.from(
          Buffer.from(pt.di, 'hex')
            .reverse()
            .map((b) => (b + 0x33) & 0xff),
        ).toString('hex');
        expect(
          [...requested].some((r) => r.includes(`1104${wire}`)),
          `${id} ${pt.di}`,
        ).toBe(true);
      }
    }
    for (const n1 of ['4d', '4e', '4f'])
      expect([...requested].some((r) => r.includes(n1.toUpperCase()) || r.includes(n1))).toBe(true);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    meter = await goldenMeter(c, DLT645_LINE_CODES);
    if (c.expected.error) {
      const err = await failure(run(c, meter));
      expect(err.code).toBe(c.expected.error);
      if (c.expected.errorBits !== undefined) expect(err.detail?.errorBits).toBe(c.expected.errorBits);
    } else {
      const got = await run(c, meter);
      const exp = c.expected as { values?: Record<string, number> };
      if (exp.values) {
        const values = got.values as Record<string, number>;
        expect(Object.keys(values).sort()).toEqual(Object.keys(exp.values).sort());
        for (const [q, v] of Object.entries(exp.values)) expect(values[q], q).toBeCloseTo(v, 9);
        expect({ ...got, values: undefined }).toEqual({ ...c.expected, values: undefined });
      } else expect(got).toEqual(c.expected);
    }
    expect(await meter.played()).toBe(c.exchanges.length);
    expect(meter.mismatches).toEqual([]);
  });
});
