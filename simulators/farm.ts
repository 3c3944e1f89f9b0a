import type { Profile } from '../config/schemas/profile.ts';
import type { Fault } from './modbus/faults.ts';
import type { ModbusUnit, ServerCounters, UnitLookup } from './modbus/dispatch.ts';
import { startTcpServer, type TcpModbusServer, type TcpTransport } from './modbus/tcp-server.ts';
import type { LoadProfileName } from './meters/load-profiles.ts';
import { SimMeter, type MeterKind } from './meters/sim-meter.ts';
import {
  startFieldLines,
  type FieldLineSpec,
  type FieldLines,
  type FieldSimMeter,
} from './dlt645/farm-lines.ts';

export interface FarmMeterSpec {
  id: string;
  /** 1..247 */
  unitId: number;
  profile: Profile;
  /** Defaults to the profile's kind. */
  kind?: MeterKind;
  load: LoadProfileName;
  seed: number;
  phases?: 1 | 3;
  utcOffsetMinutes?: number;
}

export interface ConcentratorSpec {
  id: string;
  transport: TcpTransport;
  /** 0 or absent: any free port. */
  port?: number;
  meters: FarmMeterSpec[];
}

export interface FarmSpec {
  concentrators: ConcentratorSpec[];
  /** DL/T 645 and CJ/T 188 lines behind transparent converters (simulators/dlt645/farm-lines.ts). */
  lines?: FieldLineSpec[];
  /** Wall clock in ms (default Date.now); inject one to move time in tests. */
  clock?: () => number;
  /** Simulated ms per clock ms, for every meter. */
  speed?: number;
  /** Simulated time at start; defaults to the clock's first reading. */
  startTime?: number;
  host?: string;
}

export interface Farm {
  readonly concentrators: readonly { id: string; transport: TcpTransport; host: string; port: number }[];
  meter(id: string): SimMeter;
  meters(): readonly SimMeter[];
  /** The DL/T 645 / CJ/T 188 lines and their meters (faults, relay button, clock). */
  readonly lines: FieldLines['lines'];
  fieldMeter(id: string): FieldSimMeter;
  setFault(meterId: string, fault: Fault): void;
  stats(): { requests: number };
  stop(): Promise<void>;
}

/** The unit lookup of a set of meters on one bus or port. */
export function lookupOf(meters: Iterable<ModbusUnit>): UnitLookup {
  const byUnit: (ModbusUnit | undefined)[] = new Array<ModbusUnit | undefined>(256).fill(undefined);
  for (const m of meters) byUnit[m.unitId] = m;
  return (unitId) => byUnit[unitId];
}

/** Checks a farm spec before anything listens; returns every problem found. */
export function farmSpecProblems(spec: FarmSpec): string[] {
  const problems: string[] = [];
  const concentratorIds = new Set<string>();
  const meterIds = new Set<string>();
  const ports = new Set<number>();
  spec.concentrators.forEach((c, ci) => {
    const where = `concentrators[${ci}] (${c.id})`;
    if (concentratorIds.has(c.id)) problems.push(`${where}: duplicate concentrator id`);
    concentratorIds.add(c.id);
    if (c.port) {
      if (ports.has(c.port)) problems.push(`${where}: port ${c.port} used twice`);
      ports.add(c.port);
    }
    const units = new Set<number>();
    c.meters.forEach((m, mi) => {
      const at = `${where}.meters[${mi}] (${m.id})`;
      if (meterIds.has(m.id)) problems.push(`${at}: duplicate meter id`);
      meterIds.add(m.id);
      if (!Number.isInteger(m.unitId) || m.unitId < 1 || m.unitId > 247) {
        problems.push(`${at}: unit id ${m.unitId} outside 1..247`);
      }
      if (units.has(m.unitId)) problems.push(`${at}: unit id ${m.unitId} used twice on this concentrator`);
      units.add(m.unitId);
      if (m.kind && m.kind !== m.profile.kind) {
        problems.push(`${at}: kind ${m.kind} does not match profile ${m.profile.model} (${m.profile.kind})`);
      }
    });
  });
  return problems;
}

/**
 * Starts one TCP server per concentrator, each serving up to 247 simulated meters, all in this
 * process and on one clock.
 */
export async function startFarm(spec: FarmSpec): Promise<Farm> {
  const problems = farmSpecProblems(spec);
  if (problems.length > 0) throw new Error(`invalid farm spec:\n  ${problems.join('\n  ')}`);
  const counters: ServerCounters = { requests: 0 };
  const byId = new Map<string, SimMeter>();
  const servers: TcpModbusServer[] = [];
  const concentrators: { id: string; transport: TcpTransport; host: string; port: number }[] = [];
  let fieldLines: FieldLines | undefined;
  try {
    for (const c of spec.concentrators) {
      const meters = c.meters.map(
        (m) =>
          new SimMeter({
            ...m,
            clock: spec.clock,
            speed: spec.speed,
            startTime: spec.startTime,
          }),
      );
      for (const m of meters) byId.set(m.id, m);
      const server = await startTcpServer({
        transport: c.transport,
        port: c.port,
        host: spec.host,
        lookup: lookupOf(meters),
        counters,
      });
      servers.push(server);
      concentrators.push({ id: c.id, transport: c.transport, host: server.host, port: server.port });
    }
    fieldLines = await startFieldLines(spec.lines ?? [], spec);
    // Field meters' physics are SimMeters too: meter(id) and meters() cover them.
    for (const m of fieldLines.meters.values()) byId.set(m.id, m.physics);
  } catch (err) {
    await Promise.all(servers.map((s) => s.close()));
    throw err;
  }

  const meter = (id: string): SimMeter => {
    const m = byId.get(id);
    if (!m) throw new Error(`no simulated meter ${id}`);
    return m;
  };
  return {
    concentrators,
    meter,
    meters: () => [...byId.values()],
    lines: fieldLines.lines,
    fieldMeter: (id) => {
      const m = fieldLines.meters.get(id);
      if (!m) throw new Error(`no simulated DL/T 645 or CJ/T 188 meter ${id}`);
      return m;
    },
    setFault: (meterId, fault) => meter(meterId).setFault(fault),
    stats: () => ({ requests: counters.requests + fieldLines.requests() }),
    stop: async () => {
      await Promise.all([...servers.map((s) => s.close()), fieldLines.close()]);
    },
  };
}
