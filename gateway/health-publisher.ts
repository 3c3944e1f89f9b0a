import type { DeviceHealthTracker } from './device-health.ts';

/** Every device is republished at least once in this many health intervals. */
const REFRESH_EVERY = 10;
/** At most this many device-health messages per interval, so 10,000 meters do not burst. */
const MAX_PER_TICK = 1000;

/**
 * Chooses which device-health messages to publish on each health tick: every device whose
 * breaker state, error count or last error changed since it was last published, then the
 * least recently published ones, until each is refreshed every REFRESH_EVERY ticks, within
 * MAX_PER_TICK. The messages are retained, so a dashboard that connects later sees them all.
 */
export class HealthPublisher {
  private readonly last = new Map<DeviceHealthTracker, { signature: string; tick: number }>();
  private tick = 0;
  private cursor = 0;

  constructor(
    private readonly devices: readonly DeviceHealthTracker[],
    private readonly publish: (device: DeviceHealthTracker, payload: string) => void,
  ) {}

  /** Publishes this tick's share; returns how many were sent. */
  run(now: number): number {
    this.tick++;
    const n = this.devices.length;
    const budget = Math.min(MAX_PER_TICK, n);
    const refreshShare = Math.ceil(n / REFRESH_EVERY);
    let sent = 0;
    const send = (d: DeviceHealthTracker, signature: string) => {
      this.publish(d, JSON.stringify(d.snapshot(now)));
      this.last.set(d, { signature, tick: this.tick });
      sent++;
    };
    // Changes first.
    for (const d of this.devices) {
      if (sent >= budget) break;
      const signature = d.signature();
      const prev = this.last.get(d);
      if (!prev || prev.signature !== signature) send(d, signature);
    }
    // Then a round-robin share of the rest, so latency and error rate stay fresh.
    for (let k = 0; k < n && sent < budget && k < refreshShare; k++) {
      const d = this.devices[this.cursor]!;
      this.cursor = (this.cursor + 1) % n;
      if (this.last.get(d)?.tick !== this.tick) send(d, d.signature());
    }
    return sent;
  }
}
