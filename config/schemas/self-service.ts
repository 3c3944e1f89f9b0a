import { z } from 'zod';

/**
 * The campus file's customer-facing sections: `payments` (self top-up through payment providers),
 * `selfService` (customers' own sign-in) and `notices` (low balance, cut-off ahead, restored).
 * Secrets (merchant keys, the SMTP password, the webhook secret) are never in this file: it names
 * the files that hold them, relative to the campus file.
 */

const Id = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'ids are 1–64 letters, digits, "_", "-" or "."');
const HttpUrl = z.string().regex(/^https?:\/\/[^\s/]+(\/\S*)?$/, 'an http:// or https:// URL');
const seconds = (what: string, def: number, max = 86_400 * 7) =>
  z.number().int().positive().max(max).default(def).describe(`${what}, in seconds`);

export const PaymentProviderSchema = z
  .object({
    id: Id.describe('Names the provider in orders, the ledger reference and the notice URL'),
    kind: z
      .enum(['signed-http'])
      .default('signed-http')
      .describe('The protocol (signed-http: HMAC-SHA256-signed JSON, as the simulated provider speaks)'),
    method: z
      .enum(['card', 'transfer'])
      .describe(
        'How the ledger files its payments: campus card `card`, wallets (WeChat Pay, Alipay) `transfer`',
      ),
    baseUrl: HttpUrl.describe("The provider's merchant API"),
    keyFile: z
      .string()
      .min(1)
      .describe('File holding the merchant key (at least 32 bytes), relative to the campus file'),
  })
  .strict();
export type PaymentProviderSettings = z.infer<typeof PaymentProviderSchema>;

export const PaymentsSchema = z
  .object({
    publicUrl: HttpUrl.nullable()
      .default(null)
      .describe(
        "The back office's base URL as the provider reaches it (notices go there); null: the API's own URL",
      ),
    providers: z.array(PaymentProviderSchema).default([]).describe('None: no self top-up, only the counter'),
    noticeMaxAge: seconds('How far a notice’s signed time may be from ours before it is a replay', 300, 3600),
    queryAfter: seconds('How long after an order without a notice the provider is asked', 120),
    orderTtl: seconds('How long a customer has to pay an order', 900),
    sweepInterval: seconds('How often open orders are queried and the reconciliation is due-checked', 60),
    reconcileAt: z
      .string()
      .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time of day is HH:MM (24 h, local)')
      .default('10:00')
      .describe("From this local time on, yesterday's statements are reconciled (once per provider and day)"),
    minTopUpFen: z.number().int().positive().default(100).describe('The smallest self top-up (fen)'),
    maxTopUpFen: z
      .number()
      .int()
      .positive()
      .max(100_000_000)
      .default(100_000)
      .describe('The largest self top-up (fen)'),
  })
  .strict()
  .refine((p) => p.minTopUpFen <= p.maxTopUpFen, {
    message: 'minTopUpFen is above maxTopUpFen',
    path: ['minTopUpFen'],
  })
  .refine((p) => new Set(p.providers.map((x) => x.id)).size === p.providers.length, {
    message: 'two providers have the same id',
    path: ['providers'],
  })
  .prefault({});
export type PaymentsSettingsConfig = z.infer<typeof PaymentsSchema>;

export const SelfServiceSchema = z
  .object({
    codeTtl: seconds('How long a sign-in code a clerk issued can be redeemed', 72 * 3600, 30 * 86_400),
    sessionIdle: seconds('A customer session ends after this long unused', 30 * 60),
    sessionMax: seconds('A customer session ends this long after sign-in, used or not', 12 * 3600),
    recentDays: z
      .number()
      .int()
      .min(1)
      .max(90)
      .default(14)
      .describe('Remaining days are the balance over the mean daily debit of this many recent days'),
  })
  .strict()
  .prefault({});
export type SelfServiceSettings = z.infer<typeof SelfServiceSchema>;

export const NoticesSchema = z
  .object({
    email: z
      .object({
        host: z.string().min(1),
        port: z.number().int().min(1).max(65_535).default(587),
        secure: z
          .boolean()
          .default(false)
          .describe('TLS from the first byte (port 465); false: STARTTLS if offered'),
        from: z.string().min(3).describe('The sender address, e.g. energy-center@example.edu'),
        username: z.string().min(1).optional(),
        passwordFile: z.string().min(1).optional().describe('Relative to the campus file'),
      })
      .strict()
      .nullable()
      .default(null)
      .describe('SMTP relay for notices by email; null: no email'),
    webhook: z
      .object({
        url: HttpUrl,
        secretFile: z
          .string()
          .min(1)
          .describe('HMAC key signing each post (x-notice-signature), relative to the campus file'),
      })
      .strict()
      .nullable()
      .default(null)
      .describe("The campus's own messaging platform; null: none"),
    mqttTopic: z
      .string()
      .regex(/^[^#+\s]+$/, 'a topic without wildcards')
      .nullable()
      .default(null)
      .describe(
        "Publish each notice under <mqttTopic>/<account> on the back office's broker; null: not on MQTT",
      ),
    retries: z
      .number()
      .int()
      .min(0)
      .max(10)
      .default(3)
      .describe('Further tries of a notice a channel refused'),
  })
  .strict()
  .prefault({});
export type NoticesSettings = z.infer<typeof NoticesSchema>;
