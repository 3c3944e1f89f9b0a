import type { ReadBlock } from '../adapters/modbus/planner.ts';
import { interFrameSilenceMs } from '../adapters/modbus/client.ts';
import type { BusConfig } from '../config/schemas/campus.ts';

/**
 * Whether a serial line has the wire time its configured polls need. At 2400 baud, meters set
 * to 1 s were read every 2.1 s with nothing saying the line was overloaded. Each read costs its
 * request (8 bytes), its answer (5 + 2 per register), both as characters of start, data, parity
 * and stop bits at the line's baud rate, and the 3.5-character silence before the request; a
 * meter's own turnaround comes on top, so the figure is a floor: a line above 1 is overloaded
 * whatever its meters do. Only serial lines (modbus-rtu) have a known baud rate: behind an
 * RTU-over-TCP converter the serial side is the converter's.
 */
export interface LineBudget {
  /** Wire time the polls need per second of time: above 1 the line cannot keep up. */
  load: number;
  /** The factor every poll interval would have to grow by for the line to keep up (≥ 1). */
  stretch: number;
}

export function readWireMs(bus: Extract<BusConfig, { type: 'modbus-rtu' }>, block: ReadBlock): number {
  const bitsPerChar = 1 + bus.dataBits + (bus.parity === 'none' ? 0 : 1) + bus.stopBits;
  const chars = 8 + 5 + 2 * block.count;
  return (chars * bitsPerChar * 1000) / bus.baudRate + interFrameSilenceMs({ ...bus, type: 'modbus-rtu' });
}

export function lineBudget(
  bus: BusConfig,
  meters: readonly { pollInterval: number; blocks: readonly ReadBlock[] }[],
): LineBudget | null {
  if (bus.type !== 'modbus-rtu') return null;
  let load = 0;
  for (const m of meters) {
    const perPoll = m.blocks.reduce((ms, b) => ms + readWireMs(bus, b), 0);
    load += perPoll / m.pollInterval;
  }
  return { load, stretch: Math.max(1, load) };
}
