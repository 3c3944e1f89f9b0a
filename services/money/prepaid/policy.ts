import { z } from 'zod';
import { wallClock } from '../../metering/consumption/zone.ts';
import type { Fen } from '../billing/money.ts';
import { CUSTOMER_TYPES, type CustomerType } from '../billing/tariffs.ts';

/**
 * What the balance of a prepaid account calls for: low-balance alarms in two levels, a cut-off
 * *request* at or below zero (or below the emergency credit), a restore request once the balance
 * is back. Pure: the evaluator only says what to do; the control service (relay requests with
 * their own approvals) does it, and the caller remembers what was already sent.
 *
 * Never a cut-off in friendly hours (nights, weekends, holidays in the campus time zone, so that
 * nobody is left without power overnight or until the office reopens) and never for a protected
 * account (e.g. medical equipment): both give a `hold` action naming why, so the debt is visible.
 */

const FEN = z.number().int().safe();
const HHMM = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time of day is HH:MM');
const DATE = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date is YYYY-MM-DD');

export const LevelsSchema = z
  .object({
    alarm1Fen: FEN.describe('First (mild) low-balance alarm at or below this balance'),
    alarm2Fen: FEN.describe('Second (urgent) alarm at or below this balance; below alarm1Fen'),
    emergencyCreditFen: FEN.nonnegative()
      .default(0)
      .describe('Credit allowed below zero: a cut-off is requested only at or below −emergencyCreditFen'),
    restoreAboveFen: FEN.nonnegative()
      .default(0)
      .describe('Supply is restored once the balance is above this (the debt is paid plus this margin)'),
  })
  .strict()
  .refine((l) => l.alarm2Fen < l.alarm1Fen, 'alarm2Fen must be below alarm1Fen');
export type Levels = z.infer<typeof LevelsSchema>;

const DEFAULT_LEVELS: Record<CustomerType, z.input<typeof LevelsSchema>> = {
  'student-room': { alarm1Fen: 2_000, alarm2Fen: 500 },
  'staff-household': { alarm1Fen: 5_000, alarm2Fen: 1_000, emergencyCreditFen: 2_000 },
  business: { alarm1Fen: 20_000, alarm2Fen: 5_000 },
  external: { alarm1Fen: 20_000, alarm2Fen: 5_000 },
  'fully-recovered-unit': { alarm1Fen: 20_000, alarm2Fen: 5_000 },
  vendor: { alarm1Fen: 20_000, alarm2Fen: 5_000 },
  public: { alarm1Fen: 10_000, alarm2Fen: 2_000 },
};

export const FriendlyHoursSchema = z
  .object({
    nightFrom: HHMM.default('22:00').describe('Local time the nightly friendly period starts'),
    nightTo: HHMM.default('08:00').describe('Local time it ends, next morning when earlier than nightFrom'),
    weekends: z.boolean().default(true).describe('Saturdays and Sundays are friendly all day'),
    holidays: z.array(DATE).default([]).describe('Public holidays and campus closures, friendly all day'),
    workingWeekendDays: z
      .array(DATE)
      .default([])
      .describe('Weekend days worked in exchange for a holiday bridge (调休): not friendly by day'),
  })
  .strict();

export const PolicySchema = z
  .object({
    timezone: z.string().default('Asia/Shanghai'),
    levels: z.partialRecord(z.enum(CUSTOMER_TYPES), LevelsSchema).default({}),
    friendlyHours: FriendlyHoursSchema.default({
      nightFrom: '22:00',
      nightTo: '08:00',
      weekends: true,
      holidays: [],
      workingWeekendDays: [],
    }),
    muteAlarmsInFriendlyHours: z
      .boolean()
      .default(false)
      .describe(
        'Hold low-balance alarms until friendly hours end (they are repeated by the next evaluation)',
      ),
  })
  .strict();
export type PolicyInput = z.input<typeof PolicySchema>;
export type Policy = z.infer<typeof PolicySchema>;

export function parsePolicy(input: PolicyInput = {}): Policy {
  return PolicySchema.parse(input);
}

/** The levels for a customer type: the configured ones, else the defaults. */
export function levelsFor(policy: Policy, customerType: CustomerType): Levels {
  return policy.levels[customerType] ?? LevelsSchema.parse(DEFAULT_LEVELS[customerType]);
}

const minutes = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** Why `now` is in friendly hours, or null when it is not. */
export function friendlyReason(policy: Policy, now: number): 'night' | 'weekend' | 'holiday' | null {
  const f = policy.friendlyHours;
  const w = wallClock(now, policy.timezone);
  const date = `${w.year}-${String(w.month).padStart(2, '0')}-${String(w.day).padStart(2, '0')}`;
  if (f.holidays.includes(date)) return 'holiday';
  const weekday = new Date(Date.UTC(w.year, w.month - 1, w.day)).getUTCDay();
  if (f.weekends && (weekday === 0 || weekday === 6) && !f.workingWeekendDays.includes(date))
    return 'weekend';
  const m = w.hour * 60 + w.minute;
  const from = minutes(f.nightFrom);
  const to = minutes(f.nightTo);
  const night = from <= to ? m >= from && m < to : m >= from || m < to;
  return night ? 'night' : null;
}

/** What the evaluator needs to know about an account. */
export interface AccountState {
  id: string;
  customerType: CustomerType;
  protected: boolean;
  balanceFen: Fen;
  /** The relay as the control service last reported it. */
  supply: 'on' | 'off';
  /** A cut-off or restore already requested and not yet carried out or refused. */
  pending?: 'cutoff' | 'restore';
}

export type PolicyAction =
  | { type: 'alarm'; level: 1 | 2; balanceFen: Fen; thresholdFen: Fen }
  | { type: 'request-cutoff'; reason: string }
  | { type: 'request-restore'; reason: string }
  | { type: 'hold'; reason: 'protected' | 'night' | 'weekend' | 'holiday'; detail: string };

/** The actions the account's balance calls for at `now` (empty when none). */
export function evaluate(policy: Policy, account: AccountState, now: number): PolicyAction[] {
  const l = levelsFor(policy, account.customerType);
  const balance = account.balanceFen;
  const friendly = friendlyReason(policy, now);
  const actions: PolicyAction[] = [];

  if (account.supply === 'off') {
    if (balance > l.restoreAboveFen && account.pending !== 'restore') {
      actions.push({
        type: 'request-restore',
        reason: `balance ${balance} fen is above the restore level ${l.restoreAboveFen} fen`,
      });
    }
    return actions;
  }

  if (!(friendly && policy.muteAlarmsInFriendlyHours)) {
    if (balance <= l.alarm2Fen)
      actions.push({ type: 'alarm', level: 2, balanceFen: balance, thresholdFen: l.alarm2Fen });
    else if (balance <= l.alarm1Fen)
      actions.push({ type: 'alarm', level: 1, balanceFen: balance, thresholdFen: l.alarm1Fen });
  }

  const cutoffAt = -l.emergencyCreditFen;
  if (balance <= cutoffAt && account.pending !== 'cutoff') {
    const why =
      l.emergencyCreditFen > 0
        ? `balance ${balance} fen has used up the emergency credit of ${l.emergencyCreditFen} fen`
        : `balance ${balance} fen is at or below zero`;
    if (account.protected)
      actions.push({ type: 'hold', reason: 'protected', detail: `${why}; protected account` });
    else if (friendly)
      actions.push({ type: 'hold', reason: friendly, detail: `${why}; friendly hours (${friendly})` });
    else actions.push({ type: 'request-cutoff', reason: why });
  }
  return actions;
}
