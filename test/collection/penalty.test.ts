import { describe, expect, it } from 'vitest';
import { CollectionSettingsSchema, PenaltyRuleSchema } from '../../config/schemas/collection.ts';
import { penaltyAsOf } from '../../services/money/collection/penalty.ts';
import { local, TZ } from './support.ts';

/** The penalty rule on its own, figures worked by hand. Due day 9 January: overdue from 10 January. */
const dueAt = local(2027, 1, 10);
const base = { feeFen: 1000, dueAt, firstReminderAt: null, principalPayments: [], timezone: TZ };

describe('penalty rule', () => {
  it('rate: exact over the days, rounded half up once', () => {
    const rule = PenaltyRuleSchema.parse({ graceDays: 0, afterReminder: false });
    // Day 1 starts at the due day's end: 1000 × 0.0005 = 0.5 fen → 1.
    expect(penaltyAsOf({ ...base, rule, asOf: local(2027, 1, 10) })).toMatchObject({ fen: 1, days: 1 });
    expect(penaltyAsOf({ ...base, rule, asOf: local(2027, 1, 9, 23, 59) })).toMatchObject({
      fen: 0,
      days: 0,
    });
    // 3 days: 1.5 → 2; rounding per day would give 3.
    expect(penaltyAsOf({ ...base, rule, asOf: local(2027, 1, 12, 8) }).fen).toBe(2);
  });

  it('amount per day, grace, and the caps (share of the fee rounded down, absolute)', () => {
    const rule = PenaltyRuleSchema.parse({
      mode: 'amount',
      amountFenPerDay: 30,
      graceDays: 5,
      afterReminder: false,
    });
    // Grace: 10–14 January free; 15–20 January is 6 days.
    expect(penaltyAsOf({ ...base, rule, asOf: local(2027, 1, 20, 12) })).toMatchObject({ fen: 180, days: 6 });
    const capped = { ...rule, capPercentOfFee: 15 };
    expect(penaltyAsOf({ ...base, feeFen: 999, rule: capped, asOf: local(2027, 2, 20) })).toMatchObject({
      fen: 149, // 15 % of 999 = 149.85, down
      capped: true,
    });
    expect(penaltyAsOf({ ...base, rule: { ...rule, capFen: 100 }, asOf: local(2027, 2, 20) }).fen).toBe(100);
  });

  it('a payment before a day’s midnight stops that day; a payment after it does not', () => {
    const rule = PenaltyRuleSchema.parse({
      mode: 'amount',
      amountFenPerDay: 10,
      graceDays: 0,
      afterReminder: false,
    });
    const paidAt = (t: number) => [{ at: t, fen: 1000 }];
    const asOf = local(2027, 1, 20);
    expect(
      penaltyAsOf({ ...base, rule, asOf, principalPayments: paidAt(local(2027, 1, 11, 23, 59)) }).fen,
    ).toBe(20);
    expect(
      penaltyAsOf({ ...base, rule, asOf, principalPayments: paidAt(local(2027, 1, 12, 0, 1)) }).fen,
    ).toBe(30);
  });

  it('the campus file section has its defaults and refuses nonsense with the path named', () => {
    expect(CollectionSettingsSchema.parse({})).toEqual({
      objectionDays: 7,
      dueDays: 30,
      penalty: {
        mode: 'rate',
        ratePer10kPerDay: 5,
        amountFenPerDay: 0,
        graceDays: 15,
        afterReminder: true,
        capPercentOfFee: 100,
        capFen: null,
      },
    });
    const r = CollectionSettingsSchema.safeParse({ penalty: { amountFenPerDay: 1.5 } });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.path).toEqual(['penalty', 'amountFenPerDay']);
  });
});
