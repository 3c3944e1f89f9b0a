import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { TOPIC_ROOT } from '../../../config/schemas/reading.ts';
import { canonicalJson } from '../../platform/audit/canonical-json.ts';

/**
 * The relay command and its acknowledgement: the one contract between the control service (which
 * signs) and the gateways (which verify, switch the relay and answer). Shared by both sides.
 *
 * - `campus/v1/<site>/<gateway>/<meter>/cmd`, QoS 1, not retained: a signed command. Only the
 *   control service may publish here (broker ACL); the signature is what the gateway trusts, so a
 *   command that reached the topic some other way still moves nothing.
 * - `campus/v1/<site>/<gateway>/<meter>/cmd/ack`, QoS 1, not retained: the gateway's answer, for
 *   every command it received, executed or refused.
 *
 * The signature is Ed25519 over the canonical JSON (keys sorted) of every field but `sig`.
 */

const TopicLevel = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'not a campus id');

export const RelayActionSchema = z.enum(['open', 'close']);
export type RelayAction = z.infer<typeof RelayActionSchema>;

export const RelayCommandBodySchema = z
  .object({
    id: z.uuid().describe('Unique per command; a gateway executes each id at most once'),
    meter: TopicLevel,
    site: TopicLevel,
    gateway: TopicLevel,
    action: RelayActionSchema.describe('open: cut the supply; close: restore it'),
    issuedAt: z.number().int().nonnegative().describe('UTC ms, control service clock'),
    expiresAt: z.number().int().nonnegative().describe('UTC ms; the gateway refuses the command after it'),
    requestId: z.number().int().positive().describe('The approved relay request it carries out'),
  })
  .strict()
  .refine((c) => c.expiresAt > c.issuedAt, {
    message: 'expiresAt must be after issuedAt',
    path: ['expiresAt'],
  });
export type RelayCommandBody = z.infer<typeof RelayCommandBodySchema>;

export const SignedRelayCommandSchema = z
  .object({
    ...RelayCommandBodySchema.shape,
    sig: z.base64().describe('Ed25519 over canonical JSON of the other fields'),
  })
  .strict();
export type SignedRelayCommand = z.infer<typeof SignedRelayCommandSchema>;

export const RelayStateSchema = z.enum(['open', 'closed']);
export type RelayState = z.infer<typeof RelayStateSchema>;

/**
 * A gateway's answer to a command it took on: it verified the command's signature and target and
 * claimed its id (first receipt), then executed it or failed. Signed by the gateway's own key over
 * every field but `sig`, so the outcome is bound to the verified command id, its action and the
 * relay state read back: a forged or altered ack does not verify and changes nothing.
 */
export const RelayAckSchema = z
  .object({
    id: z.uuid().describe('The verified command id'),
    meter: TopicLevel,
    site: TopicLevel,
    gateway: TopicLevel,
    action: RelayActionSchema.describe('The action of the verified command'),
    ok: z.boolean().describe('true: the relay was switched and reads back in the wanted state'),
    armed: z
      .literal(true)
      .optional()
      .describe(
        'A close the meter took as permission only (DL/T 645 "allow closing"): ok false, observed open, no error; the customer closes the relay with the button',
      ),
    observed: RelayStateSchema.nullable().describe('Relay state read back after the write; null if unknown'),
    error: z
      .string()
      .regex(/^[A-Z_]{1,64}$/)
      .optional()
      .describe('A COMMAND_REFUSALS code when ok is false'),
    message: z.string().max(1000).optional(),
    ts: z.number().int().nonnegative(),
    sig: z.base64().describe("Ed25519 by the gateway's key over canonical JSON of the other fields"),
  })
  .strict()
  .refine((a) => (a.ok || a.armed === true) === (a.error === undefined), {
    message: 'an ack has an error exactly when ok is false and it is not armed',
  })
  .refine((a) => a.armed === undefined || (!a.ok && a.action === 'close' && a.observed === 'open'), {
    message: 'only a close that reads back open can be armed',
  });
export type RelayAck = z.infer<typeof RelayAckSchema>;
export type RelayAckBody = Omit<RelayAck, 'sig'>;

/**
 * A message the gateway refused before it could trust it as a command of the control service
 * (not JSON, bad signature, another gateway's, already received). It names the id the message
 * claimed, unverified, and is never an outcome of that command: the command's own delivery, if
 * it is genuine, gives the ack. Signed like an ack; published on the same topic.
 */
export const RelayRefusalSchema = z
  .object({
    refused: z.literal(true),
    claimedId: z.string().max(128).describe('The id the refused message claimed; unverified'),
    meter: z.string().max(128),
    site: TopicLevel,
    gateway: TopicLevel,
    error: z.string().regex(/^[A-Z_]{1,64}$/),
    message: z.string().max(1000),
    ts: z.number().int().nonnegative(),
    sig: z.base64(),
  })
  .strict();
export type RelayRefusal = z.infer<typeof RelayRefusalSchema>;
export type RelayRefusalBody = Omit<RelayRefusal, 'sig'>;

/** Signs an ack or a refusal with the gateway's Ed25519 key. */
export function signGatewayMessage<T extends RelayAckBody | RelayRefusalBody>(
  body: T,
  privateKey: KeyObject,
): T & { sig: string } {
  if (privateKey.asymmetricKeyType !== 'ed25519')
    throw new Error('gateway messages are signed with an Ed25519 key');
  const bytes = Buffer.from(canonicalJson(withoutSig(body)), 'utf8');
  return { ...body, sig: sign(null, bytes, privateKey).toString('base64') };
}

/** Whether an ack or refusal was signed by the holder of `publicKey` and not altered. */
export function verifyGatewayMessage(message: RelayAck | RelayRefusal, publicKey: KeyObject): boolean {
  if (publicKey.asymmetricKeyType !== 'ed25519') return false;
  try {
    const bytes = Buffer.from(canonicalJson(withoutSig(message)), 'utf8');
    return verify(null, bytes, publicKey, Buffer.from(message.sig, 'base64'));
  } catch {
    return false;
  }
}

function withoutSig(m: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(m)) if (k !== 'sig' && v !== undefined) out[k] = v;
  return out;
}

/** Why a gateway did not (or could not) carry out a command; the `error` of a failed ack. */
export const COMMAND_REFUSALS = {
  BAD_PAYLOAD: 'The message is not JSON or does not match the command schema; nothing was done',
  BAD_SIGNATURE: 'The signature does not verify with the gateway’s public key; nothing was done',
  EXPIRED:
    'The command arrived after its expiresAt (or its issuedAt is implausibly far ahead); nothing was done',
  REPLAYED: 'A command with this id was already received by this gateway; nothing was done',
  WRONG_TARGET:
    'The command names another site, gateway or meter than the topic it came on; nothing was done',
  UNKNOWN_METER: 'The meter is not polled by this gateway; nothing was done',
  NO_RELAY: 'The meter’s profile has no relay; nothing was done',
  RELAY_WRITE_FAILED:
    'The Modbus write to the relay failed (the message says why); the relay state is unknown',
  READBACK_FAILED: 'The relay was written but reading its state back failed',
  READBACK_MISMATCH: 'The relay was written but reads back in the other state',
} as const;
export type CommandRefusal = keyof typeof COMMAND_REFUSALS;

export function commandTopic(site: string, gateway: string, meter: string): string {
  return `${TOPIC_ROOT}/${site}/${gateway}/${meter}/cmd`;
}
export function commandAckTopic(site: string, gateway: string, meter: string): string {
  return `${commandTopic(site, gateway, meter)}/ack`;
}
/** What one gateway subscribes to: the commands for its own meters. */
export function gatewayCommandFilter(site: string, gateway: string): string {
  return `${TOPIC_ROOT}/${site}/${gateway}/+/cmd`;
}
/** What the control service subscribes to: every gateway's acks. */
export const COMMAND_ACK_FILTER = `${TOPIC_ROOT}/+/+/+/cmd/ack`;

/** Splits `campus/v1/<site>/<gateway>/<meter>/cmd[/ack]`; null for any other topic. */
export function parseCommandTopic(
  topic: string,
): { site: string; gateway: string; meter: string; ack: boolean } | null {
  const parts = topic.split('/');
  if (parts[0] !== 'campus' || parts[1] !== 'v1' || parts[5] !== 'cmd') return null;
  if (parts.length === 6) return { site: parts[2]!, gateway: parts[3]!, meter: parts[4]!, ack: false };
  if (parts.length === 7 && parts[6] === 'ack')
    return { site: parts[2]!, gateway: parts[3]!, meter: parts[4]!, ack: true };
  return null;
}

function signedBytes(body: RelayCommandBody): Buffer {
  const { id, meter, site, gateway, action, issuedAt, expiresAt, requestId } = body;
  return Buffer.from(
    canonicalJson({ id, meter, site, gateway, action, issuedAt, expiresAt, requestId }),
    'utf8',
  );
}

export function signCommand(body: RelayCommandBody, privateKey: KeyObject): SignedRelayCommand {
  if (privateKey.asymmetricKeyType !== 'ed25519')
    throw new Error('relay commands are signed with an Ed25519 key');
  return { ...body, sig: sign(null, signedBytes(body), privateKey).toString('base64') };
}

export function verifyCommandSignature(command: SignedRelayCommand, publicKey: KeyObject): boolean {
  if (publicKey.asymmetricKeyType !== 'ed25519') return false;
  try {
    return verify(null, signedBytes(command), publicKey, Buffer.from(command.sig, 'base64'));
  } catch {
    return false;
  }
}

/**
 * Loads the control service's Ed25519 private key (PEM or DER/PKCS#8). The key lives outside the
 * repository, in a file only the control service can read, or in an environment variable.
 */
export function loadSigningKey(source: { file: string } | { pem: string }): KeyObject {
  const pem = 'file' in source ? readFileSync(source.file) : source.pem;
  const key = createPrivateKey(pem);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error('the relay command signing key must be Ed25519');
  return key;
}

/** Loads the matching public key a gateway verifies with (PEM, SPKI). */
export function loadVerifyKey(source: { file: string } | { pem: string }): KeyObject {
  const pem = 'file' in source ? readFileSync(source.file) : source.pem;
  const key = createPublicKey(pem);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error('the relay command verify key must be Ed25519');
  return key;
}
