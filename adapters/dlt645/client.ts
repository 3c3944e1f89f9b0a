import type { ExchangeOptions } from '../line/transport.ts';
import { FieldbusError } from '../line/errors.ts';
import { intToBcd } from './bcd.ts';
import { describeErrorByte, dlt645Error } from './errors.ts';
import {
  BROADCAST_ADDRESS,
  CONTROL,
  WILDCARD_ADDRESS,
  decodeFrame,
  diBytes,
  diOf,
  encodeFrame,
  frameLength,
  type Dlt645Frame,
} from './frame.ts';

/** The part of a byte line a DL/T 645 master needs (ByteLine implements it; tests may fake it). */
export interface FrameExchange {
  readonly device: string;
  exchange(frame: Buffer, opts: ExchangeOptions): Promise<Buffer>;
  resync(): void;
}

/** Relay and alarm commands (N1 of control code 1C). */
export const RELAY_ACTION = {
  trip: 0x1a,
  allowClosing: 0x1b,
  closeDirectly: 0x1c,
  alarm: 0x2a,
  alarmOff: 0x2b,
  keepPower: 0x3a,
  cancelKeepPower: 0x3b,
} as const;
export type RelayAction = keyof typeof RELAY_ACTION;

/** Local calendar time as a meter shows it (its clock runs in the campus's civil time). */
export interface LocalTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/**
 * One DL/T 645-2007 master on one line. Every answer is checked before it is believed: checksum,
 * the address it came from, the control code (normal, abnormal with its error byte, or something
 * else), and for reads the DI it echoes.
 */
export class Dlt645Client {
  constructor(private readonly line: FrameExchange) {}

  /** The value bytes of `di` (after the 4 DI bytes) from the meter at `address`. */
  async read(address: string, di: string, timeoutMs: number): Promise<Buffer> {
    const answer = await this.ask({ address, control: CONTROL.read, data: diBytes(di) }, timeoutMs);
    if (answer.data.length < 4 || diOf(answer.data) !== di.toUpperCase()) {
      throw dlt645Error(
        'DLT645_GARBAGE',
        `asked for DI ${di}, the answer carries ${answer.data.length >= 4 ? `DI ${diOf(answer.data)}` : `${answer.data.length} data bytes`}`,
        this.line.device,
      );
    }
    return answer.data.subarray(4);
  }

  /** The address of the only meter on the line (read address, 13, to AA…AA). */
  async readAddress(timeoutMs: number): Promise<string> {
    const answer = await this.ask(
      { address: WILDCARD_ADDRESS, control: CONTROL.readAddress, data: Buffer.alloc(0) },
      timeoutMs,
      {
        anyAddress: true,
      },
    );
    if (answer.data.length !== 6) {
      throw dlt645Error(
        'DLT645_GARBAGE',
        `read address answered ${answer.data.length} data bytes, expected 6`,
        this.line.device,
      );
    }
    const fromData = [...answer.data]
      .reverse()
      .map((b) => b.toString(16).padStart(2, '0'))
      .join('')
      .toUpperCase();
    if (fromData !== answer.address || !/^\d{12}$/.test(fromData)) {
      throw dlt645Error(
        'DLT645_GARBAGE',
        `read address: frame address ${answer.address} and data ${fromData} disagree (two meters answering?)`,
        this.line.device,
      );
    }
    return fromData;
  }

  /** Broadcast time set (08 to 99…99): no meter answers, so nothing is awaited but the write. */
  async broadcastTime(t: LocalTime, timeoutMs: number): Promise<Buffer> {
    const frame = encodeFrame({
      address: BROADCAST_ADDRESS,
      control: CONTROL.broadcastTime,
      data: timeData(t),
    });
    await this.line.exchange(frame, { timeoutMs, frameLength, expectAnswer: false });
    return frame;
  }

  /**
   * Relay control (1C). `password` is 8 digits: the level (2) then the password (6);
   * `operator` 8 digits. Resolves when the meter answered normally (9C); an abnormal answer
   * (DC: wrong password, not authorised) rejects with DLT645_DENIED and its error bits.
   */
  async relay(
    address: string,
    action: RelayAction,
    auth: { password: string; operator: string },
    validUntil: LocalTime,
    timeoutMs: number,
  ): Promise<void> {
    const data = Buffer.concat([
      passwordBytes(auth.password),
      digitsLowFirst(auth.operator, 'operator code'),
      Buffer.from([RELAY_ACTION[action], 0x00]),
      timeData(validUntil),
    ]);
    await this.ask({ address, control: CONTROL.relay, data }, timeoutMs);
  }

  private async ask(
    req: Dlt645Frame,
    timeoutMs: number,
    opts: { anyAddress?: boolean } = {},
  ): Promise<Dlt645Frame> {
    const raw = await this.line.exchange(encodeFrame(req), { timeoutMs, frameLength });
    let answer: Dlt645Frame;
    try {
      answer = decodeFrame(raw, this.line.device);
    } catch (err) {
      // A corrupt frame may be followed by more of it: keep the line quiet before the next request.
      if (err instanceof FieldbusError) this.line.resync();
      throw err;
    }
    if (!opts.anyAddress && answer.address !== req.address) {
      this.line.resync();
      throw dlt645Error(
        'DLT645_GARBAGE',
        `asked meter ${req.address}, meter ${answer.address} answered`,
        this.line.device,
      );
    }
    const fn = req.control & 0x1f;
    if (answer.control === (fn | 0xc0)) {
      const err = answer.data[0] ?? 0;
      throw dlt645Error('DLT645_DENIED', `meter refused: ${describeErrorByte(err)}`, this.line.device, {
        detail: { errorBits: err },
      });
    }
    if (answer.control !== (fn | 0x80)) {
      throw dlt645Error(
        'DLT645_GARBAGE',
        `control code 0x${answer.control.toString(16).toUpperCase()} does not answer 0x${req.control.toString(16).toUpperCase()}`,
        this.line.device,
      );
    }
    return answer;
  }
}

/** ss mm hh DD MM YY, lowest (seconds) first, each BCD. */
export function timeData(t: LocalTime): Buffer {
  return Buffer.from(
    [t.second, t.minute, t.hour, t.day, t.month, t.year % 100].map((v) => intToBcd(v, 1)[0]!),
  );
}

function digitsLowFirst(digits: string, what: string): Buffer {
  if (!/^\d{8}$/.test(digits)) throw new Error(`${what} must be 8 digits`);
  return Buffer.from(digits, 'hex').reverse();
}

/** PA (level) then P0 P1 P2, the password's lowest byte first. */
function passwordBytes(password: string): Buffer {
  if (!/^\d{8}$/.test(password))
    throw new Error('DL/T 645 password must be 8 digits: level (2) and password (6)');
  const level = Number.parseInt(password.slice(0, 2), 16);
  return Buffer.concat([Buffer.from([level]), Buffer.from(password.slice(2), 'hex').reverse()]);
}
