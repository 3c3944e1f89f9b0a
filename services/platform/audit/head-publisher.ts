import { z } from 'zod';
import type { Clock } from '../db.ts';
import { GENESIS_HASH, type AuditLog } from './audit-log.ts';
import { everyInterval } from '../timers.ts';

/**
 * Publishes the audit chain head where a database administrator cannot rewrite it: a retained
 * MQTT message that the inspection department's own systems record. With a head published, a
 * deleted tail of the log is found by `audit verify --head <seq>:<hash>`; without one, cutting
 * off the newest entries leaves a chain that is still internally whole.
 */

export const AUDIT_HEAD_TOPIC = 'campus/v1/audit/head';

export const AuditHeadPayloadSchema = z
  .object({
    seq: z.number().int().nonnegative().describe('Sequence number of the newest entry; 0 for an empty log'),
    hash: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .describe('Hash of that entry (the genesis hash, 64 zeros, for an empty log)'),
    at: z.number().int().nonnegative().describe('When that entry was written, UTC ms'),
    publishedAt: z.number().int().nonnegative().describe('When this message was published, UTC ms'),
  })
  .strict();
export type AuditHeadPayload = z.infer<typeof AuditHeadPayloadSchema>;

export interface HeadPublisherOptions {
  audit: AuditLog;
  /** Publish `payload` (JSON) on `topic`; the message must be retained (QoS 1 at least). */
  publish: (topic: string, payload: string, options: { retain: true; qos: 1 }) => Promise<void> | void;
  intervalMs: number;
  clock?: Clock;
  /** A publish that failed; the next tick tries again. */
  onError?: (err: unknown) => void;
}

export interface HeadPublisher {
  /** Publishes the current head now. */
  publishNow(): Promise<void>;
  /** Stops the timer and publishes the head one last time. */
  stop(): Promise<void>;
}

export function startHeadPublisher(options: HeadPublisherOptions): HeadPublisher {
  const clock = options.clock ?? Date.now;
  let inFlight: Promise<void> = Promise.resolve();
  let stopped = false;
  /** After the last publish of stop(): the audit database may be closed by then. */
  let finished = false;

  const publishOnce = async () => {
    try {
      // Reading the head can fail too (the database busy past its timeout): reported, and the
      // next tick tries again, as for a failed publish.
      const head = options.audit.head();
      const payload: AuditHeadPayload = {
        seq: head?.seq ?? 0,
        hash: head?.hash ?? GENESIS_HASH,
        at: head?.at ?? 0,
        publishedAt: clock(),
      };
      await options.publish(AUDIT_HEAD_TOPIC, JSON.stringify(payload), { retain: true, qos: 1 });
    } catch (err) {
      options.onError?.(err);
    }
  };
  // One publish at a time, in order: a slow broker must not see an older head after a newer one.
  const publishNow = () => (finished ? inFlight : (inFlight = inFlight.then(publishOnce)));

  // A broker that hangs gets no queue of ticks behind the publish that waits for it: the timer
  // skips its ticks while a publish is under way.
  const timer = everyInterval('audit head publish', options.intervalMs, publishNow, {
    error: (o) => options.onError?.((o as { err?: unknown }).err),
  });
  void publishNow();

  return {
    publishNow,
    async stop() {
      if (stopped) return inFlight;
      stopped = true;
      await timer.stop();
      await publishNow();
      finished = true;
    },
  };
}
