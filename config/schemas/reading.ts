import { z } from 'zod';
import { QuantitySchema } from './quantities.ts';

/**
 * The one message every gateway publishes for every poll of every meter, on
 * `campus/v1/<site>/<gateway>/<meter>/reading` at QoS 1. Publishers and subscribers share this
 * schema; the TypeScript type is inferred from it.
 *
 * - `ts` is when the gateway polled (UTC ms); `deviceTs` is the meter's own clock where the
 *   profile exposes one (UTC ms), never substituted for `ts`.
 * - `seq` increases by one per reading of a meter and survives gateway restarts, so a consumer
 *   can tell a lost message from a missed poll.
 * - A failed poll is still a reading, with `quality: "error"`, no values and the reason: a stale
 *   value is never re-sent as if it were fresh.
 */
export const ReadingErrorSchema = z
  .object({
    code: z.string().min(1).describe('Machine-readable error code, e.g. MODBUS_TIMEOUT'),
    message: z.string().describe('Human-readable reason'),
  })
  .strict();

export const ReadingSchema = z
  .object({
    meter: z.string().min(1).max(128),
    ts: z.number().int().nonnegative(),
    seq: z.number().int().nonnegative(),
    quality: z.enum(['good', 'error']),
    values: z.partialRecord(QuantitySchema, z.number().finite()),
    deviceTs: z.number().int().nonnegative().optional(),
    error: ReadingErrorSchema.optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.quality === 'error' && !r.error) {
      ctx.addIssue({ code: 'custom', path: ['error'], message: 'an error reading must say why' });
    }
    if (r.quality === 'error' && Object.keys(r.values).length > 0) {
      ctx.addIssue({ code: 'custom', path: ['values'], message: 'an error reading carries no values' });
    }
    if (r.quality === 'good' && r.error) {
      ctx.addIssue({ code: 'custom', path: ['error'], message: 'a good reading has no error' });
    }
  });

export type Reading = z.infer<typeof ReadingSchema>;
export type ReadingError = z.infer<typeof ReadingErrorSchema>;

export const TOPIC_ROOT = 'campus/v1';

export function readingTopic(site: string, gateway: string, meter: string): string {
  return `${TOPIC_ROOT}/${site}/${gateway}/${meter}/reading`;
}
export function statusTopic(site: string, gateway: string): string {
  return `${TOPIC_ROOT}/${site}/${gateway}/status`;
}
export function deviceHealthTopic(site: string, gateway: string, device: string): string {
  return `${TOPIC_ROOT}/${site}/${gateway}/device/${device}/health`;
}

/** Retained gateway status; the broker publishes the `offline` variant as the last will. */
export const GatewayStatusSchema = z
  .object({
    gateway: z.string(),
    state: z.enum(['online', 'offline']),
    ts: z.number().int(),
    startedAt: z.number().int().optional(),
    meters: z.number().int().optional(),
    outbox: z
      .object({
        messages: z.number().int(),
        bytes: z.number().int(),
        oldestTs: z.number().int().nullable(),
        dropped: z.number().int(),
      })
      .optional(),
  })
  .strict();
export type GatewayStatus = z.infer<typeof GatewayStatusSchema>;

/** Per-device (bus member) health, published periodically, retained. */
export const DeviceHealthSchema = z
  .object({
    device: z.string(),
    ts: z.number().int(),
    breaker: z.enum(['closed', 'open', 'half-open']),
    latencyMs: z.number().nonnegative().nullable(),
    polls: z.number().int(),
    errors: z.number().int(),
    errorRate: z.number().min(0).max(1),
    lastError: ReadingErrorSchema.nullable(),
  })
  .strict();
export type DeviceHealth = z.infer<typeof DeviceHealthSchema>;
