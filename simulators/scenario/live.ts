import { join } from 'node:path';
import type { z } from 'zod';
import { loadProfiles, type ProfileRegistry } from '../../config/profiles.ts';
import type { CampusSchema } from '../../config/schemas/campus.ts';
import type { Quantity } from '../../config/schemas/quantities.ts';
import { lookupOf } from '../farm.ts';
import type { ServerCounters } from '../modbus/dispatch.ts';
import { startTcpServer, type TcpModbusServer, type TcpTransport } from '../modbus/tcp-server.ts';
import { SimMeter, type MeterPhysics } from '../meters/sim-meter.ts';
import { ScenarioModel, type ElementValues } from './model.ts';
import { scenarioProfiles } from './render.ts';
import type { Scenario, ScenarioNode } from './schema.ts';

/**
 * The scenario served live: a campus config for the gateway (Modbus buses for building and room
 * meters, one OPC UA device per substation), Modbus devices whose physics comes from one shared
 * scenario model (so upstream meters equal the sum below plus losses and theft, live as in the
 * fast render), and the values function each substation server needs.
 */

type RawCampus = z.input<typeof CampusSchema>;
type RawGateway = NonNullable<RawCampus['sites'][number]['gateways']>[number];
type RawBus = NonNullable<RawGateway['buses']>[number];
type RawMeter = NonNullable<RawBus['meters']>[number];
type RawOpcuaDevice = NonNullable<RawGateway['opcua']>[number];

/** The quantities every substation element publishes, as OPC UA variables. */
export const ELEMENT_QUANTITIES = [
  'energy_import_kwh',
  'power_kw',
  'current_a',
  'voltage_v',
  'pf',
  'breaker_closed',
] as const satisfies readonly Quantity[];

export function elementNodeId(substation: string, element: string, quantity: Quantity): string {
  return `ns=1;s=${substation}.${element}.${quantity}`;
}

export interface ScenarioBus {
  site: string;
  id: string;
  type: TcpTransport;
}

/** Every Modbus bus of the scenario, in the order `ports` are given to campusFromScenario. */
export function scenarioBuses(scenario: Scenario): ScenarioBus[] {
  return scenario.sites.flatMap((s) => s.buses.map((b) => ({ site: s.id, id: b.id, type: b.type })));
}

export interface SubstationElementSpec {
  id: string;
  kind: 'transformer' | 'feeder';
  name?: string;
  /** The scenario node the element's meter measures. */
  node: string;
  meter: string;
}

/** The elements of a substation server (the incomer counts as a feeder). */
export function substationElements(scenario: Scenario, substation: string): SubstationElementSpec[] {
  const out: SubstationElementSpec[] = [];
  for (const n of scenario.nodes) {
    const m = n.meter;
    if (m?.via !== 'opcua' || m.substation !== substation) continue;
    out.push({
      id: m.element,
      kind: n.kind === 'transformer' ? 'transformer' : 'feeder',
      ...(n.name ? { name: n.name } : {}),
      node: n.id,
      meter: m.id,
    });
  }
  return out;
}

export interface CampusFromScenarioOptions {
  /** One TCP port per bus, in the order of scenarioBuses(). */
  ports: readonly number[];
  dataDir: string;
  host?: string;
  /** opc.tcp endpoint per substation id; a substation without one is left out of the campus. */
  substationEndpoints?: Readonly<Record<string, string>>;
  opcuaSecurity?: { mode: 'None' | 'Sign' | 'SignAndEncrypt'; policy: RawOpcuaDevice['securityPolicy'] };
  pollInterval?: string;
}

/** A raw campus config (validate it with validateCampus) that reads the scenario's meters. */
export function campusFromScenario(scenario: Scenario, opts: CampusFromScenarioOptions): RawCampus {
  const buses = scenarioBuses(scenario);
  if (opts.ports.length < buses.length) throw new Error(`the scenario needs ${buses.length} ports`);
  const poll = opts.pollInterval ?? '10s';
  const endpoints = opts.substationEndpoints ?? {};
  const byId = new Map(scenario.nodes.map((n) => [n.id, n]));
  const served = (n: ScenarioNode): boolean =>
    n.meter !== undefined && (n.meter.via === 'modbus' || endpoints[n.meter.substation] !== undefined);
  // The campus metering tree links meters: the nearest served meter upstream.
  const parentMeter = (n: ScenarioNode): string | undefined => {
    let p = n.parent === undefined ? undefined : byId.get(n.parent);
    while (p && !served(p)) p = p.parent === undefined ? undefined : byId.get(p.parent);
    return p?.meter?.id;
  };
  const common = (n: ScenarioNode) => {
    const parent = parentMeter(n);
    return {
      kind: n.utility,
      pollInterval: poll,
      ...(parent ? { parent } : {}),
      ...(n.name ? { name: n.name } : {}),
    };
  };

  return {
    campus: { name: scenario.name, timezone: scenario.timezone },
    dataDir: opts.dataDir,
    sites: scenario.sites.map((site) => {
      const rawBuses: RawBus[] = site.buses.map((b) => {
        const port = opts.ports[buses.findIndex((x) => x.site === site.id && x.id === b.id)]!;
        const meters: RawMeter[] = scenario.nodes
          .filter((n) => n.site === site.id && n.meter?.via === 'modbus' && n.meter.bus === b.id)
          .map((n) => {
            const m = n.meter as Extract<ScenarioNode['meter'], { via: 'modbus' }>;
            return {
              id: m.id,
              profile: m.profile,
              unitId: m.unitId,
              ...common(n),
              ...(m.pollInterval ? { pollInterval: m.pollInterval } : {}),
              ...(m.account ? { account: m.account } : {}),
            };
          });
        const host = opts.host ?? '127.0.0.1';
        return b.type === 'modbus-tcp'
          ? { id: b.id, type: 'modbus-tcp', host, port, meters }
          : { id: b.id, type: 'rtu-over-tcp', host, port, timeout: '300ms', meters };
      });
      const opcua: RawOpcuaDevice[] = site.substations
        .filter((sub) => endpoints[sub.id] !== undefined)
        .map((sub) => ({
          id: sub.id,
          endpoint: endpoints[sub.id]!,
          ...(opts.opcuaSecurity
            ? { securityMode: opts.opcuaSecurity.mode, securityPolicy: opts.opcuaSecurity.policy }
            : {}),
          meters: substationElements(scenario, sub.id).map((el) => ({
            id: el.meter,
            ...common(byId.get(el.node)!),
            kind: 'electricity' as const,
            nodes: Object.fromEntries(ELEMENT_QUANTITIES.map((q) => [q, elementNodeId(sub.id, el.id, q)])),
          })),
        }));
      return {
        id: site.id,
        ...(site.name ? { name: site.name } : {}),
        gateways: [{ id: site.gateway, healthInterval: '10s', buses: rawBuses, opcua }],
      };
    }),
  };
}

export interface ScenarioRuntimeOptions {
  /** Wall clock in ms (default Date.now). */
  clock?: () => number;
  /** Simulated ms per clock ms. */
  speed?: number;
  /** Simulated time at the clock's first reading; default the scenario start. */
  startTime?: number;
  physicsStep?: number;
  profiles?: ProfileRegistry;
}

/** One live model of a scenario and what serves it: Modbus devices and substation values. */
export class ScenarioRuntime {
  readonly model: ScenarioModel;
  private readonly clock: () => number;
  private readonly clock0: number;
  private readonly speed: number;
  private readonly start: number;
  private readonly profiles: ProfileRegistry;

  constructor(
    readonly scenario: Scenario,
    opts: ScenarioRuntimeOptions = {},
  ) {
    this.model = new ScenarioModel(scenario, { physicsStep: opts.physicsStep });
    this.clock = opts.clock ?? Date.now;
    this.clock0 = this.clock();
    this.speed = opts.speed ?? 1;
    this.start = opts.startTime ?? scenario.start;
    if (this.start < scenario.start) throw new Error('live time starts before the scenario');
    this.profiles = opts.profiles ?? loadProfiles();
  }

  /** Simulated time now. */
  now(): number {
    return this.start + (this.clock() - this.clock0) * this.speed;
  }

  /** The physics of a node's meter, for a SimMeter. */
  physics(nodeId: string): MeterPhysics {
    const model = this.model;
    const i = model.index(nodeId);
    return {
      at: (t) => {
        model.advanceTo(t);
        return model.physicsState(i, t);
      },
      setRelay: (closed, t) => model.setRelay(i, closed, t),
      faultAt: (t) => model.faultAt(i, t)?.fault,
    };
  }

  /** A Modbus device for every Modbus meter of the scenario, grouped by bus id. */
  devices(): Map<string, SimMeter[]> {
    const profiles = scenarioProfiles(this.scenario, this.profiles);
    const out = new Map<string, SimMeter[]>();
    for (const m of this.model.nodes) {
      const ref = m.node.meter;
      if (ref?.via !== 'modbus') continue;
      const meter = new SimMeter({
        id: ref.id,
        profile: profiles.get(ref.id)!,
        load: m.node.load ?? 'office',
        seed: m.seed,
        unitId: ref.unitId,
        // The device's clock is the runtime's simulated time, so both agree exactly.
        clock: () => this.now(),
        utcOffsetMinutes: this.scenario.utcOffsetMinutes,
        physics: this.physics(m.id),
      });
      const key = `${m.node.site}/${ref.bus}`;
      out.set(key, [...(out.get(key) ?? []), meter]);
    }
    return out;
  }

  /** The values function of a substation server: element id → its values now. */
  substationValues(substation: string): (elementId: string) => ElementValues {
    const byElement = new Map(
      substationElements(this.scenario, substation).map((e) => [e.id, this.model.index(e.node)]),
    );
    return (elementId) => {
      const i = byElement.get(elementId);
      if (i === undefined) throw new Error(`substation ${substation} has no element ${elementId}`);
      const t = this.now();
      this.model.advanceTo(t);
      return this.model.elementValues(i, t);
    };
  }
}

/** What startScenario needs from a substation server (simulators/substation/server.ts). */
export type StartSubstation = (opts: {
  id: string;
  host?: string;
  port?: number;
  elements: { id: string; kind: 'transformer' | 'feeder'; name?: string }[];
  values: (elementId: string) => ElementValues;
  pkiDir: string;
}) => Promise<{ endpoint: string; stop(): Promise<void> }>;

export interface StartScenarioOptions extends ScenarioRuntimeOptions {
  dataDir: string;
  host?: string;
  /** Starts one substation server; without it, substations are left out of the campus. */
  startSubstation?: StartSubstation;
  /** Each substation's PKI goes to <pkiDir>/<substation>-pki; default pkiDir: dataDir. */
  pkiDir?: string;
  opcuaSecurity?: CampusFromScenarioOptions['opcuaSecurity'];
  pollInterval?: string;
}

export interface RunningScenario {
  readonly runtime: ScenarioRuntime;
  /** The campus config reading this scenario (validate with validateCampus). */
  readonly campus: RawCampus;
  readonly buses: readonly (ScenarioBus & { host: string; port: number })[];
  meter(id: string): SimMeter;
  stop(): Promise<void>;
}

/**
 * Starts the scenario live: one Modbus TCP server per bus on a free port, and (with
 * `startSubstation`) one OPC UA server per substation, all fed by one model.
 */
export async function startScenario(
  scenario: Scenario,
  opts: StartScenarioOptions,
): Promise<RunningScenario> {
  const runtime = new ScenarioRuntime(scenario, opts);
  const devices = runtime.devices();
  const counters: ServerCounters = { requests: 0 };
  const servers: TcpModbusServer[] = [];
  const stops: (() => Promise<void>)[] = [];
  const buses: (ScenarioBus & { host: string; port: number })[] = [];
  const endpoints: Record<string, string> = {};
  const meters = new Map<string, SimMeter>();
  try {
    for (const bus of scenarioBuses(scenario)) {
      const list = devices.get(`${bus.site}/${bus.id}`) ?? [];
      for (const m of list) meters.set(m.id, m);
      const server = await startTcpServer({
        transport: bus.type,
        port: 0,
        host: opts.host,
        lookup: lookupOf(list),
        counters,
      });
      servers.push(server);
      stops.push(() => server.close());
      buses.push({ ...bus, host: server.host, port: server.port });
    }
    if (opts.startSubstation) {
      for (const site of scenario.sites) {
        for (const sub of site.substations) {
          const elements = substationElements(scenario, sub.id).map(({ id, kind, name }) => ({
            id,
            kind,
            ...(name ? { name } : {}),
          }));
          const server = await opts.startSubstation({
            id: sub.id,
            host: opts.host,
            port: 0,
            elements,
            values: runtime.substationValues(sub.id),
            pkiDir: join(opts.pkiDir ?? opts.dataDir, `${sub.id}-pki`),
          });
          stops.push(() => server.stop());
          endpoints[sub.id] = server.endpoint;
        }
      }
    }
  } catch (err) {
    await Promise.all(stops.map((s) => s()));
    throw err;
  }
  const campus = campusFromScenario(scenario, {
    ports: buses.map((b) => b.port),
    dataDir: opts.dataDir,
    host: opts.host,
    substationEndpoints: endpoints,
    opcuaSecurity: opts.opcuaSecurity,
    pollInterval: opts.pollInterval,
  });
  return {
    runtime,
    campus,
    buses,
    meter: (id) => {
      const m = meters.get(id);
      if (!m) throw new Error(`no simulated meter ${id}`);
      return m;
    },
    stop: async () => {
      await Promise.all(stops.map((s) => s()));
    },
  };
}
