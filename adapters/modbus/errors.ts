/**
 * Every way a Modbus poll can fail, as a coded error. The gateway turns a ModbusError into a
 * reading with `quality: "error"` and `error.code`, so each code here is part of the published
 * interface and is documented in MODBUS_ERROR_CATALOGUE (a test checks that).
 */
export const MODBUS_ERROR_CODES = [
  'MODBUS_TIMEOUT',
  'MODBUS_EXCEPTION',
  'MODBUS_CRC',
  'MODBUS_GARBAGE',
  'MODBUS_DISCONNECTED',
  'MODBUS_BAD_VALUE',
] as const;
export type ModbusErrorCode = (typeof MODBUS_ERROR_CODES)[number];

export interface ModbusErrorDoc {
  /** What happened, for operators. */
  description: string;
  /** Whether the transport reconnects (or resynchronises) before the next request. */
  reconnects: boolean;
}

export const MODBUS_ERROR_CATALOGUE: Readonly<Record<ModbusErrorCode, ModbusErrorDoc>> = Object.freeze({
  MODBUS_TIMEOUT: {
    description:
      'The meter did not answer within the request timeout: wrong unit id, meter off, wiring or baud rate.',
    reconnects: true,
  },
  MODBUS_EXCEPTION: {
    description:
      'The meter answered with a Modbus exception (exceptionCode: 1 illegal function, 2 illegal data ' +
      'address, 3 illegal data value, 4 device failure, 6 busy, 10/11 gateway path/target failed).',
    reconnects: false,
  },
  MODBUS_CRC: {
    description:
      'A serial frame arrived with a bad CRC: noise, missing termination or two masters on the bus.',
    reconnects: true,
  },
  MODBUS_GARBAGE: {
    description:
      'A frame arrived that does not answer the request (wrong length, unit id or function code, a byte ' +
      'count the frame does not hold), or a block came back with the wrong number of registers. The ' +
      'connection is renewed before the next request, on Modbus TCP as on RTU.',
    reconnects: true,
  },
  MODBUS_DISCONNECTED: {
    description: 'The TCP connection or serial port is closed, refused, reset or could not be opened.',
    reconnects: true,
  },
  MODBUS_BAD_VALUE: {
    description:
      'A register decoded to a value that is not a measurement (NaN or Infinity from a float, an ' +
      'unknown relay state): the meter reports an invalid reading or the profile is wrong.',
    reconnects: false,
  },
});

/** Names from the Modbus Application Protocol spec (V1.1b3, section 7). */
export const MODBUS_EXCEPTION_NAMES: Readonly<Record<number, string>> = Object.freeze({
  1: 'illegal function',
  2: 'illegal data address',
  3: 'illegal data value',
  4: 'server device failure',
  5: 'acknowledge',
  6: 'server device busy',
  8: 'memory parity error',
  10: 'gateway path unavailable',
  11: 'gateway target device failed to respond',
});

export interface ModbusErrorContext {
  /** The bus member (TCP endpoint, converter or serial port) as named in the campus config. */
  device: string;
  /** The meter on that device, when the failure belongs to one. */
  meter?: string;
  exceptionCode?: number;
  cause?: unknown;
}

export class ModbusError extends Error {
  readonly code: ModbusErrorCode;
  readonly device: string;
  readonly meter?: string;
  readonly exceptionCode?: number;

  constructor(code: ModbusErrorCode, detail: string, ctx: ModbusErrorContext) {
    const where = ctx.meter ? `device ${ctx.device}, meter ${ctx.meter}` : `device ${ctx.device}`;
    super(`${code} (${where}): ${detail}`, ctx.cause === undefined ? undefined : { cause: ctx.cause });
    this.name = 'ModbusError';
    this.code = code;
    this.device = ctx.device;
    if (ctx.meter !== undefined) this.meter = ctx.meter;
    if (ctx.exceptionCode !== undefined) this.exceptionCode = ctx.exceptionCode;
  }

  /** The same error, attributed to a meter (the transport only knows the device). */
  forMeter(meter: string): ModbusError {
    if (this.meter === meter) return this;
    const detail = this.message.slice(this.message.indexOf('): ') + 3);
    const ctx: ModbusErrorContext = { device: this.device, meter, cause: this.cause ?? this };
    if (this.exceptionCode !== undefined) ctx.exceptionCode = this.exceptionCode;
    return new ModbusError(this.code, detail, ctx);
  }
}

export function isModbusError(e: unknown): e is ModbusError {
  return e instanceof ModbusError;
}
