import type { RetentionHold } from '../../metering/storage.ts';
import type { AlertStore, AlertState } from './alerts.ts';

/** Alerts an inspector has not decided yet: their evidence may still be looked at and disputed. */
export const UNDECIDED_ALERT_STATES: readonly AlertState[] = ['open', 'assigned', 'field-checked'];

/**
 * The raw readings behind alerts inspectors are still working on: from the start of each
 * undecided alert's evidence window (or the condition's start, when earlier) on. An alert on a
 * metering-tree node (an energy balance) is about every meter below it, so it holds every meter.
 */
export function openAlertHolds(alerts: Pick<AlertStore, 'list'>): RetentionHold[] {
  return alerts.list({ state: UNDECIDED_ALERT_STATES, limit: Number.MAX_SAFE_INTEGER }).map((a) => ({
    reason: 'alert-open',
    ...(a.meter !== undefined ? { meter: a.meter } : {}),
    from: Math.min(a.since, a.evidence.from),
  }));
}
