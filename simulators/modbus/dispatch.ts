import { corruptResponse, garbageResponse, type Fault } from './faults.ts';
import {
  encodeExceptionResponse,
  respond,
  type Framing,
  type ModbusRequest,
  type RegisterDevice,
} from './frames.ts';

/** A device behind a concentrator, as the servers see it. */
export interface ModbusUnit extends RegisterDevice {
  readonly unitId: number;
  readonly fault: Fault;
  /** [0, 1), for fault content. */
  random(): number;
}

/** Finds the unit a request addresses; undefined means nobody answers (a silent bus). */
export type UnitLookup = (unitId: number) => ModbusUnit | undefined;

/** Where responses go: a TCP connection or a serial port. */
export interface Link {
  write(frame: Buffer): void;
  /** Drops the connection; a serial line cannot, so there it does nothing. */
  drop(): void;
}

/** Counters shared by every server of one farm; mutated in place on the hot path. */
export interface ServerCounters {
  requests: number;
}

/** Pending timers of a server, so that stopping it cancels delayed responses. */
export class Timers {
  private readonly pending = new Set<NodeJS.Timeout>();

  after(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.pending.delete(t);
      fn();
    }, ms);
    this.pending.add(t);
  }

  clear(): void {
    for (const t of this.pending) clearTimeout(t);
    this.pending.clear();
  }
}

/**
 * Answers one request as the addressed unit, with its current fault. `done` is called once the
 * unit has finished with the request (at once, or after a `slow` delay): an RTU bus is busy until
 * then.
 */
export function dispatch(
  unit: ModbusUnit | undefined,
  req: ModbusRequest,
  framing: Framing,
  link: Link,
  timers: Timers,
  done: () => void,
): void {
  if (!unit) return done();
  const fault = unit.fault;
  switch (fault.type) {
    case 'none':
      link.write(respond(unit, req, framing));
      return done();
    case 'timeout':
      return done();
    case 'exception':
      link.write(encodeExceptionResponse(req, fault.code, framing));
      return done();
    case 'garbage':
      link.write(garbageResponse(req, framing, () => unit.random()));
      return done();
    case 'crc':
      link.write(corruptResponse(respond(unit, req, framing), framing));
      return done();
    case 'slow': {
      const frame = respond(unit, req, framing);
      return timers.after(fault.delayMs, () => {
        link.write(frame);
        done();
      });
    }
    case 'disconnect':
      link.drop();
      return done();
  }
}

/**
 * A half-duplex bus: one request at a time, whoever sent it, as on RS-485 behind a converter.
 * A request that gets no answer frees the bus at once (the master decides how long to wait).
 */
export class RtuBus {
  private busy = false;
  private readonly queue: { req: ModbusRequest; link: Link }[] = [];

  constructor(
    private readonly lookup: UnitLookup,
    private readonly timers: Timers,
  ) {}

  submit(req: ModbusRequest, link: Link): void {
    this.queue.push({ req, link });
    if (!this.busy) this.pump();
  }

  /** Forgets queued requests of a link that went away. */
  forget(link: Link): void {
    for (let i = this.queue.length - 1; i >= 0; i--)
      if (this.queue[i]!.link === link) this.queue.splice(i, 1);
  }

  clear(): void {
    this.queue.length = 0;
  }

  private pump(): void {
    while (!this.busy && this.queue.length > 0) {
      const { req, link } = this.queue.shift()!;
      this.busy = true;
      let returned = false;
      dispatch(this.lookup(req.unitId), req, 'rtu', link, this.timers, () => {
        this.busy = false;
        if (returned) this.pump();
      });
      returned = true;
    }
  }
}
