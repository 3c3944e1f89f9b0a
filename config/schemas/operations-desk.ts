import { z } from 'zod';

/**
 * The campus file's `outages` section: who may approve a planned water, power or heat outage and
 * how far ahead its notice must go out (services/operations/outages). DOMAIN.md: the power and
 * water operations departments issue outage notices; the catalogue of duties names who decides
 * for each utility.
 */

const Usernames = z
  .array(z.string().trim().toLowerCase().min(1).max(64))
  .default([])
  .describe('User names of the supervisors who may approve this utility’s outages; empty: any supervisor');

export const OutagesSettingsSchema = z
  .object({
    approvers: z
      .object({ electricity: Usernames, water: Usernames, heat: Usernames })
      .strict()
      .prefault({})
      .describe('The catalogue of duties: the supervisors of each utility'),
    minNoticeHours: z
      .number()
      .int()
      .min(1)
      .max(24 * 30)
      .default(24)
      .describe('An outage is approved (and its notice published) at least this many hours before it starts'),
    maxWindowHours: z
      .number()
      .int()
      .min(1)
      .max(24 * 14)
      .default(72)
      .describe('The longest window a planned outage may have'),
    settleMinutes: z
      .number()
      .int()
      .min(0)
      .max(24 * 60)
      .default(30)
      .describe(
        'After the planned end, how long supply is given to come back before detection judges the meters again and the outage’s readings are recorded',
      ),
  })
  .strict()
  .prefault({});
export type OutagesSettings = z.infer<typeof OutagesSettingsSchema>;
