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
 * - `quality: "uncertain"` carries values the source itself doubts (an OPC UA Uncertain status);
 *   its `flags` say why.
 * - `flags` are machine-readable remarks on a reading that still carries values, e.g.
 *   `DEVICE_CLOCK_INVALID` when the device's clock is obviously wrong (its `deviceTs` is kept as
 *   reported but must not be trusted). See READING_FLAGS.
 */

/** Remarks a gateway may attach to a reading; codes with a source prefix name that source's status. */
export const READING_FLAGS = {
  DEVICE_CLOCK_INVALID:
    'The device clock is obviously wrong (before 2020, or more than a day off the gateway clock); deviceTs kept, not trusted',
  OPCUA_UNCERTAIN: 'The OPC UA server marked the value Uncertain; the flag after it names the status code',
} as const;
/** Earliest device time taken as plausible: a meter whose clock reset shows 2000-01-01 or 1970. */
export const DEVICE_CLOCK_MIN = Date.UTC(2020, 0, 1);
/** How far a device clock may be from the gateway's before it is flagged. */
export const DEVICE_CLOCK_MAX_SKEW_MS = 86_400_000;

/** True when a device clock reading is obviously wrong compared with the gateway clock `now`. */
export function deviceClockInvalid(deviceTs: number, now: number): boolean {
  return deviceTs < DEVICE_CLOCK_MIN || Math.abs(deviceTs - now) > DEVICE_CLOCK_MAX_SKEW_MS;
}
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
    quality: z.enum(['good', 'uncertain', 'error']),
    values: z.partialRecord(QuantitySchema, z.number().finite()),
    deviceTs: z.number().int().nonnegative().optional(),
    error: ReadingErrorSchema.optional(),
    flags: z
      .array(z.string().regex(/^[A-Za-z0-9_]{1,64}$/, 'flags are codes of letters, digits and "_"'))
      .max(16)
      .optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.quality === 'error' && !r.error) {
      ctx.addIssue({ code: 'custom', path: ['error'], message: 'an error reading must say why' });
    }
    if (r.quality === 'error' && Object.keys(r.values).length > 0) {
      ctx.addIssue({ code: 'custom', path: ['values'], message: 'an error reading carries no values' });
    }
    if (r.quality !== 'error' && r.error) {
      ctx.addIssue({ code: 'custom', path: ['error'], message: `a ${r.quality} reading has no error` });
    }
    if (r.quality === 'uncertain' && !r.flags?.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['flags'],
        message: 'an uncertain reading must say why in flags',
      });
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
    /** While the breaker is open: when polling resumes with one probe (UTC ms). */
    pausedUntil: z.number().int().optional(),
    latencyMs: z.number().nonnegative().nullable(),
    polls: z.number().int(),
    errors: z.number().int(),
    errorRate: z.number().min(0).max(1),
    lastError: ReadingErrorSchema.nullable(),
  })
  .strict();
export type DeviceHealth = z.infer<typeof DeviceHealthSchema>;
