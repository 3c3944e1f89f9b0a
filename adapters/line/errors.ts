/**
 * The error every non-Modbus field protocol (DL/T 645, CJ/T 188, the next one) throws: a code
 * from its own catalogue, the bus member it happened on and, once known, the meter. The gateway
 * turns it into a reading's `error.code` as it does a ModbusError, so codes are part of the MQTT
 * contract and each is documented in its protocol's catalogue.
 */
export interface FieldbusErrorContext {
  device: string;
  meter?: string;
  /** Protocol detail worth keeping apart from the text (e.g. a meter's error bits). */
  detail?: Readonly<Record<string, number | string>>;
  cause?: unknown;
}

export class FieldbusError extends Error {
  readonly code: string;
  readonly device: string;
  readonly meter?: string;
  readonly detail?: Readonly<Record<string, number | string>>;
  /** The message without the code and place, for re-attribution. */
  readonly reason: string;

  constructor(code: string, reason: string, ctx: FieldbusErrorContext) {
    const where = ctx.meter ? `device ${ctx.device}, meter ${ctx.meter}` : `device ${ctx.device}`;
    super(`${code} (${where}): ${reason}`, ctx.cause === undefined ? undefined : { cause: ctx.cause });
    this.name = 'FieldbusError';
    this.code = code;
    this.device = ctx.device;
    this.reason = reason;
    if (ctx.meter !== undefined) this.meter = ctx.meter;
    if (ctx.detail !== undefined) this.detail = ctx.detail;
  }

  /** The same error attributed to a meter (the line only knows the device). */
  forMeter(meter: string): FieldbusError {
    if (this.meter === meter) return this;
    return new FieldbusError(this.code, this.reason, {
      device: this.device,
      meter,
      ...(this.detail ? { detail: this.detail } : {}),
      cause: this.cause ?? this,
    });
  }
}

/** The codes a byte line reports in, per protocol (`DLT645_TIMEOUT`, `CJT188_TIMEOUT`, …). */
export interface LineCodes {
  timeout: string;
  garbage: string;
  checksum: string;
  disconnected: string;
}

export function lineCodes(prefix: string): LineCodes {
  return {
    timeout: `${prefix}_TIMEOUT`,
    garbage: `${prefix}_GARBAGE`,
    checksum: `${prefix}_CHECKSUM`,
    disconnected: `${prefix}_DISCONNECTED`,
  };
}
