import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import { SerialPort } from 'serialport';
import { FieldbusError, type LineCodes } from './errors.ts';

/**
 * A byte line for the master–slave meter protocols that are not Modbus (DL/T 645, CJ/T 188): an
 * RS-485 line on a local serial port, or the same line behind a serial-to-Ethernet converter in
 * transparent mode (raw bytes over TCP). It knows nothing of any protocol beyond where a frame
 * ends, which the protocol tells it: the preamble `FE` bytes both protocols send are skipped, then
 * `frameLength` says how long the frame is.
 *
 * One request is in flight at a time (RS-485 cannot tell two answers apart). After a timeout or a
 * bad frame the line is kept quiet for `resyncDelayMs` and whatever arrives meanwhile is thrown
 * away, so that a late answer can never be taken for the answer to the next request.
 */
export type LineSpec =
  | {
      kind: 'serial';
      path: string;
      baudRate: number;
      parity: 'none' | 'even' | 'odd';
      dataBits: 7 | 8;
      stopBits: 1 | 2;
    }
  | { kind: 'tcp'; host: string; port: number };

/**
 * Where the frame at the start of `buf` (preamble already skipped) ends: its total length once
 * the header says it, 0 while more bytes are needed, -1 if these bytes cannot start a frame.
 */
export type FrameLength = (buf: Buffer) => number;

export interface ExchangeOptions {
  timeoutMs: number;
  frameLength: FrameLength;
  /** false for broadcasts, which no meter answers: resolves once the bytes are written. */
  expectAnswer?: boolean;
}

export interface LineOptions {
  /** The bus id, named in every error. */
  device: string;
  codes: LineCodes;
  connectTimeoutMs?: number;
  resyncDelayMs?: number;
}

const PREAMBLE = 0xfe;
const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const DEFAULT_RESYNC_DELAY_MS = 250;
/** A frame longer than this is noise, whatever its header claims (both protocols stay far below). */
const MAX_FRAME = 512;

interface Pending {
  frameLength: FrameLength;
  resolve: (frame: Buffer) => void;
  reject: (err: FieldbusError) => void;
  timer: NodeJS.Timeout;
}

interface Port {
  write(bytes: Buffer): Promise<void>;
  close(): Promise<void>;
}

export class ByteLine extends EventEmitter {
  readonly device: string;
  private port: Port | null = null;
  private open = false;
  private rx: Buffer = Buffer.alloc(0);
  private pending: Pending | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private quietUntil = 0;
  private readonly codes: LineCodes;
  private readonly resyncDelayMs: number;
  private readonly connectTimeoutMs: number;

  constructor(
    private readonly spec: LineSpec,
    opts: LineOptions,
  ) {
    super();
    this.device = opts.device;
    this.codes = opts.codes;
    this.resyncDelayMs = opts.resyncDelayMs ?? DEFAULT_RESYNC_DELAY_MS;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  }

  get isOpen(): boolean {
    return this.open;
  }

  describe(): string {
    const s = this.spec;
    return s.kind === 'serial'
      ? `${s.path}@${s.baudRate} ${s.dataBits}${s.parity[0]!.toUpperCase()}${s.stopBits}`
      : `tcp://${s.host}:${s.port}`;
  }

  async connect(): Promise<void> {
    try {
      this.port =
        this.spec.kind === 'serial' ? await this.openSerial(this.spec) : await this.openTcp(this.spec);
      this.open = true;
    } catch (err) {
      throw this.error(
        this.codes.disconnected,
        `cannot open ${this.describe()}: ${(err as Error).message}`,
        err,
      );
    }
  }

  /**
   * Sends `frame` and resolves with the answer frame (from its first `68`, preamble stripped),
   * checked for length only: checksum and meaning are the protocol's.
   */
  exchange(frame: Buffer, opts: ExchangeOptions): Promise<Buffer> {
    const run = this.queue.then(() => this.exchangeNow(frame, opts));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Keeps the line quiet after a frame the protocol found corrupt (bad checksum). */
  resync(): void {
    this.quietUntil = Date.now() + this.resyncDelayMs;
  }

  async close(): Promise<void> {
    const port = this.port;
    this.port = null;
    this.open = false;
    this.fail(this.error(this.codes.disconnected, 'line closed'));
    await port?.close().catch(() => undefined);
  }

  /** A Modbus read on a line that speaks another protocol is a configuration error, said plainly. */
  read(): Promise<number[]> {
    return Promise.reject(
      this.error(this.codes.garbage, 'Modbus register read on a line that speaks another protocol'),
    );
  }

  private async exchangeNow(frame: Buffer, opts: ExchangeOptions): Promise<Buffer> {
    if (!this.open || !this.port) throw this.error(this.codes.disconnected, `${this.describe()} is not open`);
    const wait = this.quietUntil - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    this.rx = Buffer.alloc(0);
    const answer =
      opts.expectAnswer === false
        ? null
        : new Promise<Buffer>((resolve, reject) => {
            const timer = setTimeout(() => {
              this.pending = null;
              this.quietUntil = Date.now() + this.resyncDelayMs;
              reject(this.error(this.codes.timeout, `no complete answer within ${opts.timeoutMs} ms`));
            }, opts.timeoutMs);
            this.pending = { frameLength: opts.frameLength, resolve, reject, timer };
          });
    try {
      await this.port.write(frame);
    } catch (err) {
      this.fail(this.error(this.codes.disconnected, `write failed: ${(err as Error).message}`, err));
      await answer?.catch(() => undefined);
      throw this.error(this.codes.disconnected, `write failed: ${(err as Error).message}`, err);
    }
    if (!answer) return Buffer.alloc(0);
    return answer;
  }

  private onData(chunk: Buffer): void {
    const p = this.pending;
    if (!p) return; // nobody asked: a late answer or noise, dropped
    this.rx = this.rx.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.rx, chunk]);
    let start = 0;
    while (start < this.rx.length && this.rx[start] === PREAMBLE) start++;
    const body = this.rx.subarray(start);
    if (body.length === 0) return;
    const len = p.frameLength(body);
    if (len < 0 || len > MAX_FRAME || (len === 0 && body.length > MAX_FRAME)) {
      this.settle(p);
      this.quietUntil = Date.now() + this.resyncDelayMs;
      p.reject(this.error(this.codes.garbage, `bytes that start no frame: ${hex(body.subarray(0, 16))}`));
      return;
    }
    if (len === 0 || body.length < len) return;
    this.settle(p);
    p.resolve(Buffer.from(body.subarray(0, len)));
  }

  private settle(p: Pending): void {
    clearTimeout(p.timer);
    this.pending = null;
    this.rx = Buffer.alloc(0);
  }

  private fail(err: FieldbusError): void {
    const p = this.pending;
    if (!p) return;
    this.settle(p);
    p.reject(err);
  }

  private onClosed(reason: string): void {
    if (!this.open) return;
    this.open = false;
    this.fail(this.error(this.codes.disconnected, reason));
    this.emit('close');
  }

  private error(code: string, reason: string, cause?: unknown): FieldbusError {
    return new FieldbusError(code, reason, { device: this.device, ...(cause ? { cause } : {}) });
  }

  private async openSerial(s: Extract<LineSpec, { kind: 'serial' }>): Promise<Port> {
    const port = new SerialPort({
      path: s.path,
      baudRate: s.baudRate,
      parity: s.parity,
      dataBits: s.dataBits,
      stopBits: s.stopBits,
      autoOpen: false,
    });
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
    port.on('data', (chunk: Buffer) => this.onData(chunk));
    port.on('close', () => this.onClosed('serial port closed'));
    port.on('error', (err: Error) => this.onClosed(`serial port error: ${err.message}`));
    return {
      write: (bytes) =>
        new Promise((resolve, reject) => {
          port.write(bytes, (err) => (err ? reject(err) : port.drain((e) => (e ? reject(e) : resolve()))));
        }),
      close: () => new Promise((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve())),
    };
  }

  private async openTcp(s: Extract<LineSpec, { kind: 'tcp' }>): Promise<Port> {
    const socket: Socket = await new Promise((resolve, reject) => {
      const sock = connect({ host: s.host, port: s.port });
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new Error(`connect timed out after ${this.connectTimeoutMs} ms`));
      }, this.connectTimeoutMs);
      sock.once('connect', () => {
        clearTimeout(timer);
        sock.removeAllListeners('error');
        resolve(sock);
      });
      sock.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('close', () => this.onClosed('converter closed the connection'));
    socket.on('error', (err) => this.onClosed(`socket error: ${err.message}`));
    return {
      write: (bytes) =>
        new Promise((resolve, reject) => socket.write(bytes, (err) => (err ? reject(err) : resolve()))),
      close: () =>
        new Promise((resolve) => {
          if (socket.destroyed) return resolve();
          socket.once('close', () => resolve());
          socket.end();
          setTimeout(() => socket.destroy(), 200).unref();
        }),
    };
  }
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes)
    .toString('hex')
    .replace(/(..)(?=.)/g, '$1 ')
    .toUpperCase();
}

/** Opens a line; rejects with the protocol's DISCONNECTED code. */
export async function openByteLine(spec: LineSpec, opts: LineOptions): Promise<ByteLine> {
  const line = new ByteLine(spec, opts);
  await line.connect();
  return line;
}
