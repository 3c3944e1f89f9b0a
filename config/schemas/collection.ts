import { z } from 'zod';

/**
 * The campus file's `collection` section: the university's energy rules for post-paid fees
 * (services/money/collection). Every amount is integer fen; a rate is in ten-thousandths a day
 * (万分之, as the rules are written: 5 = 0.05 % of the unpaid fee a day).
 */

const Fen = z.number().int().nonnegative().max(100_000_000);

export const PenaltyRuleSchema = z
  .object({
    mode: z
      .enum(['rate', 'amount'])
      .default('rate')
      .describe('rate: ratePer10kPerDay of the unpaid fee a day; amount: amountFenPerDay a day'),
    ratePer10kPerDay: z
      .number()
      .int()
      .min(0)
      .max(1000)
      .default(5)
      .describe('Ten-thousandths of the unpaid fee a day (5 = 0.05 %/day)'),
    amountFenPerDay: Fen.default(0).describe('Fen a day while any of the fee is unpaid (mode amount)'),
    graceDays: z
      .number()
      .int()
      .min(0)
      .max(365)
      .default(15)
      .describe('Days after the due date with no penalty'),
    afterReminder: z
      .boolean()
      .default(true)
      .describe('Penalties start only once a reminder was recorded (the rules chase before they penalise)'),
    capPercentOfFee: z
      .number()
      .int()
      .min(0)
      .max(100)
      .default(100)
      .describe('The penalty never exceeds this share of the notice’s fee (rounded down to the fen)'),
    capFen: Fen.nullable().default(null).describe('An absolute cap per notice, if any'),
  })
  .strict();
export type PenaltyRule = z.infer<typeof PenaltyRuleSchema>;

export const CollectionSettingsSchema = z
  .object({
    objectionDays: z
      .number()
      .int()
      .min(1)
      .max(60)
      .default(7)
      .describe('Days a published fee table is open for objections (to the local midnight after)'),
    dueDays: z
      .number()
      .int()
      .min(1)
      .max(120)
      .default(30)
      .describe('Days from issuing a payment notice to its due date (campus days)'),
    penalty: PenaltyRuleSchema.prefault({}).describe(
      'Late-payment penalty; each notice keeps the rule it was issued under',
    ),
  })
  .strict()
  .prefault({});
export type CollectionSettings = z.infer<typeof CollectionSettingsSchema>;
