/**
 * What a 2400-baud DL/T 645 or CJ/T 188 line can carry: meters per line per minute, computed
 * from the frames our adapters send and the answers the profiles ask for (11 bits a character at
 * 8E1), and measured by polling simulated meters through the real adapter over a pseudo-terminal
 * pair (socat; TCP loopback without it) whose far end paces every byte at 2400 baud. The ratio
 * measured / computed shows how close the gateway gets to the line's own ceiling.
 *
 *   npm run bench:dlt645 [-- --seconds 10]
 *
 * Figures on a shared machine vary; the ratio is the figure to compare.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CJT188_LINE_CODES } from '../../adapters/cjt188/errors.ts';
import { cjt188 } from '../../adapters/cjt188/protocol.ts';
import { fieldBytes } from '../../adapters/cjt188/profile.ts';
import { DLT645_LINE_CODES } from '../../adapters/dlt645/errors.ts';
import { dlt645 } from '../../adapters/dlt645/protocol.ts';
import { planDlt645 } from '../../adapters/dlt645/profile.ts';
import type { LineCodes } from '../../adapters/line/errors.ts';
import type { FieldProtocol } from '../../adapters/line/protocol.ts';
import { openByteLine, type LineSpec } from '../../adapters/line/transport.ts';
import { loadFieldProfiles } from '../../config/field-profiles.ts';
import type { FieldProfile } from '../../adapters/protocols.ts';
import { Cjt188SimMeter, cjt188Responder } from '../../simulators/cjt188/meter.ts';
import { dlt645Responder } from '../../simulators/dlt645/bus.ts';
import {
  lineTimeMs,
  startLineServer,
  type LineServerTransport,
} from '../../simulators/dlt645/line-server.ts';
import { Dlt645SimMeter } from '../../simulators/dlt645/meter.ts';
import { frameLength as dltFrameLength } from '../../adapters/dlt645/frame.ts';
import { frameLength as cjtFrameLength } from '../../adapters/cjt188/frame.ts';
import { socatAvailable, startPtyPair } from '../helpers/socat.ts';

const BAUD = 2400;
const LATENCIES = [20, 50, 100];
const MEASURE_LATENCY = 20;
const seconds = Number(process.argv[process.argv.indexOf('--seconds') + 1]) || 8;
const profiles = loadFieldProfiles();

/** Bytes on the wire of each request and answer of one poll (4-byte FE preamble both ways for DL/T 645, 2 for CJ/T 188). */
function pollFrames(p: FieldProfile): { request: number; answer: number }[] {
  if (p.protocol === 'dlt645') {
    const reads = planDlt645(p).map((r) => 4 + Math.max(...r.points.map((pt) => (pt.index + 1) * pt.bytes)));
    if (p.relay) reads.push(4 + 2);
    if (p.deviceTime) reads.push(4 + 4, 4 + 3);
    return reads.map((data) => ({ request: 4 + 12 + 4, answer: 4 + 12 + data }));
  }
  const data = 3 + p.layout.reduce((n, f) => n + fieldBytes(f), 0);
  return [{ request: 2 + 13 + 3, answer: 2 + 13 + data }];
}

function computedPollMs(p: FieldProfile, latency: number): number {
  return pollFrames(p).reduce((ms, f) => ms + lineTimeMs(f.request + f.answer, BAUD) + latency, 0);
}

async function measure(id: string): Promise<{ polls: number; ms: number; errors: number }> {
  const p = profiles.get(id)!;
  const dir = mkdtempSync(join(tmpdir(), 'bench-line-'));
  let socat: { close(): void } | undefined;
  let server: Awaited<ReturnType<typeof startLineServer>> | undefined;
  try {
    const clock = () => Date.UTC(2026, 10, 27, 12);
    const meter =
      p.protocol === 'dlt645'
        ? new Dlt645SimMeter({
            id: 'B',
            address: '000000000001',
            profile: p,
            load: 'dorm-room',
            seed: 1,
            clock,
          })
        : new Cjt188SimMeter({
            id: 'B',
            address: '00000000000001',
            profile: p,
            load: 'office',
            seed: 1,
            clock,
          });
    const respond =
      meter instanceof Dlt645SimMeter ? dlt645Responder([meter]) : cjt188Responder([meter as Cjt188SimMeter]);
    let transport: LineServerTransport;
    let spec: LineSpec;
    if (socatAvailable()) {
      const a = join(dir, 'm');
      const b = join(dir, 'g');
      socat = await startPtyPair(a, b);
      transport = { kind: 'serial', path: a, baudRate: BAUD, parity: 'even' };
      spec = { kind: 'serial', path: b, baudRate: BAUD, parity: 'even', dataBits: 8, stopBits: 1 };
    } else transport = { kind: 'tcp' };
    server = await startLineServer({
      transport,
      frameLength: p.protocol === 'dlt645' ? dltFrameLength : cjtFrameLength,
      respond,
      baudRate: BAUD,
      latencyMs: MEASURE_LATENCY,
    });
    spec ??= { kind: 'tcp', host: server.host!, port: server.port! };
    const codes: LineCodes = p.protocol === 'dlt645' ? DLT645_LINE_CODES : CJT188_LINE_CODES;
    const line = await openByteLine(spec, { device: 'bench', codes });
    const protocol = (p.protocol === 'dlt645' ? dlt645 : cjt188) as FieldProtocol<FieldProfile>;
    const ctx = { timeoutMs: 2_000, clockZone: 'Asia/Shanghai', device: 'bench' };
    let polls = 0;
    let errors = 0;
    const start = performance.now();
    while (performance.now() - start < seconds * 1000) {
      await protocol.poll(line, meter.address, p, ctx).then(
        () => polls++,
        () => errors++,
      );
    }
    const ms = performance.now() - start;
    await line.close();
    return { polls, ms, errors };
  } finally {
    await server?.close();
    socat?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const ids = ['dlt645-single-phase-prepaid', 'dlt645-three-phase', 'cjt188-cold-water-valve', 'cjt188-heat'];
console.log(`2400 baud 8E1 (11 bits a character): computed poll cost and meters per line per minute`);
console.log(
  `profile                         requests  bytes  ${LATENCIES.map((l) => `meters/min @${l}ms`.padStart(18)).join('')}`,
);
for (const id of ids) {
  const p = profiles.get(id)!;
  const frames = pollFrames(p);
  const bytes = frames.reduce((n, f) => n + f.request + f.answer, 0);
  const cells = LATENCIES.map((l) => (60_000 / computedPollMs(p, l)).toFixed(1).padStart(18));
  console.log(
    `${id.padEnd(32)}${String(frames.length).padStart(8)}${String(bytes).padStart(7)}  ${cells.join('')}`,
  );
}
console.log(
  `\nmeasured through the adapter, ${seconds} s per profile, meter turnaround ${MEASURE_LATENCY} ms (${socatAvailable() ? 'socat pseudo-terminal' : 'TCP loopback'}; shared CPU):`,
);
console.log(`profile                         polls  errors  poll ms  meters/min  computed  ratio`);
for (const id of ids) {
  const r = await measure(id);
  const pollMs = r.ms / Math.max(1, r.polls);
  const computed = computedPollMs(profiles.get(id)!, MEASURE_LATENCY);
  console.log(
    `${id.padEnd(32)}${String(r.polls).padStart(5)}${String(r.errors).padStart(8)}${pollMs.toFixed(0).padStart(9)}${(60_000 / pollMs).toFixed(1).padStart(12)}${(60_000 / computed).toFixed(1).padStart(10)}${(computed / pollMs).toFixed(2).padStart(7)}`,
  );
}
