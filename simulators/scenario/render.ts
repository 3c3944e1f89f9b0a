import { loadProfiles, type ProfileRegistry } from '../../config/profiles.ts';
import type { Profile } from '../../config/schemas/profile.ts';
import { unitFactor, type Quantity } from '../../config/schemas/quantities.ts';
import type { ReadingWriter, StoredReading } from '../../services/metering/storage.ts';
import type { Fault } from '../modbus/faults.ts';
import {
  defaultPhases,
  gatewayDeviceTs,
  gatewayValues,
  meterStateOf,
  phaseShares,
  simulatedExponent,
  type ElectricalContext,
  type MeterState,
  type PhysicsState,
} from '../meters/sim-meter.ts';
import { ScenarioModel, type BalanceShape } from './model.ts';
import type { MeterRef, Scenario, ScenarioNode } from './schema.ts';

/**
 * Fast rendering of a scenario straight into storage: every meter's readings at a fixed step, as
 * the gateway would publish them (register values decoded from what the meter's registers hold,
 * seq per meter from 0, quality good; scheduled communication faults as error readings or lost
 * messages), plus the ground truth of every node and every metered node's balance per interval.
 */

export type Utility = ScenarioNode['utility'];

export interface RenderOptions {
  /** UTC ms of the first reading; not before the scenario start. */
  from: number;
  /** The last reading is at the last step not after `to`. */
  to: number;
  stepMs: number;
  writer: ReadingWriter;
  /** Readings per writeReadings call. */
  batch?: number;
  /** Default: the built-in profiles. */
  profiles?: ProfileRegistry;
  /** Overrides the scenario's physicsStep (e.g. 15 min for a year at 1 h). */
  physicsStep?: number;
  /** `intervals` (default): per-interval arrays; `totals`: only sums over the whole render. */
  truth?: 'intervals' | 'totals';
}

/** Energy (kWh, electricity and heat) or volume (m³, water) of one node. */
export interface NodeAmounts {
  /** Through the node's metering point (what an ideal meter there would register). */
  true: number;
  /** What its meter registered (0 without a meter). */
  registered: number;
  /** Its own technical loss (transformer, line, leakage). */
  loss: number;
  /** Unmetered taps attached to it. */
  tap: number;
  /** Illegal but metered use: a heater in a dorm room; heat used while registered stopped. */
  illegal: number;
}

export interface NodeTruth {
  id: string;
  utility: Utility;
  kind: ScenarioNode['kind'];
  meter?: string;
  parent?: string;
  /** Per interval k, [from + k·step, from + (k+1)·step); empty with `truth: 'totals'`. */
  intervals: Record<keyof NodeAmounts, Float64Array>;
  totals: NodeAmounts;
}

/**
 * The balance of a metered node against the next meters down. With exact registers:
 * Δreg(meter) = Σ Δreg(children) + loss + theft + unmetered − selfUnregistered.
 */
export interface BalanceAmounts {
  /** Technical loss of the node and the unmetered nodes between it and the child meters. */
  loss: number;
  /** Taps in between plus what the child meters failed to register (bypass, stopped, backwards ×2). */
  theft: number;
  /** Unmetered leaves in between (legitimate unmetered use). */
  unmetered: number;
  /** What the node's own meter failed to register (its own tamper). */
  selfUnregistered: number;
}

export interface BalanceTruth {
  node: string;
  meter: string;
  utility: Utility;
  children: { node: string; meter: string }[];
  intervals: Record<keyof BalanceAmounts, Float64Array>;
  totals: BalanceAmounts;
}

export interface RenderResult {
  from: number;
  stepMs: number;
  /** Number of intervals (readings per meter − 1). */
  intervals: number;
  /** Reading messages written (error readings included). */
  readings: number;
  nodes: Record<string, NodeTruth>;
  balances: BalanceTruth[];
}

const NODE_KEYS = ['true', 'registered', 'loss', 'tap', 'illegal'] as const;
const BALANCE_KEYS = ['loss', 'theft', 'unmetered', 'selfUnregistered'] as const;

/** The error a gateway publishes for a failed poll under a fault. */
export function faultError(fault: Fault, via: MeterRef['via']): { code: string; message: string } {
  if (via === 'opcua') return { code: 'OPCUA_TIMEOUT', message: 'simulated: no answer from the substation' };
  const code = {
    timeout: 'MODBUS_TIMEOUT',
    exception: 'MODBUS_EXCEPTION',
    garbage: 'MODBUS_GARBAGE',
    crc: 'MODBUS_CRC',
    disconnect: 'MODBUS_DISCONNECTED',
    slow: 'MODBUS_TIMEOUT',
    none: 'MODBUS_TIMEOUT',
  }[fault.type];
  return { code, message: `simulated ${fault.type} fault` };
}

interface RenderMeter {
  i: number;
  ref: MeterRef;
  site: string;
  gateway: string;
  kind: Utility;
  seq: number;
  profile?: Profile;
  ctx?: ElectricalContext & { offsetMs: number };
  decode?: (s: MeterState) => Partial<Record<Quantity, number>>;
}

/** Profile of every Modbus meter, checked against its node. */
export function scenarioProfiles(scenario: Scenario, profiles: ProfileRegistry): Map<string, Profile> {
  const out = new Map<string, Profile>();
  const problems: string[] = [];
  for (const n of scenario.nodes) {
    if (n.meter?.via !== 'modbus') continue;
    const p = profiles.get(n.meter.profile);
    if (!p) problems.push(`${n.id}: unknown profile ${n.meter.profile}`);
    else if (p.kind !== n.utility) problems.push(`${n.id}: profile ${n.meter.profile} is a ${p.kind} meter`);
    else out.set(n.meter.id, p);
  }
  if (problems.length > 0) throw new Error(`scenario ${scenario.name}:\n  ${problems.join('\n  ')}`);
  return out;
}

/** The values a substation element's OPC UA meter publishes. */
export function elementReadingValues(
  model: ScenarioModel,
  i: number,
  t: number,
): Partial<Record<Quantity, number>> {
  const v = model.elementValues(i, t);
  return {
    energy_import_kwh: v.energyImportKwh,
    power_kw: v.powerKw,
    current_a: v.currentA,
    voltage_v: v.voltageV,
    pf: v.pf,
    breaker_closed: v.breakerClosed ? 1 : 0,
  };
}

export async function renderScenario(scenario: Scenario, opts: RenderOptions): Promise<RenderResult> {
  const { from, stepMs, writer } = opts;
  if (from < scenario.start) throw new Error('render starts before the scenario');
  if (!(stepMs > 0) || opts.to < from) throw new Error('render needs stepMs > 0 and to ≥ from');
  const batchSize = opts.batch ?? 5000;
  const full = (opts.truth ?? 'intervals') === 'intervals';
  const model = new ScenarioModel(scenario, { physicsStep: opts.physicsStep });
  const byMeter = scenarioProfiles(scenario, opts.profiles ?? loadProfiles());
  const sites = new Map(scenario.sites.map((s) => [s.id, s]));
  const N = Math.floor((opts.to - from) / stepMs);

  const meters: RenderMeter[] = [];
  for (const m of model.nodes) {
    const ref = m.node.meter;
    if (!ref) continue;
    const rm: RenderMeter = {
      i: m.index,
      ref,
      site: m.node.site,
      gateway: sites.get(m.node.site)!.gateway,
      kind: m.node.utility,
      seq: 0,
    };
    if (ref.via === 'modbus') {
      const profile = byMeter.get(ref.id)!;
      const phases = defaultPhases(profile);
      rm.profile = profile;
      rm.decode = gatewayValues(profile);
      rm.ctx = {
        kind: profile.kind,
        seed: m.seed,
        phases,
        phaseShare: phaseShares(m.seed, phases),
        offsetMs: model.offsetMs,
      };
    }
    meters.push(rm);
  }

  const n = model.nodes.length;
  const acc = [model.accTrue, model.accReg, model.accLoss, model.accTap, model.accIllegal] as const;
  const prev = acc.map(() => new Float64Array(n));
  const first = acc.map(() => new Float64Array(n));
  const perNode = NODE_KEYS.map(() => model.nodes.map(() => new Float64Array(full ? N : 0)));

  let batch: StoredReading[] = [];
  let written = 0;
  // Scratch state, reused for every reading: only the readings themselves are allocated.
  const physics = {} as PhysicsState;
  const state = {} as MeterState;
  for (let k = 0; k <= N; k++) {
    const t = from + k * stepMs;
    model.advanceTo(t);
    for (let a = 0; a < acc.length; a++) {
      const cur = acc[a]!;
      if (k === 0) first[a]!.set(cur);
      else if (full) for (let i = 0; i < n; i++) perNode[a]![i]![k - 1] = cur[i]! - prev[a]![i]!;
      prev[a]!.set(cur);
    }
    for (const m of meters) {
      const seq = m.seq++;
      const fault = model.faultAt(m.i, t);
      const meter = m.ref.id;
      let r: StoredReading;
      if (fault && fault.fault.type !== 'slow' && fault.fault.type !== 'none') {
        if (fault.render === 'missing') continue;
        const error = faultError(fault.fault, m.ref.via);
        r = {
          meter,
          ts: t,
          seq,
          quality: 'error',
          values: {},
          error,
          site: m.site,
          gateway: m.gateway,
          kind: m.kind,
        };
      } else if (m.ref.via === 'opcua') {
        const values = elementReadingValues(model, m.i, t);
        r = { meter, ts: t, seq, quality: 'good', values, site: m.site, gateway: m.gateway, kind: m.kind };
      } else {
        const values = m.decode!(meterStateOf(m.ctx!, t, model.physicsState(m.i, t, physics), state));
        r = { meter, ts: t, seq, quality: 'good', values, site: m.site, gateway: m.gateway, kind: m.kind };
        if (m.profile!.deviceTime) r.deviceTs = gatewayDeviceTs(m.profile!, t);
      }
      batch.push(r);
      if (batch.length >= batchSize) {
        await writer.writeReadings(batch);
        written += batch.length;
        batch = [];
      }
    }
  }
  if (batch.length > 0) {
    await writer.writeReadings(batch);
    written += batch.length;
  }

  const nodes: Record<string, NodeTruth> = {};
  for (const m of model.nodes) {
    const totals = {} as NodeAmounts;
    const intervals = {} as Record<keyof NodeAmounts, Float64Array>;
    NODE_KEYS.forEach((key, a) => {
      totals[key] = prev[a]![m.index]! - first[a]![m.index]!;
      intervals[key] = perNode[a]![m.index]!;
    });
    if (!m.node.meter) totals.registered = 0;
    nodes[m.id] = {
      id: m.id,
      utility: m.node.utility,
      kind: m.node.kind,
      ...(m.node.meter ? { meter: m.node.meter.id } : {}),
      ...(m.node.parent === undefined ? {} : { parent: m.node.parent }),
      intervals,
      totals,
    };
  }
  const balances = model.balances().map((b) => balanceTruth(model, b, nodes, full ? N : 0));
  return { from, stepMs, intervals: N, readings: written, nodes, balances };
}

function balanceTruth(
  model: ScenarioModel,
  b: BalanceShape,
  nodes: Record<string, NodeTruth>,
  N: number,
): BalanceTruth {
  const truthOf = (i: number) => nodes[model.nodes[i]!.id]!;
  const amounts = (pick: (x: NodeTruth) => (key: keyof NodeAmounts) => number): BalanceAmounts => {
    const sum = (list: readonly number[], f: (x: NodeTruth) => number) =>
      list.reduce((s, i) => s + f(truthOf(i)), 0);
    return {
      loss: sum(b.between, (x) => pick(x)('loss')),
      theft:
        sum(b.between, (x) => pick(x)('tap')) +
        sum(b.children, (x) => pick(x)('true') - pick(x)('registered')),
      unmetered: sum(b.unmeteredLeaves, (x) => pick(x)('true')),
      selfUnregistered: pick(truthOf(b.node))('true') - pick(truthOf(b.node))('registered'),
    };
  };
  const intervals = Object.fromEntries(BALANCE_KEYS.map((k) => [k, new Float64Array(N)])) as Record<
    keyof BalanceAmounts,
    Float64Array
  >;
  for (let k = 0; k < N; k++) {
    const a = amounts((x) => (key) => x.intervals[key][k]!);
    for (const key of BALANCE_KEYS) intervals[key][k] = a[key];
  }
  const node = model.nodes[b.node]!;
  return {
    node: node.id,
    meter: node.node.meter!.id,
    utility: node.node.utility,
    children: b.children.map((c) => ({ node: model.nodes[c]!.id, meter: model.nodes[c]!.node.meter!.id })),
    intervals,
    totals: amounts((x) => (key) => x.totals[key]),
  };
}

/**
 * The resolution of a counter reading of `value` from a meter: one step of an integer register,
 * the float32 spacing at that magnitude, or the OPC UA element's register resolution. Balances
 * from truncated registers are exact to one such step per meter.
 */
export function counterResolution(
  ref: MeterRef,
  profile: Profile | undefined,
  quantity: Quantity,
  value: number,
): number {
  if (ref.via === 'opcua') return ref.resolutionKwh;
  const p = profile?.points.find((x) => x.quantity === quantity);
  if (!p) return 0;
  const step = p.scale * unitFactor(p.unit, p.quantity)! * 10 ** simulatedExponent(p);
  if (p.type !== 'f32' && p.type !== 'f64') return step;
  const raw = Math.abs(value / step);
  return raw === 0 ? 0 : 2 ** (Math.floor(Math.log2(raw)) - (p.type === 'f32' ? 23 : 52)) * step;
}
