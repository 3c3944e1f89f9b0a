import { EventEmitter } from 'node:events';
import type ModbusSerial from 'modbus-serial';
import { describeSettings, readPortSettings, settingsMismatch } from './port-settings.ts';
import { ModbusError, type ModbusErrorCode } from './errors.ts';
import { NetModbusTransport } from './net-transport.ts';

/**
 * Modbus transports for the three kinds of bus a campus has:
 *
 * - `modbus-tcp`: Modbus TCP (MBAP header with transaction id), on node:net (net-transport.ts).
 * - `rtu-over-tcp`: raw RTU frames (with CRC, no MBAP header) through a transparent serial-to-
 *   Ethernet converter, on node:net (net-transport.ts; a test checks the frame bytes on the wire).
 * - `modbus-rtu`: RS-485 on a local serial port, modbus-serial's `connectRTUBuffered`.
 *
 * The two socket transports were on modbus-serial too (`connectTCP`, `connectTelnet`); they were
 * replaced for the gateway's CPU and garbage a reading (issue 16 item 2, see net-transport.ts).
 *
 * Requests are serialised: modbus-serial keeps one timeout per client and RTU has no way to tell
 * two outstanding answers apart, so the timeout is set immediately before each request.
 */
export type TransportSpec =
  | { type: 'modbus-tcp'; host: string; port: number }
  | { type: 'rtu-over-tcp'; host: string; port: number }
  | {
      type: 'modbus-rtu';
      path: string;
      baudRate: number;
      parity: 'none' | 'even' | 'odd';
      dataBits: number;
      stopBits: number;
    };

export interface TransportOptions {
  /** How long opening the socket or serial port may take. */
  connectTimeoutMs?: number;
  /**
   * After a timeout or a bad frame on an RTU line, how long after the failure the line stays
   * closed before it is reopened, so that a late answer falls into the closed line.
   */
  resyncDelayMs?: number;
}

export interface ModbusTransport {
  /** The device id used in every error. */
  readonly device: string;
  readonly isOpen: boolean;
  read(unitId: number, fc: 3 | 4, address: number, count: number, timeoutMs: number): Promise<number[]>;
  writeRegisters(
    unitId: number,
    address: number,
    values: number[],
    fc: 6 | 16,
    timeoutMs: number,
  ): Promise<void>;
  close(): Promise<void>;
  /** 'close': the connection is gone and will not come back by itself; open a new transport. */
  on(event: 'close', listener: () => void): this;
  /** 'error': a port-level error outside a request (the request's own error is its rejection). */
  on(event: 'error', listener: (err: ModbusError) => void): this;
  off(event: 'close', listener: () => void): this;
  off(event: 'error', listener: (err: ModbusError) => void): this;
}

// modbus-serial is CommonJS and sets `module.exports.default = module.exports`; under NodeNext
// TypeScript types the default import as the module, so the class is reached through `.default`.
// It is loaded only when a serial line is opened: with it comes serialport, 10 MB of RSS (its
// native binding) that a gateway of Modbus TCP and RTU-over-TCP buses does not need.
type ModbusRTUClass = typeof ModbusSerial.default;
type ModbusRTU = InstanceType<ModbusRTUClass>;
let ModbusRTU: ModbusRTUClass | null = null;
async function loadModbusSerial(): Promise<ModbusRTUClass> {
  ModbusRTU ??= (await import('modbus-serial')).default.default;
  return ModbusRTU;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const DEFAULT_RESYNC_DELAY_MS = 250;
const DISCONNECT_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ENOTCONN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOENT',
  'EACCES',
  'EBUSY',
  'ERR_SOCKET_CLOSED',
  'ERR_STREAM_DESTROYED',
]);

interface ErrorShape {
  message?: unknown;
  errno?: unknown;
  code?: unknown;
  modbusCode?: unknown;
}

/** Maps whatever modbus-serial, net or serialport threw onto one of our codes. */
export function classifyModbusFailure(err: unknown): { code: ModbusErrorCode; exceptionCode?: number } {
  const e: ErrorShape = typeof err === 'object' && err !== null ? (err as ErrorShape) : {};
  const message = typeof e.message === 'string' ? e.message : String(err);
  if (typeof e.modbusCode === 'number') return { code: 'MODBUS_EXCEPTION', exceptionCode: e.modbusCode };
  if (e.errno === 'ETIMEDOUT' || message === 'Timed out') return { code: 'MODBUS_TIMEOUT' };
  if (message.includes('CRC error')) return { code: 'MODBUS_CRC' };
  if (message.startsWith('Data length error') || message.startsWith('Unexpected data error')) {
    return { code: 'MODBUS_GARBAGE' };
  }
  // A byte count that promises more than the frame holds: modbus-serial reads past the buffer.
  if (err instanceof RangeError || e.code === 'ERR_OUT_OF_RANGE' || e.code === 'ERR_BUFFER_OUT_OF_BOUNDS') {
    return { code: 'MODBUS_GARBAGE' };
  }
  if (message.includes('Port Not Open') || message.includes('Connection Timed Out')) {
    return { code: 'MODBUS_DISCONNECTED' };
  }
  for (const k of [e.code, e.errno]) {
    if (typeof k === 'string' && DISCONNECT_ERRNOS.has(k)) return { code: 'MODBUS_DISCONNECTED' };
  }
  // Anything we do not recognise is treated as a broken connection: reconnecting is the safe answer.
  return { code: 'MODBUS_DISCONNECTED' };
}

function describeSpec(spec: TransportSpec): string {
  return spec.type === 'modbus-rtu'
    ? `${spec.path}@${spec.baudRate}`
    : `${spec.type}://${spec.host}:${spec.port}`;
}

function messageOf(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'message' in err && typeof err.message === 'string') {
    return err.message;
  }
  return String(err);
}

/**
 * Modbus RTU separates frames by silence: a request may start only after 3.5 character times of
 * quiet on the line (Modbus over Serial Line V1.02, 2.5.1.1), or a meter may take it for the tail
 * of the previous frame. A character is a start bit, the data bits, a parity bit if any and the
 * stop bits; above 19,200 baud the spec fixes the gap at 1.75 ms. 0 for Modbus TCP, which has no
 * such rule, and for RTU over TCP, whose converter paces the serial side itself.
 */
export function interFrameSilenceMs(spec: TransportSpec): number {
  if (spec.type !== 'modbus-rtu') return 0;
  if (spec.baudRate > 19_200) return 1.75;
  const bitsPerChar = 1 + spec.dataBits + (spec.parity === 'none' ? 0 : 1) + spec.stopBits;
  return (3.5 * bitsPerChar * 1000) / spec.baudRate;
}

class ModbusSerialTransport extends EventEmitter implements ModbusTransport {
  private client: ModbusRTU | null = null;
  /** performance.now() before which the line must stay silent (the end of the last exchange + t3.5). */
  private quietUntil = 0;
  private readonly silenceMs: number;
  private closedByUs = false;
  /** Set after a failure that may leave a late answer on an RTU line; cleared by reopening. */
  private resyncAfter: number | null = null;
  /** Requests started or waiting, and the last of them (the next waits for it). */
  private pending = 0;
  private last: Promise<unknown> | null = null;
  private readonly connectTimeoutMs: number;
  private readonly resyncDelayMs: number;

  constructor(
    private readonly spec: TransportSpec,
    readonly device: string,
    opts: TransportOptions,
  ) {
    super();
    this.connectTimeoutMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.resyncDelayMs = opts.resyncDelayMs ?? DEFAULT_RESYNC_DELAY_MS;
    this.silenceMs = interFrameSilenceMs(spec);
  }

  /**
   * A serial line that cannot get its configured settings must not run at others: every frame
   * would be garbage to the meters, or worse, half of them. Refused with an error naming what the
   * port refused; the bus then reports it on every meter's reading instead of polling.
   */
  private async checkPortSettings(
    client: ModbusRTU,
    spec: Extract<TransportSpec, { type: 'modbus-rtu' }>,
  ): Promise<void> {
    const actual = await readPortSettings(spec.path);
    if (!actual) return;
    const wrong = settingsMismatch(spec, actual);
    if (wrong.length === 0) return;
    await dropClient(client, spec);
    throw new ModbusError(
      'MODBUS_DISCONNECTED',
      `serial port ${spec.path} refused ${wrong.join(', ')}: it runs at ${describeSettings(actual)}, configured ${describeSettings(spec)}`,
      { device: this.device },
    );
  }

  get isOpen(): boolean {
    if (this.closedByUs) return false;
    if (this.resyncAfter !== null) return true;
    return this.client?.isOpen ?? false;
  }

  async connect(): Promise<void> {
    const client = new (await loadModbusSerial())();
    // modbus-serial re-emits port errors; an EventEmitter without an 'error' listener would throw.
    client.on('error', (err: unknown) => {
      if (client !== this.client) return;
      // An 'error' event nobody listens to would crash the process; the next request reports it.
      if (this.listenerCount('error') > 0) this.emit('error', this.toError(err, 'port error'));
    });
    client.on('close', () => {
      if (client !== this.client) return;
      this.client = null;
      if (!this.closedByUs) this.emit('close');
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            Object.assign(new Error(`connect timed out after ${this.connectTimeoutMs} ms`), {
              code: 'ECONNABORTED',
            }),
          ),
        this.connectTimeoutMs,
      );
    });
    try {
      await Promise.race([this.open(client), timeout]);
    } catch (err) {
      await dropClient(client, this.spec);
      throw new ModbusError(
        'MODBUS_DISCONNECTED',
        `cannot open ${describeSpec(this.spec)}: ${messageOf(err)}`,
        {
          device: this.device,
          cause: err,
        },
      );
    } finally {
      clearTimeout(timer);
    }
    if (this.spec.type === 'modbus-rtu') await this.checkPortSettings(client, this.spec);
    this.client = client;
  }

  private open(client: ModbusRTU): Promise<void> {
    const s = this.spec;
    switch (s.type) {
      case 'modbus-tcp':
        return client.connectTCP(s.host, { port: s.port });
      case 'rtu-over-tcp':
        return client.connectTelnet(s.host, { port: s.port });
      case 'modbus-rtu':
        return client.connectRTUBuffered(s.path, {
          baudRate: s.baudRate,
          parity: s.parity,
          dataBits: s.dataBits,
          stopBits: s.stopBits,
        });
    }
  }

  read(unitId: number, fc: 3 | 4, address: number, count: number, timeoutMs: number): Promise<number[]> {
    return this.exclusive({ kind: 'read', unitId, fc, address, count }, timeoutMs) as Promise<number[]>;
  }

  writeRegisters(
    unitId: number,
    address: number,
    values: number[],
    fc: 6 | 16,
    timeoutMs: number,
  ): Promise<void> {
    const request: Request = { kind: 'write', unitId, fc, address, values };
    if (fc === 6 && values.length !== 1) {
      return Promise.reject(
        new ModbusError('MODBUS_BAD_VALUE', `${describe(request)}: FC6 writes exactly one register`, {
          device: this.device,
        }),
      );
    }
    return this.exclusive(request, timeoutMs) as Promise<void>;
  }

  async close(): Promise<void> {
    this.closedByUs = true;
    this.resyncAfter = null;
    const client = this.client;
    this.client = null;
    // Let the request in flight finish or fail before the port goes away.
    await this.last?.catch(() => undefined);
    if (client) await dropClient(client, this.spec);
  }

  /**
   * Runs one request at a time. With none in flight (always, under a bus scheduler, which
   * serialises its own requests) the request starts at once; otherwise it waits for the one
   * before. Chaining every request (a promise to wait on, one to swallow its failure, a closure)
   * was a measurable share of the gateway's CPU a reading.
   */
  private exclusive(request: Request, timeoutMs: number): Promise<unknown> {
    if (this.pending++ === 0) return (this.last = this.run(request, timeoutMs));
    const run = () => this.run(request, timeoutMs);
    return (this.last = this.last!.then(run, run));
  }

  /** One request on a synchronised line, with its own timeout. */
  private async run(request: Request, timeoutMs: number): Promise<unknown> {
    try {
      const client =
        this.resyncAfter === null && !this.closedByUs && this.client?.isOpen
          ? this.client
          : await this.ready(describe(request));
      client.setID(request.unitId);
      client.setTimeout(timeoutMs);
      // Timers run on the event loop's cached millisecond clock and may fire a fraction of a
      // millisecond early by performance.now(): sleep again until the silence has really passed.
      if (this.silenceMs > 0) {
        for (
          let wait = this.quietUntil - performance.now();
          wait > 0;
          wait = this.quietUntil - performance.now()
        ) {
          await new Promise((r) => setTimeout(r, Math.ceil(wait)));
        }
      }
      let result: unknown;
      try {
        result = await exchange(client, request);
      } catch (err) {
        throw await this.failed(client, err, describe(request));
      } finally {
        // The answer's last byte (or the timeout) ends the exchange: silence starts now.
        if (this.silenceMs > 0) this.quietUntil = performance.now() + this.silenceMs;
        forgetFinishedExchanges(client);
      }
      if (strayBytes(client) > 0 && !this.closedByUs) {
        // The answer was whole and matched the request, but bytes followed it that answer
        // nothing: left in the port's buffer they would misalign the stream for the next
        // request. The answer stands; the connection is renewed before the next request.
        this.resyncAfter = performance.now();
        this.client = null;
        await dropClient(client, this.spec);
      }
      return result;
    } finally {
      this.pending--;
    }
  }

  private async ready(what: string): Promise<ModbusRTU> {
    if (this.closedByUs) {
      throw new ModbusError('MODBUS_DISCONNECTED', `${what}: transport closed`, { device: this.device });
    }
    if (this.resyncAfter !== null) {
      const wait = this.resyncAfter - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      this.resyncAfter = null;
      if (this.closedByUs) {
        throw new ModbusError('MODBUS_DISCONNECTED', `${what}: transport closed`, { device: this.device });
      }
      try {
        await this.connect();
      } catch (err) {
        this.emit('close');
        throw err;
      }
    }
    if (!this.client?.isOpen) {
      throw new ModbusError('MODBUS_DISCONNECTED', `${what}: ${describeSpec(this.spec)} is not open`, {
        device: this.device,
      });
    }
    return this.client;
  }

  /**
   * A late or malformed answer must never be taken for the answer to the next request, and must
   * not leave the stream misaligned. RTU (serial or through a converter) has no transaction id, so
   * after a timeout or a bad frame we close the line at once and reopen it only `resyncDelayMs`
   * after the failure: a late answer then arrives while no socket/port is open and is lost, and
   * reopening a serial port flushes the OS buffers (serialport's open does tcflush). Modbus TCP
   * matches answers by MBAP transaction id, but a truncated frame, trailing bytes or a frame glued
   * to the next leave modbus-serial's parser out of step with the stream for good (a meter that
   * answered correctly then timed out for minutes), and a timeout may be just that: so TCP drops
   * the connection too, and reconnects at once on the next request. Draining instead would need
   * the port's private buffer; reconnecting costs one TCP handshake or port open per failure.
   */
  private async failed(client: ModbusRTU, err: unknown, what: string): Promise<ModbusError> {
    let error = this.toError(err, what);
    if (error.code === 'MODBUS_TIMEOUT' && !client.isOpen) {
      error = new ModbusError('MODBUS_DISCONNECTED', `${what}: connection lost while waiting`, {
        device: this.device,
        cause: err,
      });
    }
    const desync =
      error.code === 'MODBUS_TIMEOUT' || error.code === 'MODBUS_CRC' || error.code === 'MODBUS_GARBAGE';
    if (desync && !this.closedByUs) {
      this.resyncAfter = performance.now() + (this.spec.type === 'modbus-tcp' ? 0 : this.resyncDelayMs);
      this.client = null;
      await dropClient(client, this.spec);
    }
    return error;
  }

  private toError(err: unknown, what: string): ModbusError {
    if (err instanceof ModbusError) return err;
    const { code, exceptionCode } = classifyModbusFailure(err);
    return new ModbusError(code, `${what}: ${messageOf(err)}`, {
      device: this.device,
      cause: err,
      ...(exceptionCode === undefined ? {} : { exceptionCode }),
    });
  }
}

/** One Modbus request, described in words only if it fails. */
type Request =
  | { kind: 'read'; unitId: number; fc: 3 | 4; address: number; count: number }
  | { kind: 'write'; unitId: number; fc: 6 | 16; address: number; values: number[] };

function describe(r: Request): string {
  return r.kind === 'read'
    ? `FC${r.fc} read of ${r.count} registers at ${r.address} from unit ${r.unitId}`
    : `FC${r.fc} write of ${r.values.length} registers at ${r.address} to unit ${r.unitId}`;
}

/**
 * The request on the wire, through modbus-serial's callback functions: its promise functions bind
 * the function and spread the arguments on every call. Resolves with the registers read (checked
 * against the count asked for), or nothing for a write.
 */
function exchange(client: ModbusRTU, r: Request): Promise<unknown> {
  return new Promise((resolve, reject) => {
    if (r.kind === 'read') {
      const done = (err: unknown, res: { data: number[] } | undefined) => {
        if (err) reject(err);
        else if (res!.data.length !== r.count) {
          reject(new Error(`Data length error, expected ${r.count} registers got ${res!.data.length}`));
        } else resolve(res!.data);
      };
      if (r.fc === 3) client.writeFC3(r.unitId, r.address, r.count, done);
      else client.writeFC4(r.unitId, r.address, r.count, done);
    } else {
      const done = (err: unknown) => (err ? reject(err) : resolve(undefined));
      if (r.fc === 6) client.writeFC6(r.unitId, r.address, r.values[0]!, done);
      else client.writeFC16(r.unitId, r.address, r.values, done);
    }
  });
}

/**
 * Bytes modbus-serial's TCP port holds after the last whole frame (its private `_clientRcvData`,
 * checked against modbus-serial 8.x: the hostile-meter test fails if a later version moves it).
 * RTU ports have no such buffer: there stray bytes corrupt the next frame's CRC, which resyncs.
 */
function strayBytes(client: ModbusRTU): number {
  const port = (client as unknown as { _port?: { _clientRcvData?: unknown } })._port;
  const rest = port?._clientRcvData;
  return Buffer.isBuffer(rest) ? rest.length : 0;
}

/**
 * modbus-serial keeps every exchange in its private `_transactions`, by transaction id, until the
 * id comes round again: on Modbus TCP 255 of them per connection, each holding its callback and
 * through it the answer (its buffer and register array). At 10,000 meters on 41 TCP endpoints that
 * was 5,400 finished exchanges, about 4 MB of heap kept alive for nothing (a heap snapshot of the
 * gateway bench). Requests here are serialised, so once one has ended none is pending: the table
 * is emptied. A late answer to an ended exchange then finds no entry and is ignored, which
 * modbus-serial already does for an id it does not know (checked against modbus-serial 8.x).
 */
function forgetFinishedExchanges(client: ModbusRTU): void {
  // A new empty table rather than deleting keys: deleting turns the object into a slow dictionary
  // (1.5 % of the gateway's CPU at full speed in a profile); modbus-serial reads the field anew
  // for every request and every answer.
  const c = client as unknown as { _transactions?: Record<string, unknown> };
  if (c._transactions) c._transactions = {};
}

/** Closes a client without waiting forever: a socket that is already gone never calls back. */
async function dropClient(client: ModbusRTU, spec: TransportSpec): Promise<void> {
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 1_000);
    const done = (): void => {
      clearTimeout(timer);
      resolve();
    };
    try {
      // A serial port has no destroy in modbus-serial (it would leave the port open); TCP ports do.
      if (spec.type === 'modbus-rtu') client.close(done);
      else client.destroy(done);
    } catch {
      done();
    }
  });
}

/** Opens a transport; rejects with MODBUS_DISCONNECTED when the endpoint cannot be reached. */
export async function openModbusTransport(
  spec: TransportSpec,
  deviceId: string,
  opts: TransportOptions = {},
): Promise<ModbusTransport> {
  if (spec.type !== 'modbus-rtu') {
    const net = new NetModbusTransport(spec, deviceId, {
      connectTimeoutMs: opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      resyncDelayMs: opts.resyncDelayMs ?? DEFAULT_RESYNC_DELAY_MS,
    });
    await net.connect();
    return net;
  }
  const t = new ModbusSerialTransport(spec, deviceId, opts);
  await t.connect();
  return t;
}
