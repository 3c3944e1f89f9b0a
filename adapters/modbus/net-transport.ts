import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import type { ModbusTransport } from './client.ts';
import { crc16Modbus } from './crc.ts';
import { ModbusError, type ModbusErrorCode } from './errors.ts';

/**
 * Modbus TCP and RTU over TCP on node:net, for the two kinds of bus a gateway reaches through a
 * socket (modbus-serial stays for local serial RTU). Written for the gateway's CPU a reading (issue
 * 16 item 2): modbus-serial allocated about half of the 23 KB a reading took (its transaction
 * table, a debug call with its arguments per step, a copy of every chunk into its buffer, a
 * closure and a bound function per request). Here a request is the promise the caller awaits and
 * nothing else: its fields live on the transport (one request is in flight at a time, which is all
 * a bus scheduler ever asks for), the request frame is written from a buffer kept for the next
 * one, one timer is re-armed for each request, and an answer that arrives whole in one chunk (all
 * of them, on a LAN) is decoded straight from that chunk.
 *
 * Framing, and what each bad answer is coded as (the connection is renewed before the next request
 * after any of them except an exception, as the modbus-serial transport did):
 * - Modbus TCP: the MBAP header's length says where the frame ends. A transaction id, protocol id,
 *   unit id or function code that is not the request's, a length outside 3..254 or one the PDU does
 *   not fill exactly: MODBUS_GARBAGE. A frame never completed: MODBUS_TIMEOUT.
 * - RTU over TCP: raw RTU frames with their CRC (a transparent serial-to-Ethernet converter). The
 *   function code and byte count say where the frame ends; a wrong unit id, function code or byte
 *   count: MODBUS_GARBAGE; a wrong CRC: MODBUS_CRC. After a timeout or a bad frame the line stays
 *   closed for `resyncDelayMs` so that a late answer falls into the closed line.
 * - An exception answer: MODBUS_EXCEPTION with its code; the connection stays.
 * - Bytes after a whole answer, or bytes while no request waits: the answer stands, the connection
 *   is renewed before the next request (so they cannot be taken for its answer).
 */
export interface NetTransportSpec {
  type: 'modbus-tcp' | 'rtu-over-tcp';
  host: string;
  port: number;
}

/** The largest Modbus frame: an RTU ADU is at most 256 bytes, a Modbus TCP ADU 260. */
const MAX_FRAME = 260;
const NEED_MORE = 0;

/** What the request in flight is. */
const READ = 0;
const WRITE = 1;
type Kind = typeof READ | typeof WRITE;

/** A failure found in an answer; thrown inside the parser and turned into the request's rejection. */
class FrameFault {
  constructor(
    readonly code: ModbusErrorCode,
    readonly detail: string,
  ) {}
}

export interface NetTransportOptions {
  connectTimeoutMs: number;
  resyncDelayMs: number;
}

export class NetModbusTransport extends EventEmitter implements ModbusTransport {
  private socket: Socket | null = null;
  private readonly rtu: boolean;
  private closedByUs = false;
  /** Set after a failure or stray bytes; the next request reconnects, not before this time. */
  private resyncAfter: number | null = null;
  /** Requests started or waiting, and the last of them (the next waits for it). */
  private pending = 0;
  private last: Promise<unknown> | null = null;

  // The request in flight (at most one).
  private inFlight = false;
  private kind: Kind = READ;
  private unitId = 0;
  private fc = 0;
  private address = 0;
  private count = 0;
  private tid = 0;
  private writeValue = 0;
  private resolve: ((v: unknown) => void) | null = null;
  private reject: ((e: ModbusError) => void) | null = null;

  private timer: NodeJS.Timeout | null = null;
  private timerMs = -1;

  /** Bytes of an answer that came in several chunks. */
  private readonly rx = Buffer.allocUnsafe(MAX_FRAME);
  private rxLen = 0;
  /** The frame of a read (the common request), rewritten for each one. */
  private readFrame: Buffer;

  private readonly onData = (chunk: Buffer): void => this.received(chunk);
  private readonly onTimeout = (): void => {
    if (this.inFlight) this.fail('MODBUS_TIMEOUT', 'Timed out', true);
  };

  constructor(
    private readonly spec: NetTransportSpec,
    readonly device: string,
    private readonly opts: NetTransportOptions,
  ) {
    super();
    this.rtu = spec.type === 'rtu-over-tcp';
    this.readFrame = Buffer.alloc(this.rtu ? 8 : 12);
  }

  get isOpen(): boolean {
    if (this.closedByUs) return false;
    if (this.resyncAfter !== null) return true;
    return this.socket !== null;
  }

  private where(): string {
    return `${this.spec.type}://${this.spec.host}:${this.spec.port}`;
  }

  async connect(): Promise<void> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect({ host: this.spec.host, port: this.spec.port, noDelay: true });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`connect timed out after ${this.opts.connectTimeoutMs} ms`));
      }, this.opts.connectTimeoutMs);
      const failed = (err: Error): void => {
        clearTimeout(timer);
        s.destroy();
        reject(err);
      };
      s.once('error', failed);
      s.once('connect', () => {
        clearTimeout(timer);
        s.off('error', failed);
        resolve(s);
      });
    }).catch((err: unknown) => {
      throw new ModbusError('MODBUS_DISCONNECTED', `cannot open ${this.where()}: ${messageOf(err)}`, {
        device: this.device,
        cause: err,
      });
    });
    socket.on('data', this.onData);
    // A socket error is followed by its close; the transport counts the connection as lost at the
    // first of them, so that a caller who saw the request fail finds the transport closed.
    socket.on('error', (err) => this.lost(socket, err));
    socket.on('close', () => this.lost(socket, null));
    this.rxLen = 0;
    this.socket = socket;
  }

  private lost(socket: Socket, err: Error | null): void {
    if (socket !== this.socket) return;
    this.socket = null;
    socket.destroy();
    if (this.inFlight) {
      if (err) this.fail('MODBUS_DISCONNECTED', messageOf(err), false, err);
      else this.fail('MODBUS_DISCONNECTED', 'connection lost while waiting', false);
    } else if (err && this.listenerCount('error') > 0) {
      // An 'error' event nobody listens to would crash the process; the next request reports it.
      this.emit(
        'error',
        new ModbusError('MODBUS_DISCONNECTED', `port error: ${messageOf(err)}`, {
          device: this.device,
          cause: err,
        }),
      );
    }
    if (!this.closedByUs) this.emit('close');
  }

  read(unitId: number, fc: 3 | 4, address: number, count: number, timeoutMs: number): Promise<number[]> {
    if (this.pending++ === 0) {
      return (this.last = this.start(READ, unitId, fc, address, count, null, timeoutMs)) as Promise<number[]>;
    }
    const run = () => this.start(READ, unitId, fc, address, count, null, timeoutMs);
    return (this.last = this.last!.then(run, run)) as Promise<number[]>;
  }

  writeRegisters(
    unitId: number,
    address: number,
    values: number[],
    fc: 6 | 16,
    timeoutMs: number,
  ): Promise<void> {
    if (fc === 6 && values.length !== 1) {
      return Promise.reject(
        new ModbusError(
          'MODBUS_BAD_VALUE',
          `FC6 write of ${values.length} registers at ${address} to unit ${unitId}: FC6 writes exactly one register`,
          { device: this.device },
        ),
      );
    }
    const run = () => this.start(WRITE, unitId, fc, address, values.length, values, timeoutMs);
    if (this.pending++ === 0) return (this.last = run()) as Promise<void>;
    return (this.last = this.last!.then(run, run)) as Promise<void>;
  }

  async close(): Promise<void> {
    this.closedByUs = true;
    this.resyncAfter = null;
    // Let the request in flight finish or fail before the socket goes away.
    await this.last?.catch(() => undefined);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const socket = this.socket;
    this.socket = null;
    socket?.destroy();
  }

  /** One request: straight onto the wire when the line is ready, else after reconnecting. */
  private start(
    kind: Kind,
    unitId: number,
    fc: number,
    address: number,
    count: number,
    values: number[] | null,
    timeoutMs: number,
  ): Promise<unknown> {
    if (this.socket !== null && this.resyncAfter === null && !this.closedByUs) {
      return this.send(kind, unitId, fc, address, count, values, timeoutMs);
    }
    return this.reopenThenSend(kind, unitId, fc, address, count, values, timeoutMs);
  }

  private async reopenThenSend(
    kind: Kind,
    unitId: number,
    fc: number,
    address: number,
    count: number,
    values: number[] | null,
    timeoutMs: number,
  ): Promise<unknown> {
    const what = (): string => describe(kind, fc, count, address, unitId);
    try {
      if (this.closedByUs) {
        throw new ModbusError('MODBUS_DISCONNECTED', `${what()}: transport closed`, { device: this.device });
      }
      if (this.resyncAfter !== null) {
        const wait = this.resyncAfter - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        this.resyncAfter = null;
        if (this.closedByUs) {
          throw new ModbusError('MODBUS_DISCONNECTED', `${what()}: transport closed`, {
            device: this.device,
          });
        }
        try {
          await this.connect();
        } catch (err) {
          this.emit('close');
          throw err;
        }
      }
      if (this.socket === null) {
        throw new ModbusError('MODBUS_DISCONNECTED', `${what()}: ${this.where()} is not open`, {
          device: this.device,
        });
      }
    } catch (err) {
      this.pending--;
      throw err;
    }
    return this.send(kind, unitId, fc, address, count, values, timeoutMs);
  }

  private send(
    kind: Kind,
    unitId: number,
    fc: number,
    address: number,
    count: number,
    values: number[] | null,
    timeoutMs: number,
  ): Promise<unknown> {
    this.kind = kind;
    this.unitId = unitId;
    this.fc = fc;
    this.address = address;
    this.count = count;
    this.tid = (this.tid + 1) & 0xffff;
    this.rxLen = 0;
    let frame: Buffer;
    if (kind === READ) {
      // The buffer of the last read is reused unless the socket still holds it (never seen on a
      // LAN: the write completes before the answer that starts the next request can arrive).
      if (this.socket!.writableLength > 0) this.readFrame = Buffer.alloc(this.readFrame.length);
      frame = this.readFrame;
      const o = this.header(frame, 5, unitId);
      frame[o] = fc;
      frame.writeUInt16BE(address, o + 1);
      frame.writeUInt16BE(count, o + 3);
    } else if (fc === 6) {
      this.writeValue = values![0]! & 0xffff;
      frame = Buffer.alloc(this.rtu ? 8 : 12);
      const o = this.header(frame, 5, unitId);
      frame[o] = 6;
      frame.writeUInt16BE(address, o + 1);
      frame.writeUInt16BE(this.writeValue, o + 3);
    } else {
      const pduLength = 6 + values!.length * 2;
      frame = Buffer.alloc(this.rtu ? pduLength + 3 : pduLength + 7);
      const o = this.header(frame, pduLength, unitId);
      frame[o] = 16;
      frame.writeUInt16BE(address, o + 1);
      frame.writeUInt16BE(values!.length, o + 3);
      frame[o + 5] = values!.length * 2;
      for (let i = 0; i < values!.length; i++) frame.writeUInt16BE(values![i]! & 0xffff, o + 6 + i * 2);
    }
    if (this.rtu) frame.writeUInt16LE(crc16Modbus(frame, 0, frame.length - 2), frame.length - 2);
    const p = new Promise<unknown>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.inFlight = true;
    if (this.timer === null || this.timerMs !== timeoutMs) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = setTimeout(this.onTimeout, timeoutMs);
      this.timerMs = timeoutMs;
    } else this.timer.refresh();
    this.socket!.write(frame);
    return p;
  }

  /** Writes the unit id (and for Modbus TCP the MBAP header); returns where the PDU starts. */
  private header(frame: Buffer, pduLength: number, unitId: number): number {
    if (this.rtu) {
      frame[0] = unitId;
      return 1;
    }
    frame.writeUInt16BE(this.tid, 0);
    frame.writeUInt16BE(0, 2);
    frame.writeUInt16BE(pduLength + 1, 4);
    frame[6] = unitId;
    return 7;
  }

  private received(chunk: Buffer): void {
    if (!this.inFlight) {
      this.stray();
      return;
    }
    let buf = chunk;
    let len = chunk.length;
    /** Bytes of the chunk beyond what the frame buffer holds: never part of a frame. */
    let over = 0;
    if (this.rxLen > 0) {
      const take = Math.min(len, MAX_FRAME - this.rxLen);
      chunk.copy(this.rx, this.rxLen, 0, take);
      over = len - take;
      this.rxLen += take;
      buf = this.rx;
      len = this.rxLen;
    }
    let used: number;
    try {
      used = this.rtu ? this.parseRtu(buf, len) : this.parseTcp(buf, len);
    } catch (err) {
      if (!(err instanceof FrameFault)) throw err;
      this.fail(err.code, err.detail, true);
      return;
    }
    if (used === NEED_MORE) {
      if (len + over > MAX_FRAME) {
        this.fail('MODBUS_GARBAGE', `Unexpected data error, ${len + over} bytes without a whole frame`, true);
      } else if (buf === chunk) {
        chunk.copy(this.rx, 0);
        this.rxLen = len;
      }
      return;
    }
    this.rxLen = 0;
    // The answer was whole and matched the request, but bytes followed it that answer nothing:
    // the answer stands, the connection is renewed before the next request.
    if (used < len || over > 0) this.stray();
  }

  /** Bytes that answer no request: the connection is renewed before the next request. */
  private stray(): void {
    if (this.closedByUs || this.resyncAfter !== null) return;
    this.resyncAfter = performance.now() + (this.rtu ? this.opts.resyncDelayMs : 0);
    this.dropSocket();
  }

  private dropSocket(): void {
    const s = this.socket;
    this.socket = null;
    this.rxLen = 0;
    s?.destroy();
  }

  /**
   * A Modbus TCP answer at the start of `buf`: its length once whole (the request settled), 0 while
   * more bytes are needed; a FrameFault if it is not the answer to the request.
   */
  private parseTcp(buf: Buffer, len: number): number {
    if (len < 7) return NEED_MORE;
    const length = (buf[4]! << 8) | buf[5]!;
    if (length < 3 || length > 254) {
      throw new FrameFault('MODBUS_GARBAGE', `Data length error, MBAP length ${length}`);
    }
    const tid = (buf[0]! << 8) | buf[1]!;
    if (tid !== this.tid || buf[2] !== 0 || buf[3] !== 0) {
      throw new FrameFault(
        'MODBUS_GARBAGE',
        `Unexpected data error, transaction ${tid} protocol ${(buf[2]! << 8) | buf[3]!}, expected transaction ${this.tid}`,
      );
    }
    if (buf[6] !== this.unitId) {
      throw new FrameFault(
        'MODBUS_GARBAGE',
        `Unexpected data error, expected unit ${this.unitId} got ${buf[6]}`,
      );
    }
    const end = 6 + length;
    if (len < end) return NEED_MORE;
    this.pdu(buf, 7, end);
    return end;
  }

  /** An RTU answer at the start of `buf`, as parseTcp. */
  private parseRtu(buf: Buffer, len: number): number {
    if (len < 2) return NEED_MORE;
    if (buf[0] !== this.unitId) {
      throw new FrameFault(
        'MODBUS_GARBAGE',
        `Unexpected data error, expected unit ${this.unitId} got ${buf[0]}`,
      );
    }
    const fc = buf[1]!;
    let end: number;
    if (fc === (this.fc | 0x80)) end = 5;
    else if (fc !== this.fc) {
      throw new FrameFault('MODBUS_GARBAGE', `Unexpected data error, expected function ${this.fc} got ${fc}`);
    } else if (this.kind === WRITE) end = 8;
    else {
      if (len < 3) return NEED_MORE;
      if (buf[2] !== this.count * 2) {
        throw new FrameFault(
          'MODBUS_GARBAGE',
          `Data length error, expected ${this.count * 2} bytes got a byte count of ${buf[2]}`,
        );
      }
      end = 5 + this.count * 2;
    }
    if (len < end) return NEED_MORE;
    if (crc16Modbus(buf, 0, end - 2) !== (buf[end - 2]! | (buf[end - 1]! << 8))) {
      throw new FrameFault('MODBUS_CRC', 'CRC error');
    }
    this.pdu(buf, 1, end - 2);
    return end;
  }

  /** The PDU of a whole, well-framed answer (`start` at its function code, `end` exclusive). */
  private pdu(buf: Buffer, start: number, end: number): void {
    const fc = buf[start]!;
    if (fc === (this.fc | 0x80)) {
      if (end - start !== 2)
        throw new FrameFault('MODBUS_GARBAGE', `Data length error, exception of ${end - start} bytes`);
      const code = buf[start + 1]!;
      this.settle();
      this.reject!(
        new ModbusError('MODBUS_EXCEPTION', `${this.what()}: Modbus exception ${code}`, {
          device: this.device,
          exceptionCode: code,
        }),
      );
      return;
    }
    if (fc !== this.fc) {
      throw new FrameFault('MODBUS_GARBAGE', `Unexpected data error, expected function ${this.fc} got ${fc}`);
    }
    if (this.kind === READ) {
      const count = this.count;
      if (end - start !== 2 + count * 2 || buf[start + 1] !== count * 2) {
        throw new FrameFault(
          'MODBUS_GARBAGE',
          `Data length error, expected ${count} registers got a byte count of ${buf[start + 1]} in ${end - start - 2} bytes`,
        );
      }
      const values = new Array<number>(count);
      for (let i = 0, o = start + 2; i < count; i++, o += 2) values[i] = (buf[o]! << 8) | buf[o + 1]!;
      this.settle();
      this.resolve!(values);
      return;
    }
    // A write's answer echoes the address and the value (FC6) or the number of registers (FC16).
    const echoed = end - start === 5 && ((buf[start + 1]! << 8) | buf[start + 2]!) === this.address;
    const second = (buf[start + 3]! << 8) | buf[start + 4]!;
    if (!echoed || second !== (this.fc === 6 ? this.writeValue : this.count)) {
      throw new FrameFault('MODBUS_GARBAGE', `Unexpected data error, the write's answer does not echo it`);
    }
    this.settle();
    this.resolve!(undefined);
  }

  /** Ends the request in flight (its promise is settled next by the caller). */
  private settle(): void {
    this.inFlight = false;
    this.pending--;
  }

  /** Rejects the request in flight; `desync` renews the connection before the next request. */
  private fail(code: ModbusErrorCode, detail: string, desync: boolean, cause?: unknown): void {
    const reject = this.reject!;
    this.settle();
    this.rxLen = 0;
    if (desync && !this.closedByUs && this.resyncAfter === null) {
      this.resyncAfter = performance.now() + (this.rtu ? this.opts.resyncDelayMs : 0);
      this.dropSocket();
    }
    reject(
      new ModbusError(code, `${this.what()}: ${detail}`, {
        device: this.device,
        ...(cause === undefined ? {} : { cause }),
      }),
    );
  }

  private what(): string {
    return describe(this.kind, this.fc, this.count, this.address, this.unitId);
  }
}

function describe(kind: Kind, fc: number, count: number, address: number, unitId: number): string {
  return kind === READ
    ? `FC${fc} read of ${count} registers at ${address} from unit ${unitId}`
    : `FC${fc} write of ${count} registers at ${address} to unit ${unitId}`;
}

function messageOf(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'message' in err && typeof err.message === 'string') {
    return err.message;
  }
  return String(err);
}
