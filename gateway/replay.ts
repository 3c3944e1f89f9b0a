import type { Logger } from 'pino';
import {
  replayAnswerTopic,
  ReplayRequestSchema,
  replayTopic,
  seqsTopic,
  type ReplayAnswer,
  type SeqsAnnouncement,
} from '../config/schemas/replay.ts';
import type { Outbox } from './outbox/outbox.ts';

/**
 * The gateway's end of the end-to-end acknowledgement (config/schemas/replay.ts): announces each
 * meter's last seq (retained, so ingest learns it whenever it subscribes) and answers ingest's
 * replay requests from the outbox's replay window.
 *
 * A request is checked whole before anything is queued: a payload that is not a valid request is
 * counted and logged, never half-applied. A replay only puts readings back in the outbox, so it
 * goes out through the same rate limit, in-flight bound and PUBACK handling as live readings;
 * meters that are not this gateway's are refused by name in the answer.
 */

export interface ReplayServiceOptions {
  site: string;
  gateway: string;
  outbox: Outbox;
  /** This gateway's meters: a request for any other is refused. */
  meters: ReadonlySet<string>;
  subscribe(filter: string, onMessage: (topic: string, payload: Buffer) => void): Promise<unknown>;
  publish(topic: string, payload: string): Promise<boolean>;
  publishRetained(topic: string, payload: string): Promise<boolean>;
  /** How often the seq announcement is refreshed (the gateway's health interval). */
  announceEveryMs: number;
  logger: Logger;
}

export interface ReplayServiceStats {
  requests: number;
  /** Requests that were not valid JSON or not a valid request. */
  invalid: number;
  /** Readings put back in the queue for ingest. */
  replayed: number;
  /** Readings asked for that this gateway no longer holds. */
  missing: number;
  /** Announcements and requests the outbox failed (its disk): logged; ingest asks again. */
  failed: number;
}

export interface ReplayService {
  /** Publishes the announcement now (after start-up, and by the timer). */
  announce(): void;
  stats(): ReplayServiceStats;
  stop(): void;
}

export function startReplayService(opts: ReplayServiceOptions): ReplayService {
  const log = opts.logger.child({ component: 'replay' });
  const stats: ReplayServiceStats = { requests: 0, invalid: 0, replayed: 0, missing: 0, failed: 0 };
  const answerTopic = replayAnswerTopic(opts.site, opts.gateway);
  let stopped = false;

  /**
   * Both run from a timer or the MQTT client's message handler and read the outbox, whose disk can
   * fail (full, I/O error, locked): a throw there would end the gateway and stop its polling. A
   * failed announcement is made again at the next tick; a failed request is not answered, and
   * ingest asks again after its retry delay (what it already does for an answer lost in transit).
   */
  function guarded<A extends unknown[]>(what: string, fn: (...a: A) => void): (...a: A) => void {
    return (...a) => {
      try {
        fn(...a);
      } catch (err) {
        stats.failed += 1;
        log.error(
          { err: err instanceof Error ? err.message : String(err) },
          `${what} failed; tried again later`,
        );
      }
    };
  }

  const answer = guarded('answering a replay request', (payload: Buffer): void => {
    stats.requests += 1;
    let parsed: unknown;
    try {
      parsed = JSON.parse(payload.toString('utf8'));
    } catch {
      parsed = undefined;
    }
    const request = ReplayRequestSchema.safeParse(parsed);
    if (!request.success) {
      stats.invalid += 1;
      log.warn(
        { issue: request.error.issues[0]?.message, path: request.error.issues[0]?.path.join('.') },
        'ignored a replay request that is not valid',
      );
      return;
    }
    const out: ReplayAnswer = {
      id: request.data.id,
      gateway: opts.gateway,
      ts: Date.now(),
      ranges: [],
      refused: [],
    };
    for (const range of request.data.ranges) {
      if (!opts.meters.has(range.meter)) {
        if (!out.refused.includes(range.meter)) out.refused.push(range.meter);
        continue;
      }
      const result = opts.outbox.replay(range.meter, range.from, range.to);
      stats.replayed += result.queued;
      for (const [a, b] of result.missing) stats.missing += b - a + 1;
      out.ranges.push({ ...range, ...result });
    }
    const queued = out.ranges.reduce((n, r) => n + r.queued, 0);
    const missing = out.ranges.flatMap((r) => r.missing.map(([a, b]) => `${r.meter} ${a}–${b}`));
    if (missing.length > 0) {
      log.error(
        { id: out.id, missing: missing.slice(0, 20) },
        'ingest asked for readings this gateway no longer holds',
      );
    }
    log.info(
      { id: out.id, ranges: request.data.ranges.length, queued, refused: out.refused },
      'replaying for ingest',
    );
    void opts.publish(answerTopic, JSON.stringify(out));
  });

  const announce = guarded('announcing the last seqs', (): void => {
    if (stopped) return;
    const body: SeqsAnnouncement = { gateway: opts.gateway, ts: Date.now(), seqs: opts.outbox.highWater() };
    void opts.publishRetained(seqsTopic(opts.site, opts.gateway), JSON.stringify(body));
  });

  // Not awaited: mqtt.js holds a subscription until the broker is there, and the gateway polls
  // meanwhile. A broker whose ACL predates replay refuses it; the gateway still runs, unreplayable.
  const filter = replayTopic(opts.site, opts.gateway);
  opts
    .subscribe(filter, (_topic, payload) => {
      if (!stopped) answer(payload);
    })
    .catch((err: Error) =>
      log.error(
        { filter, err: err.message },
        'the broker refused the replay subscription: ingest cannot ask this gateway for lost readings (regenerate the broker ACL: campus-energy broker-config)',
      ),
    );
  const timer = setInterval(announce, opts.announceEveryMs);
  timer.unref();
  announce();

  return {
    announce,
    stats: () => ({ ...stats }),
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
