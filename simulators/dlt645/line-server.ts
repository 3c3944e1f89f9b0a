import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { SerialPort } from 'serialport';

/**
 * The meter side of a byte line, for simulated DL/T 645 and CJ/T 188 meters: a serial port (one
 * end of a socat pseudo-terminal pair) or a TCP port (a serial-to-Ethernet converter in
 * transparent mode). It cuts the incoming bytes into frames, asks `respond` for the answer and
 * writes it after the time the bytes would take on the wire at `baudRate` (11 bits a character,
 * 8E1) plus the meter's own latency, so a 2400-baud line is as slow here as in a plant room.
 */
export type LineServerTransport =
  | { kind: 'tcp'; port?: number; host?: string }
  | { kind: 'serial'; path: string; baudRate: number; parity: 'none' | 'even' | 'odd' };

export interface LineServerOptions {
  transport: LineServerTransport;
  /** Total frame length from the first 68 (see the adapters' frameLength): 0 more, -1 none. */
  frameLength: (buf: Buffer) => number;
  /** The answer bytes (preamble included) or null for silence. */
  respond: (frame: Buffer) => Buffer | null;
  /** Line speed used to pace answers; 0: no pacing. */
  baudRate?: number;
  /** The meter's turnaround before it answers (DL/T 645 allows 20–500 ms). */
  latencyMs?: number;
}

export interface LineServer {
  readonly host?: string;
  readonly port?: number;
  readonly path?: string;
  readonly requests: number;
  close(): Promise<void>;
}

export function lineTimeMs(bytes: number, baudRate: number): number {
  return baudRate > 0 ? (bytes * 11 * 1000) / baudRate : 0;
}

export async function startLineServer(o: LineServerOptions): Promise<LineServer> {
  let requests = 0;
  const timers = new Set<NodeJS.Timeout>();
  const baud = o.baudRate ?? 0;
  const latency = o.latencyMs ?? 0;

  function feeder(write: (b: Buffer) => void) {
    let rx = Buffer.alloc(0);
    return (chunk: Buffer) => {
      rx = Buffer.concat([rx, chunk]);
      for (;;) {
        let start = 0;
        while (start < rx.length && rx[start] === 0xfe) start++;
        if (start < rx.length && rx[start] !== 0x68) {
          // Not a frame start: drop up to the next 68, as a meter's UART would resynchronise.
          const next = rx.indexOf(0x68, start);
          rx = next < 0 ? Buffer.alloc(0) : rx.subarray(next);
          continue;
        }
        const body = rx.subarray(start);
        const len = body.length ? o.frameLength(body) : 0;
        if (len < 0) {
          rx = body.subarray(1);
          continue;
        }
        if (len === 0 || body.length < len) return;
        const frame = Buffer.from(body.subarray(0, len));
        rx = body.subarray(len);
        requests++;
        const answer = o.respond(frame);
        if (!answer) continue;
        const delay = lineTimeMs(start + len, baud) + latency + lineTimeMs(answer.length, baud);
        const timer = setTimeout(() => {
          timers.delete(timer);
          write(answer);
        }, delay);
        timers.add(timer);
      }
    };
  }

  if (o.transport.kind === 'serial') {
    const t = o.transport;
    const port = new SerialPort({ path: t.path, baudRate: t.baudRate, parity: t.parity, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
    port.on(
      'data',
      feeder((b) => port.isOpen && port.write(b)),
    );
    port.on('error', () => {});
    return {
      path: t.path,
      get requests() {
        return requests;
      },
      close: () =>
        new Promise<void>((resolve) => {
          for (const t of timers) clearTimeout(t);
          if (!port.isOpen) return resolve();
          port.close(() => resolve());
        }),
    };
  }

  const sockets = new Set<Socket>();
  const server: Server = createServer((sock) => {
    sockets.add(sock);
    sock.on(
      'data',
      feeder((b) => !sock.destroyed && sock.write(b)),
    );
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
  });
  await new Promise<void>((r) =>
    server.listen(
      o.transport.kind === 'tcp' ? (o.transport.port ?? 0) : 0,
      (o.transport as { host?: string }).host ?? '127.0.0.1',
      r,
    ),
  );
  const addr = server.address() as AddressInfo;
  return {
    host: addr.address,
    port: addr.port,
    get requests() {
      return requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
