import { encodeValue } from '../../adapters/modbus/values.ts';
import { REGISTER_WIDTH, type Point, type Profile, type RegisterType } from '../../config/schemas/profile.ts';
import { unitFactor, type Quantity } from '../../config/schemas/quantities.ts';
import { EXCEPTION, MAX_READ_REGISTERS, type RegisterDevice } from '../modbus/frames.ts';
import { FaultSchema, NO_FAULT, type Fault } from '../modbus/faults.ts';
import {
  DAY,
  MINUTE,
  dayInfo,
  electricPowerKw,
  heatSample,
  powerFactor,
  voltageV,
  waterFlowM3h,
  type Day,
  type LoadProfileName,
} from './load-profiles.ts';
import { hash01, mulberry32 } from './random.ts';

export type MeterKind = Profile['kind'];

export interface SimMeterOptions {
  id: string;
  profile: Profile;
  /** Defaults to the profile's kind; a different kind is a configuration error. */
  kind?: MeterKind;
  load: LoadProfileName;
  seed: number;
  unitId: number;
  /** Wall clock in ms; defaults to Date.now. */
  clock?: () => number;
  /** Simulated milliseconds per clock millisecond. */
  speed?: number;
  /** Simulated time at the clock's first reading; defaults to that reading. */
  startTime?: number;
  /** Local time of the meter's consumers, for day/night and weekday shapes. */
  utcOffsetMinutes?: number;
  /**
   * 3 for a three-phase supply, whose power splits unevenly (by seed) over the phases. Defaults
   * to 3 when the profile maps an L2 or L3 quantity, else 1.
   */
  phases?: 1 | 3;
  /**
   * Where the meter's physics comes from instead of its own load profile: e.g. a campus scenario
   * model, so that upstream and downstream meters agree. `load` is then unused.
   */
  physics?: MeterPhysics;
}

/** Counters and instantaneous values an external physics source gives a meter, canonical units. */
export interface PhysicsState {
  relayClosed: boolean;
  energyImportKwh: number;
  energyExportKwh: number;
  /** Active power as the meter measures it (negative while it runs backwards). */
  powerKw: number;
  pf: number;
  volumeM3: number;
  flowM3h: number;
  heatKwh: number;
  supplyC: number;
  returnC: number;
}

/** An external source of a meter's physics; see SimMeterOptions.physics. */
export interface MeterPhysics {
  /** The state at simulated time `t` (UTC ms). */
  at(t: number): PhysicsState;
  /** The meter's relay was switched (a Modbus write) at `t`. */
  setRelay?(closed: boolean, t: number): void;
  /** A fault the source imposes at `t` (a scheduled communication fault); undefined: none. */
  faultAt?(t: number): Fault | undefined;
}

/** Physical state in canonical units (see QUANTITIES), at simulated time `t`. */
export interface MeterState {
  t: number;
  relayClosed: boolean;
  energyImportKwh: number;
  energyExportKwh: number;
  powerKw: number;
  /** Phase L1 (or the single phase). */
  voltageV: number;
  voltageL2V: number;
  voltageL3V: number;
  /** Phase L1 (or the single phase). */
  currentA: number;
  currentL2A: number;
  currentL3A: number;
  pf: number;
  volumeM3: number;
  flowM3h: number;
  heatKwh: number;
  supplyC: number;
  returnC: number;
}

/** kWh per m³ and kelvin of water (heat capacity at district-heating temperatures). */
export const WATER_KWH_PER_M3K = 1.163;

const COUNTERS: ReadonlySet<Quantity> = new Set([
  'energy_import_kwh',
  'energy_export_kwh',
  'volume_m3',
  'heat_kwh',
]);
const FLOAT_TYPES: ReadonlySet<RegisterType> = new Set(['f32', 'f64']);

/** One value the register image carries, precomputed from the profile. */
interface Slot {
  image: RegisterImage;
  offset: number;
  type: RegisterType;
  wordOrder: 'big' | 'little';
  byteOrder: 'big' | 'little';
  /** Canonical value → raw register value. */
  value: (s: MeterState) => number;
}

interface RegisterImage {
  base: number;
  regs: Uint16Array;
}

/**
 * A simulated meter: physical state integrated over simulated time, served as the register image
 * its profile describes. Everything it shows follows from the profile given, its seed and the
 * time; nothing depends on the meter model's name.
 */
export class SimMeter implements RegisterDevice {
  readonly id: string;
  readonly profile: Profile;
  readonly kind: MeterKind;
  readonly load: LoadProfileName;
  readonly seed: number;
  readonly unitId: number;
  readonly phases: 1 | 3;

  private readonly clock: () => number;
  private readonly speed: number;
  private readonly clock0: number;
  private readonly start: number;
  private readonly offsetMs: number;
  private readonly images: { 3?: RegisterImage; 4?: RegisterImage } = {};
  private readonly slots: Slot[] = [];
  private readonly rng: () => number;
  private readonly phaseShare: readonly number[];
  private readonly physics: MeterPhysics | undefined;
  private readonly ctx: ElectricalContext & { offsetMs: number };

  private currentFault: Fault = NO_FAULT;
  private relay = true;
  private clockSkewMs = 0;
  // Integration state: counters are exact integrals of piecewise-constant minute values.
  private lastT: number;
  private energyImport: number;
  private readonly energyExport: number;
  private volume: number;
  private heat: number;
  private minuteKey = Number.NaN;
  private minute = { powerKw: 0, pf: 1, flowM3h: 0, supplyC: 20, returnC: 20 };
  private day: Day | undefined;
  private imageT = Number.NaN;
  private imageRelay = true;
  private imageSkew = 0;

  constructor(opts: SimMeterOptions) {
    this.id = opts.id;
    this.profile = opts.profile;
    this.kind = opts.kind ?? opts.profile.kind;
    if (this.kind !== opts.profile.kind) {
      throw new Error(`meter ${opts.id}: kind ${this.kind} does not match profile kind ${opts.profile.kind}`);
    }
    if (!Number.isInteger(opts.unitId) || opts.unitId < 1 || opts.unitId > 247) {
      throw new Error(`meter ${opts.id}: unit id ${opts.unitId} is outside 1..247`);
    }
    this.load = opts.load;
    this.seed = opts.seed >>> 0;
    this.unitId = opts.unitId;
    this.phases = opts.phases ?? defaultPhases(opts.profile);
    this.phaseShare = phaseShares(this.seed, this.phases);
    this.physics = opts.physics;
    this.ctx = {
      kind: this.kind,
      seed: this.seed,
      phases: this.phases,
      phaseShare: this.phaseShare,
      offsetMs: (opts.utcOffsetMinutes ?? 0) * MINUTE,
    };
    this.clock = opts.clock ?? Date.now;
    this.speed = opts.speed ?? 1;
    this.clock0 = this.clock();
    this.start = opts.startTime ?? this.clock0;
    this.offsetMs = (opts.utcOffsetMinutes ?? 0) * MINUTE;
    this.rng = mulberry32(this.seed ^ 0x5bd1e995);
    this.lastT = this.start;
    const initial = initialRegisters(this.seed);
    this.energyImport = initial.energyImportKwh;
    this.energyExport = initial.energyExportKwh;
    this.volume = initial.volumeM3;
    this.heat = initial.heatKwh;
    this.buildImage();
  }

  // ------------------------------------------------------------------ time and state

  /** Simulated time now, in UTC ms. */
  now(): number {
    return this.start + (this.clock() - this.clock0) * this.speed;
  }

  /** The meter's own clock as it reports it (simulated time plus any skew set). */
  deviceTime(): number {
    return this.now() + this.clockSkewMs;
  }

  /** Makes the meter's clock run `ms` ahead (negative: behind) of true time. */
  setClockSkew(ms: number): void {
    this.clockSkewMs = ms;
  }

  get relayClosed(): boolean {
    return this.physics ? this.physics.at(this.now()).relayClosed : this.relay;
  }

  /** Switches the relay (or valve); energy and flow stop while it is open. */
  setRelay(closed: boolean): void {
    const t = this.now();
    if (this.physics) this.physics.setRelay?.(closed, t);
    else this.advance(t);
    this.relay = closed;
  }

  get fault(): Fault {
    return this.physics?.faultAt?.(this.now()) ?? this.currentFault;
  }

  setFault(fault: Fault): void {
    this.currentFault = Object.freeze(FaultSchema.parse(fault));
  }

  /** Seeded stream for fault content (garbage bytes); separate from the physics. */
  random(): number {
    return this.rng();
  }

  state(): MeterState {
    const t = this.now();
    if (this.physics) return meterStateOf(this.ctx, t, this.physics.at(t));
    this.advance(t);
    const m = this.minute;
    return meterStateOf(this.ctx, t, {
      relayClosed: this.relay,
      energyImportKwh: this.energyImport,
      energyExportKwh: this.energyExport,
      powerKw: m.powerKw,
      pf: m.pf,
      volumeM3: this.volume,
      flowM3h: m.flowM3h,
      heatKwh: this.heat,
      supplyC: m.supplyC,
      returnC: m.returnC,
    });
  }

  /** Canonical values of every quantity the profile maps, as a gateway should decode them. */
  values(): Partial<Record<Quantity, number>> {
    const s = this.state();
    const out: Partial<Record<Quantity, number>> = {};
    for (const p of this.profile.points) out[p.quantity] = quantityOf(p.quantity, s);
    return out;
  }

  private sampleMinute(localMinute: number): void {
    if (localMinute === this.minuteKey) return;
    this.minuteKey = localMinute;
    const dayIndex = Math.floor(localMinute / 1440);
    if (this.day?.index !== dayIndex) this.day = dayInfo(dayIndex, this.seed);
    const m = this.minute;
    if (this.kind === 'electricity') {
      m.powerKw = electricPowerKw(this.load, this.seed, this.day, localMinute);
      m.pf = powerFactor(this.load, this.seed, localMinute);
    } else if (this.kind === 'water') {
      m.flowM3h = waterFlowM3h(this.load, this.seed, this.day, localMinute);
    } else {
      const h = heatSample(this.load, this.seed, this.day, localMinute);
      m.flowM3h = h.flowM3h;
      m.supplyC = h.supplyC;
      m.returnC = h.returnC;
    }
  }

  /** Integrates the counters up to simulated time `t` (never backwards). */
  private advance(t: number): void {
    while (this.lastT < t) {
      const localMinute = Math.floor((this.lastT + this.offsetMs) / MINUTE);
      this.sampleMinute(localMinute);
      const end = Math.min(t, (localMinute + 1) * MINUTE - this.offsetMs);
      if (this.relay) {
        const hours = (end - this.lastT) / 3_600_000;
        const m = this.minute;
        if (this.kind === 'electricity') this.energyImport += m.powerKw * hours;
        else {
          this.volume += m.flowM3h * hours;
          if (this.kind === 'heat')
            this.heat += m.flowM3h * (m.supplyC - m.returnC) * WATER_KWH_PER_M3K * hours;
        }
      }
      this.lastT = end;
    }
    this.sampleMinute(Math.floor((t + this.offsetMs) / MINUTE));
  }

  // ------------------------------------------------------------------ registers

  private imageFor(fc: 3 | 4, address: number, width: number, bounds: Map<3 | 4, [number, number]>): void {
    const b = bounds.get(fc);
    const last = address + width - 1;
    bounds.set(fc, b ? [Math.min(b[0], address), Math.max(b[1], last)] : [address, last]);
  }

  private buildImage(): void {
    const p = this.profile;
    const bounds = new Map<3 | 4, [number, number]>();
    for (const pt of p.points) {
      this.imageFor(pt.fc, pt.address, REGISTER_WIDTH[pt.type], bounds);
      if (pt.exponent) this.imageFor(pt.fc, pt.exponent.address, 1, bounds);
    }
    if (p.deviceTime)
      this.imageFor(p.deviceTime.fc, p.deviceTime.address, REGISTER_WIDTH[p.deviceTime.type], bounds);
    for (const [fc, [lo, hi]] of bounds) this.images[fc] = { base: lo, regs: new Uint16Array(hi - lo + 1) };

    for (const pt of p.points) {
      const image = this.images[pt.fc]!;
      this.slots.push({
        image,
        offset: pt.address - image.base,
        type: pt.type,
        wordOrder: pt.wordOrder,
        byteOrder: pt.byteOrder,
        value: rawValueOf(pt, p),
      });
      if (pt.exponent) {
        const ex = pt.exponent;
        this.slots.push({
          image,
          offset: ex.address - image.base,
          type: ex.type,
          wordOrder: 'big',
          byteOrder: 'big',
          value: () => simulatedExponent(pt),
        });
      }
    }
    const dt = p.deviceTime;
    if (dt) {
      const image = this.images[dt.fc]!;
      const perUnit = dt.epoch === 'unix-s' ? 1000 : 1;
      this.slots.push({
        image,
        offset: dt.address - image.base,
        type: dt.type,
        wordOrder: dt.wordOrder,
        byteOrder: dt.byteOrder,
        value: (s) => Math.floor((s.t + this.clockSkewMs) / perUnit),
      });
    }
  }

  private refresh(): void {
    const t = this.now();
    if (t === this.imageT && this.relay === this.imageRelay && this.clockSkewMs === this.imageSkew) return;
    const s = this.state();
    for (const slot of this.slots) {
      const words = encodeValue(slot.value(s), slot.type, slot.wordOrder, slot.byteOrder);
      slot.image.regs.set(words, slot.offset);
    }
    this.imageT = t;
    this.imageRelay = this.relay;
    this.imageSkew = this.clockSkewMs;
  }

  readRegisters(fc: 3 | 4, address: number, quantity: number, out: Buffer, offset: number): number {
    if (quantity < 1 || quantity > Math.min(MAX_READ_REGISTERS, this.profile.maxRegistersPerRead)) {
      return EXCEPTION.illegalDataValue;
    }
    const image = this.images[fc];
    if (!image || address < image.base || address + quantity > image.base + image.regs.length) {
      return EXCEPTION.illegalDataAddress;
    }
    this.refresh();
    const regs = image.regs;
    for (let i = 0, r = address - image.base; i < quantity; i++, r++) {
      const w = regs[r]!;
      out[offset++] = w >>> 8;
      out[offset++] = w & 0xff;
    }
    return 0;
  }

  writeRegisters(fc: 6 | 16, address: number, data: Buffer, offset: number, quantity: number): number {
    const relay = this.profile.relay;
    if (!relay || fc !== relay.writeFc) return EXCEPTION.illegalFunction;
    if (address !== relay.address || quantity !== 1) return EXCEPTION.illegalDataAddress;
    const v = data.readUInt16BE(offset);
    if (v === relay.closedValue) this.setRelay(true);
    else if (v === relay.openValue) this.setRelay(false);
    else return EXCEPTION.illegalDataValue;
    return 0;
  }
}

/** How the instantaneous values of a meter follow from its physics; shared with fast rendering. */
export interface ElectricalContext {
  readonly kind: MeterKind;
  readonly seed: number;
  readonly phases: 1 | 3;
  readonly phaseShare: readonly number[];
}

/** 3 when the profile maps an L2 or L3 quantity, else 1. */
export function defaultPhases(profile: Profile): 1 | 3 {
  return profile.points.some((p) => /_l[23]_/.test(p.quantity)) ? 3 : 1;
}

/** How a three-phase meter's power splits (unevenly, by seed) over its phases. */
export function phaseShares(seed: number, phases: 1 | 3): readonly number[] {
  if (phases !== 3) return [1, 0, 0];
  const w = [1, 0.8 + 0.4 * hash01(seed >>> 0, 4, 100), 0.8 + 0.4 * hash01(seed >>> 0, 5, 100)];
  const sum = w[0]! + w[1]! + w[2]!;
  return w.map((x) => x / sum);
}

/** The counters a meter with this seed starts from. */
export function initialRegisters(seed: number): {
  energyImportKwh: number;
  energyExportKwh: number;
  volumeM3: number;
  heatKwh: number;
} {
  const s = seed >>> 0;
  return {
    energyImportKwh: 500 + Math.floor(hash01(s, 1, 100) * 450_000) / 100,
    energyExportKwh: 0,
    volumeM3: 50 + Math.floor(hash01(s, 2, 100) * 50_000) / 100,
    heatKwh: 1000 + Math.floor(hash01(s, 3, 100) * 900_000) / 100,
  };
}

/**
 * The full meter state at `t` from its physics: voltages from the seeded supply model (its daily
 * swing in the consumers' local time, `offsetMs` ahead of UTC), currents from power, voltage and
 * power factor per phase.
 */
export function meterStateOf(
  ctx: ElectricalContext & { readonly offsetMs?: number },
  t: number,
  p: PhysicsState,
  /** Filled and returned instead of a new object (fast rendering reuses one). */
  out?: MeterState,
): MeterState {
  const closed = p.relayClosed;
  const electric = ctx.kind === 'electricity';
  const powerKw = electric && closed ? p.powerKw : 0;
  const localMs = t + (ctx.offsetMs ?? 0);
  const hour = (((localMs % DAY) + DAY) % DAY) / 3_600_000;
  const second = Math.floor(localMs / 1000);
  const v1 = electric ? voltageV(ctx.seed, second, 0, hour) : 0;
  const three = electric && ctx.phases === 3;
  const v2 = three ? voltageV(ctx.seed, second, 1, hour) : 0;
  const v3 = three ? voltageV(ctx.seed, second, 2, hour) : 0;
  const s = out ?? ({} as MeterState);
  s.t = t;
  s.relayClosed = closed;
  s.energyImportKwh = p.energyImportKwh;
  s.energyExportKwh = p.energyExportKwh;
  s.powerKw = powerKw;
  s.voltageV = v1;
  s.voltageL2V = v2;
  s.voltageL3V = v3;
  s.currentA = amps(powerKw, ctx.phaseShare[0]!, v1, p.pf);
  s.currentL2A = amps(powerKw, ctx.phaseShare[1]!, v2, p.pf);
  s.currentL3A = amps(powerKw, ctx.phaseShare[2]!, v3, p.pf);
  s.pf = electric ? (powerKw !== 0 ? p.pf : 1) : 0;
  s.volumeM3 = p.volumeM3;
  s.flowM3h = !electric && closed ? p.flowM3h : 0;
  s.heatKwh = p.heatKwh;
  s.supplyC = ctx.kind === 'heat' ? p.supplyC : 0;
  s.returnC = ctx.kind === 'heat' ? p.returnC : 0;
  return s;
}

/** Phase current from the total power, the phase's share of it, its voltage and the power factor. */
function amps(powerKw: number, share: number, v: number, pf: number): number {
  return powerKw !== 0 && v > 0 ? (Math.abs(powerKw) * share * 1000) / (v * pf) : 0;
}

/** The raw register value (before encoding) a point of `profile` holds for a state. */
function rawValueOf(pt: Point, profile: Profile): (s: MeterState) => number {
  const integer = !FLOAT_TYPES.has(pt.type);
  const divisor = pt.scale * unitFactor(pt.unit, pt.quantity)! * 10 ** simulatedExponent(pt);
  const q = pt.quantity;
  const relay = profile.relay;
  if (q === 'relay_closed' && relay && relay.address === pt.address)
    return (s) => (s.relayClosed ? relay.closedValue : relay.openValue);
  // Real meters truncate counters: they never show energy not yet used.
  if (COUNTERS.has(q) && integer) return (s) => Math.floor(quantityOf(q, s) / divisor + 1e-9);
  return (s) => quantityOf(q, s) / divisor;
}

/** What a register of `type` holds after encoding `raw` (see encodeValue), as a number. */
function storedAs(type: RegisterType, raw: number): number {
  if (type === 'f32') return Math.fround(raw);
  if (type === 'f64') return raw;
  const int = Math.round(raw);
  switch (type) {
    case 'u16':
      return ((int % 0x10000) + 0x10000) % 0x10000;
    case 'i16':
      return ((((int + 0x8000) % 0x10000) + 0x10000) % 0x10000) - 0x8000;
    case 'u32':
      return ((int % 2 ** 32) + 2 ** 32) % 2 ** 32;
    case 'i32':
      return ((((int + 2 ** 31) % 2 ** 32) + 2 ** 32) % 2 ** 32) - 2 ** 31;
    case 'u64':
      return int >= 0 ? int : Number(BigInt.asUintN(64, BigInt(int)));
    default:
      return int;
  }
}

/**
 * The values a gateway decodes from a meter's register image, without the image: truncated
 * counters, float32 rounding, scaling and exponents exactly as the registers carry them. Compiled
 * once per profile; fast rendering uses it so that its readings equal a live poll's.
 */
export function gatewayValues(profile: Profile): (s: MeterState) => Partial<Record<Quantity, number>> {
  const points = profile.points.map((pt) => {
    const raw = rawValueOf(pt, profile);
    const exp = pt.exponent ? simulatedExponent(pt) : 0;
    const factor = unitFactor(pt.unit, pt.quantity)!;
    const relay = pt.quantity === 'relay_closed' && profile.relay ? profile.relay : undefined;
    return { q: pt.quantity, type: pt.type, raw, exp, factor, scale: pt.scale, relay };
  });
  return (s) => {
    const out: Partial<Record<Quantity, number>> = {};
    for (const p of points) {
      const r = storedAs(p.type, p.raw(s));
      if (p.relay) out[p.q] = r === p.relay.closedValue ? 1 : 0;
      else out[p.q] = r * p.scale * 10 ** p.exp * p.factor;
    }
    return out;
  };
}

/** The device time a gateway decodes from the profile's clock register at `t`, if it has one. */
export function gatewayDeviceTs(profile: Profile, t: number, skewMs = 0): number | undefined {
  const dt = profile.deviceTime;
  if (!dt) return undefined;
  const perUnit = dt.epoch === 'unix-s' ? 1000 : 1;
  const v = storedAs(dt.type, Math.floor((t + skewMs) / perUnit));
  return v > 0 ? Math.round(dt.epoch === 'unix-s' ? v * 1000 : v) : undefined;
}

/**
 * The power-of-ten exponent the simulator writes for an M-Bus style point: -2 keeps two decimals
 * in integer registers (and exercises the exponent's sign); floats need none, and an unsigned
 * exponent register cannot hold a negative one.
 */
export function simulatedExponent(point: Point): number {
  return point.exponent && !FLOAT_TYPES.has(point.type) && point.exponent.type === 'i16' ? -2 : 0;
}

function quantityOf(q: Quantity, s: MeterState): number {
  switch (q) {
    case 'energy_import_kwh':
      return s.energyImportKwh;
    case 'energy_export_kwh':
      return s.energyExportKwh;
    case 'power_kw':
      return s.powerKw;
    case 'voltage_v':
      return s.voltageV;
    case 'voltage_l2_v':
      return s.voltageL2V;
    case 'voltage_l3_v':
      return s.voltageL3V;
    case 'current_a':
      return s.currentA;
    case 'current_l2_a':
      return s.currentL2A;
    case 'current_l3_a':
      return s.currentL3A;
    case 'pf':
      return s.pf;
    case 'volume_m3':
      return s.volumeM3;
    case 'flow_m3h':
      return s.flowM3h;
    case 'heat_kwh':
      return s.heatKwh;
    case 'supply_c':
      return s.supplyC;
    case 'return_c':
      return s.returnC;
    case 'relay_closed':
      return s.relayClosed ? 1 : 0;
    default:
      // A quantity this simulator does not model yet reads as 0 rather than failing the farm.
      return 0;
  }
}
