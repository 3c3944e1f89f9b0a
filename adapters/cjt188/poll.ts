import type { Quantity } from '../../config/schemas/quantities.ts';
import { bcdToInt, bcdValue } from '../dlt645/bcd.ts';
import { utcOf } from '../line/civil-time.ts';
import type { Cjt188Client } from './client.ts';
import { cjt188Error } from './errors.ts';
import { fieldBytes, type Cjt188Profile } from './profile.ts';
import { unitFactorOf } from './units.ts';

export interface Cjt188Poll {
  values: Partial<Record<Quantity, number>>;
  deviceTs?: number;
  /** Status bits 0–1: 00 open, 01 closed, 11 abnormal; bit 2: battery low. */
  status?: number;
}

/** Valve state from the status word: 1 open (water flows, like a closed relay), 0 closed, undefined abnormal. */
export function valveOpenOf(status: number): 0 | 1 | undefined {
  const v = status & 0x03;
  return v === 0 ? 1 : v === 1 ? 0 : undefined;
}

/**
 * Decodes a 901F answer's data (after DI and SER) by the profile's layout. Every value with a
 * unit code is converted by the code the meter sent; an unknown code fails the poll with
 * CJT188_BAD_UNIT naming it.
 */
export function decodeCurrent(
  data: Buffer,
  profile: Cjt188Profile,
  opts: { clockZone: string; device: string },
): Cjt188Poll {
  const need = profile.layout.reduce((n, f) => n + fieldBytes(f), 0);
  if (data.length < need) {
    throw cjt188Error(
      'CJT188_GARBAGE',
      `901F answered ${data.length} data bytes, the layout needs ${need}`,
      opts.device,
    );
  }
  const out: Cjt188Poll = { values: {} };
  let at = 0;
  for (const f of profile.layout) {
    const bytes = data.subarray(at, at + fieldBytes(f));
    at += fieldBytes(f);
    const label = f.name ?? ('quantity' in f ? f.quantity : undefined) ?? f.type;
    if (f.type === 'bcd' || f.type === 'temperature') {
      if (!f.quantity) continue;
      const v = bcdValue(bytes, { bytes: f.bytes, decimals: f.decimals });
      if (v === undefined)
        throw cjt188Error('CJT188_BAD_VALUE', `${label} is not BCD: ${bytes.toString('hex')}`, opts.device);
      let factor = 1;
      if (f.type === 'bcd' && f.unitCode) {
        const u = unitFactorOf(bytes[f.bytes]!, f.quantity);
        if ('problem' in u)
          throw cjt188Error('CJT188_BAD_UNIT', u.problem, opts.device, { unitCode: bytes[f.bytes]! });
        factor = u.factor;
      }
      out.values[f.quantity] = v * factor;
    } else if (f.type === 'time') {
      out.deviceTs = meterTime(bytes, opts.clockZone, opts.device);
    } else if (f.type === 'status') {
      out.status = bytes[0]! | (bytes[1]! << 8);
    }
  }
  if (profile.valve && out.status !== undefined) {
    const open = valveOpenOf(out.status);
    if (open === undefined)
      throw cjt188Error(
        'CJT188_BAD_VALUE',
        `valve state abnormal (status ${out.status.toString(16)})`,
        opts.device,
      );
    out.values.relay_closed = open;
  }
  return out;
}

/** ss mm hh DD MM YYYY (year 2 bytes, low first), BCD. */
export function meterTime(b: Buffer, zone: string, device: string): number {
  const [s, mi, h, d, mo] = [0, 1, 2, 3, 4].map((i) => bcdToInt(b.subarray(i, i + 1)));
  const y = bcdToInt(b.subarray(5, 7));
  const parts = [s, mi, h, d, mo, y];
  const utc = parts.every((x) => x !== undefined)
    ? utcOf({ year: y!, month: mo!, day: d!, hour: h!, minute: mi!, second: s! }, zone)
    : undefined;
  if (utc === undefined)
    throw cjt188Error('CJT188_BAD_VALUE', `meter time ${b.toString('hex')} is not a date`, device);
  return utc;
}

export async function pollCjt188(
  client: Cjt188Client,
  address: string,
  profile: Cjt188Profile,
  opts: { timeoutMs: number; clockZone: string; device: string },
): Promise<Cjt188Poll> {
  const data = await client.readCurrent({ meterType: profile.meterType, address }, opts.timeoutMs);
  return decodeCurrent(data, profile, opts);
}
