import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localTimeToUtc } from '../../services/metering/consumption/zone.ts';
import { startStack, TZ, type Stack } from './support.ts';

/**
 * The back office's payments round (parts/customers.ts), as its timer runs it: an order whose
 * notice was lost is booked by the query once due; from the campus file's reconcileAt (10:00)
 * yesterday's statement is reconciled, once per provider and day, and its differences queued.
 */

let s: Stack;
beforeAll(async () => {
  s = await startStack();
  await s.openAccount('E4-401');
}, 60_000);
afterAll(() => s?.stop());

const runs = () =>
  s.bo.db.prepare('SELECT provider, date, run_by, mismatches FROM payment_reconciliations ORDER BY id').all();

describe('the payments round', () => {
  it('queries an order whose notice was lost, then reconciles yesterday once from 10:00', async () => {
    const order = await s.bo.customers.payments.createOrder('customer:x', {
      account: 'E4-401',
      amountFen: 2500,
    });
    s.sim.deliverNotices = false;
    await s.sim.pay(order.orderNo);
    await s.bo.customers.tick(); // not due yet (queryAfter: 120 s)
    expect(s.bo.prepaid.balance('E4-401')).toBe(0);
    s.time.skew += 121_000;
    await s.bo.customers.tick();
    await s.bo.customers.tick();
    expect(s.bo.prepaid.balance('E4-401')).toBe(2500);
    // It is past 10:00 on 1 December: 30 November was reconciled at the first round, and once.
    expect(runs()).toEqual([
      { provider: 'campus-card', date: '2026-11-30', run_by: 'system:payments', mismatches: 0 },
    ]);

    // The provider later reverses the payment: the statement no longer has it.
    s.sim.reverse(s.sim.orders.get(order.orderNo)!.transactionId!);
    s.time.skew = localTimeToUtc(TZ, 2026, 12, 2, 9, 59) - Date.now();
    await s.bo.customers.tick(); // 09:59 the next day: not yet
    expect(runs()).toHaveLength(1);
    s.time.skew = localTimeToUtc(TZ, 2026, 12, 2, 10, 1) - Date.now();
    await s.bo.customers.tick();
    await s.bo.customers.tick();
    expect(runs().slice(1)).toEqual([
      { provider: 'campus-card', date: '2026-12-01', run_by: 'system:payments', mismatches: 1 },
    ]);
    expect(s.bo.customers.payments.mismatches()).toMatchObject([
      { kind: 'extra', accountId: 'E4-401', ledgerFen: 2500 },
    ]);
  });
});
