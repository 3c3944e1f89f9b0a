import { z } from 'zod';
import type { PaymentMethod } from '../prepaid/types.ts';
import {
  NoticeRefused,
  type CreatedProviderOrder,
  type NewProviderOrder,
  type PaymentProvider,
  type ProviderOrderState,
  type ProviderRefund,
  type SignedNotice,
  type StatementLine,
} from './provider.ts';
import { signedHeaders, verifySignature } from './signing.ts';

/**
 * A provider that speaks the signed-HTTP payment protocol (simulators/payment implements its
 * provider side): JSON over HTTP, every request, answer, notice and statement signed with the
 * merchant key (signing.ts). An answer whose signature fails is an error, never believed: a
 * forged "paid" answer to a query credits nothing.
 */

export interface SignedHttpProviderOptions {
  id: string;
  method: PaymentMethod;
  baseUrl: string;
  key: Buffer;
  /** How long one call may take (default 10 s). */
  timeoutMs?: number;
  clock?: () => number;
}

const Fen = z.number().int().positive();
const NoticeSchema = z.object({
  event: z.literal('payment.succeeded'),
  orderNo: z.string().min(1).max(64),
  providerOrderNo: z.string().min(1).max(64),
  transactionId: z.string().min(1).max(64),
  attach: z.string().min(1).max(64),
  amountFen: Fen,
  paidAt: z.number().int().nonnegative(),
});
const CreatedSchema = z.object({ providerOrderNo: z.string().min(1), payUrl: z.string().min(1) });
const StateSchema = z.object({
  orderNo: z.string(),
  providerOrderNo: z.string(),
  attach: z.string(),
  amountFen: Fen,
  status: z.enum(['pending', 'paid', 'closed', 'refunded']),
  transactionId: z.string().nullable(),
  paidAt: z.number().int().nullable(),
});
const RefundSchema = z.object({
  refundNo: z.string(),
  status: z.enum(['succeeded', 'refused']),
  reason: z.string().optional(),
});

export function createSignedHttpProvider(o: SignedHttpProviderOptions): PaymentProvider {
  const clock = o.clock ?? Date.now;
  const base = o.baseUrl.replace(/\/+$/, '');

  /** One signed call; the answer's signature is checked before its body is read as anything. */
  async function call(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
  ): Promise<{ status: number; text: string }> {
    const text = body === undefined ? '' : JSON.stringify(body);
    const headers = {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...signedHeaders(o.key, method === 'GET' ? path : text, clock()),
    };
    let res: Response;
    try {
      res = await fetch(base + path, {
        method,
        headers,
        ...(body === undefined ? {} : { body: text }),
        signal: AbortSignal.timeout(o.timeoutMs ?? 10_000),
      });
    } catch (err) {
      throw new Error(`payment provider ${o.id}: ${method} ${path} failed: ${(err as Error).message}`);
    }
    const answer = await res.text();
    const v = verifySignature(o.key, res.headers, answer);
    if (!v.ok)
      throw new Error(
        `payment provider ${o.id}: the answer to ${method} ${path} is not signed by it (${v.problem})`,
      );
    return { status: res.status, text: answer };
  }

  function json<S extends z.ZodType>(schema: S, text: string, what: string): z.infer<S> {
    const r = schema.safeParse(JSON.parse(text));
    if (!r.success) throw new Error(`payment provider ${o.id}: ${what}: ${r.error.issues[0]?.message}`);
    return r.data;
  }

  return {
    id: o.id,
    method: o.method,
    async createOrder(order: NewProviderOrder): Promise<CreatedProviderOrder> {
      const r = await call('POST', '/v1/orders', {
        orderNo: order.orderNo,
        amountFen: order.amountFen,
        attach: order.account,
        description: order.description,
        notifyUrl: order.notifyUrl,
        expiresAt: order.expiresAt,
      });
      if (r.status !== 200 && r.status !== 201) {
        throw new Error(
          `payment provider ${o.id}: order ${order.orderNo} refused (${r.status}: ${r.text.slice(0, 200)})`,
        );
      }
      return json(CreatedSchema, r.text, 'order answer');
    },
    readNotice(headers, rawBody): SignedNotice {
      const v = verifySignature(o.key, headers, rawBody);
      if (!v.ok) throw new NoticeRefused('bad-signature', v.problem);
      let parsed: unknown;
      try {
        parsed = JSON.parse(rawBody);
      } catch {
        throw new NoticeRefused('malformed', 'the body is not JSON');
      }
      const n = NoticeSchema.safeParse(parsed);
      if (!n.success) {
        const i = n.error.issues[0];
        throw new NoticeRefused('malformed', `${i?.path.join('.') || 'body'}: ${i?.message}`);
      }
      const { attach, event: _event, ...rest } = n.data;
      return { notice: { ...rest, account: attach }, timestampMs: v.timestampMs, nonce: v.nonce };
    },
    async query(orderNo: string): Promise<ProviderOrderState | null> {
      const r = await call('GET', `/v1/orders/${encodeURIComponent(orderNo)}`);
      if (r.status === 404) return null;
      if (r.status !== 200) throw new Error(`payment provider ${o.id}: query ${orderNo}: ${r.status}`);
      const { attach, ...s } = json(StateSchema, r.text, 'query answer');
      return { ...s, account: attach };
    },
    async refund(input): Promise<ProviderRefund> {
      const r = await call('POST', '/v1/refunds', input);
      if (r.status !== 200)
        throw new Error(`payment provider ${o.id}: refund ${input.refundNo}: ${r.status}`);
      const { reason, ...rest } = json(RefundSchema, r.text, 'refund answer');
      return { ...rest, ...(reason ? { reason } : {}) };
    },
    async statement(date: string): Promise<StatementLine[]> {
      const r = await call('GET', `/v1/statements/${date}`);
      if (r.status !== 200) throw new Error(`payment provider ${o.id}: statement ${date}: ${r.status}`);
      return parseStatement(r.text, `${o.id} statement ${date}`);
    },
  };
}

/** The statement CSV: `kind,transaction_id,order_no,amount_fen,at`, one line per payment or refund. */
export function parseStatement(csv: string, what: string): StatementLine[] {
  const [head, ...rows] = csv.split('\n').filter((l) => l.trim() !== '');
  if (head?.trim() !== 'kind,transaction_id,order_no,amount_fen,at')
    throw new Error(`${what}: unexpected header ${head}`);
  return rows.map((row, i) => {
    const [kind, transactionId, orderNo, fen, at] = row.split(',');
    if (
      (kind !== 'payment' && kind !== 'refund') ||
      !transactionId ||
      !orderNo ||
      !/^\d+$/.test(fen ?? '') ||
      !/^\d+$/.test(at ?? '')
    ) {
      throw new Error(
        `${what}: line ${i + 2} is not kind,transaction_id,order_no,amount_fen,at: ${row.slice(0, 120)}`,
      );
    }
    return { kind, transactionId, orderNo, amountFen: Number(fen), at: Number(at) };
  });
}
