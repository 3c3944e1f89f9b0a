import type { Logger } from 'pino';
import { floorToStep, nextBoundary } from '../consumption/zone.ts';
import type { CumulativeQuantity, MeterKind, ReadingStore } from '../storage.ts';

/**
 * "Today" for the live view: a meter's energy (kWh) or volume (m³) since local midnight in the
 * campus zone, as the latest register minus the day's first register.
 *
 * The day's first register comes from the store once per meter per day (the first point of the
 * store's series from local midnight), cached; readings the hub sees live during the day can only
 * be later, except right after midnight or right after the hub started, where the live one seen
 * first may precede anything ingest has stored yet, so the earlier of the two wins. The lookup reads
 * growing windows (15 min, 1 h, 4 h, the rest of the day up to the first live register) so that a
 * meter polled every second does not load its whole day to find one point.
 *
 * Not computable (null): no register yet today, the lookup still running or failed, or the
 * register went down during the day (a meter replacement or reset: VEE sorts those out, the live
 * view does not guess).
 */

export const CUMULATIVE_OF: Readonly<Record<MeterKind, CumulativeQuantity>> = {
  electricity: 'energy_import_kwh',
  water: 'volume_m3',
  heat: 'heat_kwh',
};

interface Point {
  ts: number;
  value: number;
}

interface DayEntry {
  day: number;
  first: Point;
  state: 'pending' | 'done' | 'failed';
  retryAt: number;
}

const WINDOWS_MS = [15 * 60_000, 3_600_000, 4 * 3_600_000, 48 * 3_600_000];
const RETRY_MS = 60_000;

export interface TodayTrackerOptions {
  store: ReadingStore;
  timezone: string;
  clock: () => number;
  logger: Logger;
  /** Called when a meter's first register of the day is known (its `today` can be shown). */
  onResolved: (meter: string) => void;
  /** Store lookups in flight at once (default 4). */
  concurrency?: number;
}

export class TodayTracker {
  private readonly entries = new Map<string, DayEntry>();
  private readonly queue: (() => Promise<void>)[] = [];
  private running = 0;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];
  /** The last day computed, so that most timestamps need no time-zone arithmetic. */
  private dayCache = { start: 0, end: 0 };

  constructor(private readonly opts: TodayTrackerOptions) {}

  /** Local midnight (UTC ms) of the day `ts` lies in. */
  dayOf(ts: number): number {
    const c = this.dayCache;
    if (ts >= c.start && ts < c.end) return c.start;
    const start = floorToStep(ts, '1d', this.opts.timezone);
    this.dayCache = { start, end: nextBoundary(start, '1d', this.opts.timezone) };
    return start;
  }

  /** Takes note of a register value read at `ts`. */
  observe(meter: string, quantity: CumulativeQuantity, ts: number, value: number): void {
    const now = this.opts.clock();
    const day = this.dayOf(ts);
    // A reading replayed from before midnight says nothing about today.
    if (day !== this.dayOf(now)) return;
    let entry = this.entries.get(meter);
    if (!entry || entry.day !== day) {
      entry = { day, first: { ts, value }, state: 'pending', retryAt: 0 };
      this.entries.set(meter, entry);
      this.lookup(meter, quantity, entry);
      return;
    }
    if (ts < entry.first.ts) entry.first = { ts, value };
    if (entry.state === 'failed' && now >= entry.retryAt) {
      entry.state = 'pending';
      this.lookup(meter, quantity, entry);
    }
  }

  /** Today's consumption given the meter's latest register, or null where not computable. */
  today(meter: string, register: Point | null, now = this.opts.clock()): number | null {
    if (!register) return null;
    const day = this.dayOf(register.ts);
    if (day !== this.dayOf(now)) return null;
    const entry = this.entries.get(meter);
    if (!entry || entry.day !== day || entry.state !== 'done') return null;
    const v = register.value - entry.first.value;
    // Registers are decimals; the difference should not show binary noise (0.1 + 0.2).
    return v >= 0 ? Math.round(v * 1e6) / 1e6 : null;
  }

  /** Resolves once no lookup is queued or running (tests, shutdown). */
  idle(): Promise<void> {
    if (this.running === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  stop(): void {
    this.stopped = true;
    this.queue.length = 0;
  }

  private lookup(meter: string, quantity: CumulativeQuantity, entry: DayEntry): void {
    this.queue.push(async () => {
      if (this.stopped || this.entries.get(meter) !== entry) return;
      try {
        const point = await this.firstOfDay(meter, quantity, entry);
        if (point && point.ts <= entry.first.ts) entry.first = point;
        entry.state = 'done';
      } catch (err) {
        entry.state = 'failed';
        entry.retryAt = this.opts.clock() + RETRY_MS;
        this.opts.logger.warn({ err, meter }, "today's first register not read; retrying later");
        return;
      }
      if (this.entries.get(meter) === entry) this.opts.onResolved(meter);
    });
    this.pump();
  }

  private async firstOfDay(
    meter: string,
    quantity: CumulativeQuantity,
    entry: DayEntry,
  ): Promise<Point | null> {
    let from = entry.day;
    for (const w of WINDOWS_MS) {
      // Nothing after the first register seen live can be the first of the day.
      const to = Math.min(entry.day + w, entry.first.ts + 1);
      if (to <= from) break;
      const points = await this.opts.store.series({ meters: [meter], quantity, from, to });
      const p = points[0];
      if (p) return { ts: p.ts, value: p.value };
      from = to;
    }
    return null;
  }

  private pump(): void {
    const limit = this.opts.concurrency ?? 4;
    while (this.running < limit && this.queue.length > 0) {
      const job = this.queue.shift()!;
      this.running++;
      void job().finally(() => {
        this.running--;
        this.pump();
        if (this.running === 0 && this.queue.length === 0) {
          for (const w of this.idleWaiters.splice(0)) w();
        }
      });
    }
  }
}
