import type { Fault } from '../modbus/faults.ts';
import { seedOf } from '../from-campus.ts';
import {
  MINUTE,
  dayInfo,
  electricPowerKw,
  heatSample,
  powerFactor,
  voltageV,
  waterFlowM3h,
  type Day,
} from '../meters/load-profiles.ts';
import { hash32 } from '../meters/random.ts';
import { WATER_KWH_PER_M3K, initialRegisters, type PhysicsState } from '../meters/sim-meter.ts';
import type { Injection, Scenario, ScenarioNode, TimeWindow } from './schema.ts';

/**
 * The physics of a scenario, deterministic in (scenario, time). Loads are piecewise constant over
 * `physicsStep` (one minute by default, like SimMeter), sampled at the middle minute of each step.
 * Per step, leaves take their load profile (plus an illegal heater), and every upstream node
 * carries the sum of its children plus unmetered taps plus its own technical loss:
 *
 *   P_in = Σ P_children + P_taps + P_loss,  P_loss = P0 + Pk · (S_out / S_rated)²
 *
 * Counters integrate these exactly. A meter registers ∫ P · f dt, where f is 1, a bypass factor,
 * 0 (stopped) or −1 (running backwards). Water works the same in m³ (leakage is its loss); heat
 * meters are leaves (flow × ΔT × 1.163 kWh/(m³·K)).
 *
 * Units: electricity kW / kWh, water m³/h / m³, heat kW / kWh.
 */

const H = 3_600_000;
/** Reactive share of an unmetered tap (pf 0.95). */
const TAP_TAN_PHI = Math.tan(Math.acos(0.95));

export interface ModelNode {
  readonly index: number;
  readonly id: string;
  readonly node: ScenarioNode;
  /** -1 for a root. */
  readonly parent: number;
  readonly children: readonly number[];
  readonly leaf: boolean;
  readonly seed: number;
}

/** For one metered node: what lies between its meter and the next meters down. */
export interface BalanceShape {
  /** The metered node. */
  readonly node: number;
  /** The node itself and the unmetered nodes below it down to the next meters (losses, taps). */
  readonly between: readonly number[];
  /** The nearest metered descendants. */
  readonly children: readonly number[];
  /** Unmetered leaves below (legitimate unmetered consumption). */
  readonly unmeteredLeaves: readonly number[];
}

interface Factor extends TimeWindow {
  factor: number;
}
interface Step extends TimeWindow {
  rate: number;
  q: number;
}
interface FaultWindow extends TimeWindow {
  fault: Fault;
  render: 'error' | 'missing';
}

/** What a substation element shows: the values a substation server publishes for it. */
export interface ElementValues {
  energyImportKwh: number;
  powerKw: number;
  currentA: number;
  voltageV: number;
  pf: number;
  breakerClosed: boolean;
}

const inside = (ws: readonly TimeWindow[], t: number): boolean => {
  for (const w of ws) if (t >= w.from && t < w.to) return true;
  return false;
};

/** A node's seed: its own, or one derived from the scenario seed and its id. */
export function nodeSeed(scenario: Scenario, node: ScenarioNode): number {
  return node.seed === undefined ? hash32(scenario.seed, seedOf(node.id)) : node.seed >>> 0;
}

export class ScenarioModel {
  readonly scenario: Scenario;
  readonly nodes: readonly ModelNode[];
  readonly step: number;
  readonly offsetMs: number;
  /** Start of the step being integrated; counters hold their values at this time. */
  segStart: number;

  // Rates of the current step, per node.
  readonly rate: Float64Array;
  readonly react: Float64Array;
  readonly loss: Float64Array;
  readonly tap: Float64Array;
  readonly illegal: Float64Array;
  /** Heat: water flow m³/h (water: same as rate). */
  readonly flow: Float64Array;
  readonly supplyC: Float64Array;
  readonly returnC: Float64Array;
  readonly factor: Float64Array;
  /** The node's own relay/breaker/valve. */
  readonly closed: Uint8Array;
  readonly energized: Uint8Array;

  // Integrals since the start.
  readonly accTrue: Float64Array;
  readonly accReg: Float64Array;
  readonly accLoss: Float64Array;
  readonly accTap: Float64Array;
  readonly accIllegal: Float64Array;
  readonly accVolReg: Float64Array;
  /** Initial register: energy (electricity, heat) or volume (water). */
  readonly reg0: Float64Array;
  /** Heat: initial volume register. */
  readonly vol0: Float64Array;
  readonly export0: Float64Array;

  private readonly byId = new Map<string, number>();
  private readonly post: Int32Array;
  private readonly pre: Int32Array;
  private readonly cuts: TimeWindow[][];
  private readonly stopped: TimeWindow[][];
  private readonly illegalHeating: TimeWindow[][];
  private readonly factors: Factor[][];
  private readonly heaters: Step[][];
  private readonly taps: Step[][];
  private readonly faults: FaultWindow[][];
  private readonly override: Int8Array;
  private segValid = false;
  private dayIndex = Number.NaN;
  private days: { normal: Day; season: Day; off: Day } | undefined;

  constructor(scenario: Scenario, opts: { physicsStep?: number } = {}) {
    this.scenario = scenario;
    this.step = opts.physicsStep ?? scenario.physicsStep;
    if (!(this.step > 0 && this.step % MINUTE === 0)) throw new Error('physicsStep must be whole minutes');
    this.offsetMs = scenario.utcOffsetMinutes * MINUTE;
    scenario.nodes.forEach((n, i) => this.byId.set(n.id, i));
    const children: number[][] = scenario.nodes.map(() => []);
    scenario.nodes.forEach((n, i) => {
      if (n.parent !== undefined) children[this.byId.get(n.parent)!]!.push(i);
    });
    this.nodes = scenario.nodes.map((n, i) => ({
      index: i,
      id: n.id,
      node: n,
      parent: n.parent === undefined ? -1 : this.byId.get(n.parent)!,
      children: children[i]!,
      leaf: children[i]!.length === 0,
      seed: nodeSeed(scenario, n),
    }));
    const post: number[] = [];
    const visit = (i: number): void => {
      for (const c of children[i]!) visit(c);
      post.push(i);
    };
    this.nodes.forEach((n) => n.parent < 0 && visit(n.index));
    this.post = Int32Array.from(post);
    this.pre = Int32Array.from(post.reverse());

    const n = this.nodes.length;
    const f64 = () => new Float64Array(n);
    this.rate = f64();
    this.react = f64();
    this.loss = f64();
    this.tap = f64();
    this.illegal = f64();
    this.flow = f64();
    this.supplyC = f64();
    this.returnC = f64();
    this.factor = f64().fill(1);
    this.closed = new Uint8Array(n).fill(1);
    this.energized = new Uint8Array(n).fill(1);
    this.accTrue = f64();
    this.accReg = f64();
    this.accLoss = f64();
    this.accTap = f64();
    this.accIllegal = f64();
    this.accVolReg = f64();
    this.reg0 = f64();
    this.vol0 = f64();
    this.export0 = f64();
    this.override = new Int8Array(n).fill(-1);
    for (const m of this.nodes) {
      const init = initialRegisters(m.seed);
      const u = m.node.utility;
      this.reg0[m.index] =
        u === 'electricity' ? init.energyImportKwh : u === 'water' ? init.volumeM3 : init.heatKwh;
      this.vol0[m.index] = init.volumeM3;
      this.export0[m.index] = init.energyExportKwh;
    }

    this.cuts = scenario.nodes.map((x) => x.cut);
    this.stopped = scenario.nodes.map((x) => x.heatingStopped);
    this.illegalHeating = scenario.nodes.map(() => []);
    this.factors = scenario.nodes.map(() => []);
    this.heaters = scenario.nodes.map(() => []);
    this.taps = scenario.nodes.map(() => []);
    this.faults = scenario.nodes.map(() => []);
    for (const inj of scenario.injections) this.addInjection(inj);
    this.segStart = scenario.start;
  }

  private addInjection(inj: Injection): void {
    const i = this.index(inj.node);
    const w = { from: inj.from, to: inj.to };
    switch (inj.type) {
      case 'bypass':
        return void this.factors[i]!.push({ ...w, factor: inj.factor });
      case 'meter-stopped':
        return void this.factors[i]!.push({ ...w, factor: 0 });
      case 'meter-backwards':
        return void this.factors[i]!.push({ ...w, factor: -1 });
      case 'tap': {
        const rate = inj.kw ?? inj.m3h ?? 0;
        return void this.taps[i]!.push({ ...w, rate, q: inj.kw === undefined ? 0 : rate * TAP_TAN_PHI });
      }
      case 'heater':
        return void this.heaters[i]!.push({ ...w, rate: inj.kw, q: inj.kw * Math.tan(Math.acos(inj.pf)) });
      case 'heating-while-stopped':
        return void this.illegalHeating[i]!.push(w);
      case 'comm-fault':
        return void this.faults[i]!.push({ ...w, fault: inj.fault, render: inj.render });
    }
  }

  index(id: string): number {
    const i = this.byId.get(id);
    if (i === undefined) throw new Error(`scenario has no node ${id}`);
    return i;
  }

  /** Shapes of every metered node's balance (nodes with meters or unmetered leaves below). */
  balances(): BalanceShape[] {
    const out: BalanceShape[] = [];
    for (const m of this.nodes) {
      if (!m.node.meter || m.leaf) continue;
      const between = [m.index];
      const children: number[] = [];
      const unmeteredLeaves: number[] = [];
      const walk = (i: number): void => {
        for (const c of this.nodes[i]!.children) {
          const cn = this.nodes[c]!;
          if (cn.node.meter) children.push(c);
          else if (cn.leaf) unmeteredLeaves.push(c);
          else {
            between.push(c);
            walk(c);
          }
        }
      };
      walk(m.index);
      out.push({ node: m.index, between, children, unmeteredLeaves });
    }
    return out;
  }

  private boundaryAfter(t: number): number {
    return (Math.floor(t / this.step) + 1) * this.step;
  }

  /** Integrates up to `t` (never backwards) and leaves the rates of the step containing `t` current. */
  advanceTo(t: number): void {
    for (;;) {
      const end = this.boundaryAfter(this.segStart);
      if (!this.segValid) {
        this.computeRates(this.segStart, end);
        this.segValid = true;
      }
      if (end > t) return;
      this.accumulate(end - this.segStart);
      this.segStart = end;
      this.segValid = false;
    }
  }

  /** Switches a node's relay (breaker, valve) at `t`: it and everything below draw nothing while open. */
  setRelay(i: number, closed: boolean, t: number): void {
    this.advanceTo(t);
    if (t > this.segStart) {
      this.accumulate(t - this.segStart);
      this.segStart = t;
    }
    this.override[i] = closed ? 1 : 0;
    this.segValid = false;
  }

  /** The scheduled communication fault of a node's meter at `t`, if any. */
  faultAt(i: number, t: number): FaultWindow | undefined {
    for (const w of this.faults[i]!) if (t >= w.from && t < w.to) return w;
    return undefined;
  }

  private dayAt(localMinute: number): { normal: Day; season: Day; off: Day } {
    const index = Math.floor(localMinute / 1440);
    if (index !== this.dayIndex || !this.days) {
      // One weather for the whole campus: the scenario seed, not each consumer's.
      const normal = dayInfo(index, this.scenario.seed);
      this.days = {
        normal,
        season: { ...normal, heatingSeason: true },
        off: { ...normal, heatingSeason: false },
      };
      this.dayIndex = index;
    }
    return this.days;
  }

  private computeRates(t0: number, end: number): void {
    const localMinute = Math.floor((t0 + Math.floor((end - t0) / 2) + this.offsetMs) / MINUTE);
    const days = this.dayAt(localMinute);
    const day = days.normal;
    const nodes = this.nodes;
    const { rate, react, loss, tap, illegal, flow, factor, closed, energized } = this;

    for (let k = 0; k < this.pre.length; k++) {
      const i = this.pre[k]!;
      const o = this.override[i]!;
      const own = o >= 0 ? o === 1 : this.cuts[i]!.length === 0 || !inside(this.cuts[i]!, t0);
      closed[i] = own ? 1 : 0;
      const p = nodes[i]!.parent;
      energized[i] = own && (p < 0 || energized[p] === 1) ? 1 : 0;
      let f = 1;
      for (const w of this.factors[i]!) if (t0 >= w.from && t0 < w.to) f *= w.factor;
      factor[i] = f;
    }

    for (let k = 0; k < this.post.length; k++) {
      const i = this.post[k]!;
      const m = nodes[i]!;
      const n = m.node;
      rate[i] = react[i] = loss[i] = tap[i] = illegal[i] = flow[i] = 0;
      const on = energized[i] === 1;
      if (n.utility === 'heat') {
        const registeredStopped = n.heatingStopped.length > 0 && inside(this.stopped[i]!, t0);
        const illegalOn = inside(this.illegalHeating[i]!, t0);
        const d = registeredStopped && !illegalOn ? days.off : illegalOn ? days.season : day;
        const h = heatSample(n.load!, m.seed, d, localMinute);
        this.supplyC[i] = h.supplyC;
        this.returnC[i] = h.returnC;
        if (!on || (registeredStopped && !illegalOn)) continue;
        flow[i] = h.flowM3h * n.scale;
        rate[i] = flow[i]! * (h.supplyC - h.returnC) * WATER_KWH_PER_M3K;
        if (registeredStopped) illegal[i] = rate[i]!;
        continue;
      }
      if (!on) continue;
      if (m.leaf) {
        if (n.utility === 'water') {
          rate[i] = flow[i] = n.scale * waterFlowM3h(n.load!, m.seed, day, localMinute);
          continue;
        }
        let p = n.scale * electricPowerKw(n.load!, m.seed, day, localMinute);
        const pf = powerFactor(n.load!, m.seed, localMinute);
        let q = (p * Math.sqrt(1 - pf * pf)) / pf;
        for (const h of this.heaters[i]!) {
          if (t0 >= h.from && t0 < h.to) {
            p += h.rate;
            q += h.q;
            illegal[i] = illegal[i]! + h.rate;
          }
        }
        rate[i] = p;
        react[i] = q;
        continue;
      }
      let p = 0;
      let q = 0;
      for (const c of m.children) {
        p += rate[c]!;
        q += react[c]!;
      }
      let t = 0;
      let tq = 0;
      for (const w of this.taps[i]!) {
        if (t0 >= w.from && t0 < w.to) {
          t += w.rate;
          tq += w.q;
        }
      }
      p += t;
      q += tq;
      tap[i] = t;
      let l = 0;
      if (n.utility === 'water') l = (n.leakShare ?? 0) * p;
      else if (n.loss)
        l = n.loss.noLoadKw + (n.loss.loadLossKw * (p * p + q * q)) / (n.loss.ratedKva * n.loss.ratedKva);
      loss[i] = l;
      rate[i] = p + l;
      react[i] = q;
      if (n.utility === 'water') flow[i] = rate[i]!;
    }
  }

  private accumulate(ms: number): void {
    const h = ms / H;
    const {
      rate,
      loss,
      tap,
      illegal,
      flow,
      factor,
      accTrue,
      accReg,
      accLoss,
      accTap,
      accIllegal,
      accVolReg,
    } = this;
    for (let i = 0; i < rate.length; i++) {
      const r = rate[i]!;
      const f = factor[i]!;
      accTrue[i] = accTrue[i]! + r * h;
      accReg[i] = accReg[i]! + r * f * h;
      accLoss[i] = accLoss[i]! + loss[i]! * h;
      accTap[i] = accTap[i]! + tap[i]! * h;
      accIllegal[i] = accIllegal[i]! + illegal[i]! * h;
      accVolReg[i] = accVolReg[i]! + flow[i]! * f * h;
    }
  }

  /**
   * What node `i`'s meter holds at `t` (≥ the current step's start; call advanceTo(t) first), as
   * the meter itself measures it: registered counters, registered power, the true power factor.
   */
  physicsState(i: number, t: number, out?: PhysicsState): PhysicsState {
    const frac = Math.max(0, t - this.segStart) / H;
    const f = this.factor[i]!;
    const r = this.rate[i]!;
    const reg = this.reg0[i]! + this.accReg[i]! + r * f * frac;
    const utility = this.nodes[i]!.node.utility;
    const q = this.react[i]!;
    const s = out ?? ({} as PhysicsState);
    s.relayClosed = this.closed[i] === 1;
    s.energyImportKwh = 0;
    s.energyExportKwh = this.export0[i]!;
    s.powerKw = 0;
    s.pf = 1;
    s.volumeM3 = 0;
    s.flowM3h = 0;
    s.heatKwh = 0;
    s.supplyC = 0;
    s.returnC = 0;
    if (utility === 'electricity') {
      s.energyImportKwh = reg;
      s.powerKw = r * f;
      s.pf = r > 0 ? r / Math.sqrt(r * r + q * q) : 1;
    } else if (utility === 'water') {
      s.volumeM3 = reg;
      s.flowM3h = r * Math.abs(f);
    } else {
      s.heatKwh = reg;
      s.volumeM3 = this.vol0[i]! + this.accVolReg[i]! + this.flow[i]! * f * frac;
      s.flowM3h = this.flow[i]! * Math.abs(f);
      s.supplyC = this.supplyC[i]!;
      s.returnC = this.returnC[i]!;
    }
    return s;
  }

  /** What a substation server shows for node `i`'s element at `t` (call advanceTo(t) first). */
  elementValues(i: number, t: number): ElementValues {
    const m = this.nodes[i]!;
    const ref = m.node.meter;
    const s = this.physicsState(i, t);
    const resolution = ref?.via === 'opcua' ? ref.resolutionKwh : 0.01;
    const nominal =
      (ref?.via === 'opcua' ? ref.voltageV : undefined) ?? (m.node.kind === 'feeder' ? 400 : 10_000);
    const localMs = t + this.offsetMs;
    const hour = (((localMs % 86_400_000) + 86_400_000) % 86_400_000) / H;
    // Line to neutral, as voltage_v is for every three-phase meter.
    const voltage = (nominal * voltageV(m.seed, Math.floor(localMs / 1000), 0, hour)) / (230 * Math.sqrt(3));
    const perUnit = Math.round(1 / resolution);
    const energy =
      Math.abs(perUnit * resolution - 1) < 1e-12
        ? Math.floor(s.energyImportKwh * perUnit + 1e-9) / perUnit
        : Math.floor(s.energyImportKwh / resolution + 1e-9) * resolution;
    return {
      energyImportKwh: energy,
      powerKw: s.relayClosed ? s.powerKw : 0,
      currentA: s.relayClosed ? (Math.abs(s.powerKw) * 1000) / (3 * voltage * s.pf) : 0,
      voltageV: voltage,
      pf: s.pf,
      breakerClosed: s.relayClosed,
    };
  }
}
