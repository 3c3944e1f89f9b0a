import { createServer, type Socket } from 'node:net';
import { dispatch, RtuBus, Timers, type Link, type ServerCounters, type UnitLookup } from './dispatch.ts';
import { MbapRequestParser, RtuRequestParser, type ModbusRequest } from './frames.ts';

/**
 * `modbus-tcp`: MBAP frames, requests answered as they come (a Modbus TCP gateway or meter).
 * `rtu-over-tcp`: raw RTU frames with CRC over TCP, as an RS-485-to-Ethernet converter in
 * transparent mode forwards them: one bus per port, one request at a time across all connections.
 */
export type TcpTransport = 'modbus-tcp' | 'rtu-over-tcp';

export interface TcpServerOptions {
  transport: TcpTransport;
  lookup: UnitLookup;
  /** 0 (the default) picks a free port. */
  port?: number;
  host?: string;
  counters?: ServerCounters;
}

export interface TcpModbusServer {
  readonly transport: TcpTransport;
  readonly host: string;
  readonly port: number;
  /** Open client connections. */
  connections(): number;
  /** Stops listening, drops every connection and cancels delayed responses. */
  close(): Promise<void>;
}

/** Serves Modbus on a plain `net` server: no per-request deferral, one buffer per response. */
export async function startTcpServer(opts: TcpServerOptions): Promise<TcpModbusServer> {
  const host = opts.host ?? '127.0.0.1';
  const counters = opts.counters ?? { requests: 0 };
  const timers = new Timers();
  const sockets = new Set<Socket>();
  const bus = opts.transport === 'rtu-over-tcp' ? new RtuBus(opts.lookup, timers) : undefined;
  const noop = (): void => {};

  const server = createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    const link: Link = {
      write: (frame) => {
        if (!socket.destroyed) socket.write(frame);
      },
      drop: () => socket.destroy(),
    };
    let onRequest: (req: ModbusRequest) => void;
    let parser: MbapRequestParser | RtuRequestParser;
    if (bus) {
      onRequest = (req) => {
        counters.requests++;
        bus.submit(req, link);
      };
      parser = new RtuRequestParser(onRequest);
    } else {
      onRequest = (req) => {
        counters.requests++;
        dispatch(opts.lookup(req.unitId), req, 'mbap', link, timers, noop);
      };
      parser = new MbapRequestParser(onRequest);
    }
    socket.on('data', (chunk: Buffer) => {
      parser.push(chunk);
      if (parser instanceof MbapRequestParser && parser.desynchronised) socket.destroy();
    });
    socket.on('error', noop);
    socket.on('close', () => {
      sockets.delete(socket);
      bus?.forget(link);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('TCP server has no port');

  return {
    transport: opts.transport,
    host,
    port: address.port,
    connections: () => sockets.size,
    close: () =>
      new Promise<void>((resolve) => {
        timers.clear();
        bus?.clear();
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
