import { connect, type Socket } from 'node:net';
import { planReads } from '../../adapters/modbus/planner.ts';
import { encodeMbapFrame, encodeReadRequest, encodeRtuFrame } from '../../simulators/modbus/frames.ts';
import type { BenchBus } from './layout.ts';

/**
 * The farm's own speed: per concentrator one raw socket keeping `window` requests outstanding
 * (Modbus TCP matches answers by transaction id; an RTU-over-TCP port queues them and answers in
 * order), cycling over the same planned reads the gateway issues. No modbus-serial, no decoding:
 * this measures what the farm can serve, not what a client can ask.
 */
export interface RawLoadResult {
  responses: number;
  exceptions: number;
  seconds: number;
}

export async function rawPipelinedLoad(
  buses: readonly BenchBus[],
  ports: readonly number[],
  durationMs: number,
  window = 64,
): Promise<RawLoadResult> {
  const results = await Promise.all(buses.map((b, i) => runOne(b, ports[i]!, durationMs, window)));
  return {
    responses: results.reduce((n, r) => n + r.responses, 0),
    exceptions: results.reduce((n, r) => n + r.exceptions, 0),
    seconds: Math.max(...results.map((r) => r.seconds)),
  };
}

async function runOne(
  bus: BenchBus,
  port: number,
  durationMs: number,
  window: number,
): Promise<RawLoadResult> {
  const rtu = bus.transport === 'rtu-over-tcp';
  // One PDU per planned read of every meter, in poll order.
  const reads = bus.meters.flatMap((m) =>
    planReads(m.profile).map((b) => ({ unitId: m.unitId, pdu: encodeReadRequest(b.fc, b.address, b.count) })),
  );
  let next = 0;
  let tid = 0;
  const frame = (): Buffer => {
    const r = reads[next]!;
    next = (next + 1) % reads.length;
    tid = (tid + 1) & 0xffff;
    return rtu ? encodeRtuFrame(r.unitId, r.pdu) : encodeMbapFrame(tid, r.unitId, r.pdu);
  };

  const socket: Socket = await new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
  socket.setNoDelay(true);

  let responses = 0;
  let exceptions = 0;
  let outstanding = 0;
  let stopping = false;
  let pending: Buffer = Buffer.alloc(0);
  const started = performance.now();
  let finishedAt = started;

  return new Promise((resolve, reject) => {
    const send = (n: number) => {
      if (n <= 0) return;
      const frames: Buffer[] = [];
      for (let i = 0; i < n; i++) frames.push(frame());
      outstanding += n;
      socket.write(Buffer.concat(frames));
    };
    const finish = () => {
      socket.destroy();
      resolve({ responses, exceptions, seconds: (finishedAt - started) / 1000 });
    };
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      let off = 0;
      let got = 0;
      for (;;) {
        let len: number;
        if (rtu) {
          if (pending.length - off < 3) break;
          const fc = pending[off + 1]!;
          len = fc & 0x80 ? 5 : 5 + pending[off + 2]!;
          if (fc & 0x80) exceptions++;
        } else {
          if (pending.length - off < 8) break;
          len = 6 + pending.readUInt16BE(off + 4);
          if (pending[off + 7]! & 0x80) exceptions++;
        }
        if (pending.length - off < len) break;
        off += len;
        got++;
      }
      pending = off === pending.length ? Buffer.alloc(0) : pending.subarray(off);
      responses += got;
      outstanding -= got;
      if (!stopping && performance.now() - started >= durationMs) {
        stopping = true;
        finishedAt = performance.now();
      }
      if (stopping) {
        if (outstanding === 0) finish();
        return;
      }
      send(got);
    });
    socket.on('error', reject);
    send(window);
  });
}
