import { signedHeaders } from '../payments/signing.ts';
import type { Notifier } from './notifier.ts';

/**
 * Notices to the campus's own messaging platform: a JSON POST per notice, signed like the payment
 * protocol (HMAC-SHA256 over timestamp, nonce and body) so the platform can tell ours from a
 * forgery. Anything but a 2xx answer is a failure, retried by the notices service.
 */
export function webhookNotifier(o: {
  url: string;
  key: Buffer;
  clock?: () => number;
  timeoutMs?: number;
}): Notifier {
  const clock = o.clock ?? Date.now;
  return {
    channel: 'webhook',
    perCustomer: false,
    async send(m) {
      const body = JSON.stringify({ id: m.id, ...m.payload });
      const res = await fetch(o.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...signedHeaders(o.key, body, clock()) },
        body,
        signal: AbortSignal.timeout(o.timeoutMs ?? 10_000),
      });
      if (!res.ok) throw new Error(`webhook ${o.url} answered ${res.status}`);
    },
  };
}
