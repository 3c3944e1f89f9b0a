import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

/**
 * A simulated payment provider (campus card / WeChat-Pay style) as a real HTTP server: the merchant
 * (the back office) creates orders with signed requests, the customer pays on the provider's page,
 * the provider posts a signed asynchronous notice to the merchant and retries it until answered
 * SUCCESS, answers signed queries, refunds, and serves one signed statement file (CSV) per day.
 *
 * It keeps its own order numbers and transaction ids and signs with its own HMAC code (written
 * from the protocol, not imported from the back office), so a test that passes checks the two
 * sides against each other. Test controls stand in for what happens at a real provider: notices
 * lost in the network, a payment reversed, a statement line with another amount.
 */

export interface PaymentSimulatorOptions {
  /** The merchant key both sides hold. */
  key: Buffer;
  host?: string;
  port?: number;
  /** The provider's day for statements (default Asia/Shanghai). */
  timezone?: string;
  /** Delays between notice attempts (default 0, 200 ms, 1 s, 3 s, 10 s). */
  retryDelaysMs?: readonly number[];
  /** Where statement files are written, one per day asked for (optional). */
  statementDir?: string;
  clock?: () => number;
}

export interface SimOrder {
  orderNo: string;
  providerOrderNo: string;
  account: string;
  amountFen: number;
  description: string;
  notifyUrl: string;
  expiresAt: number;
  status: 'pending' | 'paid' | 'closed' | 'refunded';
  transactionId: string | null;
  paidAt: number | null;
  refunds: { refundNo: string; amountFen: number; at: number; transactionId: string }[];
}

export interface NoticeAttempt {
  orderNo: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  /** HTTP status, or the network error. */
  outcome: number | string;
}

export interface PaymentSimulator {
  url: string;
  orders: Map<string, SimOrder>;
  /** Every notice attempt, in order (tests replay them byte for byte). */
  notices: NoticeAttempt[];
  /** false: notices are lost in the network (never delivered); the order is paid all the same. */
  deliverNotices: boolean;
  /** The customer pays the order (as on the pay page); the notice goes out asynchronously. */
  pay(orderNo: string): Promise<SimOrder>;
  /** Resolves when no notice delivery is under way. */
  noticesSettled(): Promise<void>;
  /** The provider reversed a payment: it is no longer on the statement. */
  reverse(transactionId: string): void;
  /** The provider's statement shows another amount for a transaction. */
  restate(transactionId: string, amountFen: number): void;
  /** A payment the merchant never created an order for appears on the statement. */
  addStatementPayment(line: { orderNo: string; amountFen: number; at: number }): string;
  statementCsv(date: string): string;
  close(): Promise<void>;
}

const H = { ts: 'x-pay-timestamp', nonce: 'x-pay-nonce', sig: 'x-pay-signature' };

function sign(key: Buffer, ts: number, nonce: string, body: string): string {
  return createHmac('sha256', key).update(`${ts}\n${nonce}\n${body}\n`).digest('base64');
}

function headersFor(key: Buffer, body: string, now: number): Record<string, string> {
  const nonce = randomBytes(12).toString('hex');
  return { [H.ts]: String(now), [H.nonce]: nonce, [H.sig]: sign(key, now, nonce, body) };
}

function signedBy(key: Buffer, req: IncomingMessage, body: string): boolean {
  const ts = req.headers[H.ts];
  const nonce = req.headers[H.nonce];
  const sig = req.headers[H.sig];
  if (typeof ts !== 'string' || typeof nonce !== 'string' || typeof sig !== 'string') return false;
  const want = Buffer.from(sign(key, Number(ts), nonce, body), 'base64');
  const got = Buffer.from(sig, 'base64');
  return got.length === want.length && timingSafeEqual(got, want);
}

function localDate(ms: number, timezone: string): string {
  return new Intl.DateTimeFormat('en-CA', {
    timeZone: timezone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(ms);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startPaymentSimulator(o: PaymentSimulatorOptions): Promise<PaymentSimulator> {
  const clock = o.clock ?? Date.now;
  const timezone = o.timezone ?? 'Asia/Shanghai';
  const delays = o.retryDelaysMs ?? [0, 200, 1000, 3000, 10_000];
  const orders = new Map<string, SimOrder>();
  const byProviderNo = new Map<string, SimOrder>();
  const reversed = new Set<string>();
  const restated = new Map<string, number>();
  const strangers: { orderNo: string; amountFen: number; at: number; transactionId: string }[] = [];
  const notices: NoticeAttempt[] = [];
  const deliveries = new Set<Promise<void>>();
  let seq = 0;
  let url = '';
  const nextId = (prefix: string) =>
    `${prefix}${localDate(clock(), timezone).replace(/-/g, '')}${String(++seq).padStart(8, '0')}`;

  const send = (res: ServerResponse, status: number, body: string, type = 'application/json') => {
    res.writeHead(status, { 'content-type': type, ...headersFor(o.key, body, clock()) });
    res.end(body);
  };
  const view = (x: SimOrder) => ({
    orderNo: x.orderNo,
    providerOrderNo: x.providerOrderNo,
    attach: x.account,
    amountFen: x.amountFen,
    status: x.status === 'pending' && clock() > x.expiresAt ? 'closed' : x.status,
    transactionId: x.transactionId,
    paidAt: x.paidAt,
  });

  async function deliver(x: SimOrder): Promise<void> {
    const body = JSON.stringify({
      event: 'payment.succeeded',
      orderNo: x.orderNo,
      providerOrderNo: x.providerOrderNo,
      transactionId: x.transactionId,
      attach: x.account,
      amountFen: x.amountFen,
      paidAt: x.paidAt,
    });
    for (const d of delays) {
      await sleep(d);
      if (!sim.deliverNotices) return;
      // Each attempt is signed afresh (its own timestamp and nonce), as real providers retry.
      const headers = { 'content-type': 'application/json', ...headersFor(o.key, body, clock()) };
      const attempt: NoticeAttempt = { orderNo: x.orderNo, url: x.notifyUrl, headers, body, outcome: 0 };
      notices.push(attempt);
      try {
        const r = await fetch(x.notifyUrl, { method: 'POST', headers, body });
        attempt.outcome = r.status;
        const answer = (await r.json().catch(() => ({}))) as { code?: string };
        if (r.ok && answer.code === 'SUCCESS') return;
      } catch (err) {
        attempt.outcome = (err as Error).message;
      }
    }
  }

  function pay(orderNo: string): SimOrder {
    const x = orders.get(orderNo);
    if (!x) throw new Error(`no order ${orderNo}`);
    if (x.status !== 'pending' || clock() > x.expiresAt)
      throw new Error(`order ${orderNo} is ${view(x).status}`);
    x.status = 'paid';
    x.transactionId = nextId('T');
    x.paidAt = clock();
    const p = deliver(x).finally(() => deliveries.delete(p));
    deliveries.add(p);
    return x;
  }

  function statementLines(date: string): string[] {
    const lines: string[] = [];
    for (const x of orders.values()) {
      if (
        x.transactionId &&
        x.paidAt !== null &&
        !reversed.has(x.transactionId) &&
        localDate(x.paidAt, timezone) === date
      ) {
        lines.push(
          `payment,${x.transactionId},${x.orderNo},${restated.get(x.transactionId) ?? x.amountFen},${x.paidAt}`,
        );
      }
      for (const r of x.refunds) {
        if (localDate(r.at, timezone) === date)
          lines.push(`refund,${r.transactionId},${x.orderNo},${r.amountFen},${r.at}`);
      }
    }
    for (const s of strangers) {
      if (localDate(s.at, timezone) === date)
        lines.push(`payment,${s.transactionId},${s.orderNo},${s.amountFen},${s.at}`);
    }
    return lines;
  }
  const statementCsv = (date: string) =>
    ['kind,transaction_id,order_no,amount_fen,at', ...statementLines(date)].join('\n') + '\n';

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    const body = await readBody(req);
    const payPage = /^\/pay\/([A-Za-z0-9]+)$/.exec(path);
    if (payPage) {
      const x = byProviderNo.get(payPage[1]!);
      if (!x) return send(res, 404, '{"code":"ORDER_NOT_FOUND"}');
      if (req.method === 'POST') {
        try {
          pay(x.orderNo);
        } catch (err) {
          return send(res, 409, JSON.stringify({ code: 'NOT_PAYABLE', message: (err as Error).message }));
        }
      }
      const page = `<!doctype html><meta name="viewport" content="width=device-width"><title>Pay</title>
<p>Order ${x.orderNo}: ${(x.amountFen / 100).toFixed(2)} CNY for ${x.account}</p>
<p id="status">${view(x).status}</p>
<form method="post"><button id="pay" ${x.status === 'pending' ? '' : 'disabled'}>Pay</button></form>`;
      return send(res, 200, page, 'text/html; charset=utf-8');
    }
    // Everything else is the merchant API: signed requests only (a GET signs its path).
    if (!signedBy(o.key, req, req.method === 'GET' ? path : body)) {
      return send(res, 401, '{"code":"SIGN_ERROR","message":"signature does not match"}');
    }
    if (req.method === 'POST' && path === '/v1/orders') {
      const b = JSON.parse(body) as {
        orderNo: string;
        amountFen: number;
        attach: string;
        description: string;
        notifyUrl: string;
        expiresAt: number;
      };
      if (!Number.isInteger(b.amountFen) || b.amountFen <= 0)
        return send(res, 400, '{"code":"PARAM_ERROR","message":"amountFen"}');
      const existing = orders.get(b.orderNo);
      if (existing) {
        // The merchant retried after a lost answer: the same order, not a second one.
        if (existing.amountFen !== b.amountFen || existing.account !== b.attach)
          return send(res, 409, '{"code":"ORDER_NO_USED"}');
        return send(
          res,
          200,
          JSON.stringify({
            providerOrderNo: existing.providerOrderNo,
            payUrl: `${url}/pay/${existing.providerOrderNo}`,
          }),
        );
      }
      const x: SimOrder = {
        orderNo: b.orderNo,
        providerOrderNo: nextId('W'),
        account: b.attach,
        amountFen: b.amountFen,
        description: b.description,
        notifyUrl: b.notifyUrl,
        expiresAt: b.expiresAt,
        status: 'pending',
        transactionId: null,
        paidAt: null,
        refunds: [],
      };
      orders.set(x.orderNo, x);
      byProviderNo.set(x.providerOrderNo, x);
      return send(
        res,
        201,
        JSON.stringify({ providerOrderNo: x.providerOrderNo, payUrl: `${url}/pay/${x.providerOrderNo}` }),
      );
    }
    const q = /^\/v1\/orders\/([A-Za-z0-9_-]+)$/.exec(path);
    if (req.method === 'GET' && q) {
      const x = orders.get(q[1]!);
      return x ? send(res, 200, JSON.stringify(view(x))) : send(res, 404, '{"code":"ORDER_NOT_FOUND"}');
    }
    if (req.method === 'POST' && path === '/v1/refunds') {
      const b = JSON.parse(body) as { orderNo: string; refundNo: string; amountFen: number };
      const x = orders.get(b.orderNo);
      if (!x || !x.transactionId)
        return send(
          res,
          200,
          JSON.stringify({ refundNo: b.refundNo, status: 'refused', reason: 'order not paid' }),
        );
      const already = x.refunds.find((r) => r.refundNo === b.refundNo);
      if (already) return send(res, 200, JSON.stringify({ refundNo: b.refundNo, status: 'succeeded' }));
      const refunded = x.refunds.reduce((s, r) => s + r.amountFen, 0);
      if (!Number.isInteger(b.amountFen) || b.amountFen <= 0 || refunded + b.amountFen > x.amountFen) {
        return send(
          res,
          200,
          JSON.stringify({ refundNo: b.refundNo, status: 'refused', reason: 'more than was paid' }),
        );
      }
      x.refunds.push({
        refundNo: b.refundNo,
        amountFen: b.amountFen,
        at: clock(),
        transactionId: nextId('R'),
      });
      if (refunded + b.amountFen === x.amountFen) x.status = 'refunded';
      return send(res, 200, JSON.stringify({ refundNo: b.refundNo, status: 'succeeded' }));
    }
    const st = /^\/v1\/statements\/(\d{4}-\d{2}-\d{2})$/.exec(path);
    if (req.method === 'GET' && st) {
      const csv = statementCsv(st[1]!);
      if (o.statementDir) {
        mkdirSync(o.statementDir, { recursive: true });
        writeFileSync(join(o.statementDir, `${st[1]}.csv`), csv);
      }
      return send(res, 200, csv, 'text/csv; charset=utf-8');
    }
    return send(res, 404, '{"code":"NOT_FOUND"}');
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: Error) =>
      send(res, 400, JSON.stringify({ code: 'PARAM_ERROR', message: err.message })),
    );
  });
  await new Promise<void>((resolve) => server.listen(o.port ?? 0, o.host ?? '127.0.0.1', resolve));
  const a = server.address() as AddressInfo;
  url = `http://${a.address}:${a.port}`;

  const sim: PaymentSimulator = {
    url,
    orders,
    notices,
    deliverNotices: true,
    pay: async (orderNo) => pay(orderNo),
    noticesSettled: async () => {
      while (deliveries.size > 0) await Promise.all([...deliveries]);
    },
    reverse: (t) => void reversed.add(t),
    restate: (t, fen) => void restated.set(t, fen),
    addStatementPayment: (line) => {
      const transactionId = nextId('T');
      strangers.push({ ...line, transactionId });
      return transactionId;
    },
    statementCsv,
    close: async () => {
      sim.deliverNotices = false;
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
    },
  };
  return sim;
}
