import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { signedHeaders } from '../../services/money/payments/signing.ts';
import { local } from '../prepaid/support.ts';
import { paymentHarness, postNotice } from './support.ts';

/**
 * Issue 13 item 4: a payment credits the prepaid ledger exactly once however often its notice
 * arrives; forged, tampered, replayed and mismatched notices are refused and audited; an order
 * whose notice never came (the back office was down) is settled by a query.
 */

let h: Awaited<ReturnType<typeof paymentHarness>>;
beforeEach(async () => {
  h = await paymentHarness();
});
afterEach(async () => {
  await h.close();
});

const credits = () =>
  h.bo.db.prepare("SELECT COUNT(*) AS n FROM prepaid_ledger WHERE type = 'topup'").get() as { n: number };
const refusals = () => h.bo.audit.query({ action: 'payment.notice-refused' });

async function paidOrder(account = 'E1-101', amountFen = 5000, deliver = true) {
  const order = await h.bo.payments.createOrder(`customer:${account}`, { account, amountFen });
  h.sim.deliverNotices = deliver;
  await h.sim.pay(order.orderNo);
  await h.sim.noticesSettled();
  return { order, sim: h.sim.orders.get(order.orderNo)! };
}

describe('a payment through the provider', () => {
  it('is credited once when its signed notice arrives, to the order’s account, filed by transaction id', async () => {
    const { order, sim } = await paidOrder('E1-101', 5000);
    expect(order.providerOrderNo).toMatch(/^W/);
    expect(order.payUrl).toBe(`${h.sim.url}/pay/${order.providerOrderNo}`);
    expect(h.bo.prepaid.balance('E1-101')).toBe(5000);
    const [entry] = h.bo.prepaid.ledger('E1-101');
    expect(entry).toMatchObject({
      type: 'topup',
      amountFen: 5000,
      method: 'card',
      reference: `campus-card:${sim.transactionId}`,
      recordedBy: 'system:payments:campus-card',
    });
    expect(h.bo.payments.order(order.orderNo)).toMatchObject({
      status: 'paid',
      transactionId: sim.transactionId,
    });
    expect(h.sim.notices.at(-1)?.outcome).toBe(200);
    expect(h.bo.audit.verify().ok).toBe(true);
  });

  it('the same notice 50 times at once, and 50 fresh signings of it, still credit it once', async () => {
    const { order } = await paidOrder('E1-101', 1234);
    const first = h.sim.notices[0]!;
    const same = await Promise.all(
      Array.from({ length: 50 }, () => postNotice(h.bo.url, first.headers, first.body)),
    );
    expect(same.every((r) => r.status === 200 && r.body.code === 'SUCCESS')).toBe(true);
    // A provider's retries are signed afresh: other nonces, other timestamps, the same payment.
    const { order: second } = await paidOrder('E1-102', 777, false);
    const body = JSON.stringify({
      event: 'payment.succeeded',
      ...pick(h.sim.orders.get(second.orderNo)!),
    });
    const fresh = await Promise.all(
      Array.from({ length: 50 }, () => postNotice(h.bo.url, signedHeaders(h.key, body, Date.now()), body)),
    );
    expect(fresh.every((r) => r.status === 200)).toBe(true);
    expect(credits().n).toBe(2);
    expect(h.bo.prepaid.balance('E1-101')).toBe(1234);
    expect(h.bo.prepaid.balance('E1-102')).toBe(777);
    const outcomes = h.bo.db
      .prepare('SELECT outcome, COUNT(*) AS n FROM provider_notices GROUP BY outcome ORDER BY outcome')
      .all();
    expect(outcomes).toEqual([
      { outcome: 'credited', n: 2 },
      { outcome: 'duplicate', n: 99 },
    ]);
    expect(h.bo.payments.order(order.orderNo).status).toBe('paid');
  });
});

/** The notice body as the provider writes it, from the simulator's order. */
function pick(x: {
  orderNo: string;
  providerOrderNo: string;
  transactionId: string | null;
  account: string;
  amountFen: number;
  paidAt: number | null;
}) {
  return {
    orderNo: x.orderNo,
    providerOrderNo: x.providerOrderNo,
    transactionId: x.transactionId,
    attach: x.account,
    amountFen: x.amountFen,
    paidAt: x.paidAt,
  };
}

describe('a notice that must not be believed', () => {
  async function unpaid(account = 'E1-101', amountFen = 5000) {
    const order = await h.bo.payments.createOrder(`customer:${account}`, { account, amountFen });
    h.sim.deliverNotices = false;
    await h.sim.pay(order.orderNo);
    return { order, body: pick(h.sim.orders.get(order.orderNo)!) };
  }
  const send = (body: object, key = h.key, at = Date.now()) => {
    const text = JSON.stringify({ event: 'payment.succeeded', ...body });
    return postNotice(h.bo.url, signedHeaders(key, text, at), text);
  };

  it('forged with another key, or tampered after signing: BAD_SIGNATURE, audited, nothing booked', async () => {
    const { body } = await unpaid();
    const forged = await send(body, Buffer.alloc(32, 7));
    expect(forged).toMatchObject({ status: 401, body: { code: 'FAIL', reason: 'BAD_SIGNATURE' } });
    const text = JSON.stringify({ event: 'payment.succeeded', ...body });
    const headers = signedHeaders(h.key, text, Date.now());
    const tampered = await postNotice(
      h.bo.url,
      headers,
      text.replace('"amountFen":5000', '"amountFen":500000'),
    );
    expect(tampered.body.reason).toBe('BAD_SIGNATURE');
    const unsigned = await postNotice(h.bo.url, {}, text);
    expect(unsigned.body.reason).toBe('BAD_SIGNATURE');
    expect(credits().n).toBe(0);
    // Unsigned junk is audited once a minute per provider (a flood cannot flood the chain); every
    // one is in the table of notices received.
    expect(refusals().map((e) => (e.after as { code: string }).code)).toEqual(['BAD_SIGNATURE']);
    expect(
      h.bo.db.prepare("SELECT COUNT(*) AS n FROM provider_notices WHERE outcome = 'refused'").get(),
    ).toEqual({ n: 3 });
  });

  it('signed, but with the amount changed, for another account, or for an unknown order: refused and audited', async () => {
    const { body } = await unpaid('E1-101', 5000);
    expect(await send({ ...body, amountFen: 500_000 })).toMatchObject({
      status: 409,
      body: { reason: 'AMOUNT_MISMATCH' },
    });
    expect(await send({ ...body, attach: 'E1-102' })).toMatchObject({
      status: 409,
      body: { reason: 'ACCOUNT_MISMATCH' },
    });
    expect(await send({ ...body, orderNo: 'P0000NOTOURS' })).toMatchObject({
      status: 404,
      body: { reason: 'UNKNOWN_ORDER' },
    });
    expect(credits().n).toBe(0);
    expect(h.bo.prepaid.balance('E1-102')).toBe(0);
    expect(refusals().map((e) => [(e.after as { code: string }).code, e.subject])).toEqual([
      ['AMOUNT_MISMATCH', `payment-order:${body.orderNo}`],
      ['ACCOUNT_MISMATCH', `payment-order:${body.orderNo}`],
      ['UNKNOWN_ORDER', 'payment-order:P0000NOTOURS'],
    ]);
    // The genuine notice still books it, once, to the order's own account.
    expect((await send(body)).status).toBe(200);
    expect(h.bo.prepaid.balance('E1-101')).toBe(5000);
  });

  it('signed but not a notice (not JSON, a field missing or of the wrong type): MALFORMED_NOTICE, nothing booked', async () => {
    const { body } = await unpaid();
    for (const text of [
      'not json',
      JSON.stringify({ event: 'payment.succeeded', ...body, amountFen: '5000' }),
    ]) {
      const r = await postNotice(h.bo.url, signedHeaders(h.key, text, Date.now()), text);
      expect(r).toMatchObject({ status: 400, body: { reason: 'MALFORMED_NOTICE' } });
    }
    expect(credits().n).toBe(0);
  });

  it('replayed: an old message (stale) and a captured nonce on another body are refused', async () => {
    const { body } = await unpaid();
    const old = await send(body, h.key, Date.now() - 10 * 60_000);
    expect(old).toMatchObject({ status: 401, body: { reason: 'STALE_NOTICE' } });
    const text = JSON.stringify({ event: 'payment.succeeded', ...body });
    const headers = signedHeaders(h.key, text, Date.now());
    expect((await postNotice(h.bo.url, headers, text)).status).toBe(200);
    // Someone with the key and a captured message re-signs another body under its nonce.
    const other = JSON.stringify({ event: 'payment.succeeded', ...body, transactionId: 'T-REPLAY' });
    const reused = signedHeaders(h.key, other, Date.now());
    reused['x-pay-nonce'] = headers['x-pay-nonce']!;
    const { signature } = await import('../../services/money/payments/signing.ts');
    reused['x-pay-signature'] = signature(
      h.key,
      Number(reused['x-pay-timestamp']),
      reused['x-pay-nonce'],
      other,
    );
    expect(await postNotice(h.bo.url, reused, other)).toMatchObject({
      status: 409,
      body: { reason: 'REPLAYED_NOTICE' },
    });
    expect(credits().n).toBe(1);
    expect(refusals().map((e) => (e.after as { code: string }).code)).toEqual([
      'STALE_NOTICE',
      'REPLAYED_NOTICE',
    ]);
  });

  it('a second transaction for a paid order is refused and lands in the clerk’s queue', async () => {
    const { body } = await unpaid('E1-101', 3000);
    expect((await send(body)).status).toBe(200);
    const again = await send({ ...body, transactionId: 'T-SECOND' });
    expect(again).toMatchObject({ status: 409, body: { reason: 'ORDER_ALREADY_PAID' } });
    expect(h.bo.prepaid.balance('E1-101')).toBe(3000);
    const queue = h.bo.db
      .prepare('SELECT kind, transaction_id, account_id, statement_fen FROM payment_mismatches')
      .all();
    expect(queue).toEqual([
      { kind: 'second-payment', transaction_id: 'T-SECOND', account_id: 'E1-101', statement_fen: 3000 },
    ]);
  });
});

describe('an order whose notice never came', () => {
  it('a crash after the order: the customer pays while the back office is down, the query books it once', async () => {
    const order = await h.bo.payments.createOrder('customer:E1-101', { account: 'E1-101', amountFen: 8800 });
    await h.crash(async () => {
      await h.sim.pay(order.orderNo);
      await h.sim.noticesSettled();
    });
    // Every attempt failed: nobody was listening.
    expect(h.sim.notices.length).toBe(3);
    expect(h.sim.notices.every((n) => typeof n.outcome === 'string')).toBe(true);
    expect(h.bo.prepaid.balance('E1-101')).toBe(0);
    expect(await h.bo.payments.sweep()).toEqual([]); // not yet due
    h.time.skew += 61_000;
    expect(await h.bo.payments.sweep()).toEqual([{ orderNo: order.orderNo, outcome: 'credited' }]);
    expect(await h.bo.payments.sweep()).toEqual([]);
    // The provider's late retry now reaches a back office that already booked it.
    const late = h.sim.notices[0]!;
    const resent = signedHeaders(h.key, late.body, Date.now() + h.time.skew);
    expect((await postNotice(h.bo.url, resent, late.body)).body.code).toBe('SUCCESS');
    expect(h.bo.prepaid.balance('E1-101')).toBe(8800);
    expect(h.bo.prepaid.ledger('E1-101')).toHaveLength(1);
    expect(h.bo.payments.order(order.orderNo)).toMatchObject({ status: 'paid' });
    expect(h.bo.db.prepare('SELECT via FROM payment_credits').all()).toEqual([{ via: 'query' }]);
  });

  it('the provider never heard of the order (down when it was made): it stays open, then closes unpaid', async () => {
    await h.providerOutage(async () => {
      await expect(
        h.bo.payments.createOrder('customer:E1-101', { account: 'E1-101', amountFen: 1000 }),
      ).rejects.toMatchObject({ code: 'PROVIDER_UNAVAILABLE' });
    });
    const [open] = h.bo.payments.orders({ status: 'open' });
    expect(open).toMatchObject({ accountId: 'E1-101', providerOrderNo: null });
    h.time.skew += 61_000;
    expect(await h.bo.payments.sweep()).toEqual([{ orderNo: open!.orderNo, outcome: 'pending' }]);
    h.time.skew += 15 * 60_000;
    expect(await h.bo.payments.sweep()).toEqual([{ orderNo: open!.orderNo, outcome: 'closed' }]);
    expect(h.bo.payments.order(open!.orderNo).status).toBe('closed');
    expect(h.bo.audit.query({ action: 'payment.order-closed' })[0]?.reason).toBe(
      'the provider never received it',
    );
    expect(h.bo.prepaid.balance('E1-101')).toBe(0);
  });

  it('at most five unpaid orders open per account: a script looping on top-up fills neither table nor provider', async () => {
    for (let i = 0; i < 5; i++)
      await h.bo.payments.createOrder('customer:E1-101', { account: 'E1-101', amountFen: 1000 });
    await expect(
      h.bo.payments.createOrder('customer:E1-101', { account: 'E1-101', amountFen: 1000 }),
    ).rejects.toMatchObject({
      code: 'TOO_MANY_OPEN_ORDERS',
    });
    expect(h.sim.orders.size).toBe(5);
    await h.bo.payments.createOrder('customer:E1-102', { account: 'E1-102', amountFen: 1000 }); // another account is not held up
    h.time.skew += 15 * 60_000 + 1; // they expire
    await h.bo.payments.createOrder('customer:E1-101', { account: 'E1-101', amountFen: 1000 });
  });

  it('refuses an amount outside the campus limits and an account that cannot be sold to', async () => {
    await expect(
      h.bo.payments.createOrder('customer:E1-101', { account: 'E1-101', amountFen: 99 }),
    ).rejects.toMatchObject({ code: 'INVALID_AMOUNT' });
    await expect(
      h.bo.payments.createOrder('customer:E1-101', { account: 'E1-101', amountFen: 100.5 }),
    ).rejects.toMatchObject({ code: 'INVALID_AMOUNT' });
    await expect(h.bo.payments.createOrder('x', { account: 'NOPE', amountFen: 1000 })).rejects.toMatchObject({
      code: 'ACCOUNT_NOT_FOUND',
    });
    expect(h.bo.db.prepare('SELECT COUNT(*) AS n FROM payment_orders').get()).toEqual({ n: 0 });
  });
});

describe('the provider interface’s refund, against the simulated provider', () => {
  it('refunds up to what was paid, once per refund number; refund lines are on the statement and not the ledger’s', async () => {
    h.time.skew = local(2026, 12, 1, 12) - Date.now(); // noon: the day's edges are not this test's
    const { order } = await paidOrder('E1-101', 3000);
    const provider = h.bo.payments.provider('campus-card');
    const refund = { orderNo: order.orderNo, refundNo: 'R-1', amountFen: 1000, reason: 'moved out' };
    expect(await provider.refund(refund)).toEqual({ refundNo: 'R-1', status: 'succeeded' });
    expect(await provider.refund(refund)).toEqual({ refundNo: 'R-1', status: 'succeeded' });
    expect(await provider.refund({ ...refund, refundNo: 'R-2', amountFen: 2001 })).toMatchObject({
      status: 'refused',
    });
    const date = '2026-12-01';
    const lines = await provider.statement(date);
    expect(lines.map((l) => [l.kind, l.amountFen])).toEqual([
      ['payment', 3000],
      ['refund', 1000],
    ]);
    expect((await h.bo.payments.reconcile('clerk.wang', 'campus-card', date)).mismatches).toEqual([]);
  });
});
