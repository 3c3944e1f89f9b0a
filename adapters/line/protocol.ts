import type { z } from 'zod';
import type { Quantity } from '../../config/schemas/quantities.ts';
import type { LineCodes } from './errors.ts';
import type { ByteLine } from './transport.ts';

/**
 * What a field protocol other than Modbus provides to the gateway: the profile schema its meter
 * models are written in, how a meter is addressed on the line, its error catalogue, one poll of
 * one meter, and (where its meters have a relay or valve) the control write with its read-back.
 * The gateway's bus scheduler, breaker, outbox and relay command path are the same for all of
 * them. Adding a protocol (M-Bus, DLMS) = a folder under adapters/ exporting one of these, plus
 * one line in adapters/protocols.ts.
 */
export interface FieldProtocol<P extends FieldProfileBase = FieldProfileBase> {
  readonly id: string;
  /** Human name for messages and the README. */
  readonly title: string;
  readonly profileSchema: z.ZodType<P>;
  /** A meter's address on the line, as printed on its nameplate. */
  readonly address: { pattern: RegExp; hint: string };
  readonly errorCatalogue: Readonly<Record<string, string>>;
  readonly lineCodes: LineCodes;
  /** Reads one meter. Throws FieldbusError; the gateway turns it into an error reading. */
  poll(line: ByteLine, address: string, profile: P, ctx: FieldContext): Promise<FieldPoll>;
  /** Whether the profile has something to switch (relay or valve). */
  canSwitch(profile: P): boolean;
  /**
   * Switches the relay or valve: `open` cuts the supply, `close` restores it. Resolves with the
   * state read back (the meter's own status, never assumed from the write); rejects with a
   * FieldbusError if the meter refused (wrong password: `…_DENIED`) or did not answer. `armed`:
   * the meter took a close as permission only (DL/T 645 "allow closing") and its relay stays open
   * until the customer presses the button — neither closed nor a failure.
   */
  control?(
    line: ByteLine,
    address: string,
    profile: P,
    action: 'open' | 'close',
    ctx: ControlContext,
  ): Promise<'open' | 'closed' | 'armed' | null>;
}

export interface FieldProfileBase {
  protocol: string;
  model: string;
  kind: 'electricity' | 'water' | 'heat';
}

export interface FieldContext {
  timeoutMs: number;
  /** IANA zone the meters' clocks run in. */
  clockZone: string;
  /** The bus id, named in errors. */
  device: string;
}

export interface ControlContext extends FieldContext {
  /** Credentials a protocol needs to be obeyed (DL/T 645: password and operator code). */
  auth?: { password: string; operator: string };
  now: number;
}

export interface FieldPoll {
  values: Partial<Record<Quantity, number>>;
  deviceTs?: number;
}
