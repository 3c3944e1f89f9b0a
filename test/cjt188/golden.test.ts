import { afterEach, describe, expect, it } from 'vitest';
import { CJT188_LINE_CODES } from '../../adapters/cjt188/errors.ts';
import { cjt188 } from '../../adapters/cjt188/protocol.ts';
import type { Cjt188Profile } from '../../adapters/cjt188/profile.ts';
import { CJT188_UNITS } from '../../adapters/cjt188/units.ts';
import { loadFieldProfiles } from '../../config/field-profiles.ts';
import {
  failure,
  goldenCases,
  goldenMeter,
  type GoldenCase,
  type GoldenMeter,
} from '../dlt645/golden-harness.ts';

const profiles = loadFieldProfiles();
const cases = goldenCases('cjt188');

function profileOf(c: GoldenCase): Cjt188Profile {
  const p = profiles.get(c.profile as string);
  if (p?.protocol !== 'cjt188') throw new Error(`${c.name}: no CJ/T 188 profile ${String(c.profile)}`);
  return p;
}

async function run(c: GoldenCase, meter: GoldenMeter): Promise<Record<string, unknown>> {
  const ctx = { timeoutMs: 500, clockZone: (c.clockZone as string) ?? 'Asia/Shanghai', device: 'golden' };
  if (c.op === 'poll') {
    const r = await cjt188.poll(meter.line, c.address as string, profileOf(c), ctx);
    return {
      values: r.values,
      ...(r.deviceTs !== undefined
        ? { deviceTs: new Date(r.deviceTs).toISOString().replace('.000', '') }
        : {}),
    };
  }
  if (c.op === 'control') {
    const observed = await cjt188.control!(
      meter.line,
      c.address as string,
      profileOf(c),
      c.action as 'open' | 'close',
      {
        ...ctx,
        now: Date.parse(c.now as string),
      },
    );
    return { observed };
  }
  throw new Error(`unknown op ${c.op}`);
}

describe('CJ/T 188-2004 golden frames (hand-computed), over a real socket', () => {
  let meter: GoldenMeter | undefined;
  afterEach(async () => {
    await meter?.close();
    meter = undefined;
  });

  it('covers both meter types, both valve commands and units of every dimension', () => {
    const answers = cases.flatMap((c) => c.exchanges.map((e) => (e.answer ?? '').replace(/\s+/g, '')));
    expect(answers.some((a) => a.includes('6810'))).toBe(true);
    expect(answers.some((a) => a.includes('6820'))).toBe(true);
    const requests = cases.flatMap((c) => c.exchanges.map((e) => e.request.replace(/\s+/g, '')));
    expect(requests.some((r) => r.endsWith(`17A00099${r.slice(-4, -2)}16`) || r.includes('17A00099'))).toBe(
      true,
    );
    expect(requests.some((r) => r.includes('17A00055'))).toBe(true);
    const dims = new Set(
      ['05', '11', '08', '17', '35', '2C', '29'].map((h) => CJT188_UNITS[Number.parseInt(h, 16)]!.dim),
    );
    expect([...dims].sort()).toEqual(['energy', 'flow', 'power', 'volume']);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    meter = await goldenMeter(c, CJT188_LINE_CODES);
    if (c.expected.error) {
      const err = await failure(run(c, meter));
      expect(err.code).toBe(c.expected.error);
      if (c.expected.messageIncludes) expect(err.message).toContain(c.expected.messageIncludes);
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
