import { intToBcd, valueToBcd } from '../../adapters/dlt645/bcd.ts';
import {
  CONTROL,
  DI,
  VALVE,
  decodeFrame,
  diBytes,
  encodeFrame,
  type Cjt188Frame,
} from '../../adapters/cjt188/frame.ts';
import { fieldBytes, type Cjt188Profile } from '../../adapters/cjt188/profile.ts';
import { CANONICAL_UNIT_CODE, CJT188_UNITS } from '../../adapters/cjt188/units.ts';
import { civilTimeOf, utcOf } from '../../adapters/line/civil-time.ts';
import type { Quantity } from '../../config/schemas/quantities.ts';
import type { LoadProfileName } from '../meters/load-profiles.ts';
import type { SimMeter } from '../meters/sim-meter.ts';
import {
  CLOCK_RESET_EPOCH,
  LineFaultSchema,
  NO_LINE_FAULT,
  badChecksum,
  type LineFault,
} from '../dlt645/faults.ts';
import { startLineServer, type LineServer, type LineServerTransport } from '../dlt645/line-server.ts';
import { physicsMeter, quantityValue } from '../dlt645/physics.ts';
import { frameLength } from '../../adapters/cjt188/frame.ts';

export interface Cjt188SimOptions {
  id: string;
  /** 14 digits. */
  address: string;
  profile: Cjt188Profile;
  load: LoadProfileName;
  seed: number;
  clockZone?: string;
  clock?: () => number;
  speed?: number;
  startTime?: number;
  /** Unit code the meter reports each dimension in (default the canonical kWh, kW, m³, m³/h). */
  unitCodes?: Partial<Record<'energy' | 'power' | 'volume' | 'flow', number>>;
}

const DIM: Partial<Record<Quantity, 'energy' | 'power' | 'volume' | 'flow'>> = {
  heat_kwh: 'energy',
  power_kw: 'power',
  volume_m3: 'volume',
  flow_m3h: 'flow',
};

/**
 * A simulated CJ/T 188 water or heat meter: the 901F answer laid out by its profile, the valve
 * (A017) with its state in the status word, and the same faults as the DL/T 645 simulator.
 */
export class Cjt188SimMeter {
  readonly id: string;
  readonly address: string;
  readonly profile: Cjt188Profile;
  readonly physics: SimMeter;
  readonly clockZone: string;
  private fault: LineFault = NO_LINE_FAULT;
  private faultSince = 0;
  private readonly unitCodes: Record<'energy' | 'power' | 'volume' | 'flow', number>;

  constructor(o: Cjt188SimOptions) {
    this.id = o.id;
    this.address = o.address;
    this.profile = o.profile;
    this.clockZone = o.clockZone ?? 'Asia/Shanghai';
    this.unitCodes = { ...CANONICAL_UNIT_CODE, ...o.unitCodes };
    this.physics = physicsMeter({
      id: o.id,
      kind: o.profile.kind,
      load: o.load,
      seed: o.seed,
      ...(o.clock ? { clock: o.clock } : {}),
      ...(o.speed ? { speed: o.speed } : {}),
      ...(o.startTime !== undefined ? { startTime: o.startTime } : {}),
      utcOffsetMinutes: 480,
    });
  }

  get currentFault(): LineFault {
    return this.fault;
  }

  setFault(fault: LineFault): void {
    this.fault = Object.freeze(LineFaultSchema.parse(fault));
    this.faultSince = this.physics.now();
  }

  get valveOpen(): boolean {
    return this.physics.relayClosed;
  }

  deviceTime(): number {
    if (this.fault.type === 'clock-reset') {
      return utcOf(CLOCK_RESET_EPOCH, this.clockZone)! + (this.physics.now() - this.faultSince);
    }
    return this.physics.deviceTime();
  }

  /** Canonical values as the gateway should decode them. */
  values(): Record<string, number> {
    const s = this.physics.state();
    const out: Record<string, number> = {};
    for (const f of this.profile.layout)
      if ('quantity' in f && f.quantity) out[f.quantity] = quantityValue(f.quantity, s);
    if (this.profile.valve) out.relay_closed = s.relayClosed ? 1 : 0;
    return out;
  }

  answer(req: Cjt188Frame): Cjt188Frame | null {
    if (req.address !== this.address || req.meterType !== this.profile.meterType) return null;
    const di = req.data.subarray(0, 2);
    const ser = req.data[2] ?? 0;
    const head = Buffer.from([di[0]!, di[1]!, ser]);
    const reply = (control: number, data: Buffer): Cjt188Frame => ({
      meterType: this.profile.meterType,
      address: this.address,
      control,
      data,
    });
    if (req.control === CONTROL.read && di.equals(diBytes(DI.current)))
      return reply(0x81, Buffer.concat([head, this.current()]));
    if (req.control === CONTROL.write && di.equals(diBytes(DI.valve)) && this.profile.valve) {
      const cmd = req.data[3];
      if (this.fault.type === 'denied-control' || (cmd !== VALVE.open && cmd !== VALVE.close)) {
        return reply(0xc4, Buffer.from([ser, ...this.status()]));
      }
      this.physics.setRelay(cmd === VALVE.open);
      return reply(0x84, Buffer.concat([head, this.status()]));
    }
    return reply(req.control | 0xc0, Buffer.from([ser, ...this.status()]));
  }

  private status(): Buffer {
    return Buffer.from([this.profile.valve && !this.physics.relayClosed ? 0x01 : 0x00, 0x00]);
  }

  private current(): Buffer {
    const s = this.physics.state();
    const parts: Buffer[] = [];
    for (const f of this.profile.layout) {
      switch (f.type) {
        case 'bcd': {
          const dim = f.quantity ? DIM[f.quantity] : undefined;
          // A field the profile does not map (a settlement-day value) is the meter's main counter.
          const code = this.unitCodes[dim ?? (this.profile.kind === 'water' ? 'volume' : 'energy')];
          // The meter's unit: canonical value ÷ (canonical units per one of the meter's units).
          const v = f.quantity ? quantityValue(f.quantity, s) / CJT188_UNITS[code]!.factor : 0;
          parts.push(valueToBcd(Math.max(0, v), f));
          if (f.unitCode) parts.push(Buffer.from([code]));
          break;
        }
        case 'temperature':
          parts.push(valueToBcd(f.quantity ? quantityValue(f.quantity, s) : 0, f));
          break;
        case 'time': {
          const t = civilTimeOf(this.deviceTime(), this.clockZone);
          parts.push(
            Buffer.concat([
              Buffer.from([t.second, t.minute, t.hour, t.day, t.month].map((v) => intToBcd(v, 1)[0]!)),
              intToBcd(t.year, 2),
            ]),
          );
          break;
        }
        case 'status':
          parts.push(this.status());
          break;
        case 'skip':
          parts.push(Buffer.alloc(fieldBytes(f)));
          break;
      }
    }
    return Buffer.concat(parts);
  }
}

export function cjt188Responder(meters: readonly Cjt188SimMeter[]): (frame: Buffer) => Buffer | null {
  return (bytes) => {
    let req;
    try {
      req = decodeFrame(bytes, 'sim');
    } catch {
      return null;
    }
    for (const m of meters) {
      const f = m.currentFault;
      const a = m.answer(req);
      if (!a || f.type === 'silence') continue;
      if (f.type === 'garbage') return Buffer.from([0x55, 0x00, 0x68, 0x10, 0xff]);
      if (f.type === 'wrong-address') {
        const other = (BigInt(m.address) + 1n).toString().padStart(14, '0').slice(-14);
        return encodeFrame({ ...a, address: other });
      }
      return f.type === 'checksum' ? badChecksum(encodeFrame(a)) : encodeFrame(a);
    }
    return null;
  };
}

export function startCjt188Line(o: {
  transport: LineServerTransport;
  meters: readonly Cjt188SimMeter[];
  baudRate?: number;
  latencyMs?: number;
}): Promise<LineServer> {
  return startLineServer({
    transport: o.transport,
    frameLength,
    respond: cjt188Responder(o.meters),
    ...(o.baudRate !== undefined ? { baudRate: o.baudRate } : {}),
    ...(o.latencyMs !== undefined ? { latencyMs: o.latencyMs } : {}),
  });
}
