import { z } from 'zod';

/**
 * Faults a simulated DL/T 645 or CJ/T 188 meter can show, one at a time:
 * - `silence`: no answer (a dead meter, a wrong address, a battery water meter asleep);
 * - `checksum`: the right answer with its checksum off by one;
 * - `wrong-address`: a valid answer from another address (two meters configured alike, or a
 *   meter answering for a neighbour);
 * - `denied-control`: control commands are refused as if the password were wrong (DC 04 / C4);
 * - `clock-reset`: the meter's clock restarted at 2000-01-01 00:00:00 when the fault was set
 *   (a flat RTC battery);
 * - `garbage`: a burst of noise instead of an answer.
 */
export const LineFaultSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('none') }).strict(),
  z.object({ type: z.literal('silence') }).strict(),
  z.object({ type: z.literal('checksum') }).strict(),
  z.object({ type: z.literal('wrong-address') }).strict(),
  z.object({ type: z.literal('denied-control') }).strict(),
  z.object({ type: z.literal('clock-reset') }).strict(),
  z.object({ type: z.literal('garbage') }).strict(),
]);
export type LineFault = z.infer<typeof LineFaultSchema>;
export const NO_LINE_FAULT: LineFault = Object.freeze({ type: 'none' });

/** Answer with the checksum byte (second to last) off by one. */
export function badChecksum(frame: Buffer): Buffer {
  const out = Buffer.from(frame);
  out[out.length - 2] = (out[out.length - 2]! + 1) & 0xff;
  return out;
}

/** 2000-01-01 00:00:00 in the meter's zone, plus the time since the reset. */
export const CLOCK_RESET_EPOCH = { year: 2000, month: 1, day: 1, hour: 0, minute: 0, second: 0 };
