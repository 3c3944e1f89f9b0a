import type { ReadingError } from '../config/schemas/reading.ts';
import type { Quantity } from '../config/schemas/quantities.ts';

/** What one poll of one meter produced: values, or the reason there are none. */
export type PollResult =
  | {
      ts: number;
      values: Partial<Record<Quantity, number>>;
      deviceTs?: number;
      /** Default good; uncertain needs flags saying why. */
      quality?: 'good' | 'uncertain';
      flags?: string[];
    }
  | { ts: number; error: ReadingError };

/**
 * The narrow view of a Modbus connection the runtime needs; adapters/modbus implements it for
 * TCP, RTU and RTU-over-TCP, and unit tests implement it with fakes.
 */
export interface RegisterTransport {
  read(unitId: number, fc: 3 | 4, address: number, count: number, timeoutMs: number): Promise<number[]>;
  /**
   * Writes holding registers (FC6: exactly one; FC16: one or more). Optional so that read-only
   * fakes need not implement it; a transport without it cannot switch relays.
   */
  writeRegisters?(
    unitId: number,
    address: number,
    values: number[],
    fc: 6 | 16,
    timeoutMs: number,
  ): Promise<void>;
  close(): Promise<void>;
  readonly isOpen: boolean;
}
