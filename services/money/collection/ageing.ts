import type { Fen } from '../billing/money.ts';
import { daysBetween } from './calendar.ts';

/**
 * Arrears ageing in campus calendar days past the due date: the first day after the due date is
 * day 1. A notice not yet overdue is not in arrears, whatever it owes.
 */
export const AGE_BUCKETS = ['0-30', '31-60', '61-90', '>90'] as const;
export type AgeBucket = (typeof AGE_BUCKETS)[number];

/** Days overdue as of `asOf` for a notice overdue from `dueAt` (a local midnight); 0 when not overdue. */
export function daysOverdue(dueAt: number, asOf: number, tz: string): number {
  if (asOf < dueAt) return 0;
  return daysBetween(dueAt, asOf, tz) + 1;
}

export function bucketOf(days: number): AgeBucket {
  if (days <= 30) return '0-30';
  if (days <= 60) return '31-60';
  if (days <= 90) return '61-90';
  return '>90';
}

export function emptyBuckets(): Record<AgeBucket, { count: number; fen: Fen }> {
  return Object.fromEntries(AGE_BUCKETS.map((b) => [b, { count: 0, fen: 0 }])) as Record<
    AgeBucket,
    { count: number; fen: Fen }
  >;
}
