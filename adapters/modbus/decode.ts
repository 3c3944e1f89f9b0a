import type { Profile } from '../../config/schemas/profile.ts';
import { unitFactor, type Quantity } from '../../config/schemas/quantities.ts';
import { ModbusError } from './errors.ts';
import { isNotAvailable, MIN_NORMAL_F32, outOfRangeFlag, PHYSICAL_RANGES } from './physical-ranges.ts';
import type { ReadBlock } from './planner.ts';
import { decodeValue } from './values.ts';

export interface DecodedPoll {
  /** Every point of the profile, in the canonical unit of its quantity. */
  values: Partial<Record<Quantity, number>>;
  /** The meter's own clock (UTC ms), where the profile exposes one. */
  deviceTs?: number;
  /** Uncertain when a value was withheld as physically impossible; `flags` name each one. */
  quality?: 'uncertain';
  flags?: string[];
}

export interface DecodeContext {
  device?: string;
  meter?: string;
}

/**
 * Decodes the registers of one poll (one array per planned block, in plan order) into values:
 * raw × scale × 10^exponent × unitFactor(unit → canonical unit). A float register holding NaN or
 * Infinity is a meter's way of saying "no valid reading"; it fails the poll with MODBUS_BAD_VALUE
 * rather than being published as a number. A finite value that is physically impossible (outside
 * the point's `range`, by default its quantity's physical range; a float32 denormal; an integer
 * register holding a "not available" pattern) is never
 * published: the reading goes out uncertain without it, flagged `OUT_OF_RANGE_<quantity>`, and a
 * poll with nothing left fails with MODBUS_BAD_VALUE.
 */
export function decodePoll(
  profile: Profile,
  blocks: readonly ReadBlock[],
  registersPerBlock: readonly (readonly number[])[],
  ctx: DecodeContext = {},
): DecodedPoll {
  const errCtx = {
    device: ctx.device ?? '(unknown)',
    ...(ctx.meter === undefined ? {} : { meter: ctx.meter }),
  };
  if (registersPerBlock.length !== blocks.length) {
    throw new ModbusError(
      'MODBUS_GARBAGE',
      `expected registers for ${blocks.length} blocks, got ${registersPerBlock.length}`,
      errCtx,
    );
  }

  // Arrays by point index and plain loops: this runs at every poll, and Maps and closures made
  // per poll were a measurable share of the gateway's CPU and garbage.
  const n = profile.points.length;
  const raw: (number | undefined)[] = new Array(n);
  const exponents: (number | undefined)[] = new Array(n);
  let deviceTs: number | undefined;

  for (let b = 0; b < blocks.length; b++) {
    const block = blocks[b]!;
    const regs = registersPerBlock[b]!;
    if (regs.length !== block.count) {
      throw new ModbusError(
        'MODBUS_GARBAGE',
        `FC${block.fc} read at ${block.address} returned ${regs.length} registers, expected ${block.count}`,
        errCtx,
      );
    }
    for (const item of block.items) {
      switch (item.kind) {
        case 'point': {
          const p = item.point;
          const v = decodeValue(regs, item.offset, p.type, p.wordOrder, p.byteOrder);
          if (!Number.isFinite(v)) {
            throw new ModbusError(
              'MODBUS_BAD_VALUE',
              `${p.quantity} at FC${p.fc} address ${p.address} decoded to ${v}`,
              errCtx,
            );
          }
          raw[item.pointIndex] = v;
          break;
        }
        case 'exponent':
          exponents[item.pointIndex] = decodeValue(regs, item.offset, item.point.exponent?.type ?? 'i16');
          break;
        case 'deviceTime': {
          const dt = item.deviceTime;
          const v = decodeValue(regs, item.offset, dt.type, dt.wordOrder, dt.byteOrder);
          // 0 (or a non-finite float) means the converter has not read the meter yet.
          if (Number.isFinite(v) && v > 0) deviceTs = Math.round(dt.epoch === 'unix-s' ? v * 1000 : v);
          break;
        }
      }
    }
  }

  const values: Partial<Record<Quantity, number>> = {};
  let kept = 0;
  let withheld: string[] | undefined;
  let flags: string[] | undefined;
  const factors = factorsOf(profile);
  for (let i = 0; i < n; i++) {
    const p = profile.points[i]!;
    const r = raw[i];
    if (r === undefined) {
      throw new ModbusError('MODBUS_GARBAGE', `no planned block covers ${p.quantity}`, errCtx);
    }
    if (p.quantity === 'relay_closed' && profile.relay) {
      if (r === profile.relay.closedValue) values.relay_closed = 1;
      else if (r === profile.relay.openValue) values.relay_closed = 0;
      else throw new ModbusError('MODBUS_BAD_VALUE', `relay register holds unknown state ${r}`, errCtx);
      kept++;
      continue;
    }
    const exp = exponents[i] ?? 0;
    // In the order it was always computed: floating-point products depend on it, bit for bit.
    const value = r * p.scale * 10 ** exp * factors[i]!;
    if (!Number.isFinite(value)) {
      throw new ModbusError('MODBUS_BAD_VALUE', `${p.quantity} scaled to ${value}`, errCtx);
    }
    const range = p.range ?? PHYSICAL_RANGES[p.quantity];
    const denormal = (p.type === 'f32' || p.type === 'f64') && r !== 0 && Math.abs(r) < MIN_NORMAL_F32;
    if (denormal || isNotAvailable(p.type, r) || value < range.min || value > range.max) {
      (withheld ??= []).push(`${p.quantity} = ${value} (outside ${range.min}…${range.max})`);
      (flags ??= []).push(outOfRangeFlag(p.quantity));
      continue;
    }
    values[p.quantity] = value;
    kept++;
  }

  if (withheld !== undefined && kept === 0) {
    throw new ModbusError('MODBUS_BAD_VALUE', `physically impossible: ${withheld.join(', ')}`, errCtx);
  }
  const out: DecodedPoll = { values };
  if (deviceTs !== undefined) out.deviceTs = deviceTs;
  if (flags !== undefined) {
    out.quality = 'uncertain';
    out.flags = flags;
  }
  return out;
}

/** The schema guarantees the unit fits the quantity, so the factor is defined. */
function unitFactorOf(p: Profile['points'][number]): number {
  return unitFactor(p.unit, p.quantity) ?? NaN;
}

/**
 * Each point's unit factor, in point order, looked up once per profile: a meter model's points
 * are the same at every poll of every meter of that model.
 */
const factorCache = new WeakMap<Profile, number[]>();
function factorsOf(profile: Profile): number[] {
  let factors = factorCache.get(profile);
  if (!factors) {
    factors = profile.points.map(unitFactorOf);
    factorCache.set(profile, factors);
  }
  return factors;
}
