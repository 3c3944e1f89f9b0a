import { z } from 'zod';
import { TOPIC_ROOT } from './reading.ts';

/**
 * End-to-end acknowledgement between ingest and the gateways (issue 26): the broker's PUBACK only
 * says the broker has a reading, and a broker killed before it saved, or a reading published before
 * ingest first subscribed, leaves a hole that no hop-by-hop retry can see. So:
 *
 * - each gateway announces, retained, the last seq it numbered for each of its meters (`seqs`);
 * - ingest, which knows what it stored, asks the gateway for a missing range (`replay`);
 * - the gateway queues the range again from its replay window and answers what it queued and what
 *   it no longer holds (`replay/answer`); a range nobody holds becomes a lost-readings alert.
 *
 * Only ingest may publish a replay request and only the gateway itself its announcements and
 * answers (adapters/mqtt/acl.ts). A request names the gateway in its topic; its meters must be
 * that gateway's, the rest is refused in the answer.
 */

export function seqsTopic(site: string, gateway: string): string {
  return `${TOPIC_ROOT}/${site}/${gateway}/seqs`;
}
export function replayTopic(site: string, gateway: string): string {
  return `${TOPIC_ROOT}/${site}/${gateway}/replay`;
}
export function replayAnswerTopic(site: string, gateway: string): string {
  return `${TOPIC_ROOT}/${site}/${gateway}/replay/answer`;
}

const Seq = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);

/** Retained: the last seq numbered per meter, as of `ts`. */
export const SeqsAnnouncementSchema = z
  .object({
    gateway: z.string().min(1),
    ts: z.number().int(),
    seqs: z.record(z.string().min(1), Seq),
  })
  .strict();
export type SeqsAnnouncement = z.infer<typeof SeqsAnnouncementSchema>;

/** Ranges asked in one request at most; ingest splits larger asks. */
export const MAX_RANGES_PER_REQUEST = 1_000;

export const ReplayRangeSchema = z
  .object({ meter: z.string().min(1), from: Seq, to: Seq })
  .strict()
  .refine((r) => r.from <= r.to, 'from must not be after to');
export type ReplayRange = z.infer<typeof ReplayRangeSchema>;

export const ReplayRequestSchema = z
  .object({
    id: z.string().min(1).max(100),
    ranges: z.array(ReplayRangeSchema).min(1).max(MAX_RANGES_PER_REQUEST),
  })
  .strict();
export type ReplayRequest = z.infer<typeof ReplayRequestSchema>;

export const ReplayAnswerSchema = z
  .object({
    id: z.string(),
    gateway: z.string(),
    ts: z.number().int(),
    ranges: z.array(
      z
        .object({
          meter: z.string(),
          from: Seq,
          to: Seq,
          queued: z.number().int().nonnegative(),
          pending: z.number().int().nonnegative(),
          /** Numbered by the gateway and no longer held: past its replay window or dropped when full. */
          missing: z.array(z.tuple([Seq, Seq])),
        })
        .strict(),
    ),
    /** Meters of the request that are not this gateway's. */
    refused: z.array(z.string()),
  })
  .strict();
export type ReplayAnswer = z.infer<typeof ReplayAnswerSchema>;
