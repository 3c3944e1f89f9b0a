import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Cjt188Client } from '../../adapters/cjt188/client.ts';
import { decodeFrame as decodeCjt188, encodeFrame as encodeCjt188 } from '../../adapters/cjt188/frame.ts';
import { decodeCurrent } from '../../adapters/cjt188/poll.ts';
import type { Cjt188Profile } from '../../adapters/cjt188/profile.ts';
import { Dlt645Client } from '../../adapters/dlt645/client.ts';
import { decodeFrame, diBytes, encodeFrame } from '../../adapters/dlt645/frame.ts';
import { pollDlt645 } from '../../adapters/dlt645/poll.ts';
import type { Dlt645Profile } from '../../adapters/dlt645/profile.ts';
import { FieldbusError } from '../../adapters/line/errors.ts';
import { loadFieldProfiles } from '../../config/field-profiles.ts';

/**
 * Whatever bytes a line delivers, the adapters answer with values that are finite numbers or with
 * a FieldbusError carrying a code — never another exception that would escape the bus scheduler
 * as GATEWAY_INTERNAL, and never NaN.
 */
const profiles = loadFieldProfiles();
const dorm = profiles.get('dlt645-single-phase-prepaid') as Dlt645Profile;
const three = profiles.get('dlt645-three-phase') as Dlt645Profile;
const water = profiles.get('cjt188-cold-water-valve') as Cjt188Profile;
const heat = profiles.get('cjt188-heat') as Cjt188Profile;
const ADDRESS = '000012345678';

function onlyFieldbusErrors(fn: () => unknown): void {
  try {
    const r = fn();
    if (r && typeof r === 'object' && 'values' in r) {
      for (const v of Object.values((r as { values: Record<string, number> }).values))
        expect(Number.isFinite(v)).toBe(true);
    }
  } catch (err) {
    expect(err, String(err)).toBeInstanceOf(FieldbusError);
    expect((err as FieldbusError).code).toMatch(/^(DLT645|CJT188)_[A-Z_]+$/);
  }
}

async function onlyFieldbusErrorsAsync(p: Promise<unknown>): Promise<void> {
  try {
    const r = await p;
    if (r && typeof r === 'object' && 'values' in r) {
      for (const v of Object.values((r as { values: Record<string, number> }).values))
        expect(Number.isFinite(v)).toBe(true);
    }
  } catch (err) {
    expect(err, String(err)).toBeInstanceOf(FieldbusError);
  }
}

describe('adapters under arbitrary bytes', () => {
  it('DL/T 645 and CJ/T 188 frame decoders', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const b = Buffer.from(bytes);
        onlyFieldbusErrors(() => decodeFrame(b, 'fuzz'));
        onlyFieldbusErrors(() => decodeCjt188(b, 'fuzz'));
      }),
      { numRuns: 2000 },
    );
  });

  it('a DL/T 645 poll answered with well-framed frames of random content', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            sameAddress: fc.boolean(),
            control: fc.constantFrom(0x91, 0xd1, 0x93, 0x11),
            echoDi: fc.boolean(),
            value: fc.uint8Array({ maxLength: 16 }),
          }),
          {
            minLength: 1,
            maxLength: 12,
          },
        ),
        fc.boolean(),
        async (answers, useThree) => {
          let i = 0;
          const line = {
            device: 'fuzz',
            resync: () => {},
            exchange: async (req: Buffer) => {
              const a = answers[i++ % answers.length]!;
              const request = decodeFrame(req.subarray(4), 'fuzz');
              const data = Buffer.concat([
                a.echoDi ? request.data.subarray(0, 4) : diBytes('00000000'),
                Buffer.from(a.value),
              ]);
              return encodeFrame(
                { address: a.sameAddress ? ADDRESS : '000000000001', control: a.control, data },
                0,
              );
            },
          };
          await onlyFieldbusErrorsAsync(
            pollDlt645(new Dlt645Client(line), ADDRESS, useThree ? three : dorm, {
              timeoutMs: 100,
              clockZone: 'Asia/Shanghai',
              device: 'fuzz',
            }),
          );
        },
      ),
      { numRuns: 500 },
    );
  });

  it('a CJ/T 188 901F answer of random content, and random frames to the client', async () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), fc.boolean(), (bytes, isHeat) => {
        onlyFieldbusErrors(() =>
          decodeCurrent(Buffer.from(bytes), isHeat ? heat : water, {
            clockZone: 'Asia/Shanghai',
            device: 'fuzz',
          }),
        );
      }),
      { numRuns: 2000 },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 60 }),
        fc.constantFrom(0x81, 0xc1, 0x84),
        async (data, control) => {
          const line = {
            device: 'fuzz',
            resync: () => {},
            exchange: async () =>
              encodeCjt188(
                { meterType: 0x10, address: '00000012345678', control, data: Buffer.from(data) },
                0,
              ),
          };
          await onlyFieldbusErrorsAsync(
            new Cjt188Client(line).readCurrent({ meterType: 0x10, address: '00000012345678' }, 100),
          );
        },
      ),
      { numRuns: 500 },
    );
  });
});
