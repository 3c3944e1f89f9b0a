import type { PenaltyRule } from '../../../config/schemas/collection.ts';
import { divRoundHalfUp, toSafeNumber, type Fen } from '../billing/money.ts';
import { midnightAfter } from './calendar.ts';

/**
 * The late-payment penalty of one notice as of an instant, under the rule the notice was issued
 * with (a later change of the campus file does not reach back into issued notices).
 *
 * - Penalty days are campus calendar days. The first is the day after the due date plus the grace
 *   days; with `afterReminder`, not before the day after the first reminder either (the rules
 *   chase before they penalise). A day counts from its local midnight.
 * - Each penalty day is charged on the fee still unpaid at its midnight: payments go to the fee
 *   first, so paying the fee stops the penalty from the next midnight.
 * - Rate mode: Σ unpaid × rate over the days is kept exact in ten-thousandths of a fen and rounded
 *   half up once, at the end. Amount mode: a whole number of fen per day with anything unpaid.
 * - The cap: `capPercentOfFee` of the fee rounded down (never up against the customer), and
 *   `capFen` when set; the smaller applies.
 */
export interface PenaltyInput {
  feeFen: Fen;
  /** The local midnight that ends the due day: the notice is overdue from here. */
  dueAt: number;
  rule: PenaltyRule;
  /** When the first reminder was recorded, if any. */
  firstReminderAt: number | null;
  /** Payments towards the fee (not towards the penalty), in any order. */
  principalPayments: readonly { at: number; fen: Fen }[];
  asOf: number;
  timezone: string;
}

export interface PenaltyResult {
  /** The penalty accrued as of `asOf`, capped. */
  fen: Fen;
  /** Penalty days counted. */
  days: number;
  /** Where the first penalty day starts, or null when the rule never starts one (after a reminder, none yet). */
  from: number | null;
  capped: boolean;
}

export function penaltyCap(feeFen: Fen, rule: PenaltyRule): Fen {
  const byShare = Math.floor((feeFen * rule.capPercentOfFee) / 100);
  return rule.capFen === null ? byShare : Math.min(byShare, rule.capFen);
}

export function penaltyAsOf(p: PenaltyInput): PenaltyResult {
  const { rule, timezone: tz } = p;
  let from = midnightAfter(p.dueAt, rule.graceDays, tz);
  if (rule.afterReminder) {
    if (p.firstReminderAt === null) return { fen: 0, days: 0, from: null, capped: false };
    from = Math.max(from, midnightAfter(p.firstReminderAt, 1, tz));
  }
  const payments = [...p.principalPayments].sort((a, b) => a.at - b.at);
  let paid = 0;
  let next = 0;
  let days = 0;
  let tenThousandths = 0n;
  let fen = 0;
  for (let day = from; day <= p.asOf; day = midnightAfter(day, 1, tz)) {
    while (next < payments.length && payments[next]!.at < day) paid += payments[next++]!.fen;
    const unpaid = p.feeFen - paid;
    if (unpaid <= 0) break;
    days++;
    if (rule.mode === 'rate') tenThousandths += BigInt(unpaid) * BigInt(rule.ratePer10kPerDay);
    else fen += rule.amountFenPerDay;
  }
  if (rule.mode === 'rate') fen = toSafeNumber(divRoundHalfUp(tenThousandths, 10_000n), 'penalty');
  const cap = penaltyCap(p.feeFen, rule);
  return { fen: Math.min(fen, cap), days, from, capped: fen > cap };
}
