import { z } from 'zod';

/**
 * The campus file's `prepaid` section: the business office's rules that are the campus's to set.
 *
 * Free quota is credited per month (one grant per room and month, entered by one person and
 * confirmed by a supervisor); the cap bounds what a room gets over a whole term, so that splitting
 * a generous grant into several smaller ones, month by month, gains nothing.
 */

const MONTH = z.number().int().min(1).max(12);

export const FreeQuotaTermSchema = z
  .object({
    name: z.string().min(1).max(64).describe('E.g. "autumn"; shown in refusals'),
    months: z
      .array(MONTH)
      .min(1)
      .max(12)
      .refine((m) => new Set(m).size === m.length, 'a month is listed twice')
      .describe(
        'Calendar months of the term in order (1–12); the first starts it, so [9, 10, 11, 12, 1] runs from September into the next January',
      ),
  })
  .strict();
export type FreeQuotaTerm = z.infer<typeof FreeQuotaTermSchema>;

export const DEFAULT_FREE_QUOTA_TERMS: readonly FreeQuotaTerm[] = [
  { name: 'autumn', months: [9, 10, 11, 12, 1] },
  { name: 'spring', months: [2, 3, 4, 5, 6, 7, 8] },
];

export const FreeQuotaSettingsSchema = z
  .object({
    capKwhPerRoomPerTerm: z
      .number()
      .nonnegative()
      .max(100_000)
      .refine((n) => Math.abs(n * 1000 - Math.round(n * 1000)) < 1e-6, 'kWh with at most 3 decimals')
      .default(300)
      .describe(
        'The most free electricity (kWh) one account may be granted over one term, pending and confirmed grants together; 0: none',
      ),
    terms: z
      .array(FreeQuotaTermSchema)
      .min(1)
      .default([...DEFAULT_FREE_QUOTA_TERMS])
      .refine(
        (terms) => new Set(terms.flatMap((t) => t.months)).size === terms.flatMap((t) => t.months).length,
        'a month belongs to two terms',
      )
      .describe('The terms the cap counts over; a month in no term gets no free quota'),
  })
  .strict();
export type FreeQuotaSettings = z.infer<typeof FreeQuotaSettingsSchema>;

export const PrepaidSettingsSchema = z
  .object({
    freeQuota: FreeQuotaSettingsSchema.prefault({}).describe('Free electricity for student rooms'),
  })
  .strict()
  .prefault({});
export type PrepaidSettings = z.infer<typeof PrepaidSettingsSchema>;
