import { z } from 'zod';

/** Energy reports (services/money/reports): how they show what the meters register. */
export const ReportsSettingsSchema = z
  .object({
    heatUnit: z
      .enum(['kWh', 'GJ'])
      .default('kWh')
      .describe(
        'Unit heat is reported in: kWh as heat meters register it, or GJ (1 kWh = 0.0036 GJ) as heat is bought from the primary source and settled',
      ),
  })
  .strict()
  .prefault({});
export type ReportsSettings = z.infer<typeof ReportsSettingsSchema>;
