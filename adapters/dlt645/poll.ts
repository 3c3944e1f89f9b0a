import type { Quantity } from '../../config/schemas/quantities.ts';
import { unitFactor } from '../../config/schemas/quantities.ts';
import { utcOf } from '../line/civil-time.ts';
import { bcdToInt, bcdValue } from './bcd.ts';
import type { Dlt645Client } from './client.ts';
import { dlt645Error } from './errors.ts';
import { planDlt645, type Dlt645Profile } from './profile.ts';

export interface Dlt645Poll {
  values: Partial<Record<Quantity, number>>;
  deviceTs?: number;
}

/**
 * Reads one meter as its profile says: one request per distinct DI, each value converted to the
 * contract's quantity and unit; the relay state from status word 3; the meter clock if mapped.
 * A value that is not BCD fails the poll with DLT645_BAD_VALUE naming the DI, never a number.
 */
export async function pollDlt645(
  client: Dlt645Client,
  address: string,
  profile: Dlt645Profile,
  opts: { timeoutMs: number; clockZone: string; device: string },
): Promise<Dlt645Poll> {
  const values: Partial<Record<Quantity, number>> = {};
  for (const read of planDlt645(profile)) {
    const bytes = await client.read(address, read.di, opts.timeoutMs);
    for (const p of read.points) {
      const at = p.index * p.bytes;
      if (bytes.length < at + p.bytes) {
        throw dlt645Error(
          'DLT645_GARBAGE',
          `DI ${read.di} answered ${bytes.length} value bytes, ${p.quantity} needs ${at + p.bytes}`,
          opts.device,
        );
      }
      const v = bcdValue(bytes.subarray(at, at + p.bytes), p);
      if (v === undefined) {
        throw dlt645Error(
          'DLT645_BAD_VALUE',
          `DI ${read.di} (${p.quantity}) is not BCD: ${bytes.subarray(at, at + p.bytes).toString('hex')}`,
          opts.device,
        );
      }
      values[p.quantity] = v * (unitFactor(p.unit, p.quantity) ?? Number.NaN);
    }
  }
  if (profile.relay) {
    const word = await client.read(address, profile.relay.statusDi, opts.timeoutMs);
    values.relay_closed = relayClosedOf(word, profile.relay.openBit, opts.device);
  }
  if (profile.deviceTime) {
    const date = await client.read(address, profile.deviceTime.dateDi, opts.timeoutMs);
    const time = await client.read(address, profile.deviceTime.timeDi, opts.timeoutMs);
    return { values, deviceTs: meterClock(date, time, opts.clockZone, opts.device) };
  }
  return { values };
}

/**
 * Whether the meter's last relay command is "closed" (通): status word 3 bit 6 is the relay
 * command state (0 closed, 1 open), beside bit 4, the relay itself. After 1B allow closing a
 * meter that took the permission says command closed while its relay is still open: armed.
 */
export function relayCommandClosedOf(word: Buffer, commandBit: number, device: string): boolean {
  if (word.length < 2) throw dlt645Error('DLT645_GARBAGE', `status word of ${word.length} bytes`, device);
  return ((word[0]! | (word[1]! << 8)) & (1 << commandBit)) === 0;
}

/** Status words are bit strings (not BCD), lowest byte first. */
export function relayClosedOf(word: Buffer, openBit: number, device: string): 0 | 1 {
  if (word.length < 2) throw dlt645Error('DLT645_GARBAGE', `status word of ${word.length} bytes`, device);
  const bits = word[0]! | (word[1]! << 8);
  return bits & (1 << openBit) ? 0 : 1;
}

/** Date (WW DD MM YY) and time (ss mm hh) DIs → UTC ms; a date that does not exist is BAD_VALUE. */
export function meterClock(date: Buffer, time: Buffer, zone: string, device: string): number {
  const d = [1, 2, 3].map((i) => bcdToInt(date.subarray(i, i + 1)));
  const t = [0, 1, 2].map((i) => bcdToInt(time.subarray(i, i + 1)));
  const [day, month, yy] = d;
  const [second, minute, hour] = t;
  const utc =
    date.length >= 4 && time.length >= 3 && [...d, ...t].every((x) => x !== undefined)
      ? utcOf(
          { year: 2000 + yy!, month: month!, day: day!, hour: hour!, minute: minute!, second: second! },
          zone,
        )
      : undefined;
  if (utc === undefined) {
    throw dlt645Error(
      'DLT645_BAD_VALUE',
      `meter clock ${date.toString('hex')} ${time.toString('hex')} is not a date and time`,
      device,
    );
  }
  return utc;
}
