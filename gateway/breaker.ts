/**
 * A per-device circuit breaker with capped exponential backoff. After `failures` consecutive
 * failed polls it opens: the device is not polled until its backoff has passed, then one probe
 * (half-open) decides whether it closes again or reopens with a doubled backoff.
 */
export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  failures: number;
  baseBackoff: number;
  maxBackoff: number;
}

export class CircuitBreaker {
  private consecutiveFailures = 0;
  private opens = 0;
  private openUntil = 0;
  private _state: BreakerState = 'closed';

  constructor(private readonly opts: BreakerOptions) {}

  get state(): BreakerState {
    return this._state;
  }

  get failures(): number {
    return this.consecutiveFailures;
  }

  /** When the device may next be polled (ms); 0 when it may be polled now. */
  get notBefore(): number {
    return this._state === 'open' ? this.openUntil : 0;
  }

  /** Call before polling at `now`: moves an expired open breaker to half-open. */
  allow(now: number): boolean {
    if (this._state === 'open') {
      if (now < this.openUntil) return false;
      this._state = 'half-open';
    }
    return true;
  }

  success(): void {
    this.consecutiveFailures = 0;
    this.opens = 0;
    this._state = 'closed';
  }

  /**
   * Records a failed poll. `costly` failures (a timeout: the line sat idle for the whole timeout)
   * open the breaker at once, because every further attempt costs the other meters on the line.
   */
  failure(now: number, costly = false): void {
    this.consecutiveFailures++;
    if (costly || this._state === 'half-open' || this.consecutiveFailures >= this.opts.failures) {
      this.opens++;
      const backoff = Math.min(this.opts.maxBackoff, this.opts.baseBackoff * 2 ** (this.opens - 1));
      this.openUntil = now + backoff;
      this._state = 'open';
    }
  }
}
