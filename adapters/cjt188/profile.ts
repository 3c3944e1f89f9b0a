import { z } from 'zod';
import { QuantitySchema } from '../../config/schemas/quantities.ts';

/**
 * A CJ/T 188-2004 meter model as data: its meter type, and the layout of the data field of its
 * 901F answer after DI and SER, field by field in wire order. A `bcd` field with `unitCode: true`
 * is followed by the meter's unit code, which chooses the conversion at run time; temperatures
 * carry no code and are °C. Fields without a quantity are skipped (e.g. the settlement-day value).
 */
export const Cjt188FieldSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('bcd'),
      bytes: z.number().int().min(1).max(8),
      decimals: z.number().int().min(0).max(8),
      unitCode: z.boolean().default(false).describe('A unit code byte follows the value'),
      quantity: QuantitySchema.optional(),
      name: z.string().optional(),
    })
    .strict(),
  z
    .object({
      type: z.literal('temperature'),
      bytes: z.number().int().min(1).max(4).default(3),
      decimals: z.number().int().min(0).max(4).default(2),
      quantity: z.enum(['supply_c', 'return_c']).optional(),
      name: z.string().optional(),
    })
    .strict(),
  z
    .object({ type: z.literal('time'), name: z.string().optional() })
    .strict()
    .describe('7 bytes ss mm hh DD MM YYYY'),
  z
    .object({ type: z.literal('status'), name: z.string().optional() })
    .strict()
    .describe('2 bytes: valve, battery'),
  z
    .object({ type: z.literal('skip'), bytes: z.number().int().min(1).max(32), name: z.string().optional() })
    .strict(),
]);
export type Cjt188Field = z.infer<typeof Cjt188FieldSchema>;

export const Cjt188ProfileSchema = z
  .object({
    protocol: z.literal('cjt188'),
    model: z.string().min(1),
    manufacturer: z.string().min(1),
    kind: z.enum(['water', 'heat']),
    source: z.string().min(1),
    meterType: z
      .number()
      .int()
      .min(0x10)
      .max(0x49)
      .describe('T: 0x10 cold water, 0x11 hot water, 0x20 heat, 0x30 gas'),
    layout: z.array(Cjt188FieldSchema).min(1),
    valve: z
      .object({})
      .strict()
      .optional()
      .describe('The meter has a valve (A017: 55 open, 99 close); its state is the status word’s bits 0–1'),
  })
  .strict()
  .superRefine((p, ctx) => {
    const seen = new Set<string>();
    p.layout.forEach((f, i) => {
      const q = 'quantity' in f ? f.quantity : undefined;
      if (!q) return;
      if (seen.has(q))
        ctx.addIssue({ code: 'custom', path: ['layout', i, 'quantity'], message: `duplicate quantity ${q}` });
      seen.add(q);
    });
    if (p.valve && !p.layout.some((f) => f.type === 'status'))
      ctx.addIssue({
        code: 'custom',
        path: ['valve'],
        message: 'a valve needs a status field in the layout to read it back',
      });
  });
export type Cjt188Profile = z.infer<typeof Cjt188ProfileSchema>;

export function fieldBytes(f: Cjt188Field): number {
  switch (f.type) {
    case 'bcd':
      return f.bytes + (f.unitCode ? 1 : 0);
    case 'temperature':
      return f.bytes;
    case 'time':
      return 7;
    case 'status':
      return 2;
    case 'skip':
      return f.bytes;
  }
}
