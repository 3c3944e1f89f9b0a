import { intervalConsumption } from '../../metering/consumption/consumption.ts';
import { stepBoundaries } from '../../metering/consumption/zone.ts';
import type { CumulativeQuantity, IntervalConsumption, ReadingStore } from '../../metering/storage.ts';

/**
 * Interval consumption with the settled intervals remembered: a day (or hour) that ended more
 * than `settleMs` ago and could be computed does not change any more in practice, so a yearly
 * report reads the store once and later reports of that year read memory. An unknown interval (a
 * gap) is remembered only for `gapTtlMs` (10 minutes): a gateway back after days replays its
 * outbox and fills it, and the next report after that sees it. Late data older than `settleMs`
 * that changes a computed interval is not seen until the process restarts; a day is the default,
 * longer than a gateway's outbox replay after an ordinary outage.
 */
export class SettledIntervals {
  /** Per meter/quantity/step: interval start → the interval and until when it may be reused. */
  private readonly settled = new Map<string, Map<number, { interval: IntervalConsumption; until: number }>>();

  constructor(
    private readonly store: ReadingStore,
    private readonly settleMs = 86_400_000,
    private readonly gapTtlMs = 600_000,
  ) {}

  async read(q: {
    meters: readonly string[];
    quantity: CumulativeQuantity;
    from: number;
    to: number;
    step: '1h' | '1d';
    timezone: string;
    now: number;
  }): Promise<IntervalConsumption[]> {
    const bounds = stepBoundaries(q.from, q.to, q.step, q.timezone);
    const starts = bounds.slice(0, -1);
    const memo = (m: string) => `${m}\u0000${q.quantity}\u0000${q.step}`;
    const usable = (m: string, s: number) => {
      const e = this.settled.get(memo(m))?.get(s);
      return e !== undefined && e.until > q.now ? e.interval : undefined;
    };
    const missing = q.meters.filter((m) => starts.some((s) => !usable(m, s)));
    const fresh = new Map<string, IntervalConsumption[]>();
    if (missing.length) {
      // One read for every meter that lacks something, over the span of what is lacking.
      let from = Infinity;
      let to = -Infinity;
      for (const m of missing) {
        starts.forEach((s, i) => {
          if (usable(m, s)) return;
          from = Math.min(from, s);
          to = Math.max(to, bounds[i + 1]!);
        });
      }
      const rows = await intervalConsumption(this.store, { ...q, meters: missing, from, to });
      for (const r of rows) {
        const list = fresh.get(r.meter) ?? [];
        list.push(r);
        fresh.set(r.meter, list);
        if (r.end <= q.now - this.settleMs) {
          const key = memo(r.meter);
          if (!this.settled.has(key)) this.settled.set(key, new Map());
          const until = r.value === null ? q.now + this.gapTtlMs : Infinity;
          this.settled.get(key)!.set(r.start, { interval: r, until });
        }
      }
    }
    const out: IntervalConsumption[] = [];
    for (const m of q.meters) {
      const computed = new Map((fresh.get(m) ?? []).map((r) => [r.start, r]));
      starts.forEach((s, i) => {
        out.push(
          computed.get(s) ??
            usable(m, s) ?? { meter: m, start: s, end: bounds[i + 1]!, value: null, status: 'gap' },
        );
      });
    }
    return out;
  }
}
