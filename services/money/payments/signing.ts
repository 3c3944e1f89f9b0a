import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Message signatures of the signed-HTTP payment protocol (the simulated provider's, in the manner
 * of WeChat Pay v3): HMAC-SHA256 with the merchant key over the timestamp, the nonce and the exact
 * body bytes, each followed by a newline. Requests, answers, notices and statement files are all
 * signed this way, so a forged answer to a query is refused as surely as a forged notice.
 */

export const SIGNATURE_HEADERS = {
  timestamp: 'x-pay-timestamp',
  nonce: 'x-pay-nonce',
  signature: 'x-pay-signature',
} as const;

export function signature(key: Buffer, timestampMs: number, nonce: string, body: string): string {
  return createHmac('sha256', key).update(`${timestampMs}\n${nonce}\n${body}\n`).digest('base64');
}

/** The three headers that sign `body` now. */
export function signedHeaders(key: Buffer, body: string, now: number): Record<string, string> {
  const nonce = randomBytes(16).toString('hex');
  return {
    [SIGNATURE_HEADERS.timestamp]: String(now),
    [SIGNATURE_HEADERS.nonce]: nonce,
    [SIGNATURE_HEADERS.signature]: signature(key, now, nonce, body),
  };
}

export type Verified = { ok: true; timestampMs: number; nonce: string } | { ok: false; problem: string };

type HeaderBag = Record<string, string | string[] | undefined> | Headers;

function header(h: HeaderBag, name: string): string | undefined {
  const v = h instanceof Headers ? (h.get(name) ?? undefined) : h[name];
  return Array.isArray(v) ? undefined : v;
}

/** Checks the signature headers against the body; says what is wrong when it does not hold. */
export function verifySignature(key: Buffer, headers: HeaderBag, body: string): Verified {
  const ts = header(headers, SIGNATURE_HEADERS.timestamp);
  const nonce = header(headers, SIGNATURE_HEADERS.nonce);
  const sig = header(headers, SIGNATURE_HEADERS.signature);
  if (!ts || !nonce || !sig) return { ok: false, problem: 'signature headers missing' };
  if (!/^\d{1,16}$/.test(ts)) return { ok: false, problem: 'timestamp is not whole milliseconds' };
  if (!/^[A-Za-z0-9]{8,64}$/.test(nonce))
    return { ok: false, problem: 'nonce is not 8–64 letters or digits' };
  const want = Buffer.from(signature(key, Number(ts), nonce, body), 'base64');
  const got = Buffer.from(sig, 'base64');
  if (got.length !== want.length || !timingSafeEqual(got, want)) {
    return { ok: false, problem: 'signature does not match the body' };
  }
  return { ok: true, timestampMs: Number(ts), nonce };
}
