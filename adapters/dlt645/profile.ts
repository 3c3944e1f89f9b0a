import { z } from 'zod';
import { QuantitySchema, UnitSchema, unitFactor } from '../../config/schemas/quantities.ts';

/**
 * A DL/T 645-2007 meter model as data: which data identifiers (DIs) to read, how each value is
 * encoded (BCD bytes, decimals, sign) and in which unit, the clock DIs and the relay. A point may
 * take one element of a block DI (`02 01 FF 00` answers voltages A, B and C in one frame), so a
 * three-phase meter needs one request for its voltages instead of three — at 2400 baud that is
 * the difference that counts.
 */
const Di = z
  .string()
  .regex(/^[0-9A-Fa-f]{8}$/, 'a data identifier is 8 hex digits as the standard prints it, e.g. 00010000')
  .transform((s) => s.toUpperCase());

export const Dlt645PointSchema = z
  .object({
    quantity: QuantitySchema,
    di: Di,
    index: z.number().int().min(0).max(15).default(0).describe('Element of a block DI (0 = first)'),
    bytes: z.number().int().min(1).max(8),
    decimals: z.number().int().min(0).max(8),
    signed: z.boolean().default(false).describe('Top bit of the most significant byte is the sign'),
    unit: UnitSchema,
    note: z.string().optional(),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (unitFactor(p.unit, p.quantity) === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['unit'],
        message: `unit ${p.unit} does not fit quantity ${p.quantity}`,
      });
  });
export type Dlt645Point = z.infer<typeof Dlt645PointSchema>;

export const Dlt645RelaySchema = z
  .object({
    statusDi: Di.default('04000503').describe('Run status word 3'),
    openBit: z.number().int().min(0).max(15).default(4).describe('Bit of the status word: 1 = relay open'),
    commandBit: z
      .number()
      .int()
      .min(0)
      .max(15)
      .default(6)
      .describe(
        'Bit of the status word: the relay command state, 1 = open (tripped); 0 with the relay open after "allow closing" = armed',
      ),
    restore: z
      .enum(['allow-closing', 'close-directly'])
      .default('allow-closing')
      .describe(
        'What "close" sends: 1B allow closing (the customer presses the button: safe reconnection) or 1C close directly',
      ),
    validFor: z
      .number()
      .int()
      .min(60_000)
      .default(600_000)
      .describe('ms: the command valid-until time (N3..N8) is this far after sending'),
  })
  .strict();

export const Dlt645ProfileSchema = z
  .object({
    protocol: z.literal('dlt645'),
    model: z.string().min(1),
    manufacturer: z.string().min(1),
    kind: z.literal('electricity'),
    source: z.string().min(1),
    points: z.array(Dlt645PointSchema).min(1),
    deviceTime: z
      .object({ dateDi: Di.default('04000101'), timeDi: Di.default('04000102') })
      .strict()
      .optional()
      .describe('Read the meter clock on every poll (two more requests)'),
    relay: Dlt645RelaySchema.optional(),
  })
  .strict()
  .superRefine((p, ctx) => {
    const seen = new Set<string>();
    p.points.forEach((pt, i) => {
      if (seen.has(pt.quantity))
        ctx.addIssue({
          code: 'custom',
          path: ['points', i, 'quantity'],
          message: `duplicate quantity ${pt.quantity}`,
        });
      seen.add(pt.quantity);
      if (pt.quantity === 'relay_closed')
        ctx.addIssue({
          code: 'custom',
          path: ['points', i, 'quantity'],
          message: 'relay_closed comes from relay.statusDi, not from a point',
        });
    });
    // A block DI must use one width for all its elements, or the offsets would be ambiguous.
    const width = new Map<string, number>();
    p.points.forEach((pt, i) => {
      const w = width.get(pt.di);
      if (w !== undefined && w !== pt.bytes)
        ctx.addIssue({
          code: 'custom',
          path: ['points', i, 'bytes'],
          message: `DI ${pt.di} is read with ${w} bytes per element elsewhere`,
        });
      width.set(pt.di, pt.bytes);
    });
  });
export type Dlt645Profile = z.infer<typeof Dlt645ProfileSchema>;

/** One request of a poll: a DI and the points it carries. */
export interface Dlt645Read {
  di: string;
  points: readonly Dlt645Point[];
}

/** The requests one poll makes, in profile order, one per distinct DI. */
export function planDlt645(profile: Dlt645Profile): Dlt645Read[] {
  const byDi = new Map<string, Dlt645Point[]>();
  for (const p of profile.points) {
    const list = byDi.get(p.di);
    if (list) list.push(p);
    else byDi.set(p.di, [p]);
  }
  return [...byDi].map(([di, points]) => ({ di, points }));
}
