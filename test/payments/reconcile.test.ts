import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { local } from '../prepaid/support.ts';
import { paymentHarness } from './support.ts';

/**
 * Issue 13 item 4, the daily reconciliation: the provider's statement file for a local day against
 * the ledger — missing, extra and different amounts land in the clerk's queue once, a clerk
 * resolves them over HTTP (audited), and a clean day balances by a second method (the statement's
 * sum against the ledger's).
 */

let h: Awaited<ReturnType<typeof paymentHarness>>;
const DAY = '2026-12-01';
beforeEach(async () => {
  h = await paymentHarness({ staff: { 'clerk.wang': ['clerk'], 'reader.chen': ['reader'] } });
  // Noon in Shanghai on DAY, whenever the test runs: the day's edges are not the test's concern.
  h.time.skew = local(2026, 12, 1, 12) - Date.now();
});
afterEach(async () => {
  await h.close();
});

async function pay(account: string, amountFen: number, deliver = true) {
  const order = await h.bo.payments.createOrder(`customer:${account}`, { account, amountFen });
  h.sim.deliverNotices = deliver;
  await h.sim.pay(order.orderNo);
  await h.sim.noticesSettled();
  return h.sim.orders.get(order.orderNo)!;
}

const call = async (who: string, method: string, path: string, body?: object) => {
  const r = await fetch(`${h.bo.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${h.tokens[who]}`,
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> & unknown[] };
};

describe('the daily reconciliation', () => {
  it('a clean day: no mismatch, and the statement and the ledger add up to the same fen', async () => {
    await pay('E1-101', 5000);
    await pay('E1-102', 1234);
    await pay('E1-101', 100);
    const r = await h.bo.payments.reconcile('clerk.wang', 'campus-card', DAY);
    expect(r).toMatchObject({ statementLines: 3, ledgerLines: 3, mismatches: [] });
    const statementFen = h.sim
      .statementCsv(DAY)
      .trim()
      .split('\n')
      .slice(1)
      .reduce((s, l) => s + Number(l.split(',')[3]), 0);
    const ledgerFen = h.bo.db
      .prepare("SELECT SUM(amount_fen) AS fen FROM prepaid_ledger WHERE type = 'topup' AND method = 'card'")
      .get() as { fen: number };
    expect(statementFen).toBe(6334);
    expect(ledgerFen.fen).toBe(6334);
  });

  it('missing, extra and different amounts land in the clerk’s queue once; the clerk resolves them', async () => {
    const reversed = await pay('E1-101', 5000);
    const restated = await pay('E1-102', 2000);
    const lost = await pay('E1-101', 700, false); // the notice never came and nobody queried yet
    const stranger = h.sim.addStatementPayment({
      orderNo: 'P-NOT-OURS',
      amountFen: 300,
      at: local(2026, 12, 1, 9),
    });
    h.sim.reverse(reversed.transactionId!);
    h.sim.restate(restated.transactionId!, 2001);
    const r = await call('clerk.wang', 'POST', '/api/payments/reconciliations', {
      provider: 'campus-card',
      date: DAY,
    });
    expect(r.status).toBe(201);
    const kinds = (r.body as unknown as { mismatches: { kind: string; transactionId: string }[] }).mismatches
      .map((m) => `${m.kind} ${m.transactionId}`)
      .sort();
    expect(kinds).toEqual(
      [
        `amount ${restated.transactionId}`,
        `extra ${reversed.transactionId}`,
        `missing ${lost.transactionId}`,
        `missing ${stranger}`,
      ].sort(),
    );
    // Run again: the same differences, nothing queued twice.
    const again = await h.bo.payments.reconcile('clerk.wang', 'campus-card', DAY);
    expect(again.mismatches.every((m) => !m.new)).toBe(true);
    const queue = await call('clerk.wang', 'GET', '/api/payments/mismatches');
    expect(queue.body).toHaveLength(4);
    expect(queue.body.find((m) => (m as { kind: string }).kind === 'amount')).toMatchObject({
      accountId: 'E1-102',
      statementFen: 2001,
      ledgerFen: 2000,
    });
    // A reader may neither see the queue nor reconcile; nothing moved on any ledger.
    expect((await call('reader.chen', 'GET', '/api/payments/mismatches')).status).toBe(403);
    expect(
      (
        await call('reader.chen', 'POST', '/api/payments/reconciliations', {
          provider: 'campus-card',
          date: DAY,
        })
      ).status,
    ).toBe(403);
    expect(h.bo.prepaid.balance('E1-101')).toBe(5000);
    const first = queue.body[0] as { id: number };
    const done = await call('clerk.wang', 'POST', `/api/payments/mismatches/${first.id}/resolve`, {
      note: 'provider confirmed the reversal',
    });
    expect(done).toMatchObject({ status: 200, body: { resolvedBy: 'clerk.wang' } });
    const twice = await call('clerk.wang', 'POST', `/api/payments/mismatches/${first.id}/resolve`, {
      note: 'again',
    });
    expect(twice).toMatchObject({ status: 409, body: { code: 'MISMATCH_RESOLVED' } });
    expect((await call('clerk.wang', 'GET', '/api/payments/mismatches')).body).toHaveLength(3);
    expect(h.bo.audit.query({ action: 'payment.mismatch-resolved' })).toHaveLength(1);
    expect(
      h.bo.audit.query({ action: 'payment.mismatch' }).filter((e) => e.action === 'payment.mismatch'),
    ).toHaveLength(4);
  });

  it('a clerk makes an order at the counter (the customer scans its pay link); a reader may not; orders are listed', async () => {
    const made = await call('clerk.wang', 'POST', '/api/payments/orders', {
      account: 'E1-102',
      amountFen: 8000,
    });
    expect(made).toMatchObject({
      status: 201,
      body: { accountId: 'E1-102', amountFen: 8000, createdBy: 'clerk.wang', status: 'open' },
    });
    expect(
      (await call('reader.chen', 'POST', '/api/payments/orders', { account: 'E1-102', amountFen: 8000 }))
        .status,
    ).toBe(403);
    await h.sim.pay(String(made.body.orderNo));
    await h.sim.noticesSettled();
    const paid = await call('clerk.wang', 'GET', '/api/payments/orders?account=E1-102&status=paid');
    expect(paid.body.map((o) => (o as { orderNo: string }).orderNo)).toEqual([made.body.orderNo]);
    expect(h.bo.prepaid.balance('E1-102')).toBe(8000);
  });

  it('a day that is not a date, and a provider that is not configured, are refused by name', async () => {
    expect(
      await call('clerk.wang', 'POST', '/api/payments/reconciliations', {
        provider: 'campus-card',
        date: '2026-13-01',
      }),
    ).toMatchObject({ status: 400 });
    expect(
      await call('clerk.wang', 'POST', '/api/payments/reconciliations', { provider: 'alipay', date: DAY }),
    ).toMatchObject({
      status: 404,
      body: { code: 'UNKNOWN_PROVIDER' },
    });
  });
});
