import type { DeviceHealth, ReadingError } from '../config/schemas/reading.ts';
import type { CircuitBreaker } from './breaker.ts';

const WINDOW = 20;
const WINDOW_MASK = (1 << WINDOW) - 1;

/** Rolling health of one device (a meter on a bus): what operators see on the health topic. */
export class DeviceHealthTracker {
  polls = 0;
  errors = 0;
  private latencyMs: number | null = null;
  /**
   * The last WINDOW polls as bits (1: failed), newest lowest, and how many there were: a number
   * per meter instead of an array that every poll shifted.
   */
  private recentFailed = 0;
  private recentCount = 0;
  private lastError: ReadingError | null = null;

  constructor(
    readonly device: string,
    private readonly breaker: CircuitBreaker,
  ) {}

  record(ok: boolean, latencyMs: number | null, error?: ReadingError): void {
    this.polls++;
    if (!ok) {
      this.errors++;
      this.lastError = error ?? null;
    }
    if (latencyMs !== null) {
      // Exponentially weighted, so one slow answer shows but does not dominate.
      this.latencyMs = this.latencyMs === null ? latencyMs : this.latencyMs * 0.8 + latencyMs * 0.2;
    }
    this.recentFailed = ((this.recentFailed << 1) | (ok ? 0 : 1)) & WINDOW_MASK;
    if (this.recentCount < WINDOW) this.recentCount++;
  }

  /** What, when it changes, operators should hear about at once. */
  signature(): string {
    return `${this.breaker.state}|${this.errors}|${this.lastError?.code ?? ''}`;
  }

  snapshot(now: number): DeviceHealth {
    let failed = 0;
    for (let bits = this.recentFailed; bits !== 0; bits &= bits - 1) failed++;
    return {
      device: this.device,
      ts: now,
      breaker: this.breaker.state,
      ...(this.breaker.state === 'open' ? { pausedUntil: Math.round(this.breaker.notBefore) } : {}),
      latencyMs: this.latencyMs === null ? null : Math.round(this.latencyMs * 10) / 10,
      polls: this.polls,
      errors: this.errors,
      errorRate: this.recentCount === 0 ? 0 : failed / this.recentCount,
      lastError: this.lastError,
    };
  }
}
