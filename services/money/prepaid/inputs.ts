import { z } from 'zod';
import { isExactAtScale, isFen, type Fen } from '../billing/money.ts';
import { CUSTOMER_TYPES } from '../billing/tariffs.ts';
import { PREPAID_ERRORS, type PrepaidErrorCode } from './errors.ts';
import { PeriodSchema } from './free-quota.ts';
import { MAX_ENTRY_FEN, PAYMENT_METHODS } from './types.ts';
import { fail, ServiceError } from '../../platform/errors.ts';
import type { PrepaidContext } from './context.ts';

/** What each prepaid operation accepts (zod), and how a refusal is raised. */

export const ID = z.string().regex(/^[A-Za-z0-9._:/-]{1,64}$/, 'ids are 1–64 letters, digits and . _ : / -');
export const TEXT = z.string().trim().min(1).max(500);

export const OpenAccountSchema = z
  .object({
    id: ID,
    customerType: z.enum(CUSTOMER_TYPES),
    holder: TEXT,
    meters: z.array(ID).min(1).max(16),
    payrollCode: z.string().min(1).max(64).optional(),
    protected: z.boolean().default(false),
    occupants: z.number().int().min(0).max(64).optional().describe('People in a room, for free quota'),
  })
  .strict();
export type OpenAccountInput = z.input<typeof OpenAccountSchema>;

export const TopUpSchema = z
  .object({
    account: ID,
    amountFen: z.number(),
    method: z.enum(PAYMENT_METHODS),
    reference: z.string().trim().min(1).max(128).describe('Receipt, card transaction or transfer number'),
  })
  .strict();
export const RefundSchema = z
  .object({ account: ID, amountFen: z.number(), method: z.enum(PAYMENT_METHODS), reason: TEXT })
  .strict();
export const CorrectionSchema = z.object({ account: ID, amountFen: z.number(), reason: TEXT }).strict();
export const FreeQuotaSchema = z
  .object({
    account: ID,
    period: PeriodSchema,
    kwh: z
      .number()
      .positive()
      .refine((n) => isExactAtScale(n, 3), 'kWh with at most 3 decimals'),
  })
  .strict();
export const MeterResetSchema = z
  .object({
    account: ID,
    meter: ID,
    at: z.number().int().nonnegative().describe('When the register was cleared or the meter exchanged'),
    registerBefore: z.number().finite().nonnegative().optional(),
    registerAfter: z.number().finite().nonnegative().default(0),
    reason: TEXT,
  })
  .strict();
export const HandoverSchema = z
  .object({ clerk: z.string().min(1), from: z.number().int(), to: z.number().int() })
  .strict();
export const DecisionSchema = z.object({ reason: z.string().trim().max(500).optional() }).strict();

export function refuse(code: PrepaidErrorCode, message: string): never {
  fail(PREPAID_ERRORS, code, message);
}

export function parse<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const r = schema.safeParse(input);
  if (!r.success) refuse('INVALID_REQUEST', z.prettifyError(r.error));
  return r.data;
}

/** A positive whole number of fen (a correction may also be negative, never zero). */
export function assertAmount(amount: unknown, allowNegative = false): asserts amount is Fen {
  if (!isFen(amount) || amount === 0 || (!allowNegative && amount < 0) || Math.abs(amount) > MAX_ENTRY_FEN) {
    refuse(
      'INVALID_AMOUNT',
      `${String(amount)} is not a ${allowNegative ? 'non-zero' : 'positive'} whole number of fen up to ${MAX_ENTRY_FEN}`,
    );
  }
}

/** Tariff errors surface as the prepaid service's NO_TARIFF. */
export function price<T>(_ctx: PrepaidContext, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof ServiceError && e.code === 'TARIFF_NOT_FOUND') refuse('NO_TARIFF', e.message);
    throw e;
  }
}
