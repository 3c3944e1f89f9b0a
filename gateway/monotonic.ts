/**
 * Scheduling time that never steps. The gateway's wall clock may be set back or forward (NTP
 * after a cold start without a real-time clock, an operator fixing the date): a poll grid kept in
 * wall-clock time would then stall for as long as the clock went back, or fire every missed poll
 * at once. So schedules run on the monotonic clock, anchored at the wall time the process started,
 * and only what a reading says (its `ts`) is wall-clock time.
 */
export function monotonicNow(): number {
  // Whole milliseconds: a reading's ts is an integer (the contract), and due times become ts.
  return Math.floor(performance.timeOrigin + performance.now());
}

/** The wall-clock time of a monotonic instant, as the clock reads now. */
export function wallTimeOf(monotonic: number): number {
  return Math.round(monotonic + (Date.now() - monotonicNow()));
}
