import type { FieldProfile } from '../../adapters/protocols.ts';
import type { LoadProfileName } from '../meters/load-profiles.ts';
import { Cjt188SimMeter, startCjt188Line } from '../cjt188/meter.ts';
import { startDlt645Line } from './bus.ts';
import type { LineServer } from './line-server.ts';
import { Dlt645SimMeter } from './meter.ts';

/**
 * DL/T 645 and CJ/T 188 lines for the simulated farm: one TCP port per line (a converter in
 * transparent mode), its meters on the farm's clock. The farm registers these next to its Modbus
 * concentrators.
 */
export interface FieldMeterSpec {
  id: string;
  address: string;
  profile: FieldProfile;
  load: LoadProfileName;
  seed: number;
  /** DL/T 645 relay password the meter accepts (level + 6 digits). */
  password?: string;
}

export interface FieldLineSpec {
  id: string;
  protocol: FieldProfile['protocol'];
  /** 0 or absent: any free port. */
  port?: number;
  /** Pace answers as on a line at this baud rate; absent: as fast as the socket. */
  baudRate?: number;
  meters: FieldMeterSpec[];
}

export type FieldSimMeter = Dlt645SimMeter | Cjt188SimMeter;

export interface FieldLines {
  readonly lines: readonly { id: string; protocol: string; host: string; port: number }[];
  readonly meters: ReadonlyMap<string, FieldSimMeter>;
  requests(): number;
  close(): Promise<void>;
}

export function fieldLineProblems(specs: readonly FieldLineSpec[]): string[] {
  const problems: string[] = [];
  for (const [li, l] of specs.entries()) {
    const seen = new Set<string>();
    for (const m of l.meters) {
      const where = `lines[${li}] (${l.id}).${m.id}`;
      if (m.profile.protocol !== l.protocol)
        problems.push(`${where}: a ${m.profile.protocol} profile on a ${l.protocol} line`);
      const want = l.protocol === 'dlt645' ? /^\d{12}$/ : /^\d{14}$/;
      if (!want.test(m.address))
        problems.push(`${where}: address ${m.address} is not a ${l.protocol} address`);
      if (seen.has(m.address)) problems.push(`${where}: address ${m.address} used twice on this line`);
      seen.add(m.address);
    }
  }
  return problems;
}

export async function startFieldLines(
  specs: readonly FieldLineSpec[],
  o: { clock?: () => number; speed?: number; startTime?: number; host?: string },
): Promise<FieldLines> {
  const problems = fieldLineProblems(specs);
  if (problems.length > 0) throw new Error(`invalid field lines:\n  ${problems.join('\n  ')}`);
  const time = {
    ...(o.clock ? { clock: o.clock } : {}),
    ...(o.speed ? { speed: o.speed } : {}),
    ...(o.startTime !== undefined ? { startTime: o.startTime } : {}),
  };
  const meters = new Map<string, FieldSimMeter>();
  const servers: LineServer[] = [];
  const lines: { id: string; protocol: string; host: string; port: number }[] = [];
  try {
    for (const l of specs) {
      const transport = {
        kind: 'tcp' as const,
        ...(l.port ? { port: l.port } : {}),
        ...(o.host ? { host: o.host } : {}),
      };
      const pace = l.baudRate !== undefined ? { baudRate: l.baudRate, latencyMs: 20 } : {};
      let server: LineServer;
      if (l.protocol === 'dlt645') {
        const sims = l.meters.map((m) => {
          if (m.profile.protocol !== 'dlt645') throw new Error('unreachable: checked above');
          return new Dlt645SimMeter({ ...m, profile: m.profile, ...time });
        });
        sims.forEach((s) => meters.set(s.id, s));
        server = await startDlt645Line({ transport, meters: sims, ...pace });
      } else {
        const sims = l.meters.map((m) => {
          if (m.profile.protocol !== 'cjt188') throw new Error('unreachable: checked above');
          return new Cjt188SimMeter({
            id: m.id,
            address: m.address,
            profile: m.profile,
            load: m.load,
            seed: m.seed,
            ...time,
          });
        });
        sims.forEach((s) => meters.set(s.id, s));
        server = await startCjt188Line({ transport, meters: sims, ...pace });
      }
      servers.push(server);
      lines.push({ id: l.id, protocol: l.protocol, host: server.host!, port: server.port! });
    }
  } catch (err) {
    await Promise.all(servers.map((s) => s.close()));
    throw err;
  }
  return {
    lines,
    meters,
    requests: () => servers.reduce((n, s) => n + s.requests, 0),
    close: async () => {
      await Promise.all(servers.map((s) => s.close()));
    },
  };
}
