import type { Logger } from 'pino';
import { deviceClockInvalid, type Reading } from '../config/schemas/reading.ts';
import type { Outbox, OutboxItem } from './outbox/outbox.ts';
import type { PollResult } from './types.ts';

export interface PollBatcherOptions {
  outbox: Outbox;
  topicOf: (meter: string) => string;
  logger: Logger;
  /** A poll result waits at most this long before it is committed (and numbered). */
  maxDelayMs?: number;
  /** …or until this many are waiting. */
  maxBatch?: number;
  /** Results held in memory while the disk refuses them, before the oldest are dropped (counted). */
  maxHeld?: number;
}

/**
 * Turns poll results into outbox rows. A commit costs far more than a row, so results are
 * gathered for a few milliseconds and committed together: a result not yet committed has no
 * sequence number yet, so a crash in that window looks like a poll that did not happen, never
 * like a gap. If the disk refuses a batch, the results are kept and retried; only beyond
 * `maxHeld` are the oldest dropped, and those are counted.
 */
export class PollBatcher {
  private pending: PendingPoll[] = [];
  private timer: NodeJS.Timeout | null = null;
  private retryAt = 0;
  private readonly maxDelayMs: number;
  private readonly maxBatch: number;
  private readonly maxHeld: number;
  /** Results dropped because the outbox refused them for too long. */
  lost = 0;
  /** Per meter, results dropped since its last committed reading: that reading is flagged. */
  private readonly notKept = new Map<string, number>();

  constructor(private readonly opts: PollBatcherOptions) {
    // 25 ms, not less: a commit costs the outbox more than its rows do. Appending 50 rows a
    // commit cost 15 µs of CPU a reading, 150 rows 10 µs (acks alike); a gateway polling 10,000
    // meters every 10 s gathers 25 readings in 25 ms. A crash loses the polls of those 25 ms at
    // most, unnumbered, so they look like polls that did not happen, never like a gap.
    this.maxDelayMs = opts.maxDelayMs ?? 25;
    this.maxBatch = opts.maxBatch ?? 500;
    this.maxHeld = opts.maxHeld ?? 100_000;
  }

  add(meter: { readonly id: string }, result: PollResult): void {
    this.pending.push(new PendingPoll(meter.id, this.opts.topicOf(meter.id), result, this));
    if (this.pending.length >= this.maxBatch && performance.now() >= this.retryAt) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.maxDelayMs);
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    try {
      this.opts.outbox.append(batch);
      if (this.notKept.size > 0) for (const { meter } of batch) this.notKept.delete(meter);
      this.retryAt = 0;
    } catch (err) {
      this.pending = batch.concat(this.pending);
      const excess = this.pending.length - this.maxHeld;
      if (excess > 0) {
        for (const dropped of this.pending.splice(0, excess)) {
          this.notKept.set(dropped.meter, (this.notKept.get(dropped.meter) ?? 0) + 1);
        }
        this.lost += excess;
      }
      this.retryAt = performance.now() + 1000;
      this.opts.logger.error(
        { err, held: this.pending.length, lost: this.lost },
        'outbox append failed; readings held in memory and retried',
      );
      this.timer = setTimeout(() => this.flush(), 1000);
    }
  }

  /**
   * The first reading a meter gets after some of its polls were dropped says so: those polls
   * never got a seq, so no consumer could see the hole otherwise (the count is in `lost`).
   */
  mark(reading: Reading): Reading {
    if (!this.notKept.has(reading.meter)) return reading;
    return { ...reading, flags: [...(reading.flags ?? []), POLLS_NOT_KEPT] };
  }

  close(): void {
    this.flush();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

/**
 * A poll result waiting for its commit, as the outbox item it becomes: one object a poll, where
 * an entry, an item and a closure were made for each.
 */
class PendingPoll implements OutboxItem {
  constructor(
    readonly meter: string,
    readonly topic: string,
    private readonly result: PollResult,
    private readonly batcher: PollBatcher,
  ) {}

  build(seq: number): Reading {
    return this.batcher.mark(toReading(this.meter, seq, this.result));
  }
}

/** Flag of a reading whose meter had polls dropped before it (the gateway's disk refused them). */
export const POLLS_NOT_KEPT = 'POLLS_NOT_KEPT';

export function toReading(meter: string, seq: number, result: PollResult): Reading {
  if ('error' in result)
    return { meter, ts: result.ts, seq, quality: 'error', values: {}, error: result.error };
  const reading: Reading = {
    meter,
    ts: result.ts,
    seq,
    quality: result.quality ?? 'good',
    values: result.values,
  };
  let flags = result.flags;
  if (result.deviceTs !== undefined) {
    reading.deviceTs = result.deviceTs;
    // The meter's clock is reported as it is, but a reset or wildly drifting clock is called out
    // so nothing downstream mistakes it for the time of the reading.
    if (deviceClockInvalid(result.deviceTs, result.ts)) flags = [...(flags ?? []), 'DEVICE_CLOCK_INVALID'];
  }
  if (flags?.length) reading.flags = flags;
  return reading;
}
