import { z } from 'zod';
import { QuantitySchema, UnitSchema, unitFactor } from './quantities.ts';

/**
 * A device profile: one meter model's register map, as data. Addresses are the 0-based addresses
 * sent on the wire. Manuals number registers differently (Eastron: 30001-based input registers,
 * Schneider: 1-based), so a point may also carry the manual's `register`; `manualBase` says how the
 * two relate and a test checks every point against it.
 */
export const RegisterTypeSchema = z.enum(['u16', 'i16', 'u32', 'i32', 'u64', 'i64', 'f32', 'f64']);
export type RegisterType = z.infer<typeof RegisterTypeSchema>;
export const ByteOrderSchema = z.enum(['big', 'little']);
export type ByteOrder = z.infer<typeof ByteOrderSchema>;
export const ReadFunctionCodeSchema = z.union([z.literal(3), z.literal(4)]);
export type ReadFunctionCode = z.infer<typeof ReadFunctionCodeSchema>;

export const REGISTER_WIDTH: Record<RegisterType, number> = {
  u16: 1,
  i16: 1,
  u32: 2,
  i32: 2,
  f32: 2,
  u64: 4,
  i64: 4,
  f64: 4,
};

const Address = z.number().int().min(0).max(0xffff);

const Encoding = {
  fc: ReadFunctionCodeSchema,
  address: Address,
  type: RegisterTypeSchema,
  wordOrder: ByteOrderSchema.default('big').describe('big: most significant word first (ABCD)'),
  byteOrder: ByteOrderSchema.default('big').describe('little: bytes swapped inside each word (BADC)'),
  register: z.number().int().optional().describe('The register number as the manual prints it'),
};

export const PointSchema = z
  .object({
    quantity: QuantitySchema,
    ...Encoding,
    scale: z.number().finite().default(1).describe('Multiplier applied to the raw value'),
    unit: UnitSchema.describe('Unit of raw × scale, converted to the quantity’s canonical unit'),
    exponent: z
      .object({ address: Address, type: z.enum(['i16', 'u16']) })
      .strict()
      .optional()
      .describe('Register holding a power-of-ten exponent applied to the value (M-Bus style)'),
    note: z.string().optional(),
    range: z
      .object({ min: z.number().finite(), max: z.number().finite() })
      .strict()
      .refine((r) => r.min < r.max, 'range: min must be below max')
      .optional()
      .describe(
        "What this meter can physically measure, in the quantity's canonical unit; a value outside is withheld and the reading marked uncertain. Default: the quantity's physical range (adapters/modbus/physical-ranges.ts)",
      ),
    rolloverAt: z
      .union([z.number().positive().finite(), z.literal('register')])
      .optional()
      .describe(
        "Where a cumulative register wraps back to zero, in the point's unit (raw × scale): a number (e.g. 100000 for a display of 99999.99 kWh), or 'register' for the full width of an integer register (2^32 × scale for u32). Absent: the register is taken never to wrap",
      ),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.rolloverAt === 'register' && !/^u(16|32|64)$/.test(p.type)) {
      ctx.addIssue({
        code: 'custom',
        path: ['rolloverAt'],
        message: `rolloverAt 'register' needs an unsigned integer register (u16, u32, u64), not ${p.type}`,
      });
    }
    if (unitFactor(p.unit, p.quantity) === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['unit'],
        message: `unit ${p.unit} does not fit quantity ${p.quantity}`,
      });
    }
  });
export type Point = z.infer<typeof PointSchema>;

export const DeviceTimeSchema = z
  .object({
    ...Encoding,
    epoch: z.enum(['unix-s', 'unix-ms']).default('unix-s'),
  })
  .strict();
export type DeviceTime = z.infer<typeof DeviceTimeSchema>;

export const RelaySchema = z
  .object({
    address: Address,
    writeFc: z.union([z.literal(6), z.literal(16)]).describe('Some meters accept FC16 only'),
    closedValue: z.number().int().min(0).max(0xffff),
    openValue: z.number().int().min(0).max(0xffff),
  })
  .strict();

export const ProfileSchema = z
  .object({
    model: z.string().min(1),
    manufacturer: z.string().min(1),
    kind: z.enum(['electricity', 'water', 'heat']),
    source: z.string().min(1).describe('Where the map comes from (manual, version, table)'),
    manualBase: z
      .number()
      .int()
      .default(0)
      .describe('Manual register number of wire address 0 (30001 for Eastron input registers)'),
    maxRegistersPerRead: z.number().int().min(1).max(125).default(125),
    maxGapRegisters: z
      .number()
      .int()
      .min(0)
      .max(124)
      .default(0)
      .describe('Unused registers the planner may read across to save a request'),
    points: z.array(PointSchema).min(1),
    deviceTime: DeviceTimeSchema.optional(),
    relay: RelaySchema.optional(),
  })
  .strict()
  .superRefine((p, ctx) => {
    const seen = new Set<string>();
    p.points.forEach((pt, i) => {
      if (seen.has(pt.quantity)) {
        ctx.addIssue({
          code: 'custom',
          path: ['points', i, 'quantity'],
          message: `duplicate quantity ${pt.quantity}`,
        });
      }
      seen.add(pt.quantity);
      if (pt.address + REGISTER_WIDTH[pt.type] > 0x10000) {
        ctx.addIssue({
          code: 'custom',
          path: ['points', i, 'address'],
          message: 'point runs past register 65535',
        });
      }
      if (REGISTER_WIDTH[pt.type] > p.maxRegistersPerRead) {
        ctx.addIssue({
          code: 'custom',
          path: ['points', i, 'type'],
          message: 'wider than maxRegistersPerRead',
        });
      }
    });
  });
export type Profile = z.infer<typeof ProfileSchema>;

/** Bits of each unsigned integer register type: what 'register' wraps at (2^bits × scale). */
const UNSIGNED_BITS: Partial<Record<RegisterType, number>> = { u16: 16, u32: 32, u64: 64 };

/**
 * The value in the quantity's canonical unit at which a point's register reads zero again, or
 * undefined when it does not wrap (rolloverAt absent). `2^32 × 0.001 m³` for a u32 litre counter.
 */
export function pointRollover(p: Point): number | undefined {
  if (p.rolloverAt === undefined) return undefined;
  const inUnit = p.rolloverAt === 'register' ? 2 ** UNSIGNED_BITS[p.type]! * p.scale : p.rolloverAt;
  const factor = unitFactor(p.unit, p.quantity);
  // Rounded to 1e-6 of the unit (a litre is 0.001 m³): 2^32 × 0.001 is not exact in binary.
  return factor === undefined ? undefined : Math.round(inUnit * factor * 1e6) / 1e6;
}
