import type { ExchangeOptions } from '../line/transport.ts';
import { FieldbusError } from '../line/errors.ts';
import { cjt188Error } from './errors.ts';
import {
  CONTROL,
  DI,
  VALVE,
  decodeFrame,
  diBytes,
  encodeFrame,
  frameLength,
  type Cjt188Frame,
} from './frame.ts';

export interface FrameExchange {
  readonly device: string;
  exchange(frame: Buffer, opts: ExchangeOptions): Promise<Buffer>;
  resync(): void;
}

export interface MeterId {
  meterType: number;
  address: string;
}

/**
 * One CJ/T 188-2004 master on one line. An answer is believed only with the right checksum,
 * meter type, address, control code, DI and serial number (SER, which the master counts so that
 * a stale answer to an earlier request cannot pass for the current one).
 */
export class Cjt188Client {
  private ser = 0;
  constructor(private readonly line: FrameExchange) {}

  /** The data of the 901F answer after DI and SER. */
  async readCurrent(meter: MeterId, timeoutMs: number): Promise<Buffer> {
    const answer = await this.ask(meter, CONTROL.read, DI.current, Buffer.alloc(0), timeoutMs);
    return answer;
  }

  /** Valve open (55) or close (99); resolves with the status bytes the meter answers. */
  async valve(meter: MeterId, open: boolean, timeoutMs: number): Promise<Buffer> {
    const st = await this.ask(
      meter,
      CONTROL.write,
      DI.valve,
      Buffer.from([open ? VALVE.open : VALVE.close]),
      timeoutMs,
    );
    if (st.length < 2)
      throw cjt188Error('CJT188_GARBAGE', `valve answer carries ${st.length} status bytes`, this.line.device);
    return st.subarray(0, 2);
  }

  private async ask(
    meter: MeterId,
    control: number,
    di: string,
    tail: Buffer,
    timeoutMs: number,
  ): Promise<Buffer> {
    const ser = this.ser;
    this.ser = (this.ser + 1) & 0xff;
    const request: Cjt188Frame = {
      ...meter,
      control,
      data: Buffer.concat([diBytes(di), Buffer.from([ser]), tail]),
    };
    const raw = await this.line.exchange(encodeFrame(request), { timeoutMs, frameLength });
    let answer: Cjt188Frame;
    try {
      answer = decodeFrame(raw, this.line.device);
    } catch (err) {
      if (err instanceof FieldbusError) this.line.resync();
      throw err;
    }
    const device = this.line.device;
    if (answer.address !== meter.address || answer.meterType !== meter.meterType) {
      this.line.resync();
      throw cjt188Error(
        'CJT188_GARBAGE',
        `asked meter ${meter.address} (type ${hex(meter.meterType)}), meter ${answer.address} (type ${hex(answer.meterType)}) answered`,
        device,
      );
    }
    if (answer.control === (control | 0xc0)) {
      const status = answer.data.subarray(answer.data.length - 2);
      throw cjt188Error(
        'CJT188_DENIED',
        `meter refused, status ${status.toString('hex').toUpperCase()}`,
        device,
        {
          status: status.toString('hex').toUpperCase(),
        },
      );
    }
    if (answer.control !== (control | 0x80)) {
      throw cjt188Error(
        'CJT188_GARBAGE',
        `control code ${hex(answer.control)} does not answer ${hex(control)}`,
        device,
      );
    }
    const want = diBytes(di);
    if (answer.data.length < 3 || !answer.data.subarray(0, 2).equals(want) || answer.data[2] !== ser) {
      throw cjt188Error(
        'CJT188_GARBAGE',
        `answer starts ${answer.data.subarray(0, 3).toString('hex').toUpperCase()}, expected DI ${di} and SER ${hex(ser)}`,
        device,
      );
    }
    return answer.data.subarray(3);
  }
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(2, '0').toUpperCase()}`;
}
