import { createHash, randomBytes } from 'node:crypto';
import type { AuditLog } from '../../platform/audit/audit-log.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import type { Fen } from '../billing/money.ts';
import type { LedgerEntry, Prepaid } from '../prepaid/prepaid.ts';
import { PAYMENT_ERRORS, refusePayment, type PaymentErrorCode } from './errors.ts';
import { MismatchQueue, type Mismatch } from './mismatch-queue.ts';
import { reconcile, type ReconciliationResult } from './reconcile.ts';
import {
  NoticeRefused,
  type PaymentNotice,
  type PaymentProvider,
  type ProviderOrderState,
} from './provider.ts';
import { PAYMENTS_SCHEMA } from './schema.ts';

/**
 * Self top-up through a payment provider. An order is created here first (our number, the
 * account, the amount), then at the provider; the customer pays there; the provider's signed
 * notice — or, if it never comes, our query — books the money on the prepaid ledger.
 *
 * Exactly once: the provider's transaction id is filed in payment_credits in the same database
 * transaction as the ledger entry (and the ledger files it again as the top-up's reference), so
 * however often and in whatever order notices and query answers arrive, one transaction is one
 * credit, and a crash leaves both rows or neither.
 *
 * What a notice is never believed for: its signature must hold under the provider's key; it must
 * be fresh (noticeMaxAgeMs) and its nonce unused by any other message; it must name an order we
 * created, for that order's account and amount. The money goes to the order's account, never to
 * one the notice names. Every notice is recorded (provider_notices); every refusal is audited
 * (unsigned ones at most once a minute per provider, so that a flood of junk cannot flood the
 * chain — the table still has each).
 */

export interface PaymentsSettings {
  /** Where the provider posts notices: the back office's public base URL. */
  publicUrl: string;
  noticeMaxAgeMs: number;
  /** Orders without a notice are queried after this long. */
  queryAfterMs: number;
  /** How long an order can be paid. */
  orderTtlMs: number;
  minTopUpFen: Fen;
  maxTopUpFen: Fen;
}

export interface PaymentsOptions {
  db: BackofficeDb;
  audit: AuditLog;
  prepaid: Prepaid;
  providers: readonly PaymentProvider[];
  settings: PaymentsSettings;
  /** The campus time zone: a reconciliation's day is a local day. */
  timezone: string;
  clock?: Clock;
}

export interface PaymentOrder {
  orderNo: string;
  provider: string;
  accountId: string;
  amountFen: Fen;
  createdBy: string;
  createdAt: number;
  expiresAt: number;
  providerOrderNo: string | null;
  payUrl: string | null;
  status: 'open' | 'paid' | 'closed';
  transactionId: string | null;
  paidAt: number | null;
  ledgerId: number | null;
}

export interface NoticeAnswer {
  status: number;
  body: { code: 'SUCCESS' } | { code: 'FAIL'; reason: PaymentErrorCode; message: string };
}

interface OrderRow {
  order_no: string;
  provider: string;
  account_id: string;
  amount_fen: number;
  created_by: string;
  created_at: number;
  expires_at: number;
  provider_order_no: string | null;
  pay_url: string | null;
  closed_at: number | null;
  transaction_id: string | null;
  paid_at: number | null;
  ledger_id: number | null;
}

export const PAYMENTS_ACTOR = 'system:payments';
/** Unpaid, unexpired orders one account may have at once. */
export const MAX_OPEN_ORDERS = 5;
const ORDER_SELECT = `SELECT o.*, c.transaction_id, c.paid_at, c.ledger_id FROM payment_orders o
  LEFT JOIN payment_credits c ON c.order_no = o.order_no`;

function toOrder(r: OrderRow): PaymentOrder {
  return {
    orderNo: r.order_no,
    provider: r.provider,
    accountId: r.account_id,
    amountFen: r.amount_fen,
    createdBy: r.created_by,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    providerOrderNo: r.provider_order_no,
    payUrl: r.pay_url,
    status: r.ledger_id !== null ? 'paid' : r.closed_at !== null ? 'closed' : 'open',
    transactionId: r.transaction_id,
    paidAt: r.paid_at,
    ledgerId: r.ledger_id,
  };
}

class Refusal extends Error {
  constructor(
    readonly code: PaymentErrorCode,
    message: string,
    readonly orderNo?: string,
    readonly transactionId?: string,
    /** A refusal the clerk must look at: filed with the refusal, after the booking rolled back. */
    readonly mismatch?: Parameters<MismatchQueue['file']>,
  ) {
    super(message);
  }
}

export class Payments {
  readonly settings: PaymentsSettings;
  private readonly db: BackofficeDb;
  private readonly audit: AuditLog;
  private readonly prepaid: Prepaid;
  private readonly clock: Clock;
  private readonly providers = new Map<string, PaymentProvider>();
  private readonly unsignedAuditedAt = new Map<string, number>();
  private readonly timezone: string;
  /** The clerk's queue of mismatches, which taking payments and the reconciliation both file into. */
  private readonly queue: MismatchQueue;

  constructor(o: PaymentsOptions) {
    this.db = o.db;
    this.audit = o.audit;
    this.prepaid = o.prepaid;
    this.settings = o.settings;
    this.clock = o.clock ?? Date.now;
    this.timezone = o.timezone;
    this.queue = new MismatchQueue({ db: o.db, audit: o.audit, clock: this.clock, filer: PAYMENTS_ACTOR });
    for (const p of o.providers) this.providers.set(p.id, p);
    this.db.exec(PAYMENTS_SCHEMA);
  }

  providerIds(): string[] {
    return [...this.providers.keys()];
  }

  provider(id: string): PaymentProvider {
    const p = this.providers.get(id);
    if (!p)
      refusePayment(
        'UNKNOWN_PROVIDER',
        `no payment provider ${id} (configured: ${this.providerIds().join(', ') || 'none'})`,
      );
    return p;
  }

  // ── Orders ──────────────────────────────────────────────────────────────────────────────────

  /**
   * Creates an order for `account` and registers it with the provider. The order row is written
   * (and audited) before the provider hears of it: if the process dies in between, the row is
   * there for the query sweep, which closes it when the provider never heard of it.
   */
  async createOrder(
    by: string,
    input: { account: string; amountFen: number; provider?: string },
  ): Promise<PaymentOrder> {
    const { minTopUpFen: min, maxTopUpFen: max } = this.settings;
    if (!Number.isSafeInteger(input.amountFen) || input.amountFen < min || input.amountFen > max) {
      refusePayment(
        'INVALID_AMOUNT',
        `amountFen: a top-up is whole fen from ${min} to ${max}, got ${input.amountFen}`,
      );
    }
    const provider = this.provider(input.provider ?? this.providerIds()[0] ?? '');
    const account = this.prepaid.account(input.account);
    if (account.tariffType !== 'verified') {
      refusePayment(
        'INVALID_REQUEST',
        `account ${account.id} has no verified tariff type yet: nothing can be sold to it`,
      );
    }
    const now = this.clock();
    const orderNo = `P${now.toString(36).toUpperCase()}${randomBytes(5).toString('hex').toUpperCase()}`;
    const expiresAt = now + this.settings.orderTtlMs;
    this.db.transaction(() => {
      // Each order is a row and a call to the provider: a script looping on "top up" must not
      // fill either. Orders past their time no longer count, paid or not.
      const open = this.db
        .prepare(
          `SELECT COUNT(*) AS n FROM payment_orders o LEFT JOIN payment_credits c ON c.order_no = o.order_no
            WHERE o.account_id = ? AND c.order_no IS NULL AND o.closed_at IS NULL AND o.expires_at > ?`,
        )
        .get(account.id, now) as { n: number };
      if (open.n >= MAX_OPEN_ORDERS) {
        refusePayment(
          'TOO_MANY_OPEN_ORDERS',
          `account ${account.id} has ${open.n} unpaid orders still open: pay one or wait until they expire`,
        );
      }
      this.db
        .prepare(
          `INSERT INTO payment_orders (order_no, provider, account_id, amount_fen, created_by, created_at, expires_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(orderNo, provider.id, account.id, input.amountFen, by, now, expiresAt);
      this.audit.append({
        actor: by,
        action: 'payment.order',
        subject: `payment-order:${orderNo}`,
        after: { account: account.id, amountFen: input.amountFen, provider: provider.id, expiresAt },
      });
    })();
    let created;
    try {
      created = await provider.createOrder({
        orderNo,
        amountFen: input.amountFen,
        account: account.id,
        description: `Electricity top-up ${account.id}`,
        notifyUrl: `${this.settings.publicUrl.replace(/\/+$/, '')}/api/payments/notify/${provider.id}`,
        expiresAt,
      });
    } catch (err) {
      refusePayment('PROVIDER_UNAVAILABLE', `order ${orderNo}: ${(err as Error).message}`);
    }
    this.db
      .prepare('UPDATE payment_orders SET provider_order_no = ?, pay_url = ? WHERE order_no = ?')
      .run(created.providerOrderNo, created.payUrl, orderNo);
    return this.order(orderNo);
  }

  order(orderNo: string): PaymentOrder {
    const r = this.db.prepare(`${ORDER_SELECT} WHERE o.order_no = ?`).get(orderNo) as OrderRow | undefined;
    if (!r) refusePayment('ORDER_NOT_FOUND', `no payment order ${orderNo}`);
    return toOrder(r);
  }

  orders(q: { account?: string; status?: PaymentOrder['status']; limit?: number } = {}): PaymentOrder[] {
    const rows = (
      this.db
        .prepare(
          `${ORDER_SELECT} WHERE (? IS NULL OR o.account_id = ?) ORDER BY o.created_at DESC, o.order_no LIMIT ?`,
        )
        .all(q.account ?? null, q.account ?? null, q.status ? 100_000 : (q.limit ?? 200)) as OrderRow[]
    ).map(toOrder);
    return q.status ? rows.filter((o) => o.status === q.status).slice(0, q.limit ?? 200) : rows;
  }

  // ── Notices ─────────────────────────────────────────────────────────────────────────────────

  /**
   * A provider's asynchronous notice, as received (headers and the exact body bytes). Answers
   * SUCCESS once the payment is booked — the first time, or again for a copy of a booked one, so
   * that the provider stops retrying — and FAIL with the reason otherwise.
   */
  receiveNotice(
    providerId: string,
    headers: Record<string, string | string[] | undefined>,
    rawBody: string,
    ip = '',
  ): NoticeAnswer {
    const bodySha = createHash('sha256').update(rawBody).digest('hex');
    const now = this.clock();
    let nonce: string | null = null;
    try {
      const provider = this.providers.get(providerId);
      if (!provider) throw new Refusal('UNKNOWN_PROVIDER', `no payment provider ${providerId.slice(0, 64)}`);
      let signed;
      try {
        signed = provider.readNotice(headers, rawBody);
      } catch (err) {
        if (!(err instanceof NoticeRefused)) throw err;
        if (err.why === 'bad-signature') throw new Refusal('BAD_SIGNATURE', err.message);
        throw new Refusal('MALFORMED_NOTICE', err.message);
      }
      nonce = signed.nonce;
      const n = signed.notice;
      if (Math.abs(now - signed.timestampMs) > this.settings.noticeMaxAgeMs) {
        throw new Refusal(
          'STALE_NOTICE',
          `signed at ${new Date(signed.timestampMs).toISOString()}, more than ${this.settings.noticeMaxAgeMs / 1000} s from now`,
          n.orderNo,
          n.transactionId,
        );
      }
      return this.db.transaction(() => this.acceptSigned(provider, n, nonce!, bodySha, ip))();
    } catch (err) {
      if (!(err instanceof Refusal)) throw err;
      this.recordRefusal(providerId, err, { nonce, bodySha, ip, now });
      return {
        status: PAYMENT_ERRORS[err.code].status,
        body: { code: 'FAIL', reason: err.code, message: err.message },
      };
    }
  }

  /** The checks that need the database, and the booking; one transaction. */
  private acceptSigned(
    provider: PaymentProvider,
    n: PaymentNotice,
    nonce: string,
    bodySha: string,
    ip: string,
  ): NoticeAnswer {
    const seen = this.db
      .prepare('SELECT body_sha256 FROM provider_notices WHERE provider = ? AND nonce = ? LIMIT 1')
      .get(provider.id, nonce) as { body_sha256: string } | undefined;
    // The very same message again is the provider's retry (our answer was lost) or a replay; either
    // way it can only ever repeat what it already said, which the transaction id makes harmless.
    // A nonce reused with another body is a forgery built on a captured message.
    if (seen && seen.body_sha256 !== bodySha) {
      throw new Refusal(
        'REPLAYED_NOTICE',
        `nonce ${nonce} was already used by another message`,
        n.orderNo,
        n.transactionId,
      );
    }
    const row = this.db.prepare(`${ORDER_SELECT} WHERE o.order_no = ?`).get(n.orderNo) as
      OrderRow | undefined;
    if (!row || row.provider !== provider.id)
      throw new Refusal('UNKNOWN_ORDER', `no ${provider.id} order ${n.orderNo}`, n.orderNo, n.transactionId);
    if (n.account !== row.account_id) {
      throw new Refusal(
        'ACCOUNT_MISMATCH',
        `order ${n.orderNo} is for account ${row.account_id}, the notice says ${n.account}`,
        n.orderNo,
        n.transactionId,
      );
    }
    if (n.amountFen !== row.amount_fen) {
      throw new Refusal(
        'AMOUNT_MISMATCH',
        `order ${n.orderNo} is for ${row.amount_fen} fen, the notice says ${n.amountFen}`,
        n.orderNo,
        n.transactionId,
      );
    }
    const outcome = this.book(provider, toOrder(row), n, 'notice');
    this.logNotice(provider.id, {
      nonce,
      bodySha,
      ip,
      orderNo: n.orderNo,
      transactionId: n.transactionId,
      outcome,
    });
    return { status: 200, body: { code: 'SUCCESS' } };
  }

  /**
   * Books a paid order once: the ledger entry and the credit row together. 'duplicate' when this
   * transaction is already booked; a second, different transaction for a paid order is refused and
   * put in the clerk's queue (the provider took the money twice).
   */
  private book(
    provider: PaymentProvider,
    order: PaymentOrder,
    n: Pick<PaymentNotice, 'transactionId' | 'paidAt' | 'amountFen'>,
    via: 'notice' | 'query',
  ): 'credited' | 'duplicate' {
    const done = this.db
      .prepare('SELECT order_no FROM payment_credits WHERE provider = ? AND transaction_id = ?')
      .get(provider.id, n.transactionId) as { order_no: string } | undefined;
    if (done) {
      if (done.order_no !== order.orderNo) {
        throw new Refusal(
          'UNKNOWN_ORDER',
          `transaction ${n.transactionId} already paid order ${done.order_no}`,
          order.orderNo,
          n.transactionId,
        );
      }
      return 'duplicate';
    }
    if (order.status === 'paid') {
      const mismatch = {
        ...n,
        orderNo: order.orderNo,
        accountId: order.accountId,
        ledgerFen: order.amountFen,
      };
      throw new Refusal(
        'ORDER_ALREADY_PAID',
        `order ${order.orderNo} was paid by ${order.transactionId}; ${n.transactionId} is a second payment`,
        order.orderNo,
        n.transactionId,
        [provider.id, 'second-payment', mismatch],
      );
    }
    const entry: LedgerEntry = this.prepaid.creditFromProvider({
      account: order.accountId,
      amountFen: order.amountFen,
      method: provider.method,
      reference: `${provider.id}:${n.transactionId}`,
      recordedBy: `${PAYMENTS_ACTOR}:${provider.id}`,
      detail: {
        orderNo: order.orderNo,
        transactionId: n.transactionId,
        paidAt: n.paidAt,
        via,
        createdBy: order.createdBy,
      },
    });
    this.db
      .prepare(
        `INSERT INTO payment_credits (provider, transaction_id, order_no, amount_fen, paid_at, credited_at, via, ledger_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        provider.id,
        n.transactionId,
        order.orderNo,
        order.amountFen,
        n.paidAt,
        this.clock(),
        via,
        entry.id,
      );
    return 'credited';
  }

  private logNotice(
    provider: string,
    r: {
      nonce: string | null;
      bodySha: string;
      ip: string;
      orderNo?: string | undefined;
      transactionId?: string | undefined;
      outcome: 'credited' | 'duplicate' | 'refused';
      code?: string;
      detail?: string;
    },
  ): void {
    this.db
      .prepare(
        `INSERT INTO provider_notices (at, provider, nonce, body_sha256, order_no, transaction_id, outcome, code, detail, ip)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        this.clock(),
        provider.slice(0, 64),
        r.nonce,
        r.bodySha,
        r.orderNo ?? null,
        r.transactionId ?? null,
        r.outcome,
        r.code ?? null,
        r.detail ?? null,
        r.ip,
      );
  }

  private recordRefusal(
    provider: string,
    err: Refusal,
    r: { nonce: string | null; bodySha: string; ip: string; now: number },
  ): void {
    this.db.transaction(() => {
      this.logNotice(provider, {
        ...r,
        orderNo: err.orderNo,
        transactionId: err.transactionId,
        outcome: 'refused',
        code: err.code,
        detail: err.message.slice(0, 500),
      });
      const unsigned =
        err.code === 'BAD_SIGNATURE' || err.code === 'MALFORMED_NOTICE' || err.code === 'UNKNOWN_PROVIDER';
      const key = `${provider}:${err.code}`;
      if (err.mismatch) this.queue.file(...err.mismatch);
      if (unsigned && r.now - (this.unsignedAuditedAt.get(key) ?? -Infinity) < 60_000) return;
      if (unsigned) this.unsignedAuditedAt.set(key, r.now);
      this.audit.append({
        actor: PAYMENTS_ACTOR,
        action: 'payment.notice-refused',
        subject: err.orderNo ? `payment-order:${err.orderNo}` : `payment-provider:${provider.slice(0, 64)}`,
        after: {
          code: err.code,
          provider: provider.slice(0, 64),
          transactionId: err.transactionId ?? null,
          ip: r.ip,
          bodySha256: r.bodySha,
        },
        reason: err.message.slice(0, 500),
      });
    })();
  }

  // ── Orders whose notice never came ──────────────────────────────────────────────────────────

  /**
   * Asks the provider about every open order older than queryAfterMs: a paid one is booked (as a
   * notice would have), one the provider closed or never heard of is closed here once expired.
   * One provider's failure is reported with the order and the sweep goes on.
   */
  async sweep(): Promise<{ orderNo: string; outcome: string }[]> {
    const now = this.clock();
    const due = (
      this.db
        .prepare(
          `SELECT o.order_no FROM payment_orders o LEFT JOIN payment_credits c ON c.order_no = o.order_no
            WHERE c.order_no IS NULL AND o.closed_at IS NULL AND o.created_at <= ? ORDER BY o.created_at`,
        )
        .all(now - this.settings.queryAfterMs) as { order_no: string }[]
    ).map((r) => r.order_no);
    const out: { orderNo: string; outcome: string }[] = [];
    for (const orderNo of due) {
      try {
        out.push({ orderNo, outcome: await this.settle(orderNo) });
      } catch (err) {
        out.push({ orderNo, outcome: `error: ${(err as Error).message}` });
      }
    }
    return out;
  }

  /** Queries one order and acts on the answer; what happened. */
  async settle(orderNo: string): Promise<string> {
    const order = this.order(orderNo);
    if (order.status !== 'open') return order.status;
    const provider = this.provider(order.provider);
    const state = await provider.query(orderNo);
    return this.db.transaction(() => this.applyQuery(provider, this.order(orderNo), state))();
  }

  private applyQuery(
    provider: PaymentProvider,
    order: PaymentOrder,
    state: ProviderOrderState | null,
  ): string {
    if (order.status !== 'open') return order.status;
    const now = this.clock();
    if (
      state &&
      (state.status === 'paid' || state.status === 'refunded') &&
      state.transactionId &&
      state.paidAt !== null
    ) {
      if (state.account !== order.accountId || state.amountFen !== order.amountFen) {
        this.queue.file(provider.id, 'amount', {
          transactionId: state.transactionId,
          paidAt: state.paidAt,
          amountFen: state.amountFen,
          orderNo: order.orderNo,
          accountId: order.accountId,
          ledgerFen: 0,
        });
        return 'mismatch';
      }
      try {
        return this.book(
          provider,
          order,
          { transactionId: state.transactionId, paidAt: state.paidAt, amountFen: state.amountFen },
          'query',
        );
      } catch (err) {
        if (!(err instanceof Refusal)) throw err;
        if (err.mismatch) this.queue.file(...err.mismatch);
        return `refused: ${err.code}`;
      }
    }
    const expired = now > order.expiresAt;
    if ((state === null || state.status === 'closed') && expired) {
      const reason = state === null ? 'the provider never received it' : 'closed unpaid at the provider';
      this.db
        .prepare('UPDATE payment_orders SET closed_at = ?, closed_reason = ? WHERE order_no = ?')
        .run(now, reason, order.orderNo);
      this.audit.append({
        actor: PAYMENTS_ACTOR,
        action: 'payment.order-closed',
        subject: `payment-order:${order.orderNo}`,
        after: { account: order.accountId, amountFen: order.amountFen },
        reason,
      });
      return 'closed';
    }
    return 'pending';
  }

  // ── The daily reconciliation (reconcile.ts) and the clerk's queue (mismatch-queue.ts) ─────────

  reconcile(by: string, provider: string, date: string): Promise<ReconciliationResult> {
    return reconcile(
      {
        ...{ db: this.db, audit: this.audit, timezone: this.timezone, clock: this.clock },
        provider: (id) => this.provider(id),
        queue: this.queue,
      },
      by,
      provider,
      date,
    );
  }
  mismatches(open = true): Mismatch[] {
    return this.queue.list(open);
  }
  resolveMismatch(by: string, id: number, note: string): Mismatch {
    return this.queue.resolve(by, id, note);
  }
}
