import { z } from 'zod';

/** The campus file's `complaints` section: where the tip mailbox is delivered (services/inspection/complaints). */
export const ComplaintsSettingsSchema = z
  .object({
    mailDrop: z
      .string()
      .min(1)
      .optional()
      .describe(
        'The tip mailbox as a Maildir (new/, cur/, tmp/) that the MTA delivers to, relative to the campus file; absent: no email intake',
      ),
    pollSeconds: z.number().int().min(5).max(3600).default(60).describe('How often new/ is read'),
    maxMessageBytes: z
      .number()
      .int()
      .min(10_000)
      .max(200_000_000)
      .default(25_000_000)
      .describe(
        'Larger messages are recorded flagged, their file kept in cur/ but not copied into the database',
      ),
  })
  .strict()
  .prefault({});
export type ComplaintsSettings = z.infer<typeof ComplaintsSettingsSchema>;
