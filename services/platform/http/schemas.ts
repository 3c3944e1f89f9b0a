import { z } from 'zod';

/**
 * Request pieces the back-office routes share. Money is a whole number of fen and ids are whole
 * positive numbers, checked here before a service sees them; the services check again.
 */

/** Account, meter and line ids: the prepaid service's id alphabet. */
export const Id = z.string().regex(/^[A-Za-z0-9._:/-]{1,64}$/, 'ids are 1–64 letters, digits and . _ : / -');

/** Free text a person writes: a reason, a note. */
export const Text = z.string().trim().min(1).max(500);

/** A time in JSON bodies: UTC milliseconds. */
export const UtcMs = z.number().int().nonnegative().describe('UTC milliseconds');

/** A whole number written in a path or query string; no signs, spaces, exponents or leading zeros. */
export const wholeNumber = (what: string) =>
  z
    .string()
    .regex(/^(0|[1-9][0-9]{0,15})$/, `${what} is a whole number`)
    .transform(Number)
    .pipe(z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER));

/** `:id` of a request, approval or record: a positive whole number. */
export const IdParams = z
  .object({
    id: z
      .string()
      .regex(/^[1-9][0-9]{0,15}$/, 'id is a positive whole number')
      .transform(Number)
      .pipe(z.number().int().positive().max(Number.MAX_SAFE_INTEGER)),
  })
  .strict();

/** `:id` of a prepaid account. */
export const AccountParams = z.object({ id: Id }).strict();

/** A time in a query string: UTC milliseconds. */
export const UtcMsQuery = wholeNumber('a time (UTC ms)').describe('UTC milliseconds');

/** An optional note with a decision; the body itself may be left out. */
export const OptionalReason = z
  .object({ reason: z.string().trim().max(500).optional() })
  .strict()
  .optional();
