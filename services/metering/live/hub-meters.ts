import type { LoadedCampus } from '../../../config/campus.ts';
import type { Reading } from '../../../config/schemas/reading.ts';
import type { Clock } from '../../platform/db.ts';
import type { CumulativeQuantity, MeterKind, ReadingStore } from '../storage.ts';
import type { Fanout } from './fanout.ts';
import { CUMULATIVE_OF, TodayTracker } from './today.ts';
import type { LiveReading } from './types.ts';
import type { Logger } from 'pino';

/** Staleness threshold when a meter's poll interval is unknown. */
export const DEFAULT_STALE_MS = 5 * 60_000;
/** A reading is stale after this many poll intervals without a newer one. */
export const STALE_INTERVALS = 3;

export interface MeterInfo {
  id: string;
  site: string;
  gateway: string;
  kind: MeterKind;
  pollInterval: number;
  order: number;
}

interface MeterState {
  info: MeterInfo;
  quantity: CumulativeQuantity;
  reading: Reading | null;
  /** The latest good value of the meter's cumulative quantity. */
  register: { ts: number; value: number } | null;
  /** What the clients were last told. */
  shownStale: boolean;
  shownToday: number | null;
}

/** Every meter of the campus file, in file order, with where it is and how often it is polled. */
export function campusMeters(campus: LoadedCampus): Map<string, MeterInfo> {
  const out = new Map<string, MeterInfo>();
  for (const site of campus.config.sites) {
    for (const gateway of site.gateways) {
      const meters = [...gateway.buses.flatMap((b) => b.meters), ...gateway.opcua.flatMap((d) => d.meters)];
      for (const m of meters) {
        out.set(m.id, {
          id: m.id,
          site: site.id,
          gateway: gateway.id,
          kind: m.kind,
          pollInterval: m.pollInterval,
          order: out.size,
        });
      }
    }
  }
  return out;
}

export const sseEvent = (r: LiveReading) => `event: reading\ndata: ${JSON.stringify(r)}\n\n`;

export interface LiveMetersDeps {
  campus: LoadedCampus;
  store: ReadingStore;
  fanout: Fanout;
  clock: Clock;
  log: Logger;
}

/**
 * Each meter's latest reading as the live view shows it (stale, today's use) and what its clients
 * were last told, pushing a meter to the fanout whenever what it shows changes.
 */
export class LiveMeters {
  readonly known: Map<string, MeterInfo>;
  private readonly states = new Map<string, MeterState>();
  private readonly todayTracker: TodayTracker;

  constructor(private readonly deps: LiveMetersDeps) {
    this.known = campusMeters(deps.campus);
    this.todayTracker = new TodayTracker({
      store: deps.store,
      timezone: deps.campus.config.campus.timezone,
      clock: deps.clock,
      logger: deps.log,
      onResolved: (meter) => {
        const s = this.states.get(meter);
        if (s?.reading) this.emit(s, deps.clock());
      },
    });
  }

  get size(): number {
    return this.states.size;
  }

  /** Takes the store's latest readings, so that the view is complete before the first message. */
  async seed(): Promise<void> {
    for (const r of await this.deps.store.latest()) {
      const info = this.known.get(r.meter);
      if (!info) continue;
      const { site: _s, gateway: _g, kind: _k, ...reading } = r;
      this.apply(info, reading);
    }
  }

  /** Takes a reading if it is newer (ts, then seq) than the one held and pushes it; returns whether it did. */
  take(info: MeterInfo, r: Reading, now: number): boolean {
    if (!this.apply(info, r)) return false;
    this.emit(this.states.get(info.id)!, now);
    return true;
  }

  /** The shown readings of the given meters (default all with a reading), in campus-file order. */
  latest(ids: readonly string[] | undefined, now: number): LiveReading[] {
    return this.selected(ids).map((s) => this.view(s, now));
  }

  /** The same, as initial SSE events keyed by meter. */
  events(ids: readonly string[] | undefined, now: number): [string, string][] {
    return this.selected(ids).map((s) => [s.info.id, sseEvent(this.view(s, now))]);
  }

  /** Re-evaluates staleness and `today` and pushes the meters that changed; returns how many. */
  checkStale(now: number): number {
    let changed = 0;
    for (const s of this.states.values()) {
      if (!s.reading) continue;
      const stale = now - s.reading.ts > this.staleAfter(s);
      const t = this.todayTracker.today(s.info.id, s.register, now);
      if (stale !== s.shownStale || t !== s.shownToday) {
        this.emit(s, now);
        changed++;
      }
    }
    return changed;
  }

  settled(): Promise<void> {
    return this.todayTracker.idle();
  }

  stop(): void {
    this.todayTracker.stop();
  }

  private staleAfter(s: MeterState): number {
    return s.info.pollInterval > 0 ? STALE_INTERVALS * s.info.pollInterval : DEFAULT_STALE_MS;
  }

  private view(s: MeterState, now: number): LiveReading {
    const r = s.reading!;
    return {
      meter: r.meter,
      ts: r.ts,
      seq: r.seq,
      quality: r.quality,
      values: r.values,
      ...(r.error ? { error: r.error } : {}),
      ...(r.flags ? { flags: r.flags } : {}),
      stale: now - r.ts > this.staleAfter(s),
      today: this.todayTracker.today(s.info.id, s.register, now),
    };
  }

  private emit(s: MeterState, now: number): void {
    const v = this.view(s, now);
    s.shownStale = v.stale;
    s.shownToday = v.today ?? null;
    this.deps.fanout.publish(s.info.id, sseEvent(v));
  }

  private apply(info: MeterInfo, r: Reading): boolean {
    let s = this.states.get(info.id);
    if (!s) {
      s = {
        info,
        quantity: CUMULATIVE_OF[info.kind],
        reading: null,
        register: null,
        shownStale: false,
        shownToday: null,
      };
      this.states.set(info.id, s);
    }
    const cur = s.reading;
    if (cur && (r.ts < cur.ts || (r.ts === cur.ts && r.seq <= cur.seq))) return false;
    s.reading = r;
    const value = r.quality !== 'error' ? r.values[s.quantity] : undefined;
    if (value !== undefined) {
      if (!s.register || r.ts >= s.register.ts) s.register = { ts: r.ts, value };
      this.todayTracker.observe(info.id, s.quantity, r.ts, value);
    }
    return true;
  }

  private selected(ids?: readonly string[]): MeterState[] {
    const byOrder = (a: MeterState, b: MeterState) => a.info.order - b.info.order;
    if (!ids) return [...this.states.values()].filter((s) => s.reading).sort(byOrder);
    const out: MeterState[] = [];
    for (const id of new Set(ids)) {
      const s = this.states.get(id);
      if (s?.reading) out.push(s);
    }
    return out.sort(byOrder);
  }
}
