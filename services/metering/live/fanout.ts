/**
 * Fan-out of live updates to server-sent-event clients with bounded memory per client.
 *
 * Each client has at most one pending event per meter. A new value for a meter whose previous
 * value has not been written yet replaces it (the client sees the newest value, never a backlog)
 * and counts as a drop. Pending events are written together every `flushMs`; while a client's
 * socket has not drained what it was last given, nothing more is written to it and its pending
 * events keep coalescing. So a slow client holds at most one event per meter it watches plus one
 * socket buffer, however long it lags, and it never slows the others down.
 */

/** What a subscriber writes to: an http.ServerResponse fits. */
export interface SseSink {
  /** false: the socket buffer is full; wait for 'drain' before writing more. */
  write(chunk: string): boolean;
  once(event: 'drain', listener: () => void): unknown;
  /** Ends the stream (when the hub stops). */
  end?(): unknown;
}

export interface Subscription {
  readonly id: number;
  /** Events written to the sink. */
  readonly sent: number;
  /** Events replaced by a newer value of the same meter before they were written. */
  readonly dropped: number;
  close(): void;
}

class Subscriber implements Subscription {
  sent = 0;
  dropped = 0;
  blocked = false;
  closed = false;
  readonly pending = new Map<string, string>();

  constructor(
    readonly id: number,
    readonly meters: ReadonlySet<string> | null,
    readonly sink: SseSink,
    private readonly detach: (s: Subscriber) => void,
  ) {}

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pending.clear();
    this.detach(this);
  }
}

export interface FanoutStats {
  clients: number;
  sent: number;
  dropped: number;
}

export class Fanout {
  private readonly all = new Set<Subscriber>();
  /** Subscribers watching every meter. */
  private readonly wildcard = new Set<Subscriber>();
  private readonly byMeter = new Map<string, Set<Subscriber>>();
  private readonly dirty = new Set<Subscriber>();
  private timer: NodeJS.Timeout | null = null;
  private nextId = 1;
  private sentTotal = 0;
  private droppedTotal = 0;

  constructor(private readonly flushMs = 25) {}

  /** `meters` null: every meter. The initial events, if any, are written with the next flush. */
  subscribe(
    meters: readonly string[] | null,
    sink: SseSink,
    initial: Iterable<[meter: string, event: string]> = [],
  ): Subscription {
    const sub = new Subscriber(this.nextId++, meters ? new Set(meters) : null, sink, (s) => this.detach(s));
    this.all.add(sub);
    if (sub.meters === null) this.wildcard.add(sub);
    else {
      for (const m of sub.meters) {
        let set = this.byMeter.get(m);
        if (!set) this.byMeter.set(m, (set = new Set()));
        set.add(sub);
      }
    }
    for (const [meter, event] of initial) {
      if (sub.meters === null || sub.meters.has(meter)) sub.pending.set(meter, event);
    }
    if (sub.pending.size > 0) this.markDirty(sub);
    return sub;
  }

  /** Queues `event` (a complete SSE event text) for every subscriber watching `meter`. */
  publish(meter: string, event: string): void {
    for (const sub of this.wildcard) this.enqueue(sub, meter, event);
    const set = this.byMeter.get(meter);
    if (set) for (const sub of set) this.enqueue(sub, meter, event);
  }

  /** Writes `text` (a comment, a keep-alive) to every subscriber that is not backed up. */
  broadcastComment(text: string): void {
    for (const sub of this.all) if (!sub.blocked) this.write(sub, text);
  }

  stats(): FanoutStats {
    return { clients: this.all.size, sent: this.sentTotal, dropped: this.droppedTotal };
  }

  /** Writes everything pending now (tests, shutdown). */
  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const subs = [...this.dirty];
    this.dirty.clear();
    for (const sub of subs) this.flushOne(sub);
  }

  /** Ends every stream (the hub is stopping). */
  closeAll(): void {
    for (const sub of [...this.all]) {
      sub.close();
      try {
        sub.sink.end?.();
      } catch {
        // Already gone.
      }
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private enqueue(sub: Subscriber, meter: string, event: string): void {
    if (sub.pending.has(meter)) {
      sub.dropped++;
      this.droppedTotal++;
    }
    sub.pending.set(meter, event);
    if (!sub.blocked) this.markDirty(sub);
  }

  private markDirty(sub: Subscriber): void {
    this.dirty.add(sub);
    if (!this.timer) this.timer = setTimeout(() => this.flush(), this.flushMs);
  }

  private flushOne(sub: Subscriber): void {
    if (sub.closed || sub.blocked || sub.pending.size === 0) return;
    const n = sub.pending.size;
    let chunk = '';
    for (const event of sub.pending.values()) chunk += event;
    sub.pending.clear();
    sub.sent += n;
    this.sentTotal += n;
    this.write(sub, chunk);
  }

  private write(sub: Subscriber, chunk: string): void {
    let ok: boolean;
    try {
      ok = sub.sink.write(chunk);
    } catch {
      // A socket that is already gone; its 'close' handler unsubscribes it.
      sub.close();
      return;
    }
    if (ok) return;
    sub.blocked = true;
    sub.sink.once('drain', () => {
      sub.blocked = false;
      if (!sub.closed && sub.pending.size > 0) this.markDirty(sub);
    });
  }

  private detach(sub: Subscriber): void {
    this.all.delete(sub);
    this.wildcard.delete(sub);
    this.dirty.delete(sub);
    if (sub.meters) {
      for (const m of sub.meters) {
        const set = this.byMeter.get(m);
        set?.delete(sub);
        if (set?.size === 0) this.byMeter.delete(m);
      }
    }
  }
}
