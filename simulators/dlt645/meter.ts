import { intToBcd, valueToBcd } from '../../adapters/dlt645/bcd.ts';
import { CONTROL, diOf, type Dlt645Frame } from '../../adapters/dlt645/frame.ts';
import { RELAY_ACTION } from '../../adapters/dlt645/client.ts';
import { planDlt645, type Dlt645Profile } from '../../adapters/dlt645/profile.ts';
import { civilTimeOf, utcOf, type CivilTime } from '../../adapters/line/civil-time.ts';
import { bcdToInt } from '../../adapters/dlt645/bcd.ts';
import type { LoadProfileName } from '../meters/load-profiles.ts';
import type { SimMeter } from '../meters/sim-meter.ts';
import { CLOCK_RESET_EPOCH, LineFaultSchema, NO_LINE_FAULT, type LineFault } from './faults.ts';
import { physicsMeter, quantityValue } from './physics.ts';

export interface Dlt645SimOptions {
  id: string;
  /** 12 digits. */
  address: string;
  profile: Dlt645Profile;
  load: LoadProfileName;
  seed: number;
  /** Level + password, 8 digits; control with another is refused (DC, bit 2). */
  password?: string;
  clockZone?: string;
  clock?: () => number;
  speed?: number;
  startTime?: number;
}

const ERR_NO_DATA = 0x02;
const ERR_PASSWORD = 0x04;

/**
 * A simulated DL/T 645-2007 meter: answers reads of the DIs its profile maps (block DIs too),
 * status word 3, date and time, read address, broadcast time and relay control with a password,
 * from the same physics as a simulated Modbus meter. "Allow closing" arms the relay; it closes
 * when someone presses the button (`pressButton`).
 */
export class Dlt645SimMeter {
  readonly id: string;
  readonly address: string;
  readonly profile: Dlt645Profile;
  readonly physics: SimMeter;
  readonly clockZone: string;
  private readonly password: string;
  private armed = false;
  private fault: LineFault = NO_LINE_FAULT;
  private faultSince = 0;
  /** Commands executed: what an auditor would find in the meter's event log. */
  readonly events: { action: keyof typeof RELAY_ACTION; at: number }[] = [];

  constructor(o: Dlt645SimOptions) {
    this.id = o.id;
    this.address = o.address;
    this.profile = o.profile;
    this.password = o.password ?? '02000000';
    this.clockZone = o.clockZone ?? 'Asia/Shanghai';
    const phases = o.profile.points.some((p) => p.quantity === 'voltage_l2_v') ? 3 : 1;
    this.physics = physicsMeter({
      id: o.id,
      kind: 'electricity',
      load: o.load,
      seed: o.seed,
      phases,
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

  /** The customer presses the meter's button: an armed relay closes. */
  pressButton(): void {
    if (this.armed) {
      this.armed = false;
      this.physics.setRelay(true);
    }
  }

  get relayClosed(): boolean {
    return this.physics.relayClosed;
  }

  /** The meter's clock as it shows it (UTC ms). */
  deviceTime(): number {
    if (this.fault.type === 'clock-reset') {
      return utcOf(CLOCK_RESET_EPOCH, this.clockZone)! + (this.physics.now() - this.faultSince);
    }
    return this.physics.deviceTime();
  }

  /** Broadcast time: the meter sets its clock to what it was sent. */
  setClock(t: CivilTime): void {
    const utc = utcOf(t, this.clockZone);
    if (utc === undefined) return; // a meter ignores a date that does not exist
    if (this.fault.type === 'clock-reset') this.fault = NO_LINE_FAULT;
    this.physics.setClockSkew(utc - this.physics.now());
  }

  /** Canonical values as the gateway should decode them (relay included). */
  values(): Record<string, number> {
    const s = this.physics.state();
    const out: Record<string, number> = {};
    for (const p of this.profile.points) out[p.quantity] = quantityValue(p.quantity, s);
    if (this.profile.relay) out.relay_closed = s.relayClosed ? 1 : 0;
    return out;
  }

  /** The answer to a request addressed to this meter (or broadcast), or null for none. */
  answer(req: Dlt645Frame): Dlt645Frame | null {
    const fn = req.control & 0x1f;
    const normal = (data: Buffer): Dlt645Frame => ({ address: this.address, control: fn | 0x80, data });
    const abnormal = (err: number): Dlt645Frame => ({
      address: this.address,
      control: fn | 0xc0,
      data: Buffer.from([err]),
    });
    switch (fn) {
      case CONTROL.read: {
        const di = diOf(req.data);
        const value = this.read(di);
        return value ? normal(Buffer.concat([req.data.subarray(0, 4), value])) : abnormal(ERR_NO_DATA);
      }
      case CONTROL.readAddress:
        return normal(Buffer.from(this.address, 'hex').reverse());
      case CONTROL.broadcastTime: {
        const d = req.data;
        const [second, minute, hour, day, month, yy] = [0, 1, 2, 3, 4, 5].map(
          (i) => bcdToInt(d.subarray(i, i + 1)) ?? -1,
        );
        this.setClock({
          year: 2000 + yy!,
          month: month!,
          day: day!,
          hour: hour!,
          minute: minute!,
          second: second!,
        });
        return null;
      }
      case CONTROL.relay:
        return this.control(req.data) ? normal(Buffer.alloc(0)) : abnormal(ERR_PASSWORD);
      default:
        return abnormal(0x01);
    }
  }

  private control(data: Buffer): boolean {
    if (this.fault.type === 'denied-control') return false;
    const level = data[0]!.toString(16).padStart(2, '0');
    const pw = Buffer.from(data.subarray(1, 4)).reverse().toString('hex');
    if (`${level}${pw}` !== this.password) return false;
    const n1 = data[8];
    const action = (Object.keys(RELAY_ACTION) as (keyof typeof RELAY_ACTION)[]).find(
      (k) => RELAY_ACTION[k] === n1,
    );
    if (!action) return false;
    this.events.push({ action, at: this.physics.now() });
    if (action === 'trip') {
      this.armed = false;
      this.physics.setRelay(false);
    } else if (action === 'allowClosing') {
      if (!this.physics.relayClosed) this.armed = true;
    } else if (action === 'closeDirectly') {
      this.armed = false;
      this.physics.setRelay(true);
    }
    return true;
  }

  private read(di: string): Buffer | null {
    const relay = this.profile.relay;
    if (relay && di === relay.statusDi) {
      // Bit 6 is the relay command state (1 open): an armed meter's command is closed, its relay open.
      const bits =
        (this.physics.relayClosed ? 0 : 1 << relay.openBit) |
        (!this.armed && !this.physics.relayClosed ? 1 << relay.commandBit : 0);
      return Buffer.from([bits & 0xff, bits >> 8]);
    }
    const t: CivilTime = civilTimeOf(this.deviceTime(), this.clockZone);
    if (di === (this.profile.deviceTime?.dateDi ?? '04000101')) {
      const week = new Date(Date.UTC(t.year, t.month - 1, t.day)).getUTCDay();
      return Buffer.from([week, t.day, t.month, t.year % 100].map((v) => intToBcd(v, 1)[0]!));
    }
    if (di === (this.profile.deviceTime?.timeDi ?? '04000102')) {
      return Buffer.from([t.second, t.minute, t.hour].map((v) => intToBcd(v, 1)[0]!));
    }
    const read = planDlt645(this.profile).find((r) => r.di === di);
    if (!read) return null;
    const s = this.physics.state();
    const width = read.points[0]!.bytes;
    const count = Math.max(...read.points.map((p) => p.index)) + 1;
    const out = Buffer.alloc(width * count);
    for (const p of read.points) valueToBcd(quantityValue(p.quantity, s), p).copy(out, p.index * width);
    return out;
  }
}
