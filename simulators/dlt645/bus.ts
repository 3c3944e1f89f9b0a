import {
  decodeFrame,
  encodeFrame,
  frameLength,
  BROADCAST_ADDRESS,
  WILDCARD_ADDRESS,
} from '../../adapters/dlt645/frame.ts';
import { badChecksum } from './faults.ts';
import { startLineServer, type LineServer, type LineServerTransport } from './line-server.ts';
import type { Dlt645SimMeter } from './meter.ts';

/**
 * A DL/T 645 RS-485 line with simulated meters on it, served on a serial port or a TCP port.
 * Each meter answers only frames to its own address; read address (AA…AA) is answered by every
 * meter on the line — with one meter that is the point, with more it garbles, as on a real line.
 */
export interface Dlt645LineOptions {
  transport: LineServerTransport;
  meters: readonly Dlt645SimMeter[];
  baudRate?: number;
  latencyMs?: number;
}

export function dlt645Responder(meters: readonly Dlt645SimMeter[]): (frame: Buffer) => Buffer | null {
  const byAddress = new Map(meters.map((m) => [m.address, m]));
  return (bytes) => {
    let req;
    try {
      req = decodeFrame(bytes, 'sim');
    } catch {
      return null; // a meter ignores a frame with a bad checksum
    }
    if (req.address === BROADCAST_ADDRESS) {
      for (const m of meters) m.answer(req);
      return null;
    }
    const targets =
      req.address === WILDCARD_ADDRESS ? meters : [byAddress.get(req.address)].filter((m) => m !== undefined);
    const answers: Buffer[] = [];
    for (const m of targets) {
      const f = m.currentFault;
      if (f.type === 'silence') continue;
      if (f.type === 'garbage') {
        answers.push(Buffer.from([0x12, 0x9f, 0x00, 0xff, 0x31, 0x07]));
        continue;
      }
      const a = m.answer(req);
      if (!a) continue;
      if (f.type === 'wrong-address') {
        const other = (BigInt(m.address) + 1n).toString().padStart(12, '0').slice(-12);
        answers.push(encodeFrame({ ...a, address: other }));
      } else if (f.type === 'checksum') answers.push(badChecksum(encodeFrame(a)));
      else answers.push(encodeFrame(a));
    }
    if (answers.length === 0) return null;
    // Two meters talking at once: the bytes collide into noise.
    if (answers.length > 1) return Buffer.from(answers[0]!.map((b, i) => b ^ (answers[1]![i] ?? 0xff)));
    return answers[0]!;
  };
}

export function startDlt645Line(o: Dlt645LineOptions): Promise<LineServer> {
  return startLineServer({
    transport: o.transport,
    frameLength,
    respond: dlt645Responder(o.meters),
    ...(o.baudRate !== undefined ? { baudRate: o.baudRate } : {}),
    ...(o.latencyMs !== undefined ? { latencyMs: o.latencyMs } : {}),
  });
}
