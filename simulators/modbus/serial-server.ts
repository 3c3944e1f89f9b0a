import { SerialPort } from 'serialport';
import { RtuBus, Timers, type Link, type ServerCounters, type UnitLookup } from './dispatch.ts';
import { RtuRequestParser } from './frames.ts';

export interface SerialServerOptions {
  /** Device path, e.g. one end of a socat pseudo-terminal pair. */
  path: string;
  lookup: UnitLookup;
  baudRate?: number;
  counters?: ServerCounters;
}

export interface SerialModbusServer {
  readonly path: string;
  close(): Promise<void>;
}

/**
 * Serves Modbus RTU slaves on a serial device: one bus, one request at a time. A `disconnect`
 * fault has no connection to drop here and shows as a timeout.
 */
export async function startSerialServer(opts: SerialServerOptions): Promise<SerialModbusServer> {
  const port = new SerialPort({ path: opts.path, baudRate: opts.baudRate ?? 9600, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
  const counters = opts.counters ?? { requests: 0 };
  const timers = new Timers();
  const bus = new RtuBus(opts.lookup, timers);
  const link: Link = {
    write: (frame) => {
      if (port.isOpen) port.write(frame);
    },
    drop: () => {},
  };
  const parser = new RtuRequestParser((req) => {
    counters.requests++;
    bus.submit(req, link);
  });
  port.on('data', (chunk: Buffer) => parser.push(chunk));
  port.on('error', () => {});

  return {
    path: opts.path,
    close: () =>
      new Promise<void>((resolve) => {
        timers.clear();
        bus.clear();
        if (!port.isOpen) return resolve();
        port.close(() => resolve());
      }),
  };
}
